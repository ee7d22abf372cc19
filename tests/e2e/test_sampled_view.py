"""Above its point budget the widget draws a sample: a visible notice says so, a mouse lasso on the
sampled view gives full-data row indices in Python, and a full-data selection set from Python highlights the
rows that are drawn."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

CELL = """
import numpy as np
from modalchorus_widget import ScatterWidget
rng = np.random.default_rng(0)
centers = np.array([[-6.0, -5.0], [6.0, -5.0], [-6.0, 5.0], [6.0, 5.0]])
lab = np.repeat(np.arange(4), 3000)
xy = centers[lab] + rng.normal(0, 0.7, (12000, 2))
w = ScatterWidget(xy, category=lab, modality=np.arange(12000) % 2, max_points=1200, height=320)
w
"""


def test_sampled_view_notice_and_index_mapping(open_notebook):
    nb = open_notebook([CELL])
    root = nb.wait_widget(0)
    assert nb.kernel.value("[w.sampled, w.n, w.n_shown]") == [True, 12000, 1200]
    assert nb.js("() => document.querySelector('.mc-root').dataset.n") == "1200"

    notice = root.locator(".mc-notice")
    assert notice.is_visible()
    text = notice.inner_text()
    assert text == nb.kernel.value("w.sample_notice")
    assert text.startswith("showing 1,200 of 12,000 points (sampled") and "full data" in text
    box = notice.bounding_box()
    assert box and box["height"] >= 10 and box["width"] > 200, f"notice not laid out visibly: {box}"
    assert "1,200 points shown (sampled)" in root.locator(".mc-status").inner_text()
    nb.screenshot("sampled-view-notice.png", root)

    shown = nb.kernel.value("w.shown_index.tolist()")
    lab = nb.kernel.value("lab.tolist()")
    drawn_in = {c: [k for k, r in enumerate(shown) if lab[r] == c] for c in range(4)}
    assert all(250 <= len(v) <= 350 for v in drawn_in.values())

    # browser -> Python: a mouse lasso around cluster 1 as drawn gives the full-data rows of those points
    nb.lasso_around(0, drawn_in[1])
    want = sorted(shown[k] for k in drawn_in[1])
    assert wait_for(lambda: nb.kernel.value("w.selected.tolist()") == want), (
        f"Python selected {nb.kernel.value('w.selected.tolist()')[:10]}... want full rows {want[:10]}..."
    )
    assert all(3000 <= r < 6000 for r in want) and max(want) > 1200  # full-data rows, not positions in the sample
    assert nb.selection_in_browser(0) == drawn_in[1]

    # Python -> browser: all 3000 rows of cluster 2 (full data); the drawn ones light up, Python keeps all 3000
    nb.kernel.run("w.selected = np.flatnonzero(lab == 2)")
    assert wait_for(lambda: nb.selection_in_browser(0) == drawn_in[2]), (
        f"browser shows {len(nb.selection_in_browser(0))} selected, want the {len(drawn_in[2])} drawn rows of cluster 2"
    )
    time.sleep(0.5)
    assert nb.kernel.value("len(w.selected)") == 3000  # no echo cut it down to the drawn rows
    assert nb.kernel.value("w.shown_selected.tolist()") == sorted(shown[k] for k in drawn_in[2])
    nb.screenshot("sampled-view-python-select.png", root)
