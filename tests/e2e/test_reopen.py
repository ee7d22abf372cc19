"""A notebook reopened without its kernel: where the widget was, the reader sees "Re-run this cell",
not a blank or broken canvas. The widget displays a note output just before its view (``_ipython_display_``);
the live view hides it; the saved notebook keeps it, and JupyterLab shows it once the model is gone (its
own renderer then says "Error displaying widget: model not found" in the view's place)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

CELL = """
import numpy as np
from modalchorus_widget import ScatterWidget
w = ScatterWidget(np.random.default_rng(0).normal(size=(200, 2)), category=np.arange(200) % 3)
w
"""


def _saved_outputs(lab, name):
    nb = json.loads((lab.root / name).read_text())
    return nb["cells"][0].get("outputs", [])


def test_reopened_without_kernel_says_rerun(open_notebook, lab):
    nb = open_notebook([CELL])
    root = nb.wait_widget(0)
    page = nb.page
    note = page.locator(".modalchorus-rerun")
    # live: the note is in the page but hidden, the view is drawn
    assert wait_for(lambda: note.count() == 1 and not note.is_visible(), timeout=30), "live view left the note visible"
    assert root.is_visible()

    # save with the keyboard; the file holds the note and the view's output
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    assert wait_for(lambda: "modalchorus-rerun" in json.dumps(_saved_outputs(lab, nb.name)), timeout=30)
    kinds = [sorted(o.get("data", {})) for o in _saved_outputs(lab, nb.name)]
    assert kinds[0] == ["text/html", "text/plain"] and "application/vnd.jupyter.widget-view+json" in kinds[1]

    # the kernel goes away (shut down through the server), and the notebook is opened again
    for s in lab.api("GET", "/api/sessions") or []:
        if s.get("path", "").endswith(nb.name):
            lab.api("DELETE", f"/api/sessions/{s['id']}")
    nb.kernel.close()
    nb.kernel = None
    page.goto(f"{lab.url}/lab/tree/{nb.name}?token={lab.token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    note = page.locator(".modalchorus-rerun")
    assert wait_for(lambda: note.count() == 1 and note.is_visible(), timeout=60), "no visible re-run note"
    text = note.inner_text()
    assert "Re-run this cell" in text and "running Python kernel" in text
    box = note.bounding_box()
    assert box and box["width"] > 200 and box["height"] >= 10
    assert page.locator(".mc-root").count() == 0  # no blank or stale canvas in the view's place
    nb.screenshot("reopen-rerun-note.png", page.locator(".jp-Notebook .jp-Cell").first)
