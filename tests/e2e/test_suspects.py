"""The Suspects panel in a real browser, on the shapes world: the probe's list appears after the first frame
(it runs in the background), a click on a suspect selects exactly its rows in Python, "Save as set" names
them as a set the kernel holds, and "Fix…" with an edited anchor shows the Python line that runs."""

from __future__ import annotations

import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
from modalchorus_widget import load_default, Chorus
d = load_default("shapes")
w = Chorus(d, projector="PCA")
w
"""


def test_click_selects_the_slice_and_save_names_it(open_notebook):
    nb = open_notebook([CELL], width=1500, height=1400)
    nb.wait_widget(0, timeout=240)
    page, k = nb.page, nb.kernel
    panel = page.locator(".mc-root .mc-suspects")
    page.wait_for_selector(".mc-root .mc-suspects .mc-suspect", timeout=120_000)
    n = k.value("len(w.suspects)")
    assert n >= 2 and panel.locator(".mc-suspect").count() == n
    first = panel.locator(".mc-suspect").nth(1)
    assert k.value("w.suspects.name.iloc[1]") == first.locator(".mc-suspect-name").inner_text()
    first.scroll_into_view_if_needed()
    first.locator(".mc-suspect-name").click()
    # the kernel sets the selection to the slice's rows, exactly
    assert wait_for(lambda: k.value("w.selected.tolist() == w.suspects.rows.iloc[1].tolist()"), timeout=30)
    assert wait_for(
        lambda: (
            page.locator(".mc-root").first.get_attribute("data-selected")
            == str(k.value("int(w.suspects['size'].iloc[1])"))
        ),
        timeout=30,
    )
    # thumbnails of members arrived as PNG buffers
    assert wait_for(lambda: first.locator(".mc-suspect-thumb").count() > 0, timeout=30)
    name_in = first.locator(".mc-suspect-setname")
    name_in.fill("green triangles?")
    first.locator(".mc-suspect-save").click()
    assert wait_for(lambda: "green triangles?" in k.value("list(w.sets)"), timeout=30)
    assert k.value("w.sets['green triangles?'].tolist() == w.suspects.rows.iloc[1].tolist()")
    # the set shows in the sets panel too
    assert wait_for(
        lambda: page.locator(".mc-root .mc-set-select", has_text="green triangles?").count() == 1, timeout=30
    )
    nb.screenshot("suspects_panel.png", page.locator(".mc-root").first)
    # "Fix…" with an edited anchor: the Python line shown is the one that runs
    i = next(j for j in range(n) if k.value(f"w.suspects.evidence.iloc[{j}].get('read_as') is not None"))
    item = panel.locator(".mc-suspect").nth(i)
    suggested = item.locator(".mc-suspect-anchor").input_value()
    k.run(f"sug_anchor = int(w.suspects.suggestion.iloc[{i}].anchor)")
    assert k.value("str(w.embeddings.items[sug_anchor])") == suggested  # the panel shows the suggested prompt
    edited = k.value(f"w.suspects.evidence.iloc[{i}]['read_as']")  # pull towards what it is read as instead
    assert edited != suggested
    line = f'w.align(w.suspect_constraint({i}, "{edited}"))'
    k.run(
        f"expected = w.suspect_constraint({i}, {edited!r}); expected = (int(expected.anchor), expected.members.tolist())"
    )
    item.locator(".mc-suspect-fix").click()
    item.locator(".mc-suspect-anchor").fill(edited)
    item.locator(".mc-suspect-run").click()
    assert wait_for(lambda: page.locator(".mc-root .mc-code").first.inner_text() == line, timeout=30)
    assert wait_for(lambda: k.value("len(w.aligner.history_)") == 1, timeout=300)
    ran = "w.aligner.history_[0].constraints[0]"
    assert k.value(f"(int({ran}.anchor), {ran}.members.tolist()) == expected")
    assert k.value(f"{ran}.anchor != sug_anchor")
