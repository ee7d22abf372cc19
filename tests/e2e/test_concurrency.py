"""Two widgets on the same data in one kernel, and a burst of rapid lassos: Python and browser state
stay consistent per widget and never leak from one widget into the other."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

# four well-separated clusters of 60 points; both widgets show the very same arrays
DATA = """
import numpy as np
from modalchorus_widget import ScatterWidget
rng = np.random.default_rng(0)
centers = np.array([[-6.0, -5.0], [6.0, -5.0], [-6.0, 5.0], [6.0, 5.0]])
lab = np.repeat(np.arange(4), 60)
xy = centers[lab] + rng.normal(0, 0.7, (240, 2))
mod = np.arange(240) % 2
w1 = ScatterWidget(xy, category=lab, modality=mod, height=280)
seen1 = []  # every selection Python receives for w1, in order
w1.observe(lambda ch: seen1.append(ch["new"].tolist()), "selected")
w1
"""
SECOND = """
w2 = ScatterWidget(xy, category=lab, modality=mod, height=280)
w2
"""


def cluster(k: int) -> list[int]:
    return list(range(60 * k, 60 * (k + 1)))


def test_two_widgets_and_a_burst_of_lassos_stay_consistent(open_notebook):
    nb = open_notebook([DATA, SECOND], height=1400)
    nb.wait_widget(0)
    nb.wait_widget(1)
    py = lambda name: nb.kernel.value(f"{name}.selected.tolist()")  # noqa: E731

    # one mouse-drawn lasso in each widget
    nb.lasso_around(0, cluster(0))
    nb.lasso_around(1, cluster(3))
    assert wait_for(lambda: py("w1") == cluster(0)), f"w1.selected = {py('w1')[:10]}..."
    assert wait_for(lambda: py("w2") == cluster(3)), f"w2.selected = {py('w2')[:10]}..."
    assert nb.selection_in_browser(0) == cluster(0) and nb.selection_in_browser(1) == cluster(3)

    # a burst of 10 lassos on the first widget, drawn back to back without waiting for the kernel
    n_before = nb.kernel.value("len(seen1)")
    order = [1, 2, 3, 0, 2, 1, 3, 0, 1, 2]
    polys = {k: nb.polygon_around(0, cluster(k)) for k in range(4)}
    t0 = time.time()
    for k in order:
        nb.lasso(polys[k], steps_per_edge=2)
    burst_s = time.time() - t0
    last = cluster(order[-1])
    assert wait_for(lambda: py("w1") == last), (
        f"after the burst w1.selected = {py('w1')[:10]}..., want cluster {order[-1]}"
    )
    time.sleep(1.0)  # let any late message land: Python must still hold the last lasso, not an earlier one
    assert py("w1") == last
    seen = nb.kernel.value("seen1")[n_before:]
    print(f"burst of 10 lassos in {burst_s:.2f} s; Python received {len(seen)} selection updates")
    # whatever ipywidgets merged on the way, what arrived is a subsequence of the lassos, in order, ending with the last
    assert seen and seen[-1] == last
    want = iter([cluster(k) for k in order])
    assert all(any(s == w for w in want) for s in seen), "Python received selections out of order"
    assert nb.selection_in_browser(0) == last

    # harder: 10 lassos within one browser task, so ipywidgets has to queue and merge the updates
    n_before = nb.kernel.value("len(seen1)")
    order = [3, 0, 1, 2, 3, 0, 1, 2, 0, 3]
    assert nb.lasso_burst(0, [polys[k] for k in order]) == 10
    last = cluster(order[-1])
    assert wait_for(lambda: py("w1") == last), f"after the fast burst w1.selected = {py('w1')[:10]}..."
    time.sleep(1.0)
    assert py("w1") == last and nb.selection_in_browser(0) == last
    seen = nb.kernel.value("seen1")[n_before:]
    print(f"10 lassos in one task: Python received {len(seen)} selection updates")
    want = iter([cluster(k) for k in order])
    assert seen and seen[-1] == last and all(any(s == w for w in want) for s in seen)
    # the other widget did not move, on either side
    assert py("w2") == cluster(3)
    assert nb.selection_in_browser(1) == cluster(3)
    assert nb.js("() => document.querySelectorAll('.mc-root')[0].dataset.selected") == "60"

    # Python -> browser on one widget only
    nb.kernel.run("w2.selected = np.arange(60, 120)")
    assert wait_for(lambda: nb.selection_in_browser(1) == cluster(1)), f"browser w2 = {nb.selection_in_browser(1)[:10]}"
    time.sleep(0.5)
    assert nb.selection_in_browser(0) == last, "setting w2.selected changed the first widget in the browser"
    assert py("w1") == last and py("w2") == cluster(1)  # and no echo undid it
    nb.screenshot("concurrency-two-widgets.png", nb.page)

    # clearing one widget from its toolbar leaves the other alone
    nb.page.locator(".mc-root").nth(1).locator(".mc-clear").click()
    assert wait_for(lambda: py("w2") == []), "Clear on the second widget did not reach w2"
    assert py("w1") == last and nb.selection_in_browser(0) == last
