"""Rounds in a real browser: after w.align(...) the report shows the round as pictures (bars with the numbers
Python reports, the moved-distance histogram, predictions changed outside the selection), the map draws
trails, and the history strip (mouse and keyboard) undoes / redoes rounds bit-exactly in the kernel; also in
Jupyter Notebook 7, and the strip follows undo / redo called on the aligner from a cell."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import bar_rows, wait_for, zero_shot_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import load_default, Chorus, Aligner, PointSet
d = load_default()
es = d.embeddings
w = Chorus(es, projector="MFM", encoder=d.encoder, aligner=Aligner(encoder=d.encoder, random_state=0),
           class_prompts=d.prompt_index.tolist(), color_by="prediction")
lab = es.labels.astype(str)
wrong = (es.modality == "image") & (w.predictions_.astype(str) != lab)
cls = max(sorted(set(lab[wrong])), key=list(lab[wrong]).count)
rows = np.flatnonzero(wrong & (lab == cls))
anchor = int(d.prompt_index[int(cls)])
v0 = es.vectors.copy()
w
"""


@pytest.mark.parametrize("front_end", ["lab", "notebook"], indirect=True)  # JupyterLab and Jupyter Notebook 7
def test_round_pictures_trails_and_history_strip(open_notebook, front_end):
    nb = open_notebook([CELL], width=1500, height=1300)
    root = nb.wait_widget(0, timeout=240)
    page = nb.page
    k = nb.kernel
    assert k.value("len(rows)") >= 1
    k.run("rnd = w.align(PointSet(anchor, rows)); v1 = w.embeddings.vectors.copy()", timeout=600)
    page.wait_for_selector(".mc-report[data-round='1'] .mc-fig-zeroshot", timeout=60_000)
    rep = k.value("w.report")
    # per-class bars over the images not selected, then the selected ones: the numbers the kernel reports
    bars = bar_rows(page, "mc-fig-zeroshot")
    z = rep["zero_shot"]
    assert z["rows"] == "unselected"
    assert bars == zero_shot_rows(z)
    assert "images not selected" in page.locator(".mc-root .mc-fig-zeroshot .mc-fig-title").inner_text()
    # together they are the round's own figure over every image
    n_img, n_sel = k.value("int((es.modality == 'image').sum())"), z["n_selected"]
    for when in ("before", "after"):
        whole = (z[f"overall_{when}"] * (n_img - n_sel) + z[f"selected_{when}"] * n_sel) / n_img
        assert abs(whole - k.value(f"rnd.report['zero_shot_acc_{when}']")) < 1e-3
    # the constraint's own figures, the histogram and the changed-predictions count
    cons = bar_rows(page, "mc-fig-constraint")
    assert [b[1] for b in cons] == list(rep["constraints"][0]["before"].values())
    assert page.locator(".mc-fig-moved rect.mc-hist-sel").count() == len(rep["moved"]["edges"]) - 1
    big = page.locator(".mc-fig-changed .mc-big").inner_text()
    assert big == str(rep["changed_unselected"])
    # no raw JSON anywhere in the panel
    text = page.locator(".mc-report").inner_text()
    assert "{" not in text and '"' not in text.replace("'", ""), text
    # trails from the old places to the new ones, for the points the round moved apart from the map's common
    # drift: not for every point that shifted a little
    trails = lambda: int(page.evaluate("() => document.querySelector('.mc-root').dataset.trails || 0"))  # noqa: E731
    assert wait_for(lambda: trails() > 0)
    assert trails() < k.value("len(es)") / 10, trails()
    time.sleep(0.3)
    nb.screenshot("round-panel.png", root)
    # history strip: one chip in words; click 'start' -> bit-exact vectors before the round
    chip = page.locator(".mc-history .mc-chip[data-k='1']")
    assert "pull" in chip.inner_text() and "->" in chip.inner_text()
    assert chip.get_attribute("aria-pressed") == "true"
    page.locator(".mc-history .mc-chip[data-k='0']").click()
    # the kernel holds the new history first, then the widget's re-placed state: wait for both
    assert wait_for(
        lambda: k.value("len(w.aligner.history_) == 0 and bool(np.array_equal(w.embeddings.vectors, v0))"), timeout=60
    )
    assert k.value("bool(np.array_equal(w.aligner.embeddings_.vectors, v0))")
    assert wait_for(lambda: page.locator(".mc-history").get_attribute("data-current") == "0")
    assert page.locator(".mc-codeline").get_attribute("data-line") == "w.goto(0)"
    # the chip of the undone round redoes it
    page.locator(".mc-history .mc-chip[data-k='1']").click()
    assert wait_for(
        lambda: k.value("len(w.aligner.history_) == 1 and bool(np.array_equal(w.embeddings.vectors, v1))"), timeout=60
    )
    # keyboard: U undoes the round (focus on the widget)
    root.locator(".mc-status").click()
    page.keyboard.press("u")
    # the kernel empties the history first, then lands the re-placed vectors: wait for both
    assert wait_for(
        lambda: k.value("len(w.aligner.history_) == 0 and bool(np.array_equal(w.embeddings.vectors, v0))"), timeout=60
    ), "U did not undo the round"
    # a cell calls redo: the strip follows
    k.run("w.redo()")
    assert wait_for(lambda: page.locator(".mc-history").get_attribute("data-current") == "1")
    # undo on the aligner itself, from a cell: the strip offers redo for it, and its redo button re-applies it
    k.run("w.aligner.undo()")
    assert wait_for(lambda: page.locator(".mc-history").get_attribute("data-current") == "0", timeout=60)
    assert "mc-chip-undone" in page.locator(".mc-history .mc-chip[data-k='1']").get_attribute("class")
    assert wait_for(lambda: k.value("bool(np.array_equal(w.embeddings.vectors, v0))"), timeout=60)
    redo = page.locator(".mc-history .mc-redo")
    assert redo.is_enabled()
    redo.click()
    assert wait_for(lambda: page.locator(".mc-history").get_attribute("data-current") == "1")
    assert page.locator(".mc-history .mc-chip[data-k='1']").get_attribute("aria-pressed") == "true"
    assert wait_for(lambda: k.value("bool(np.array_equal(w.embeddings.vectors, v1))"), timeout=60)
    # the Python line of a click, run in a cell, reproduces the state
    page.locator(".mc-history .mc-undo").click()
    assert wait_for(lambda: k.value("len(w.aligner.history_)") == 0, timeout=60)
    line = page.locator(".mc-codeline").get_attribute("data-line")
    assert line == "w.undo()"
    k.run("w.redo()")
    k.run(line)
    assert k.value("bool(np.array_equal(w.embeddings.vectors, v0))")
