"""The Suspects panel in a real browser, on the shapes world: the probe's list appears after the first frame
(it runs in the background), a click on a suspect selects exactly its rows in Python, and "Save as set" names
them as a set the kernel holds."""

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
