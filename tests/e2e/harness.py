"""The browser tests' helpers on top of the lab in ``benchmarks/browser.py`` (JupyterLab, Chromium, notebook
pages, lasso polygons; the widget benchmark drives the same lab): polling and reading the report panel's bars."""

from __future__ import annotations

import time


def wait_for(fn, timeout: float = 30.0, interval: float = 0.15):
    """Poll ``fn`` until it returns something truthy or ``timeout`` seconds pass; returns its last value."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    return last


def bar_rows(page, fig: str) -> list:
    """[label, before, after] of every row of the report panel's bar chart ``fig`` (its CSS class)."""
    return page.evaluate(
        """f => Array.from(document.querySelectorAll(`.mc-root .${f} .mc-bar-row`)).map(g => [g.dataset.label,
             Number(g.dataset.before), Number(g.dataset.after)])""",
        fig,
    )


def zero_shot_rows(z: dict) -> list:
    """The rows the zero-shot chart should draw for the kernel's ``w.report["zero_shot"]``: one per class over
    the images not selected, "all" of them, then "selected"."""
    return [
        [c, b, a]
        for c, b, a in zip(
            [*z["classes"], "all", "selected"],
            [*z["before"], z["overall_before"], z["selected_before"]],
            [*z["after"], z["overall_after"], z["selected_after"]],
        )
    ]
