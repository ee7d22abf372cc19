"""The widget's page structure in a real browser, for a plain ScatterWidget and a Chorus: every panel the root
holds is an element (no panel a widget lacks written out as text, e.g. "undefined"), and no colour menu shows
empty (a ScatterWidget without colour choices shows none)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

SCATTER = """
import numpy as np
from modalchorus_widget import ScatterWidget
rng = np.random.default_rng(0)
s = ScatterWidget(rng.normal(size=(200, 2)), category=np.arange(200) % 3)
s
"""
CHORUS = """
from modalchorus_widget import Chorus
from modalchorus_widget.data.datasets import load_coco500
w = Chorus(load_coco500().embeddings, projector="PCA", color_by="label")
w
"""

# text that a value which is not an element turns into when appended to the DOM
_STRAY = """root => {
  const out = [];
  for (const node of root.childNodes) if (node.nodeType !== Node.ELEMENT_NODE) out.push(`root child: ${node.textContent}`);
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (/undefined|\\[object |^\\s*null\\s*$|^\\s*false\\s*$/.test(t.textContent)) out.push(`text: ${t.textContent.slice(0, 80)}`);
  }
  return out;
}"""
_COLOUR_MENUS = """() => Array.from(document.querySelectorAll('select.mc-color-by')).filter(s => s.checkVisibility())
  .map(s => Array.from(s.options).map(o => o.value))"""


def test_no_stray_text_and_no_empty_colour_menu(open_notebook):
    nb = open_notebook([SCATTER, CHORUS])
    scatter, chorus = nb.wait_widget(0), nb.wait_widget(1)
    nb.screenshot("widget-dom-scatter.png", scatter)
    for i, root in enumerate((scatter, chorus)):
        assert root.evaluate(_STRAY) == [], f"widget {i}: stray text in its root"
    # the ScatterWidget has no colour choices, so no menu; the Chorus's one menu lists the kernel's options
    assert scatter.locator("select.mc-color-by").evaluate("s => s.checkVisibility()") is False
    menus = nb.js(_COLOUR_MENUS)
    assert menus == [nb.kernel.value("list(w.color_options)")], menus
    assert all(menus), f"an empty colour menu: {menus}"
    # the panels a ScatterWidget lacks are absent, not placeholders
    for cls in ("mc-sets", "mc-history", "mc-report", "mc-codeline", "mc-gallery", "mc-axis"):
        assert scatter.locator(f".{cls}").count() == 0, cls
        assert chorus.locator(f".{cls}").count() == 1, cls
