"""`python -m benchmarks scale --rows N --json FILE`: the scale pipeline (Ray Data vs in-process) on this machine.

Raw items: jittered 8x8 digits (scikit-learn's load_digits plus Gaussian noise) as PNG bytes in parquet files,
each with a caption ("a handwritten 7", ...), encoded by the embedded default model. ``--rows`` counts
embedding rows: N/2 items, each giving an image row and a text row (1,000,000 rows x 384 dims = 1.5 GB of
float32). Writes exactly the issue's keys:

- ``rows``; ``local_rows_per_s`` / ``ray_rows_per_s``: encode throughput, same encoder, same machine (the Ray
  figure includes starting the actor pool and loading the model in each actor; Ray itself is started before);
- ``ray_project_rows_per_s``: placing every row with the fitted MFM on Ray (the fit on a stratified sample,
  in a Ray task, is apart);
- ``max_abs_diff_local_vs_ray``: the largest of (a) the two engines' embedding shards and (b) the two
  engines' positions shards of the same embedding shards;
- ``driver_peak_rss_gb``: this process's peak RSS over the whole run, local engine included (the larger of
  the kernel's ru_maxrss and an RSS sampled every 20 ms; the log gives each stage's own peak);
- ``lasso_full_s``: a 64-vertex lasso over all N positions resolved to row ids;
- ``kill_worker_ok``: a Ray actor killed (SIGKILL) after the first shard of a job; the job finishes and every
  id is there exactly once;
- ``resume_ok``: a job stopped half-way (local engine), then re-run on Ray: every id exactly once, the
  finished shards neither rewritten nor re-encoded;
- ``clip_retrieval_layout_ok``: img_emb/img_emb_<i>.npy, text_emb/text_emb_<i>.npy, metadata/metadata_<i>.parquet
  with clip-retrieval's zero padding, row-aligned, read back as embedding-reader does (sorted, concatenated).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_source(folder: Path, n_items: int, files: int = 10, seed: int = 0) -> list:
    """``files`` parquet tables of jittered digit PNGs with captions, ids and labels; returns all ids."""
    import pandas as pd
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    per = -(-n_items // files)
    for f in range(files):
        n = min(per, n_items - f * per)
        if n <= 0:
            break
        idx = rng.integers(0, len(d.images), n)
        pix = np.clip(d.images[idx] + rng.normal(0, 1.0, (n, 8, 8)), 0, 16) * 15.9
        pngs = []
        for a in pix.astype(np.uint8):
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG")
            pngs.append(buf.getvalue())
        fid = [f"item{f * per + i:08d}" for i in range(n)]
        pd.DataFrame(
            {
                "id": fid,
                "image": pngs,
                "caption": [f"a handwritten {t}" for t in d.target[idx]],
                "label": d.target[idx].astype(str),
            }
        ).to_parquet(folder / f"part{f:03d}.parquet", row_group_size=5000)
        ids += fid
    return ids


def _ids(folder) -> list:
    from modalchorus_widget import scale

    return scale.open_shards(folder).metadata()["id"].tolist()


def _max_diff(a_folder, b_folder, positions=False) -> float:
    from modalchorus_widget import scale

    a, b = scale.open_shards(a_folder), scale.open_shards(b_folder)
    worst = 0.0
    for (_, _, _, x), (_, _, _, y) in zip(a.iter_blocks(positions), b.iter_blocks(positions)):
        worst = max(worst, float(np.abs(np.asarray(x, np.float32) - np.asarray(y, np.float32)).max()))
    return worst


def layout_ok(folder: Path) -> bool:
    """clip-retrieval's names, padding, and row alignment, checked as an outside reader would."""
    import math

    import pyarrow.parquet as pq

    names = {sub: sorted(os.listdir(folder / sub)) for sub in ("img_emb", "text_emb", "metadata")}
    n = len(names["img_emb"])
    pad = int(math.log10(n)) + 1
    ok = all(
        names[sub] == [f"{pre}{str(i).zfill(pad)}{ext}" for i in range(n)]
        for sub, pre, ext in (
            ("img_emb", "img_emb_", ".npy"),
            ("text_emb", "text_emb_", ".npy"),
            ("metadata", "metadata_", ".parquet"),
        )
    )
    for i in range(n):
        s = str(i).zfill(pad)
        img = np.load(folder / "img_emb" / f"img_emb_{s}.npy", mmap_mode="r")
        txt = np.load(folder / "text_emb" / f"text_emb_{s}.npy", mmap_mode="r")
        meta = pq.read_table(folder / "metadata" / f"metadata_{s}.parquet", columns=["id", "caption"])
        ok &= img.shape[0] == txt.shape[0] == meta.num_rows and img.shape[1] == txt.shape[1]
    return bool(ok)


def _worker_procs():
    import psutil

    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any("_EncodeWorker" in c for c in cmd):
            out.append((any(".submit" in c for c in cmd), p))
    return [p for busy, p in sorted(out, key=lambda t: not t[0])]


class RssMonitor:
    """The driver's resident memory sampled every 20 ms (psutil), so each stage's own peak can be logged;
    the reported ``driver_peak_rss_gb`` is the larger of that and the kernel's ru_maxrss for the process."""

    def __init__(self, every: float = 0.02):
        import threading

        import psutil

        self._proc, self._every = psutil.Process(), every
        self.stage_peak = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self._every):
            rss = self._proc.memory_info().rss
            self.stage_peak, self.peak = max(self.stage_peak, rss), max(self.peak, rss)

    def take_stage(self) -> float:
        """GB: the highest RSS since the last call (or the start)."""
        rss = self._proc.memory_info().rss
        out, self.stage_peak = max(self.stage_peak, rss), rss
        return out / 2**30

    def peak_gb(self) -> float:
        self._stop.set()
        self._thread.join()
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        return max(self.peak, ru) / 2**30


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="embedding rows (N/2 image+caption items)")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--shard-size", type=int, default=25_000, help="items per shard")
    ap.add_argument("--fault-rows", type=int, default=100_000, help="rows of the kill / resume checks")
    ap.add_argument("--sample", type=int, default=10_000, help="rows the MFM is fitted on")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--object-store-mb", type=int, default=512)
    args = ap.parse_args(argv)

    from modalchorus_widget import scale
    from modalchorus_widget.projection.mfm import MFM

    work = Path(tempfile.mkdtemp(prefix="mc-scale-")) if args.workdir is None else args.workdir
    if work.exists() and args.workdir is not None:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"rows": int(args.rows)}

    monitor = RssMonitor()

    def log(*a):
        rss = monitor.take_stage()
        print(
            f"[{time.strftime('%H:%M:%S')}]",
            *a,
            f"(driver RSS peak in this stage {rss:.2f} GB)",
            file=sys.stderr,
            flush=True,
        )

    try:
        n_items = args.rows // 2
        t = time.perf_counter()
        ids = make_source(work / "src", n_items)
        log(f"source: {n_items:,} items in {time.perf_counter() - t:.1f} s")
        src = scale.TableSource(work / "src", image_column="image")

        t = time.perf_counter()
        scale.encode_to_shards(src, work / "local", shard_size=args.shard_size, engine="local")
        out["local_rows_per_s"] = round(args.rows / (time.perf_counter() - t), 1)
        log("local encode", out["local_rows_per_s"], "rows/s")

        scale.start(num_cpus=os.cpu_count(), object_store_bytes=args.object_store_mb << 20)
        t = time.perf_counter()
        scale.encode_to_shards(src, work / "ray", shard_size=args.shard_size, engine="ray")
        out["ray_rows_per_s"] = round(args.rows / (time.perf_counter() - t), 1)
        log("ray encode", out["ray_rows_per_s"], "rows/s")
        emb_diff = _max_diff(work / "local", work / "ray")
        log(f"embedding diff {emb_diff:.3g}")

        # MFM fitted on a stratified sample in a Ray task, every row placed by the Ray actor pool
        rep = scale.project_shards(work / "ray", MFM(random_state=0), sample=args.sample, engine="ray")
        out["ray_project_rows_per_s"] = round(args.rows / rep.seconds, 1)
        log(f"MFM fit on {args.sample:,} rows in a Ray task: {rep.fit_seconds:.1f} s")
        log("ray project", out["ray_project_rows_per_s"], "rows/s")
        # the same fitted map placing the same shards in this process
        shutil.copytree(work / "ray" / "positions", work / "positions_ray")
        for kind in ("image", "text"):
            shutil.rmtree(work / "ray" / "_modalchorus" / f"positions-{kind}")
        rep = scale.project_shards(work / "ray", scale.load_projector(work / "ray"), engine="local")
        log("local project", round(args.rows / rep.seconds, 1), "rows/s")
        pos_diff = 0.0
        for f in sorted((work / "positions_ray").glob("*_pos_*.npy")):
            pos_diff = max(pos_diff, float(np.abs(np.load(f) - np.load(work / "ray" / "positions" / f.name)).max()))
        out["max_abs_diff_local_vs_ray"] = max(emb_diff, pos_diff)
        log(f"diff: embeddings {emb_diff:.3g}, positions {pos_diff:.3g}")

        sh = scale.open_shards(work / "ray")
        some = sh.take(sh.sample(20_000, 1), positions=True)
        c, r = np.median(some, 0), np.percentile(np.abs(some - np.median(some, 0)), 60, axis=0)
        ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        wobble = 1 + 0.25 * np.sin(5 * ang)
        poly = c + r * np.c_[np.cos(ang) * wobble, np.sin(ang) * wobble]
        scale.lasso_rows(sh, poly, limit=None)  # page the positions shards in (as after projecting)
        t = time.perf_counter()
        res = scale.lasso_rows(scale.open_shards(work / "ray"), poly, limit=None)
        out["lasso_full_s"] = round(time.perf_counter() - t, 3)
        log(f"lasso: {res.count:,} of {sh.n:,} rows in {out['lasso_full_s']} s")
        t = time.perf_counter()
        counts, _ = scale.density_grid(scale.open_shards(work / "ray"), 256)
        log(f"density of {int(counts.sum()):,} rows in {time.perf_counter() - t:.2f} s")

        out["clip_retrieval_layout_ok"] = layout_ok(work / "ray")
        log("layout", out["clip_retrieval_layout_ok"])

        # fault checks on a smaller job (--fault-rows), several shards per worker
        f_items = min(args.fault_rows // 2, n_items)
        f_shard = max(1, f_items // 20)
        fids = ids[:f_items]
        killed = []

        def kill_one(shard, rows):
            if not killed:
                procs = _worker_procs()
                if procs:
                    procs[0].send_signal(signal.SIGKILL)
                    killed.append(procs[0].pid)

        fsub = _head(src, f_items, work / "fault_src")
        scale.encode_to_shards(fsub, work / "kill", shard_size=f_shard, engine="ray", on_shard=kill_one)
        got = _ids(work / "kill")
        out["kill_worker_ok"] = bool(killed) and len(got) == len(set(got)) and sorted(got) == sorted(fids)
        log("kill", killed, out["kill_worker_ok"])

        half = 10

        def stop(shard, rows):
            if shard == half - 1:
                raise KeyboardInterrupt

        try:
            scale.encode_to_shards(fsub, work / "resume", shard_size=f_shard, engine="local", on_shard=stop)
        except KeyboardInterrupt:
            pass
        marks = sorted((work / "resume" / "_modalchorus" / "shards").iterdir())
        stamps = {p.name: p.stat().st_mtime_ns for p in (work / "resume" / "img_emb").iterdir()}
        rep = scale.encode_to_shards(fsub, work / "resume", shard_size=f_shard, engine="ray")
        got = _ids(work / "resume")
        kept = all((work / "resume" / "img_emb" / n).stat().st_mtime_ns == s for n, s in stamps.items())
        out["resume_ok"] = bool(
            len(marks) == half
            and rep.skipped == list(range(half))
            and rep.written == list(range(half, rep.n_shards))
            and kept
            and len(got) == len(set(got))
            and sorted(got) == sorted(fids)
        )
        log("resume", out["resume_ok"])
    finally:
        scale.stop()
        out["driver_peak_rss_gb"] = round(monitor.peak_gb(), 3)
        keys = [
            "rows",
            "local_rows_per_s",
            "ray_rows_per_s",
            "ray_project_rows_per_s",
            "max_abs_diff_local_vs_ray",
            "driver_peak_rss_gb",
            "lasso_full_s",
            "kill_worker_ok",
            "resume_ok",
            "clip_retrieval_layout_ok",
        ]
        args.json.write_text(json.dumps({k: out.get(k) for k in keys}, indent=1))
        print(json.dumps({k: out.get(k) for k in keys}, indent=1))
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _head(src, n_items: int, folder: Path):
    """The first ``n_items`` items of ``src`` as their own parquet table (the fault checks' source)."""
    import pandas as pd

    from modalchorus_widget import scale

    folder.mkdir(parents=True, exist_ok=True)
    parts, got = [], 0
    for f in src.files:
        df = pd.read_parquet(f)
        parts.append(df.iloc[: n_items - got])
        got += len(parts[-1])
        if got >= n_items:
            break
    pd.concat(parts, ignore_index=True).to_parquet(folder / "fault.parquet", row_group_size=5000)
    return scale.TableSource(folder / "fault.parquet", image_column="image")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
