"""marimo: ``mo.ui.anywidget(Chorus(...))`` in a real ``marimo run`` server, driven by headless Chromium.

A mouse lasso must reach Python exactly, a cell that reads ``w.selected`` must re-run with it, the gallery must
show the new selection (not the one before it: marimo handles a widget's plain messages before its state
updates), and no update may be dropped (marimo applies each update twice, the second time with the state dict
it received first).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.browser import REPO, TEST_BUNDLE, bbox_polygon, new_page

pytestmark = pytest.mark.e2e
marimo = pytest.importorskip("marimo")

NOTEBOOK = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import numpy as np

    from modalchorus_widget import Chorus, load_coco500

    es = load_coco500().embeddings
    es = es.subset(np.r_[0:60, 500:560])  # 60 images and their 60 captions
    w = mo.ui.anywidget(Chorus(es, projector="PCA"))
    return mo, w


@app.cell
def _(w):
    w
    return


@app.cell
def _(mo, w):
    _sel = w.selected
    mo.md(f"python-selected {len(_sel)}: [{','.join(str(int(i)) for i in _sel)}]")
    return
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def marimo_app(tmp_path):
    """A ``marimo run`` server on 127.0.0.1 for the notebook above; yields (url, log path)."""
    if not TEST_BUNDLE.is_file():
        pytest.fail(f"{TEST_BUNDLE.name} missing: run `cd js && npm run build` (make setup) before the browser tests")
    nb = tmp_path / "chorus_app.py"
    nb.write_text(NOTEBOOK)
    port = _free_port()
    log_path = tmp_path / "marimo.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env["HOME"] = str(tmp_path)  # marimo's own config and state stay in the test's folder
    env["MODALCHORUS_WIDGET_ESM"] = str(TEST_BUNDLE)  # the front end with its test hooks
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", str(nb), "--headless", "--no-token", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"marimo exited early: {log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield url, log_path
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _widget(page):
    return "globalThis.__modalchorus.filter(x => x.root.isConnected)[0]"


def _lasso(page, points):
    """Lasso, with the mouse, an octagon around the drawn points ``points`` of the map."""
    xy = page.evaluate(
        f"""ps => {{ const e = {_widget(page)}; const r = e.proj.canvas.getBoundingClientRect();
             return ps.map((p) => {{ const s = e.proj.screenPosition(p); return [r.left + s[0], r.top + s[1]]; }}); }}""",
        [int(p) for p in points],
    )
    poly = bbox_polygon(xy, margin=6)
    m = page.mouse
    m.move(*poly[0])
    m.down()
    for x, y in list(poly[1:]) + [(poly[0][0] + 3, poly[0][1] + 3)]:
        m.move(x, y, steps=8)
    m.up()


def _python_selected(page, timeout: float = 60):
    """The indices the dependent cell printed, once it has re-run after the last lasso."""
    text = page.get_by_text(re.compile(r"python-selected \d+")).first.inner_text(timeout=timeout * 1000)
    inside = re.search(r"\[(.*)\]", text).group(1)
    return sorted(int(x) for x in inside.split(",") if x)


def _wait_python_selected(page, expected, timeout: float = 60):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = _python_selected(page)
        if got == expected:
            return got
        time.sleep(0.3)
    return got


def test_marimo_lasso_reaches_python_and_reruns_the_dependent_cell(browser, marimo_app):
    url, log_path = marimo_app
    page = new_page(browser, 1400, 1100)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(url)
        page.wait_for_function(
            "() => (globalThis.__modalchorus || []).some(x => x.root.isConnected && x.root.dataset.ready === '1')",
            timeout=180_000,
        )
        page.get_by_text(re.compile(r"python-selected 0")).first.wait_for(timeout=60_000)
        w = _widget(page)
        page.evaluate(f"() => {w}.root.scrollIntoView()")
        xy = page.evaluate(
            f"() => {{ const e = {w}; return Array.from({{length: e.proj.n}}, (_, p) => e.proj.screenPosition(p)); }}"
        )
        # two lassos in turn, around two different clusters of drawn points: the rightmost and the leftmost
        order = sorted(range(len(xy)), key=lambda p: xy[p][0])
        for group in (order[-6:], order[:6]):
            _lasso(page, group)
            in_browser = sorted(page.evaluate(f"() => Array.from({w}.proj.selection)"))
            assert set(group) <= set(in_browser), "the lasso missed the points it was drawn around"
            # the dependent cell re-ran with exactly the browser's selection
            assert _wait_python_selected(page, in_browser) == in_browser
            # the gallery shows this selection, not the one before it
            gallery = f"() => {{ const g = {w}.root.querySelector('.mc-gallery'); return g ? [g.dataset.total, Array.from(g.querySelectorAll('.mc-card')).map(c => Number(c.dataset.row))] : null; }}"
            deadline, shown = time.time() + 30, None
            while time.time() < deadline:
                shown = page.evaluate(gallery)
                if shown and shown[0] == str(len(in_browser)):
                    break
                time.sleep(0.2)
            assert shown and shown[0] == str(len(in_browser)), f"gallery shows {shown}, the selection is {in_browser}"
            assert sorted(shown[1]) == in_browser
        shot = REPO / "test-output" / "marimo-lasso.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
    finally:
        page.close()
        page.context.close()
    log = Path(log_path).read_text(errors="replace")
    assert "BufferFormatError" not in log, log[-3000:]
    assert "ignored a front-end update" not in log, log[-3000:]
