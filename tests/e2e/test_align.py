"""Alignment in a real browser: lasso -> w.align(PointSet(...)) -> the browser shows moved points, new colours
and the before/after report."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import Chorus
from modalchorus_widget.alignment import Aligner, PointSet
from modalchorus_widget.data.datasets import load_coco500
es = load_coco500().embeddings
prompts = {f"caption {k}": es.vectors[500 + k] for k in range(0, 500, 25)}  # 20 caption 'classes'
w = Chorus(es, projector="PCA", color_by="prediction", class_prompts=prompts, aligner=Aligner(n_steps=60, random_state=0))
w
"""


def test_lasso_then_align_moves_points_and_recolours(open_notebook):
    nb = open_notebook([CELL], width=1500, height=1100)
    root = nb.wait_widget(0, timeout=240)
    page = nb.page
    pos = np.array(nb.screen_xy_all(0))
    img = pos[:500]
    cx, cy = np.median(img, axis=0)
    poly = [(cx - 40, cy - 40), (cx + 40, cy - 40), (cx + 40, cy + 40), (cx - 40, cy + 40)]
    nb.lasso(poly)
    sel = wait_for(lambda: nb.kernel.value("w.selected.tolist()"))
    assert sel, "the lasso selected nothing"
    codes_before = page.evaluate(
        "() => Array.from(new Uint8Array(globalThis.__modalchorus[0].model.get('category').buffer"
        ".slice(globalThis.__modalchorus[0].model.get('category').byteOffset)))"
    )
    nb.screenshot("align-before.png", root)
    # pull the selected images toward caption 0 (row 500)
    nb.kernel.run("rnd = w.align(PointSet(500, w.selected[w.selected < 500], 'pull'))", timeout=600)
    page.wait_for_selector(".mc-report-table", timeout=60_000)
    time.sleep(1.5)  # animation
    after = np.array(nb.screen_xy_all(0))
    moved = np.hypot(*(after[sel] - pos[sel]).T)
    assert np.median(moved) > 3, f"selected points barely moved on screen (median {np.median(moved):.1f} px)"
    codes_after = page.evaluate(
        "() => Array.from(new Uint8Array(globalThis.__modalchorus[0].model.get('category').buffer"
        ".slice(globalThis.__modalchorus[0].model.get('category').byteOffset)))"
    )
    py_codes = nb.kernel.value("w.category.tolist()")
    assert codes_after[:1000] == py_codes, "browser colours are not Python's predictions"
    names = nb.kernel.value("w.category_names")
    pred_sel = [names[py_codes[i]] for i in sel if i < 500]
    assert pred_sel.count("caption 0") > len(pred_sel) / 2, "the pulled images are not predicted as the anchor"
    assert codes_after[:1000] != codes_before[:1000], "colours did not change"
    assert "alignment rounds: 1" in page.locator(".mc-status").first.inner_text()
    nb.screenshot("align-after.png", root)
