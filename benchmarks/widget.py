"""`python -m benchmarks widget --json FILE` (from the repo root): the widget in a real browser, timed.

For each n (default 10k, 100k, 1M random points) it starts a notebook in a real JupyterLab (headless
Chromium, software WebGL; the lab is benchmarks/browser.py, whose kernels serve the widget's test bundle with its timing hooks),
displays a ScatterWidget, and measures (above the widget's ``max_points`` the browser draws a sample:
``points_shown`` and the visible ``notice`` say so, and the figures are for it)
- python_to_first_frame_s: from the start of the cell's execution (kernel clock) to the first frame
  drawn with all n points (browser clock; same machine);
- lasso_to_python_s: from the mouse-up of a lasso drawn with the mouse to the moment the kernel's
  ``selected`` observer fires with the indices (the test checks they equal the browser's selection);
- update_positions_s: ``w.update_positions(new, animate=False)`` in the kernel until the browser has
  drawn the new layout;
- bytes_sent: what the widget's state sends over the comm for the points (JSON + binary buffers, the
  front-end bundle excluded, counted by ipywidgets' own buffer split); raw_bytes: the plain binary size
  of the same arrays (float32 positions + uint8 codes + uint32 selection).

Then, for the largest n (``--chorus-n``, default the largest of ``--sizes``; 0 skips it), a ``Chorus`` of n random
unit vectors of the embedded default model's dimension (10 of them its class prompts, the rest "images"), PCA,
the default encoder and an Aligner, measures (``chorus`` in the JSON):
- gallery_open_s: ``w.selected = <1,000 rows>`` in the kernel until the gallery beside the map shows its
  first page (24 cards with label and prediction);
- search_s: Enter in the search box until the query's nearest points of each modality are highlighted and
  the query is placed on the map (the kernel embeds it with the default encoder and scans all n vectors);
- round_panel_s: from ``w.align(PointSet(...))`` returning in the kernel until the browser has drawn the
  round's report panel and its trails and painted a frame with them (the kernel sends the report and the
  most-moved points before the positions of every point; ``animate=False``; with the default 0.7 s
  animation: ``round_panel_animated_s``); round_points_s: until the new positions of all n points are
  drawn as well (after the panel); align_s: the round itself in the kernel.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

CELL = """
import time
_t0 = time.time()
import numpy as np
from modalchorus_widget import ScatterWidget
_rng = np.random.default_rng({seed})
_n = {n}
_xy = _rng.normal(size=(_n, 2)).astype(np.float32)
w = ScatterWidget(_xy, category=_rng.integers(0, 10, _n), modality=_rng.integers(0, 2, _n), point_size={size})
_sel_times = []
w.observe(lambda c: _sel_times.append((time.time(), len(c['new']))), 'selected')
_t_cell_done = time.time()
w
"""


CHORUS_CELL = """
import time
import numpy as np
from modalchorus_widget import Chorus, EmbeddingSet, load_default
from modalchorus_widget.alignment import Aligner, PointSet
_d = load_default()
_rng = np.random.default_rng({seed})
_n = {n}
_prompts = _d.embeddings.vectors[_d.prompt_index]
_v = _rng.normal(size=(_n, _prompts.shape[1])).astype(np.float32)
_v[: _n - 10] += 2.0 * _prompts[_rng.integers(0, 10, _n - 10)]
_v[_n - 10 :] = _prompts
_v /= np.linalg.norm(_v, axis=1, keepdims=True)
_lab = np.r_[_rng.integers(0, 10, _n - 10), np.arange(10)].astype(str)
_items = np.array([None] * (_n - 10) + list(_d.embeddings.items[_d.prompt_index]), dtype=object)
es = EmbeddingSet(_v, modality=["image"] * (_n - 10) + ["text"] * 10, labels=_lab, items=_items)
del _v
w = Chorus(es, projector="PCA", encoder=_d.encoder, class_prompts=list(range(_n - 10, _n)),
           aligner=Aligner(encoder=_d.encoder, random_state=0), wait=True, point_size=1.5)
_gallery_rows = np.sort(_rng.choice(_n - 10, 1000, replace=False))
w
"""


def _stamp(page, key):
    v = page.evaluate(f"() => document.querySelector('.mc-root').dataset.{key} || ''")
    return float(v) / 1000 if v else None


def _wait_stamp(page, key, before, timeout):
    page.wait_for_function(
        "([k, b]) => { const v = document.querySelector('.mc-root').dataset[k]; return v && v !== b; }",
        arg=[key, before or ""],
        timeout=timeout * 1000,
    )
    return _stamp(page, key)


def measure_chorus(nb, n: int, shots: Path | None, timeout: float):
    """gallery_open_s, search_s and round_panel_s on a Chorus of n points (see the module docstring)."""
    page = nb.page
    root = nb.wait_widget(0, timeout=timeout)
    k = nb.kernel
    raw = lambda key: page.evaluate(f"() => document.querySelector('.mc-root').dataset.{key} || ''")  # noqa: E731
    # gallery: 1,000 selected from the kernel -> first page shown
    before = raw("galleryMs")
    t0 = k.value("(lambda t: (setattr(w, 'selected', _gallery_rows), t)[1])(time.time())")
    t1 = _wait_stamp(page, "galleryMs", before, timeout)
    shown = int(page.evaluate("() => document.querySelector('.mc-gallery').dataset.shown"))
    total = int(page.evaluate("() => document.querySelector('.mc-gallery').dataset.total"))
    if total != 1000 or shown != 24:
        raise RuntimeError(f"gallery shows {shown} of {total}, expected the first 24 of 1000")
    if shots:
        nb.screenshot(f"bench-chorus-{n}-gallery.png", root)
    # search: Enter in the box -> nearest points highlighted
    box = page.locator(".mc-root .mc-search")
    box.fill("a photo of the digit 7")
    before = raw("searchMs")
    page.evaluate("() => { globalThis.__searchT0 = Date.now(); }")
    box.press("Enter")
    s1 = _wait_stamp(page, "searchMs", before, timeout)
    s0 = page.evaluate("() => globalThis.__searchT0") / 1000
    nearest = page.evaluate("() => document.querySelector('.mc-root').dataset.searchNearest").split(",")
    if len(nearest) != 16:
        raise RuntimeError(f"search highlighted {len(nearest)} nearest points, expected 8 per modality")
    # a round: kernel returns -> positions, report panel and trails drawn
    rounds = {}
    for animate in (False, True):
        before = raw("trailsMs")
        before_exact = raw("trailsExactMs")
        res = k.value(
            "(lambda t: (lambda r: (time.time(), time.time() - t))(w.align(PointSet(int(_n - 3), _gallery_rows[:50]), "
            f"animate={animate})))(time.time())",
            timeout=timeout * 4,
        )
        t_done, align_s = res
        tr = _wait_stamp(page, "trailsMs", before, timeout)
        rep = _stamp(page, "reportMs")
        trails = int(raw("trails") or 0)
        # the exact trails are stamped once every point's new position is drawn
        pts = _wait_stamp(page, "trailsExactMs", before_exact, timeout)
        rounds[animate] = (
            round(tr - t_done, 4),
            round(align_s, 4),
            trails,
            round(rep - t_done, 4),
            round(pts - t_done, 4),
        )
    if shots:
        nb.screenshot(f"bench-chorus-{n}-round.png", root)
    return {
        "n": n,
        "gallery_open_s": round(t1 - t0, 4),
        "search_s": round(s1 - s0, 4),
        "round_panel_s": rounds[False][0],
        "round_panel_animated_s": rounds[True][0],
        "report_panel_s": rounds[False][3],
        "round_points_s": rounds[False][4],
        "align_s": rounds[False][1],
        "trails_drawn": rounds[False][2],
    }


def measure(nb, n: int, shots: Path | None, timeout: float):
    page = nb.page
    root = nb.wait_widget(0, timeout=timeout)
    t0 = nb.kernel.value("_t0")
    first = float(page.evaluate("() => document.querySelector('.mc-root').dataset.firstFrameMs")) / 1000
    n_browser = int(page.evaluate("() => document.querySelector('.mc-root').dataset.n"))
    n_shown = int(nb.kernel.value("w.n_shown"))  # n, or the widget's max_points sample above it
    if n_browser != n_shown:
        raise RuntimeError(f"browser shows {n_browser} points, expected {n_shown} of {n}")
    notice = page.evaluate(
        "() => { const e = document.querySelector('.mc-root .mc-notice');"
        " return e && e.offsetHeight > 0 ? e.textContent : ''; }"
    )
    if (n_shown < n) != bool(notice):
        raise RuntimeError(f"{n_shown} of {n} points shown but the visible notice reads {notice!r}")
    ds0 = page.evaluate("() => ({...document.querySelector('.mc-root').dataset})")
    drawn = page.evaluate("() => globalThis.__modalchorus.filter(e => e.root.isConnected)[0].proj.lastDrawResolvedMs")
    t_cell_done = nb.kernel.value("_t_cell_done")
    render_start = float(ds0["renderStartMs"]) / 1000
    if shots:
        nb.screenshot(f"bench-{n}.png", root)

    # lasso: a hexagon around the middle of the cloud, drawn with the mouse
    x, y, w, h = nb.view_box(0)
    cx, cy, r = x + w / 2, y + h / 2, min(w, h) * 0.08
    import math

    poly = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in [k * math.pi / 3 for k in range(6)]]
    t_up = nb.lasso(poly, steps_per_edge=6)
    deadline = time.time() + timeout
    times = []
    while time.time() < deadline:
        times = nb.kernel.value("_sel_times")
        if times:
            break
        time.sleep(0.05)
    if not times:
        raise RuntimeError("the lasso never reached Python")
    lasso_s = times[0][0] - t_up
    n_sel_py = times[0][1]
    n_sel_js = int(
        page.evaluate("() => globalThis.__modalchorus.filter(e => e.root.isConnected)[0].proj.selection.length")
    )
    if n_sel_py != n_sel_js or n_sel_py == 0:
        raise RuntimeError(f"lasso: Python got {n_sel_py} indices, the browser selected {n_sel_js}")
    ds = page.evaluate("() => ({...document.querySelector('.mc-root').dataset})")
    browser_up = float(ds.get("mouseUpMs", "nan")) / 1000
    browser_sent = float(ds.get("selectSentMs", "nan")) / 1000
    if shots:
        nb.screenshot(f"bench-{n}-lasso.png", root)

    # update positions without animation: kernel call -> new layout drawn
    before = page.evaluate("() => document.querySelector('.mc-root').dataset.positionsMs")
    tu = nb.kernel.value("(lambda t: (w.update_positions(_xy[::-1].copy() * 0.5, animate=False), t)[1])(time.time())")
    page.wait_for_function(
        "b => document.querySelector('.mc-root').dataset.positionsMs !== b", arg=before, timeout=timeout * 1000
    )
    upd = float(page.evaluate("() => document.querySelector('.mc-root').dataset.positionsMs")) / 1000 - tu
    nbytes = nb.kernel.value("w.payload_nbytes()")
    return {
        "n": n,
        "points_shown": n_shown,
        "notice": notice,
        "python_to_first_frame_s": round(first - t0, 4),
        # breakdown: kernel builds the widget; state reaches the page and render() starts; points
        # decoded and handed to WebGL (index built); first frame rendered
        "first_frame_kernel_s": round(t_cell_done - t0, 4),
        "first_frame_transfer_s": round(render_start - t_cell_done, 4),
        "first_frame_upload_s": round(drawn / 1000 - render_start, 4),
        "first_frame_render_s": round(first - drawn / 1000, 4),
        "lasso_to_python_s": round(lasso_s, 4),
        "update_positions_s": round(upd, 4),
        "bytes_sent": int(nbytes["total"]),
        "raw_bytes": int(nbytes["raw"]),
        "bytes_json": int(nbytes["json"]),
        "bytes_binary": int(nbytes["binary"]),
        "lasso_selected": n_sel_py,
        # breakdown of the lasso round trip (same machine clock): event delivery to the page,
        # selection computed + sent by the page, comm transfer + kernel decoding
        "lasso_mouseup_delivery_s": round(browser_up - t_up, 4),
        "lasso_browser_select_s": round(browser_sent - browser_up, 4),
        "lasso_comm_to_kernel_s": round(times[0][0] - browser_sent, 4),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks widget", description=__doc__.split("\n")[0])
    ap.add_argument("--json", required=True, help="where to write the results JSON")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated point counts")
    ap.add_argument("--screenshots", default=None, help="folder for screenshots (default: none)")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--chorus-n",
        type=int,
        default=None,
        help="points of the Chorus run (gallery, search, round panel); default the largest size, 0 skips",
    )
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not sizes or min(sizes) < 10:
        ap.error("--sizes needs point counts >= 10")

    from playwright.sync_api import sync_playwright

    from benchmarks.browser import OUT, Lab, NotebookPage, chromium_path, launch_browser, new_page

    if not chromium_path():
        print("chromium not found; install it with `apt-get install -y chromium`", file=sys.stderr)
        return 2
    shots = Path(args.screenshots) if args.screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        lab = Lab(Path(tmp)).start()
        try:
            with sync_playwright() as p:
                browser = launch_browser(p)
                for n in sizes:
                    name = f"bench_{n}.ipynb"
                    size = 3 if n < 200_000 else 1.5
                    lab.write_notebook(name, [CELL.format(n=n, seed=args.seed, size=size)])
                    nb = NotebookPage(lab, new_page(browser, 1400, 1000), name, out=shots or OUT)
                    try:
                        nb.open_and_run(timeout=args.timeout)
                        run = measure(nb, n, shots, args.timeout)
                        print(json.dumps(run), flush=True)
                        runs.append(run)
                    finally:
                        nb.close()
                chorus_n = max(sizes) if args.chorus_n is None else args.chorus_n
                if chorus_n:
                    name = f"bench_chorus_{chorus_n}.ipynb"
                    lab.write_notebook(name, [CHORUS_CELL.format(n=chorus_n, seed=args.seed)])
                    nb = NotebookPage(lab, new_page(browser, 1400, 1000), name, out=shots or OUT)
                    try:
                        nb.open_and_run(timeout=args.timeout)
                        chorus = measure_chorus(nb, chorus_n, shots, args.timeout)
                        print(json.dumps(chorus), flush=True)
                    finally:
                        nb.close()
                browser.close()
        finally:
            lab.stop()
    result = {
        "runs": runs,
        "chorus": chorus if chorus_n else None,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "browser": "headless Debian chromium, software WebGL (SwiftShader)",
        },
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0
