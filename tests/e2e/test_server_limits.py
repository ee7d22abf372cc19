"""Real server limits: JupyterLab runs at tornado's default websocket message limit (10 MiB; the
harness does not raise it), and in the real Chromium, with the mouse and keyboard:

- a lasso around every point of a widget at its point budget (``DEFAULT_MAX_POINTS`` = 2,000,000 points, the
  largest selection the browser can make: 8,000,000 bytes of indices) reaches Python intact;
- named sets saved from the sets panel whose total (16,000,000 bytes) is over the limit reach the kernel
  exactly, as a chunked transfer (``js/src/set_transfer.js`` -> ``widget/set_transfer.py``);
- the same sets sent the old way, as one plain ``named_sets`` update, are cut off by the server (so the limit
  the test runs under is real)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

N = 2_000_000
WS_LIMIT = 10 * 2**20
CELL = f"""
import numpy as np
from modalchorus_widget import Chorus, EmbeddingSet
from modalchorus_widget.widget.scatter import DEFAULT_MAX_POINTS
n = {N}
rng = np.random.default_rng(0)
v = rng.standard_normal((n, 8), dtype=np.float32)
v /= np.linalg.norm(v, axis=1, keepdims=True)
es = EmbeddingSet(v, modality=np.where(np.arange(n) % 4 == 0, "text", "image"))
del v
xy = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
w = Chorus(es, positions=xy, color_by="modality", point_size=1.0, height=360)
w
"""
ALL = f"bool(len(w.selected) == {N} and np.array_equal(w.selected, np.arange({N})))"


def _save_set(nb, root, name: str):
    """Type a set name with the keyboard and click 'Save selection as set'."""
    field = root.locator(".mc-set-name")
    field.click()
    field.press("Control+a")
    nb.page.keyboard.type(name)
    root.locator(".mc-set-save").click()


def test_largest_lasso_and_sets_over_the_limit_reach_python(open_notebook):
    nb = open_notebook([CELL])
    root = nb.wait_widget(0, timeout=600)
    page = nb.page
    assert nb.kernel.value("[w.n, w.n_shown, w.sampled, DEFAULT_MAX_POINTS]") == [N, N, False, N]

    # (a) a mouse lasso around all 2,000,000 drawn points: one 8,000,000-byte selection message
    extremes = nb.kernel.value(
        "sorted({int(i) for i in (xy[:, 0].argmin(), xy[:, 0].argmax(), xy[:, 1].argmin(), xy[:, 1].argmax())})"
    )
    nb.lasso_around(0, extremes, margin=12, steps_per_edge=4)
    n_browser = "() => globalThis.__modalchorus.filter(x => x.root.isConnected)[0].proj.selection.length"
    assert wait_for(lambda: nb.js(n_browser) == N, timeout=120), f"the lasso took {nb.js(n_browser)} points"
    assert wait_for(lambda: nb.kernel.value(ALL), timeout=180), (
        f"Python holds {nb.kernel.value('len(w.selected)')} selected rows, expected all {N}"
    )
    assert 4 * N < WS_LIMIT
    nb.screenshot("server-limits-lasso.png", root)

    # (b) two sets of the whole selection, saved from the panel: 8 MB, then 16 MB > 10 MiB in one transfer
    _save_set(nb, root, "all A")
    assert wait_for(
        lambda: nb.kernel.value(f"'all A' in w.sets and np.array_equal(w.sets['all A'], np.arange({N}))"), timeout=180
    )
    _save_set(nb, root, "all B")
    exact = f"sorted(w.sets) == ['all A', 'all B'] and all(np.array_equal(w.sets[k], np.arange({N})) for k in w.sets)"
    assert wait_for(lambda: nb.kernel.value(f"bool({exact})"), timeout=240), (
        f"kernel sets: {nb.kernel.value('{k: len(v) for k, v in w.sets.items()}')}"
    )
    assert 2 * 4 * N > WS_LIMIT  # the panel's last edit held more than one message may
    # the panel shows both sets from the kernel's answer, nothing pending, no refusal
    assert wait_for(lambda: root.locator(".mc-sets").get_attribute("data-pending") == "0", timeout=60)
    assert wait_for(lambda: root.locator(".mc-set[data-set='all B'] .mc-set-select").count() == 1, timeout=60)
    assert f"({N})" in root.locator(".mc-set[data-set='all B'] .mc-set-select").inner_text()
    assert root.locator(".mc-sets-msg").inner_text() == ""
    nb.screenshot("server-limits-sets.png", root)

    # control: the same 24 MB of sets as one plain named_sets update (what the panel sent before) never
    # reaches the kernel: the server's default limit is in force
    page.evaluate(
        """(n) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[0];
             const all = new DataView(Uint32Array.from({ length: n }, (_, i) => i).buffer);
             const sets = { ...e.model.get('named_sets'), 'plain C': all };
             e.model.set('named_sets', sets); e.model.save_changes(); }""",
        N,
    )
    time.sleep(8)
    assert nb.kernel.value("sorted(w.sets)") == ["all A", "all B"]


def test_bench_measures_the_default_limit_through_a_real_server():
    # what `python -m benchmarks reliability` reports as default_ws_limit_ok: the same messages through a real
    # server's websocket to a real kernel (no browser), and the plain update refused
    from benchmarks.reliability_ws import measure_default_ws_limit

    out = measure_default_ws_limit()
    assert out["ok"], out
    assert out["selected_exact"] and out["sets_exact"] and out["plain_sets_refused_by_server"]
    assert out["lasso_message_bytes"] < WS_LIMIT < out["sets_total_bytes"]
    assert out["largest_chunk_message_bytes"] < WS_LIMIT < out["plain_sets_message_bytes"]
