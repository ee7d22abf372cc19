"""The round's strength in a real browser (shapes world, Aligner(mode="anchors") at its default settings with the
guard): the round panel shows the guard's curve and the chosen alpha; moving the strength slider re-colours the
map with the kernel's predictions at that alpha; "Apply" sets ``w.aligner.history_[-1].alpha`` in Python and
shows the Python line; the "changed outside" groups list exactly the unselected images whose reading changed."""

from __future__ import annotations

import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import Aligner, Chorus, PointSet, load_default
from modalchorus_widget.widget.state import codes_in_order
from modalchorus_widget.worlds import shapes_cases as C
data = load_default("shapes")
w = Chorus(data.embeddings, projector="PCA", encoder=data.encoder,
           aligner=Aligner(mode="anchors", encoder=data.encoder),
           class_prompts=data.prompt_index.tolist(), color_by="prediction", wait=True)
case = C.zero_shot_case(data)
pred0 = w.state.predictions.copy()


def preview_codes(alpha):  # the colour codes of the predictions at alpha, in the palette on show
    p = w.state.preview_strength(alpha)[0]
    return codes_in_order(np.where(p == None, "(none)", p), w.category_names).tolist()


w
"""


def _codes(page):
    return page.evaluate("() => Array.from(globalThis.__modalchorus[0].ctrl.state.points.codes)")


def _slide(page, alpha):
    page.evaluate(
        """a => { const s = document.querySelector('.mc-root .mc-strength'); s.value = String(a);
                  s.dispatchEvent(new Event('input', { bubbles: true })); }""",
        alpha,
    )


def test_strength_slider_recolours_and_apply_sets_alpha(open_notebook):
    nb = open_notebook([CELL], width=1500, height=1300)
    nb.wait_widget(0, timeout=240)
    page, k = nb.page, nb.kernel
    k.run(
        "P = data.prompt_index\n"
        "rnd = w.align(PointSet(int(P[case['target']]), case['cluster']), PointSet(int(P[case['confused']]), case['keep']))",
        timeout=600,
    )
    page.wait_for_selector(".mc-root .mc-report[data-round='1'] .mc-strength", timeout=60_000)
    chosen = k.value("float(rnd.alpha)")
    assert float(page.locator(".mc-root .mc-report").get_attribute("data-alpha")) == pytest.approx(chosen)
    assert page.locator(".mc-root .mc-fig-alpha .mc-curve-worst").count() == 1  # the guard's curve is drawn
    # slide to the other end: the points take the colours of the kernel's predictions at that strength
    target = 1.0 if chosen < 0.5 else 0.0
    expected = k.value(f"preview_codes({target})")
    before = _codes(page)
    assert before != expected, "the test needs a strength that reads some image differently"
    _slide(page, target)
    assert wait_for(lambda: _codes(page) == expected, timeout=60), "the slider did not re-colour the map"
    assert page.locator(".mc-root .mc-report").get_attribute("data-preview") == str(int(target))
    assert k.value("float(w.aligner.history_[-1].alpha)") == pytest.approx(chosen)  # a preview commits nothing
    # Apply: the round's alpha in Python, and the line that does the same
    page.locator(".mc-root .mc-strength-apply").click()
    assert wait_for(lambda: abs(k.value("float(w.aligner.history_[-1].alpha)") - target) < 1e-9, timeout=120)
    assert wait_for(lambda: "w.set_strength(" in page.locator(".mc-root .mc-code").inner_text(), timeout=30)
    # the changed-outside groups: exactly the unselected images whose reading (prediction) changed
    page.wait_for_selector(f".mc-root .mc-report[data-alpha='{int(target)}']:not([data-preview])")
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('.mc-root .mc-changed-group'))
                 .flatMap(g => g.dataset.rows.split(',').filter(Boolean).map(Number)).sort((a, b) => a - b)"""
    )
    k.run(
        "sel = set(np.concatenate([case['cluster'], case['keep']]).tolist())\n"
        "img = np.flatnonzero(data.embeddings.modality == 'image')\n"
        "truth = sorted(int(r) for r in img if int(r) not in sel and pred0[r] != w.state.predictions[r])"
    )
    truth = k.value("truth")
    assert shown == truth
