"""Chorus in a real browser on the real COCO-500 CLIP embeddings: linked views, tooltips, method switch,
named sets, and two displays of one widget kept in sync."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import Chorus
from modalchorus_widget.data.datasets import load_coco500
from PIL import Image
from pathlib import Path
# the packaged COCO-500 has no image files: 16 small stand-ins (named like COCO's) give thumbnails to hover
images = Path("coco500-images")
images.mkdir(exist_ok=True)
for i in range(0, 500, 32):
    Image.new("RGB", (64, 48), (i % 256, 90, 160)).save(images / f"{i:03d}_{i}.jpg")
data = load_coco500(images=images)
es = data.embeddings
w = Chorus(es, projector="PCA", color_by="label")
w.sets["ref"] = np.arange(500, 520)
w.concept_axis("ref", np.arange(0, 20))
w
"""


def inside(poly, x, y):
    c = False
    n = len(poly)
    for i in range(n):
        (xi, yi), (xj, yj) = poly[i], poly[i - 1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            c = not c
    return c


def edge_distance(poly, x, y):
    best = float("inf")
    for i in range(len(poly)):
        (ax, ay), (bx, by) = poly[i - 1], poly[i]
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, ((ax + t * dx - x) ** 2 + (ay + t * dy - y) ** 2) ** 0.5)
    return best


def matches_lasso(selected, pos, poly, margin=3.0):
    """Selected holds every point clearly inside the polygon and none clearly outside (mouse events are
    integer pixels, so points within ``margin`` px of the outline may go either way)."""
    sel = set(selected)
    for i, (x, y) in enumerate(pos):
        if edge_distance(poly, x, y) < margin:
            continue
        if inside(poly, x, y) != (i in sel):
            return False
    return True


def test_chorus_linked_views_tooltips_sets_and_method_switch(open_notebook):
    nb = open_notebook([CELL, "w"], width=1500, height=1400)  # the second cell displays the widget again
    root = nb.wait_widget(0, timeout=240)
    nb.wait_widget(1, timeout=120)
    page = nb.page
    page.wait_for_function("() => document.querySelector('.mc-axis.mc-axis-has') !== null", timeout=60_000)
    time.sleep(0.5)
    nb.screenshot("chorus-overview.png", root)

    # 1. lasso in the projection view selects exactly the points inside the drawn polygon
    pos = nb.screen_xy_all(0)
    x0, y0, w_, h_ = nb.view_box(0)
    cx, cy = x0 + w_ * 0.35, y0 + h_ * 0.5
    poly = [
        (cx - 60, cy - 50),
        (cx + 10, cy - 70),
        (cx + 70, cy - 20),
        (cx + 50, cy + 60),
        (cx - 40, cy + 70),
        (cx - 80, cy + 10),
    ]
    expected = [i for i, (x, y) in enumerate(pos) if inside(poly, x, y)]
    assert len(expected) >= 5, f"lasso region holds only {len(expected)} points; pick another region"
    nb.lasso(poly)
    got = wait_for(lambda: len(nb.kernel.value("w.selected.tolist()")) > 0)
    expected = nb.kernel.value("w.selected.tolist()")
    assert got and matches_lasso(expected, pos, poly), f"Python selected {expected[:12]}... for the lasso"
    n_img = sum(1 for i in expected if i < 500)
    status = page.locator(".mc-root").first.locator(".mc-status").inner_text()
    assert f"{n_img} image" in status and f"{len(expected) - n_img} text" in status, status

    # 2. the same points highlight in the concept-axis view, and in the second display
    assert wait_for(lambda: nb.selection_in_browser(0, "axis") == expected), "concept-axis view not linked"
    assert wait_for(lambda: nb.selection_in_browser(1, "proj") == expected), "second display not in sync"
    time.sleep(0.4)
    nb.screenshot("chorus-lasso-linked.png", root)

    # 3. shift-lasso adds, alt-lasso removes
    # a box around text points, clear of the legend and other widget chrome (all corners on the canvas)
    tpos = np.array(pos[500:])
    med = np.median(tpos, axis=0)
    far = None
    for k in np.argsort(np.hypot(*(tpos - med).T)):
        fx, fy = tpos[k]
        box = [(fx - 25, fy - 25), (fx + 25, fy - 25), (fx + 25, fy + 25), (fx - 25, fy + 25)]
        hits = nb.page.evaluate(
            "pts => pts.map(([x, y]) => document.elementFromPoint(x, y).className)",
            [[float(x), float(y)] for x, y in box + [(fx + 3, fy + 3)]],
        )
        if all(h == "mc-gl" or h == "mc-overlay" for h in hits):
            far = box
            break
    assert far is not None, "no free spot among the text points for a second lasso"
    nb.lasso(far, modifier="Shift")
    added = wait_for(lambda: len(nb.kernel.value("w.selected.tolist()")) > len(expected))
    if not added:
        nb.screenshot("chorus-shift-lasso-failed.png", nb.page)
    assert added, (
        f"shift-lasso did not add: browser has {len(nb.selection_in_browser(0))} selected, "
        f"box {far}, view {nb.view_box(0)}"
    )
    both = nb.kernel.value("w.selected.tolist()")
    assert set(expected) <= set(both)
    assert matches_lasso(sorted(set(both) - set(expected)), pos, far)
    nb.lasso(far, modifier="Alt")
    assert wait_for(lambda: nb.kernel.value("w.selected.tolist()") == expected)

    # 4. hovering an image point that has a file shows its thumbnail
    with_file = nb.kernel.value("[int(i) for i in range(500) if isinstance(es.items[i], str)]")
    assert len(with_file) == 16, f"expected the 16 stand-in images, got {len(with_file)}"
    # pick the image point farthest from its nearest neighbour on screen so the hover is unambiguous
    arr = np.array(pos)
    d = [np.sort(np.hypot(*(arr - arr[i]).T))[1] for i in with_file]
    target = with_file[int(np.argmax(d))]
    tx, ty = pos[target]
    page.mouse.move(tx - 30, ty - 30)
    page.mouse.move(tx, ty, steps=5)
    ok = wait_for(
        lambda: page.evaluate(
            "t => { const tip = document.querySelector('.mc-tooltip'); return tip && tip.style.display === 'block' "
            "&& tip.dataset.index === String(t) && !!tip.querySelector('img.mc-thumb') "
            "&& tip.querySelector('img.mc-thumb').naturalWidth > 0; }",
            target,
        ),
        timeout=20,
    )
    assert ok, f"no thumbnail tooltip for image row {target}"
    tip_text = page.locator(".mc-tooltip").first.inner_text()
    assert "label:" in tip_text
    nb.screenshot("chorus-tooltip.png", root)
    # hover is linked: the concept-axis view highlights the same point
    assert page.evaluate(
        "() => globalThis.__modalchorus.filter(e => e.root.isConnected)[0].axis.scatterplot.get('hoveredPoint')"
    ) in (target, None)

    # 5. named sets: Python -> browser panel, browser -> Python
    assert page.locator(".mc-root").first.locator(".mc-set[data-set='ref']").count() == 1
    nb.kernel.run("w.sets['dogs'] = np.array([3, 1, 4])")
    assert wait_for(lambda: page.locator(".mc-root").first.locator(".mc-set[data-set='dogs']").count() == 1)
    assert "(3)" in page.locator(".mc-root").first.locator(".mc-set[data-set='dogs'] .mc-set-select").inner_text()
    page.locator(".mc-root").first.locator(".mc-set-name").fill("my lasso")
    page.locator(".mc-root").first.locator(".mc-set-save").click()
    assert wait_for(
        lambda: nb.kernel.value("w.sets['my lasso'].tolist() if 'my lasso' in w.sets else None") == expected
    ), "saving the selection as a set did not reach Python"
    assert wait_for(lambda: page.locator(".mc-root").nth(1).locator(".mc-set[data-set='my lasso']").count() == 1)
    # picking a set from the panel selects its points everywhere
    page.locator(".mc-root").first.locator(".mc-set[data-set='dogs'] .mc-set-select").click()
    assert wait_for(lambda: nb.kernel.value("w.selected.tolist()") == [1, 3, 4])
    nb.screenshot("chorus-sets.png", root)

    # 6. switching method animates to the new layout and keeps the selection
    nb.kernel.run(f"w.selected = np.array({expected})")
    assert wait_for(lambda: nb.selection_in_browser(0) == expected)
    # a precomputed layout (add_layout) keeps this quick on a loaded machine; computing t-SNE/UMAP/MFM
    # layouts is covered by the unit tests
    nb.kernel.run("w.add_layout('custom', np.c_[es.vectors[:, 7] * 3 + es.vectors[:, 3], es.vectors[:, 11]])")
    before = page.evaluate("() => globalThis.__modalchorus.filter(e => e.root.isConnected)[0].proj.transitions")
    page.locator(".mc-root").first.locator(".mc-method[data-method='custom']").click()
    assert wait_for(lambda: nb.kernel.value("w.method") == "custom", timeout=60), "method switch did not finish"
    assert wait_for(
        lambda: page.evaluate(
            "b => globalThis.__modalchorus.filter(e => e.root.isConnected)[0].proj.transitions > b", before
        ),
        timeout=60,
    )
    page.wait_for_function("() => document.querySelector('.mc-root').dataset.method === 'custom'", timeout=30_000)
    time.sleep(1.5)  # let the animation finish
    assert nb.kernel.value("w.selected.tolist()") == expected
    assert nb.selection_in_browser(0) == expected and nb.selection_in_browser(1) == expected
    assert (
        page.locator(".mc-root").first.locator(".mc-method[data-method='custom']").get_attribute("aria-pressed")
        == "true"
    )
    # the browser now draws the custom layout: compare relative screen positions with Python's
    new = np.array(nb.screen_xy_all(0))
    xy = np.array(nb.kernel.value("w.positions.tolist()"))
    cx_ = np.corrcoef(new[:, 0], xy[:, 0])[0, 1]
    cy_ = np.corrcoef(new[:, 1], -xy[:, 1])[0, 1]  # screen y grows downwards
    assert cx_ > 0.999 and cy_ > 0.999, (cx_, cy_)
    nb.screenshot("chorus-method-switch.png", root)

    # 7. Python sets selected: both displays and both views follow
    nb.kernel.run("w.selected = np.arange(600, 640)")
    want = list(range(600, 640))
    assert wait_for(lambda: all(nb.selection_in_browser(i, v) == want for i in (0, 1) for v in ("proj", "axis")))
