"""`python -m benchmarks reliability --json FILE`: bad inputs, interrupted work, large inputs.

Writes {"bad_inputs_tried", "bad_inputs_clear_error", "bad_inputs_state_unchanged", "interrupts_survived",
"interrupts_tried", "peak_rss_gb_1m", "state_lost", "points_shown_5m", "notice_5m", "max_message_buffer_mb",
"build_state_s_5m", "peak_rss_gb_5m", "data", "seconds"} plus per-case detail ("bad_inputs", "interrupts",
"large_1m", "large_widget"):

- every row of ``reliability_bad_inputs.BAD_INPUTS`` (a bad input a user can hand the public API), run by
  ``reliability_bad_inputs.run_bad_input``: it must raise one of the expected exception types, with a message that
  names what was wrong and says how to fix it, and leave the objects it touched as they were;
- every row of ``reliability_interrupts.INTERRUPTS`` (KeyboardInterrupt or an exception part-way through MFM
  fitting, encoding, an alignment round, a save), run by ``reliability_interrupts.run_interrupt``: the previous
  model, positions, sets, history and files must be intact and usable afterwards (``state_lost`` counts the
  cases of either table where they were not);
- peak RSS (VmHWM of /proc/self/status, else ru_maxrss) of a fresh subprocess running the kernel-side path
  for 1,000,000 x 512 float32 unit embeddings: EmbeddingSet construction, MFM.transform, widget payload
  encoding (``probe_rss``);
- the widget for 5,000,000 points (positions, categories and modality codes only; 5M x 512 embeddings would
  be 10 GB): points shown (``points_shown_5m``, the default ``max_points`` sample), the notice it shows
  (``notice_5m``), the largest binary buffer of any comm message either way (``max_message_buffer_mb``:
  the state message, and a lasso around every shown point), the time to build the widget and its state
  message (``build_state_s_5m``) and the peak RSS of that process (``peak_rss_gb_5m``) (``probe_widget``);
- ``default_ws_limit_ok``, measured by ``reliability_ws``: a lasso of all 2,000,000 points and 16 MB of named
  sets in chunks pushed through a real Jupyter server at its default websocket limit to a real kernel arrive
  exactly, and the same sets as one plain update are refused by the server (detail: ``default_ws_limit``).

``--table FILE`` also writes the README table (markdown). The tables are the ones ``tests/test_reliability.py``
runs one test per row of; this module only counts and formats. Data: the first 48 pairs of the COCO-500 CLIP
embeddings that ship with the package.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = (
    "bad_inputs_tried",
    "bad_inputs_clear_error",
    "interrupts_survived",
    "interrupts_tried",
    "peak_rss_gb_1m",
    "state_lost",
    "points_shown_5m",
    "notice_5m",
    "max_message_buffer_mb",
    "build_state_s_5m",
    "peak_rss_gb_5m",
    "hostile_files_tried",
    "hostile_files_refused",
    "zip_bomb_peak_rss_mb",
    "autosave_recovered",
    "default_ws_limit_ok",
    "comm_fuzz_cases",
    "comm_fuzz_escaped",
    "concurrent_align_ok",
)


# -------------------------------------------------------------------------------------------- large
def rss_gb() -> float:
    """Peak RSS of this process in GiB: VmHWM (per address space, so it starts afresh at exec); ru_maxrss
    would carry over the parent's peak at fork (the bench's own ~1 GB) as a floor."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2**20  # KiB -> GiB
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def probe_rss(n: int, d: int) -> dict:
    """The kernel-side path for ``n`` x ``d`` unit float32 embeddings (run in a fresh process)."""
    t0 = time.perf_counter()
    import torch

    from modalchorus_widget.data.embeddings import EmbeddingSet
    from modalchorus_widget.projection.mfm import MFM
    from modalchorus_widget.widget.scatter import ScatterWidget

    torch.set_num_threads(2)
    out = {"n": n, "dim": d, "rss_gb_after_imports": rss_gb()}
    # a small fitted MFM (fitting is not the large-input path; transform is)
    rng = np.random.default_rng(0)
    small = rng.normal(size=(400, d)).astype(np.float32)
    mfm = MFM(
        hidden=(256, 128),
        n_steps=20,
        warm_start=False,
        verbose=False,
        random_state=0,
    )
    mfm.fit(small, modality=np.array(["image"] * 200 + ["text"] * 200))
    out["rss_gb_after_fit"] = rss_gb()
    # the user's embeddings: n x d unit float32 rows, as an encoder returns them (made in place, chunk by chunk)
    V = np.empty((n, d), np.float32)
    for s in range(0, n, 100_000):
        c = rng.standard_normal(size=(min(100_000, n - s), d), dtype=np.float32)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        V[s : s + len(c)] = c
    out["rss_gb_input"] = rss_gb()
    t = time.perf_counter()
    es = EmbeddingSet(V, modality=np.where(np.arange(n) % 2 == 0, "image", "text"))
    out["embeddingset_s"] = time.perf_counter() - t
    out["rss_gb_after_embeddingset"] = rss_gb()
    t = time.perf_counter()
    xy = mfm.transform(es.vectors)
    out["transform_s"] = time.perf_counter() - t
    out["rss_gb_after_transform"] = rss_gb()
    t = time.perf_counter()
    w = ScatterWidget(
        positions=xy, category=(np.arange(n) % 10).astype(np.uint8), modality=(np.arange(n) % 2).astype(np.uint8)
    )
    out["payload"] = w.payload_nbytes()
    out["widget_s"] = time.perf_counter() - t
    out["rss_gb_peak"] = rss_gb()
    out["total_s"] = time.perf_counter() - t0
    return out


def probe_widget(n: int) -> dict:
    """What the widget does with ``n`` points: payload size, buffer sizes, whether it downsampled."""
    t0 = time.perf_counter()
    from ipywidgets.widgets.widget import _remove_buffers

    from modalchorus_widget.widget import buffers as B
    from modalchorus_widget.widget.scatter import ScatterWidget

    out = {"n": n, "rss_gb_after_imports": rss_gb()}
    # what is built: positions only (n x 2 float32, as a projection returns them), 10 categories, and a
    # modality code per point (30 % texts); n x 512 embeddings would be 10 GB at 5M and are not the widget's part
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    cat = (np.arange(n) % 10).astype(np.uint8)
    mod = (rng.random(n) < 0.3).astype(np.uint8)
    out["input_mb"] = (xy.nbytes + cat.nbytes + mod.nbytes) / 1e6
    out["rss_gb_input"] = rss_gb()
    t = time.perf_counter()
    w = ScatterWidget(positions=xy, category=cat, modality=mod, modality_names=["image", "text"])
    out["widget_s"] = time.perf_counter() - t
    t = time.perf_counter()
    st = w.get_state()
    st.pop("_esm", None)  # the state message the browser gets (serializers run here)
    _, _, bufs = _remove_buffers(st)
    out["state_s"] = time.perf_counter() - t
    sizes = [memoryview(b).nbytes for b in bufs]
    out.update(
        {
            "points_shown": w.n_shown,
            "sampled": w.sampled,
            "notice": w.sample_notice,
            "shown_per_modality": np.bincount(w.modality[w.shown_index], minlength=2).tolist(),
            "state_binary_bytes": int(sum(sizes)),
            "n_buffers": len(sizes),
            "largest_buffer_bytes": max(sizes),
        }
    )
    # the biggest browser -> kernel message: a lasso around every shown point (uint32 per point)
    wire = B.chunk_buffer(B.to_bytes(np.arange(w.n_shown, dtype=np.uint32), "uint32"))
    parts = wire if isinstance(wire, list) else [wire]
    out["select_all_message_bytes"] = int(sum(p.nbytes for p in parts))
    out["select_all_largest_buffer_bytes"] = int(max(p.nbytes for p in parts))
    t = time.perf_counter()
    w.set_state({"selected": wire})
    out["select_all_s"] = time.perf_counter() - t
    out["selected_full_indices"] = int(len(w.selected))
    out["payload"] = w.payload_nbytes()
    out["total_s"] = time.perf_counter() - t0
    out["rss_gb_peak"] = rss_gb()
    return out


def probe_bomb(gib: int) -> dict:
    """Refuse a ``gib`` GiB zip bomb as a session file (``Chorus.load``), in a fresh process: peak RSS."""
    import tempfile
    from pathlib import Path

    from benchmarks.reliability_hostile import write_zip_bomb
    from modalchorus_widget.errors import UntrustedFileError
    from modalchorus_widget.widget.chorus import Chorus

    out = {"gib": gib, "rss_mb_after_imports": rss_gb() * 1024}
    with tempfile.TemporaryDirectory() as tmp:
        p = write_zip_bomb(Path(tmp) / "bomb.mcsession", gib=gib, name="manifest.json")
        out["file_mb"] = p.stat().st_size / 2**20
        lying = write_zip_bomb(Path(tmp) / "lying.mcsession", gib=gib, claim=1000, name="manifest.json")
        for key, f in (("declared", p), ("lying", lying)):
            try:
                Chorus.load(f)
                out[key] = "accepted"
            except UntrustedFileError as exc:
                out[key] = f"refused: {exc}"[:300]
    out["refused"] = all(str(out[k]).startswith("refused") for k in ("declared", "lying"))
    out["rss_mb_peak"] = rss_gb() * 1024
    return out


PROBES = {"rss": probe_rss, "widget": probe_widget, "bomb": probe_bomb}


def _run_probe(name: str, args: list, timeout: float) -> dict:
    """``PROBES[name](*args)`` in a fresh Python (its own peak RSS), via ``python -m benchmarks.reliability``."""
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "benchmarks.reliability", "_probe", name, *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": f"exit {proc.returncode}: {proc.stderr[-2000:]}"}


def measure_rss(n: int = 1_000_000, dim: int = 512, timeout: float = 900) -> dict:
    """Peak RSS (GiB) of a fresh Python running the kernel-side path for ``n`` x ``dim`` embeddings."""
    return _run_probe("rss", [n, dim], timeout)


def measure_widget(n: int = 5_000_000, timeout: float = 600) -> dict:
    """What the widget does with ``n`` points: payload size, buffer sizes, whether it downsampled."""
    return _run_probe("widget", [n], timeout)


# --------------------------------------------------------------------------------------------- main
def _run_interrupt_safely(case, ctx):
    from . import reliability_interrupts as IN

    try:
        return IN.run_interrupt(case, ctx)
    except Exception as exc:  # noqa: BLE001 - a case that blows up did not survive
        return IN.InterruptOutcome(case.name, None, False, [f"case failed: {type(exc).__name__}: {exc}"])


def run_all(n_rss: int = 1_000_000, dim: int = 512, widget_n: int = 5_000_000, skip_large: bool = False) -> dict:
    from . import reliability_autosave as AS
    from . import reliability_bad_inputs as BI
    from . import reliability_concurrency as CC
    from . import reliability_fuzz as FZ
    from . import reliability_hostile as HF
    from . import reliability_interrupts as IN
    from . import reliability_ws as WS
    from .reliability_context import Ctx

    with Ctx() as ctx:
        outcomes = [BI.run_bad_input(c, ctx) for c in BI.BAD_INPUTS]
        ints = [(c, _run_interrupt_safely(c, ctx)) for c in IN.INTERRUPTS]
        hostile = [HF.run_hostile_file(c, ctx) for c in HF.HOSTILE_FILES]
        fuzz = FZ.fuzz_comm(ctx.chorus, 1000)
        concurrent = CC.concurrent_align(ctx)
        autosave = AS.autosave_kill9(ctx.tmp)
        source = ctx.source
    bomb = _run_probe("bomb", [10], 300)
    ws = WS.measure_default_ws_limit()
    res = {
        "bad_inputs_tried": len(outcomes),
        "bad_inputs_clear_error": sum(o.clear for o in outcomes),
        "bad_inputs_state_unchanged": sum(not o.state_changed for o in outcomes),
        "interrupts_tried": len(ints),
        "interrupts_survived": sum(o.survived for _, o in ints),
        "state_lost": sum(bool(o.state_changed) for o in outcomes) + sum(bool(o.state_lost) for _, o in ints),
        "peak_rss_gb_1m": None,
        "points_shown_5m": None,
        "notice_5m": None,
        "max_message_buffer_mb": None,
        "build_state_s_5m": None,
        "peak_rss_gb_5m": None,
        "hostile_files_tried": len(hostile) + 1,  # + the 10 GiB bomb of the fresh process
        "hostile_files_refused": sum(o.refused and not o.state_changed for o in hostile)
        + int(bool(bomb.get("refused"))),
        "zip_bomb_peak_rss_mb": round(bomb["rss_mb_peak"], 1) if "rss_mb_peak" in bomb else None,
        "autosave_recovered": autosave.get("recovered"),
        "default_ws_limit_ok": ws.get("ok"),
        "comm_fuzz_cases": fuzz["cases"],
        "comm_fuzz_escaped": fuzz["escaped"],
        "comm_fuzz_not_refused_cleanly": fuzz["state_changed"] + fuzz["not_one_warning"],
        "concurrent_align_ok": concurrent["ok"],
        "data": source,
        "zip_bomb": bomb,
        "autosave": autosave,
        "comm_fuzz": fuzz,
        "default_ws_limit": ws,
        "concurrent_align": concurrent,
        "hostile_files": [
            {"name": o.name, "where": o.where, "raised": o.raised, "message": o.message, "refused": o.refused}
            for o in hostile
        ]
        + [
            {
                "name": "zip bomb of 10 GiB (fresh process)",
                "where": "Chorus.load",
                "raised": "UntrustedFileError" if bomb.get("refused") else None,
                "message": str(bomb.get("declared", bomb.get("error"))),
                "refused": bool(bomb.get("refused")),
            }
        ],
        "bad_inputs": [
            {
                "name": o.name,
                "where": o.where,
                "raised": o.raised,
                "message": o.message,
                "ok": o.ok,
                "modalchorus_error": o.modalchorus_error,
                "problems": o.problems + ([f"state changed: {o.state_changed}"] if o.state_changed else []),
            }
            for o in outcomes
        ],
        "interrupts": [
            {
                "name": o.name,
                "survived": o.survived,
                "state_lost": o.state_lost,
                "detail": o.detail,
                "known_bug": c.known_bug or None,
            }
            for c, o in ints
        ],
    }
    if not skip_large:
        rss = measure_rss(n_rss, dim)
        res["large_1m"] = rss
        res["peak_rss_gb_1m"] = rss.get("rss_gb_peak")
        big = measure_widget(widget_n)
        res["large_widget"] = big
        mb = [big.get("largest_buffer_bytes"), big.get("select_all_largest_buffer_bytes")]
        res.update(
            {
                "points_shown_5m": big.get("points_shown"),
                "notice_5m": big.get("notice"),
                "max_message_buffer_mb": round(max(mb) / 2**20, 3) if None not in mb else None,
                "build_state_s_5m": round(big["widget_s"] + big["state_s"], 2) if "state_s" in big else None,
                "peak_rss_gb_5m": big.get("rss_gb_peak"),
            }
        )
    return res


def markdown_table(res: dict) -> str:
    """The README table: bad input | where | what happens (exception type and message, or the gap)."""

    def cell(x):
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| bad input | where | what happens |", "|---|---|---|"]
    for o in res["bad_inputs"]:
        msg = re.sub(r"/tmp/[^/']+/", "", o["message"])  # the case's temp folder is no part of the message's meaning
        what = f"`{o['raised']}`: {msg}" if o["raised"] else "accepted (gap)"
        if not o["ok"]:
            what += f" **(gap: {'; '.join(o['problems'])})**"
        lines.append(f"| {cell(o['name'])} | `{cell(o['where'])}` | {cell(what)} |")
    lines += ["", "| hostile file | where | what happens |", "|---|---|---|"]
    for o in res.get("hostile_files", []):
        msg = re.sub(r"/tmp/[^:' ]+/", "", o["message"])
        what = f"`{o['raised']}`: {msg}" if o["refused"] else f"**(gap: {o['raised']}: {msg})**"
        lines.append(f"| {cell(o['name'])} | `{cell(o['where'])}` | {cell(what)} |")
    lines += ["", "| interrupted work | previous state afterwards |", "|---|---|"]
    for i in res["interrupts"]:
        state = "intact and usable" if i["survived"] else f"**lost: {', '.join(map(str, i['state_lost']))}**"
        lines.append(f"| {cell(i['name'])} | {cell(state)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["_probe"]:  # the subprocess side of measure_rss / measure_widget
        print("RESULT " + json.dumps(PROBES[argv[1]](*map(int, argv[2:]))))
        return 0
    ap = argparse.ArgumentParser(prog="python -m benchmarks reliability", description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--n", type=int, default=1_000_000, help="points for the peak-RSS run (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--widget-n", type=int, default=5_000_000, help="points for the widget-only large run")
    ap.add_argument("--skip-large", action="store_true", help="bad inputs and interrupts only")
    ap.add_argument("--table", type=Path, default=None, help="also write the README table (markdown) here")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    res = run_all(args.n, args.dim, args.widget_n, args.skip_large)
    res["seconds"] = round(time.perf_counter() - t, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    # the cases' temporary folders are no part of a message's meaning, and no machine's path belongs in the file
    tmp = re.escape(tempfile.gettempdir().rstrip("/"))
    args.json.write_text(re.sub(tmp + r"/[^/'\" :]+/", "", json.dumps(res, indent=1, default=str)))
    if args.table is not None:
        args.table.write_text(markdown_table(res))
    for o in res["bad_inputs"]:
        if not o["ok"]:
            print(f"BAD INPUT  {o['name']} @ {o['where']}: {'; '.join(o['problems'])}", file=sys.stderr)
    for i in res["interrupts"]:
        if not i["survived"]:
            print(f"INTERRUPT  {i['name']}: lost {i['state_lost']} ({i['detail']})", file=sys.stderr)
    print(json.dumps({k: res[k] for k in SUMMARY_KEYS}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
