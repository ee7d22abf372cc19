"""`python -m benchmarks scale-fit`: MFM's fit at 10k, 100k and 1M points against UMAP and openTSNE, and the
quality of the maps at those sizes on real geometry (issue: "seconds at every size").

Two data sets, both half images and half texts:

- timing (``--timing-data coco``): COCO-500's CLIP vectors repeated with noise (``projection.noisy_copies``,
  noise 0.2), the data of the issue's table. MFM (``random_state=0``), UMAP (``n_jobs=1, random_state=0``) and
  openTSNE's ``TSNE`` (``n_jobs=2``, its defaults) are fitted one after the other in this process; UMAP and
  openTSNE only up to ``--peer-max`` points (100k: neither is asked for at 1M). Keys ``mfm_fit_s_10k``,
  ``umap_fit_s_10k``, ``opentsne_fit_s_10k``, ... ``mfm_fit_s_1m``, ``mfm_transform_1m_s`` (the largest MFM
  placing 1,000,000 fresh vectors) and ratios ``mfm_over_umap_10k``, ``mfm_over_opentsne_100k``, ...
- quality: the shapes world's held-out split (half one-object, half two-object scenes, one caption each),
  rendered and encoded through the real shipped towers. MFM, DCM-t-SNE and UMAP (peers up to ``--peer-max``)
  are fitted on it and scored exactly on ``--queries`` (5,000) random query rows per modality, ranked against
  every row of the other modality (Tx@10, Cx@10) and of their own (Ti@10, minimum over modalities):
  ``quality = {"10k": {"MFM": {"Tx@10", "Cx@10", "Ti@10", "fit_s"}, ...}, ...}``. With every row a query
  (10k) the figures equal ``metrics.evaluate``'s.

``profile``: where MFM's fit spends its time at every size (``MFM.fit_profile_``), and ``load``: the machine's
load average before each fit. If ``benchmarks/scale_rounds.py`` exists, its ``measure(args) -> dict`` adds the
round and widget keys (``round_fast_1m_s``, ...); its ``add_arguments(parser)`` may add options.

    python -m benchmarks scale-fit --json bench-output/scale-fit.json
    python -m benchmarks scale-fit --sizes 10k,40k --no-rounds --json quick.json
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

K = 10


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    n = int(float(s[:-1] if s[-1:] in "km" else s) * mult)
    if n < 100:
        raise argparse.ArgumentTypeError(f"size {s!r} is under 100 points")
    return n


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def timed(f):
    """(result, wall seconds, process CPU seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter() - t0, time.process_time() - c0


# ----------------------------------------------------------------------------------------------- data
def coco_copies(n: int, seed: int = 0):
    """n unit vectors, half COCO-500 images and half texts repeated with noise 0.2 (the issue's timing data)."""
    from modalchorus_widget.projection.metrics import modality_labels

    from .projection import _default_data, load_pairs, noisy_copies

    images, texts = load_pairs(_default_data())
    rng = np.random.default_rng(seed)
    out = np.empty((n, images.shape[1]), np.float32)
    for x, lo, hi in ((images, 0, n // 2), (texts, n // 2, n)):
        # in blocks (the same draws as one call): 1M rows at twice their own size in memory, not five times
        for s in range(lo, hi, 65_536):
            e = min(hi, s + 65_536)
            out[s:e] = noisy_copies(x[(np.arange(s - lo, e - lo)) % len(x)], e - s, 0.2, rng)
    return out, modality_labels(n // 2, n - n // 2)


def shapes_pairs(n: int, seed: int = 5, chunk: int = 20_000, log=print):
    """n // 2 held-out shapes-world pairs (half one-object, half two-object scenes; one caption each) through the
    shipped towers: (vectors (2 * (n // 2), 384) images then texts, modality). Rendered and encoded in chunks;
    captions repeat (the world's vocabulary is small), encoded once each."""
    from modalchorus_widget.projection.metrics import modality_labels
    from modalchorus_widget.worlds import shapes
    from modalchorus_widget.worlds.defaults import load_default

    enc = load_default("shapes").encoder
    pairs = n // 2
    half = pairs // 2
    scenes = shapes.sample_scenes(half, "single", "test", random_state=seed)
    scenes += shapes.sample_scenes(pairs - half, "pair", "test", random_state=seed + 1)
    caps = shapes.captions(scenes, random_state=seed + 2)
    images = np.empty((pairs, enc.dim), np.float32)
    t0 = time.perf_counter()
    for s in range(0, pairs, chunk):
        images[s : s + chunk] = enc.encode_images(shapes.render_all(scenes[s : s + chunk]), progress=False)
    texts = enc.encode_texts(caps, progress=False).astype(np.float32)
    log(f"  shapes: {pairs:,} pairs rendered and encoded in {time.perf_counter() - t0:.1f}s")
    return np.concatenate([images, texts]), modality_labels(pairs, pairs)


# ----------------------------------------------------------------------------------------------- quality
def _topk_idx(D, k):
    """The k smallest columns of every row of D under a stable sort (ties by column order): (rows, k) indices."""
    part = np.argpartition(D, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(D, part, 1).max(1, keepdims=True)
    lt = (D < kth).sum(1)
    eq = (D == kth).sum(1)
    for r in np.flatnonzero(eq > k - lt):  # more columns tie at the k-th value than are left: lowest columns first
        part[r] = np.concatenate([np.flatnonzero(D[r] < kth[r]), np.flatnonzero(D[r] == kth[r])[: k - lt[r]]])
    return part


def _rank_sum(D, cols, use, k):
    """Sum over the flagged (row, column) pairs of (rank - k), the column's 1-based rank in its row of D under a
    stable sort: 1 + #{l : D[r, l] < v} + #{l < c : D[r, l] == v}. One pass over the row per pair (numba)."""
    from numba import njit, prange

    global _RANK_KERNEL
    if _RANK_KERNEL is None:

        @njit(parallel=True, cache=False)
        def kernel(D, cols, use, k):
            b, m = D.shape
            out = np.zeros(b)
            for r in prange(b):
                s = 0.0
                for t in range(cols.shape[1]):
                    if not use[r, t]:
                        continue
                    c = cols[r, t]
                    v = D[r, c]
                    cnt = 0
                    for j in range(m):
                        x = D[r, j]
                        if x < v or (x == v and j < c):
                            cnt += 1
                    s += cnt + 1 - k
                out[r] = s
            return out

        _RANK_KERNEL = kernel
    return float(_RANK_KERNEL(np.ascontiguousarray(D), cols, use, k).sum())


_RANK_KERNEL = None


def _sums(hq, hc, lq, lc, k, self_cols=None, batch=256):
    """Unnormalised trustworthiness and continuity penalty sums of queries (hq, lq) over candidates (hc, lc);
    ``self_cols``: each query's own column among the candidates (ranked last in both spaces)."""
    t_sum = c_sum = 0.0
    for s in range(0, len(hq), batch):
        dh = 1.0 - hq[s : s + batch] @ hc.T
        dl = (lq[s : s + batch, None, 0] - lc[None, :, 0]) ** 2 + (lq[s : s + batch, None, 1] - lc[None, :, 1]) ** 2
        if self_cols is not None:
            rows = np.arange(len(dh))
            dh[rows, self_cols[s : s + batch]] = np.inf
            dl[rows, self_cols[s : s + batch]] = np.inf
        U, V = _topk_idx(dl, k), _topk_idx(dh, k)
        u_only = ~(U[:, :, None] == V[:, None, :]).any(2)
        v_only = ~(V[:, :, None] == U[:, None, :]).any(2)
        t_sum += _rank_sum(dh, U, u_only, k)
        c_sum += _rank_sum(dl, V, v_only, k)
    return t_sum, c_sum


def sampled_scores(high, low, modality, k=K, n_queries=5000, seed=0):
    """Tx@k, Cx@k (mean over both directions) and Ti@k (minimum over modalities) of docs/methods.md 2, exact on
    ``n_queries`` random query rows per modality: each query's ranks are taken against every row of the other
    modality (Tx, Cx) or of its own (Ti). Equals ``metrics.evaluate``'s figures when every row is a query."""
    high = np.asarray(high, dtype=np.float32)
    high = high / np.linalg.norm(high, axis=1, keepdims=True)
    low = np.asarray(low, dtype=np.float64)
    modality = np.asarray(modality, dtype=object)
    names = list(dict.fromkeys(modality.tolist()))
    rng = np.random.default_rng(seed)
    rows = {m: np.flatnonzero(modality == m) for m in names}
    queries = {m: np.sort(rng.choice(len(r), min(len(r), int(n_queries)), replace=False)) for m, r in rows.items()}
    tx, cx, ti = [], [], []
    for a in names:
        qa = rows[a][queries[a]]
        hq, lq = high[qa].astype(np.float64), low[qa]
        for b in names:
            hc, lc = high[rows[b]], low[rows[b]]
            m, nq = len(rows[b]), len(qa)
            t, c = _sums(hq.astype(np.float32), hc, lq, lc, k, queries[a] if a == b else None)
            norm = 2.0 / (nq * k * (2.0 * m - 3.0 * k - 1.0))
            if a == b:
                ti.append(1.0 - norm * t)
            else:
                tx.append(1.0 - norm * t)
                cx.append(1.0 - norm * c)
    return {f"Tx@{k}": float(np.mean(tx)), f"Cx@{k}": float(np.mean(cx)), f"Ti@{k}": float(min(ti))}


# ----------------------------------------------------------------------------------------------- fits
def fit_mfm(X, mod):
    from modalchorus_widget.projection.mfm import MFM

    m = MFM(random_state=0)
    m.fit(X, mod)
    return m


def fit_umap(X):
    import umap

    return umap.UMAP(n_jobs=1, random_state=0).fit_transform(X)


def fit_opentsne(X):
    from openTSNE import TSNE

    return np.asarray(TSNE(n_jobs=2).fit(X))


def fit_peer(name, X, mod):
    from modalchorus_widget.projection.registry import make_projector

    return make_projector(name, random_state=0).fit_transform(X, mod)


def timing_part(sizes, args, out, log):
    """The fit keys on COCO copies, one fit after the other in this process."""
    last = None
    for n in sizes:
        lab = size_label(n)
        X, mod = coco_copies(n)
        log(f"timing at {n:,} points (load {load():.2f})")
        out["load"][f"mfm_{lab}"] = load()
        mfm, s, cpu = timed(lambda: fit_mfm(X, mod))
        out[f"mfm_fit_s_{lab}"], out["cpu"][f"mfm_fit_s_{lab}"] = s, cpu
        out["profile"][lab] = dict(getattr(mfm, "fit_profile_", {}))
        log(f"  MFM {s:.1f}s (cpu {cpu:.1f}s) {out['profile'][lab]}")
        last = mfm
        if n > args.peer_max or args.no_peers:
            continue
        for key, f in (("umap", lambda: fit_umap(X)), ("opentsne", lambda: fit_opentsne(X))):
            out["load"][f"{key}_{lab}"] = load()
            _, s2, cpu2 = timed(f)
            out[f"{key}_fit_s_{lab}"], out["cpu"][f"{key}_fit_s_{lab}"] = s2, cpu2
            out[f"mfm_over_{key}_{lab}"] = s / s2
            log(f"  {key} {s2:.1f}s (cpu {cpu2:.1f}s); MFM / {key} {s / s2:.3f}")
    if last is not None and args.transform > 0:
        rng = np.random.default_rng(1)
        X, _ = coco_copies(10_000, seed=2)
        from .projection import noisy_copies

        V = np.empty((args.transform, X.shape[1]), np.float32)
        for s in range(0, len(V), 65_536):
            e = min(len(V), s + 65_536)
            V[s:e] = noisy_copies(X[np.arange(s, e) % len(X)], e - s, 0.1, rng)
        out["load"]["mfm_transform"] = load()
        Y, s, cpu = timed(lambda: last.transform(V))
        assert Y.shape == (len(V), 2) and np.isfinite(Y).all()
        key = f"mfm_transform_{size_label(args.transform)}_s"
        out[key], out["cpu"][key] = s, cpu
        log(f"  MFM transform of {len(V):,} vectors {s:.1f}s")


def quality_part(sizes, args, out, log):
    """MFM, DCM-t-SNE and UMAP on held-out shapes pairs, scored on sampled queries."""
    for n in sizes:
        lab = size_label(n)
        X, mod = shapes_pairs(n, log=log)
        row = out["quality"].setdefault(lab, {})
        methods = ["MFM"] + ([] if (n > args.peer_max or args.no_peers) else ["DCM-t-SNE", "UMAP"])
        for name in methods:
            out["load"][f"quality_{name}_{lab}"] = load()
            if name == "MFM":
                mfm, s, _ = timed(lambda: fit_mfm(X, mod))
                Y = mfm.embedding_
                out["profile"][f"shapes_{lab}"] = dict(getattr(mfm, "fit_profile_", {}))
            else:
                Y, s, _ = timed(lambda: fit_peer(name, X, mod))
            fig, es, _ = timed(lambda: sampled_scores(X, Y, mod, K, args.queries, seed=0))
            fig["fit_s"] = s
            row[name] = fig
            log(
                f"  {lab} {name}: Tx@10 {fig['Tx@10']:.4f} Cx@10 {fig['Cx@10']:.4f} Ti@10 {fig['Ti@10']:.4f} "
                f"fit {s:.1f}s (scored in {es:.1f}s)"
            )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks scale-fit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--json", type=Path, default=Path("bench-output/scale-fit.json"), help="where to write the JSON")
    ap.add_argument("--sizes", default="10k,100k,1m", help="comma-separated point counts (10k, 100k, 1m, 40000, ...)")
    ap.add_argument("--quality-sizes", default=None, help="sizes of the quality part (default: --sizes)")
    ap.add_argument("--peer-max", type=parse_size, default=parse_size("100k"), help="largest size fitted by peers")
    ap.add_argument("--no-peers", action="store_true", help="MFM only")
    ap.add_argument("--no-timing", action="store_true", help="skip the COCO timing part")
    ap.add_argument("--no-quality", action="store_true", help="skip the shapes quality part")
    ap.add_argument("--queries", type=int, default=5000, help="query rows per modality of the quality figures")
    ap.add_argument("--transform", type=parse_size, default=parse_size("1m"), help="vectors placed by transform")
    ap.add_argument("--no-rounds", action="store_true", help="skip benchmarks.scale_rounds (rounds, widget)")
    rounds = None
    if importlib.util.find_spec("benchmarks.scale_rounds") is not None:
        rounds = importlib.import_module("benchmarks.scale_rounds")
        if hasattr(rounds, "add_arguments"):
            rounds.add_arguments(ap)
    args = ap.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    qsizes = [parse_size(s) for s in (args.quality_sizes or args.sizes).split(",") if s.strip()]
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = {"load": {}, "cpu": {}, "profile": {}, "quality": {}, "cpus": os.cpu_count()}
    if not args.no_timing:
        timing_part(sizes, args, out, log)
    if not args.no_quality:
        quality_part(qsizes, args, out, log)
    if rounds is not None and not args.no_rounds:
        out.update(rounds.measure(args))
    out.setdefault("device", "cpu")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    log(f"wrote {args.json}")
    return 0
