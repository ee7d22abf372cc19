"""The quickstart's round in a real browser (shapes world, MFM map, Aligner(mode="anchors")): only the two class
prompts move, so the map draws exactly two trails; the report's per-class bars show red squares fixed with the
numbers the kernel reports and the panel names the two tuned prompts; U (keyboard) undoes the round and the prompts are back bit for bit."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import bar_rows, wait_for, zero_shot_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import MFM, Aligner, Chorus, PointSet, load_default
from modalchorus_widget.worlds import shapes_cases as C
data = load_default("shapes")
es = data.embeddings
w = Chorus(es, projector=MFM(random_state=0), encoder=data.encoder,
           aligner=Aligner(encoder=data.encoder, **C.ZERO_SHOT_SETTINGS),
           class_prompts=data.prompt_index.tolist(), color_by="prediction", wait=True)
case = C.zero_shot_case(data)
a, b = case["target"], case["confused"]
v0 = es.vectors.copy()
w
"""


def test_anchor_round_moves_only_the_prompts(open_notebook):
    nb = open_notebook([CELL], width=1500, height=1300)
    root = nb.wait_widget(0, timeout=240)
    page, k = nb.page, nb.kernel
    k.run(
        "rnd = w.align(*C.zero_shot_constraints(data, case)); v1 = w.embeddings.vectors.copy()\n"
        "moved = np.flatnonzero(np.any(v1 != v0, axis=1)).tolist()",
        timeout=600,
    )
    assert k.value("moved") == k.value("sorted(data.prompt_index[[a, b]].tolist())")
    page.wait_for_selector(".mc-report[data-round='1'] .mc-fig-zeroshot", timeout=60_000)
    rep = k.value("w.report")
    z = rep["zero_shot"]
    bars = bar_rows(page, "mc-fig-zeroshot")
    assert bars == zero_shot_rows(z)
    # the bars are over the scenes not lassoed: here every held-out scene and the training ones of other classes
    te = k.value("sorted(set(np.asarray(data.test).tolist()) & set(np.flatnonzero(data.image_labels == a).tolist()))")
    assert z["n"][z["classes"].index("red square")] == len(te)
    # the panel names the two tuned prompts instead of a histogram of moves that are all zero but theirs
    tuned = page.evaluate(
        "() => Array.from(document.querySelectorAll('.mc-root .mc-fig-tuned .mc-tuned-row')).map(e => Number(e.dataset.row))"
    )
    assert tuned == k.value("moved") and page.locator(".mc-root .mc-fig-moved").count() == 0
    assert "a photo of a red square" in page.locator(".mc-root .mc-fig-tuned").inner_text()
    row = {c: (x, y) for c, x, y in bars}
    assert row["red square"][1] > row["red square"][0] + 0.1
    # two points moved on the map (the two prompts), so two trails, not one per point that shifted a little
    trails = lambda: int(page.evaluate("() => document.querySelector('.mc-root').dataset.trails || 0"))  # noqa: E731
    assert wait_for(lambda: trails() == 2), trails()
    # only the two moved points went to the browser (a positions_delta): its positions now equal Python's
    browser_xy = """() => { const v = globalThis.__modalchorus.at(-1).model.get('positions'); const out = [];
      for (const p of (Array.isArray(v) ? v : [v])) out.push(...new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4));
      return out; }"""
    assert wait_for(lambda: page.evaluate(browser_xy) == k.value("w.positions.ravel().tolist()"))
    time.sleep(0.3)
    nb.screenshot("anchor-round.png", root)
    # keyboard: U undoes the round; the prompts are back bit for bit
    root.locator(".mc-status").click()
    page.keyboard.press("u")
    assert wait_for(
        lambda: k.value("len(w.aligner.history_) == 0 and bool(np.array_equal(w.embeddings.vectors, v0))"), timeout=60
    ), "U did not undo the round"
    assert wait_for(lambda: page.locator(".mc-history").get_attribute("data-current") == "0")
