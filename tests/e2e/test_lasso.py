"""Walking skeleton in a real browser: mouse lasso -> Python ``selected``; Python ``selected`` -> highlight."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from benchmarks.browser import bbox_polygon
from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

CELL = """
import numpy as np
from modalchorus_widget import ScatterWidget
rng = np.random.default_rng(0)
centers = np.array([[-6.0, -4.0], [6.0, -4.0], [0.0, 6.0]])
lab = np.repeat(np.arange(3), 100)
xy = centers[lab] + rng.normal(0, 0.8, (300, 2))
w = ScatterWidget(xy, category=lab, modality=np.arange(300) % 2, category_names=['left', 'right', 'top'])
w
"""


def magenta_fraction(img: Image.Image, box) -> float:
    a = np.asarray(img.convert("RGB").crop(box)).astype(int)
    m = (a[..., 0] > 200) & (a[..., 1] < 90) & (a[..., 2] > 200)
    return float(m.mean())


def test_lasso_selects_cluster_and_python_highlights(open_notebook):
    nb = open_notebook([CELL])
    root = nb.wait_widget(0)
    nb.screenshot("skeleton-initial.png", root)
    assert nb.js("() => document.querySelector('.jp-Dialog') === null"), "a dialog (announcements?) covers the page"

    # lasso around the 'right' cluster (rows 100..199), drawn with the mouse
    pts = [nb.screen_xy(0, i) for i in range(100, 200)]
    others = [nb.screen_xy(0, i) for i in list(range(0, 100)) + list(range(200, 300))]
    poly = bbox_polygon(pts)
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    assert not any(min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys) for x, y in others), "clusters overlap on screen"
    nb.lasso(poly)
    got = wait_for(lambda: nb.kernel.value("w.selected.tolist()") == list(range(100, 200)))
    assert got, f"Python selected = {nb.kernel.value('w.selected.tolist()')[:20]}... expected rows 100..199"
    assert nb.kernel.value("str(w.selected.dtype)") == "uint32"
    nb.screenshot("skeleton-lasso.png", root)

    # Python -> browser: select the 'top' cluster
    nb.kernel.run("w.selected = np.arange(200, 300)")
    ok = wait_for(lambda: nb.selection_in_browser(0) == list(range(200, 300)))
    assert ok, f"browser selection = {nb.selection_in_browser(0)[:10]}..."
    # no echo: Python still holds exactly what it set
    time.sleep(0.5)
    assert nb.kernel.value("w.selected.tolist()") == list(range(200, 300))
    time.sleep(0.3)
    shot = nb.screenshot("skeleton-python-select.png", nb.page)
    img = Image.open(shot)
    top = [nb.screen_xy(0, i) for i in range(200, 300)]
    right = [nb.screen_xy(0, i) for i in range(100, 200)]

    def box(points, m=10):
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return (int(min(xs) - m), int(min(ys) - m), int(max(xs) + m), int(max(ys) + m))

    f_top, f_right = magenta_fraction(img, box(top)), magenta_fraction(img, box(right))
    assert f_top > 0.01 and f_right < f_top / 20, f"selection colour: top {f_top:.4f} vs right {f_right:.4f}"

    # clearing from the toolbar empties Python's selection
    nb.page.locator(".mc-clear").first.click()
    assert wait_for(lambda: nb.kernel.value("w.selected.tolist()") == []), "Clear did not reach Python"
