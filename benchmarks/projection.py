"""`python -m benchmarks projection`: every 2-D projection on the same data, one process.

Reads a folder in the COCO-500 format (``clip_vitb16_img_txt.npy``, shape (2, n, d): images, texts),
fits MFM, PCA, t-SNE, UMAP, MDS, DCM, DCM-t-SNE and DCM-UMAP with ``--seeds`` random seeds each, scores
them with ``metrics.evaluate`` and writes

- JSON {method: {"Tx@5", "Tx@10", "Tx@20", "Cx@5", "Cx@10", "Cx@20", "Ti@10" (minimum over modalities),
  "Ti_image@10", "Ti_text@10", "Ci@10", "Ci_image@10", "Ci_text@10", "T@10", "C@10", "gap_2d_rel", "fit_s",
  ..., "std": {same keys: spread over seeds}}} (figures are means over seeds);
- a markdown table on stdout (and beside the JSON as .md);
- a PNG of all projections side by side (seed 0; images and texts in different colours; needs matplotlib,
  skipped with a note without it). The README's picture is ``--png docs/img/projection-coco500.png``.

MDS and DCM (dense n x n SMACOF) are skipped above ``DENSE_MAX`` points, saying so.

``--scale`` adds {"scale": {"mfm_fit_default_s", "mfm_fit_10k_s", "umap_fit_10k_s", "mfm_transform_1m_s",
"mfm_fit_10k_over_umap", ...}}, measured in one run: MFM fit on the embedded default (1,807 points), MFM and
UMAP fit on the same 10,000 points (real vectors repeated with small noise), MFM transform of 1,000,000
vectors; wall-clock seconds, with process CPU seconds beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

METHODS = ("MFM", "PCA", "t-SNE", "UMAP", "MDS", "DCM", "DCM-t-SNE", "DCM-UMAP")
DENSE_ONLY = ("MDS", "DCM")
DENSE_MAX = 3000
TABLE = ("Tx@5", "Tx@10", "Tx@20", "Cx@5", "Cx@10", "Cx@20", "Ti@10", "Ci@10", "T@10", "fit_s")


def _default_data() -> Path:
    from modalchorus_widget.data.datasets import coco500_path

    return coco500_path()


def load_pairs(folder: Path):
    f = Path(folder) / "clip_vitb16_img_txt.npy"
    if not f.exists():
        raise FileNotFoundError(
            f"{f} not found: --data must be a folder holding clip_vitb16_img_txt.npy of shape (2, n, d)."
        )
    x = np.load(f)
    if x.ndim != 3 or x.shape[0] != 2:
        raise ValueError(f"{f} has shape {x.shape}; expected (2, n, d) with [0] images and [1] texts.")
    return x[0].astype(np.float32), x[1].astype(np.float32)


def load_default_digits():
    """A second real embedding set, from the embedded default model: the 1,797 digit images and the 240
    distinct training captions (24 templates x 10 digits), both through the shipped towers."""
    from modalchorus_widget.encoders.default import CAPTION_TEMPLATES, fill
    from modalchorus_widget.worlds.defaults import load_default

    d = load_default()
    captions = [fill(t, c) for c in range(len(d.class_names)) for t in CAPTION_TEMPLATES]
    images = np.asarray(d.embeddings.vectors[d.image_index], dtype=np.float32)
    return images, d.encoder.encode_texts(captions).astype(np.float32)


def load_shapes_pairs(n_pairs=700, seed=5):
    """A third real embedding set, paired like COCO: ``n_pairs`` scenes of the shapes world's held-out split, half
    single-object and half two-object, each with one caption (paraphrase templates drawn by seed), through the
    shapes default's towers (d = 384). Its combinations are unseen in training; nothing was tuned on it."""
    from modalchorus_widget.worlds import shapes
    from modalchorus_widget.worlds.defaults import load_default

    enc = load_default("shapes").encoder
    half = int(n_pairs) // 2
    scenes = shapes.sample_scenes(half, "single", "test", random_state=seed)
    scenes += shapes.sample_scenes(int(n_pairs) - half, "pair", "test", random_state=seed + 1)
    images = enc.encode_images(shapes.render_all(scenes), progress=False)
    texts = enc.encode_texts(shapes.captions(scenes, random_state=seed + 2), progress=False)
    return images.astype(np.float32), texts.astype(np.float32)


def run_methods(images, texts, methods=METHODS, seeds=(0, 1, 2), log=print):
    """{method: {"runs": [figures per seed], "embedding": 2-D of the first seed}}."""
    from modalchorus_widget.projection.metrics import evaluate, modality_labels
    from modalchorus_widget.projection.registry import make_projector

    high = np.concatenate([images, texts])
    mod = modality_labels(len(images), len(texts))
    out = {}
    for name in methods:
        if name in DENSE_ONLY and len(high) > DENSE_MAX:
            log(f"  {name}: skipped ({len(high)} points; dense n x n SMACOF is run up to {DENSE_MAX})")
            continue
        runs, emb = [], None
        for seed in seeds:
            proj = make_projector(name, random_state=seed)
            t0 = time.perf_counter()
            low = proj.fit_transform(high, mod)
            fit_s = time.perf_counter() - t0
            fig = evaluate(high, low, mod)
            fig["fit_s"] = fit_s
            runs.append(fig)
            if emb is None:
                emb = low
            log(
                f"  {name:9s} seed {seed}: Tx@10 {fig['Tx@10']:.3f}  Cx@10 {fig['Cx@10']:.3f}  "
                f"Ti@10 {fig['Ti@10']:.3f}  fit {fit_s:.1f}s"
            )
        out[name] = {"runs": runs, "embedding": emb}
    return out


def summarise(results):
    table = {}
    for name, r in results.items():
        runs = r["runs"]
        row = {k: float(np.mean([x[k] for x in runs])) for k in runs[0]}
        row["std"] = {k: float(np.std([x[k] for x in runs])) for k in runs[0]}
        row["seeds"] = len(runs)
        table[name] = row
    return table


def markdown(table) -> str:
    cols = TABLE
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, row in table.items():
        cells = []
        for c in cols:
            if c == "fit_s":
                cells.append(f"{row[c]:.1f}")
            elif row["seeds"] > 1:
                cells.append(f"{row[c]:.3f} ± {row['std'][c]:.3f}")
            else:
                cells.append(f"{row[c]:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results, n_images, path: Path, log=print):
    try:
        import matplotlib
    except ImportError:
        log(f"matplotlib is not installed: no picture written ({path}); pip install matplotlib")
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.8))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        e = results[name]["embedding"]
        ax.scatter(e[:n_images, 0], e[:n_images, 1], s=4, c="#1f77b4", label="image", alpha=0.7, linewidths=0)
        ax.scatter(e[n_images:, 0], e[n_images:, 1], s=4, c="#ff7f0e", label="text", alpha=0.7, linewidths=0)
        r = results[name]["runs"][0]
        ax.set_title(f"{name}\nTx {r['Tx@10']:.3f}  Cx {r['Cx@10']:.3f}  Ti {r['Ti@10']:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(loc="lower left", fontsize=7, markerscale=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def noisy_copies(x: np.ndarray, n: int, noise: float, rng) -> np.ndarray:
    """n unit vectors: rows of x repeated, plus Gaussian noise of norm about ``noise``, re-normalised."""
    idx = np.arange(n) % len(x)
    out = x[idx] + rng.normal(0.0, noise / np.sqrt(x.shape[1]), size=(n, x.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def scale_figures(images, texts, log=print, n_fit=5000, n_transform=1_000_000):
    """MFM fit on the embedded default, MFM vs UMAP fit on the same 2 x n_fit points, MFM transform of
    n_transform vectors; all in this process, one after the other."""
    from modalchorus_widget.projection.metrics import intermodal_scores, modality_labels
    from modalchorus_widget.projection.mfm import MFM
    from modalchorus_widget.projection.registry import make_projector
    from modalchorus_widget.worlds.defaults import load_default

    # wall-clock seconds are the figures; process CPU seconds are kept too because a shared
    # machine's wall clock depends on what else runs
    def timed(f):
        t0, c0 = time.perf_counter(), time.process_time()
        r = f()
        return r, time.perf_counter() - t0, time.process_time() - c0

    d = load_default().embeddings
    _, dflt, dflt_cpu = timed(lambda: MFM(random_state=0).fit(d))
    log(f"  MFM fit on the embedded default ({d.n} points): {dflt:.1f}s (cpu {dflt_cpu:.1f}s)")
    rng = np.random.default_rng(0)
    A = noisy_copies(images, n_fit, 0.2, rng)
    B = noisy_copies(texts, n_fit, 0.2, rng)
    big, mod = np.concatenate([A, B]), modality_labels(len(A), len(B))
    mfm, mfm_fit, mfm_cpu = timed(lambda: MFM(random_state=0).fit(big, mod))
    tx, cx = intermodal_scores(big, mfm.embedding_, mod, 10)
    log(f"  MFM fit on {2 * n_fit} points: {mfm_fit:.1f}s (cpu {mfm_cpu:.1f}s); Tx@10 {tx:.3f} Cx@10 {cx:.3f}")
    _, umap_fit, umap_cpu = timed(lambda: make_projector("UMAP", random_state=0).fit_transform(big))
    log(f"  UMAP fit on {2 * n_fit} points: {umap_fit:.1f}s (cpu {umap_cpu:.1f}s)")
    V = noisy_copies(big, n_transform, 0.1, rng)
    out, tr, tr_cpu = timed(lambda: mfm.transform(V))
    log(f"  MFM transform of {n_transform} vectors: {tr:.1f}s (cpu {tr_cpu:.1f}s)")
    assert out.shape == (n_transform, 2) and np.isfinite(out).all()
    return {
        "mfm_fit_default_s": dflt,
        "mfm_fit_10k_s": mfm_fit,
        "umap_fit_10k_s": umap_fit,
        "mfm_transform_1m_s": tr,
        "mfm_fit_10k_over_umap": mfm_fit / umap_fit,
        "mfm_fit_10k_cpu_over_umap": mfm_cpu / umap_cpu,
        "mfm_fit_default_cpu_s": dflt_cpu,
        "mfm_fit_10k_cpu_s": mfm_cpu,
        "umap_fit_10k_cpu_s": umap_cpu,
        "mfm_transform_1m_cpu_s": tr_cpu,
        "mfm_10k_Tx@10": tx,
        "mfm_10k_Cx@10": cx,
        "threads": __import__("torch").get_num_threads(),
        "n_default": int(d.n),
        "n_fit": 2 * n_fit,
        "n_transform": n_transform,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks projection",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--data",
        default=None,
        help="folder with clip_vitb16_img_txt.npy (2, n, d), 'default' for the embedded default "
        "model's digits (1,797 images + 240 captions), or 'shapes' for 700 held-out shapes-world pairs",
    )
    ap.add_argument("--json", type=Path, default=Path("bench-output/projection.json"), help="where to write the JSON")
    ap.add_argument("--png", type=Path, default=None, help="PNG of all projections (default: beside the JSON)")
    ap.add_argument("--seeds", type=int, default=3, help="random seeds per method (spread reported)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    ap.add_argument(
        "--subset",
        type=int,
        default=0,
        help="use only this many random pairs (robustness checks; unpaired sets: this many images)",
    )
    ap.add_argument("--subset-seed", type=int, default=12345, help="which random subset --subset draws")
    ap.add_argument("--shapes-pairs", type=int, default=700, help="pairs drawn for --data shapes")
    ap.add_argument("--shapes-seed", type=int, default=5, help="seed of the scenes drawn for --data shapes")
    ap.add_argument("--scale", action="store_true", help="add the 10k-fit and 1M-transform timings")
    args = ap.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"unknown method(s) {unknown}; choose from {list(METHODS)}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print("--seeds must be >= 1", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.data == "default":
        images, texts = load_default_digits()
    elif args.data == "shapes":
        images, texts = load_shapes_pairs(args.shapes_pairs, args.shapes_seed)
    else:
        images, texts = load_pairs(Path(args.data) if args.data else _default_data())
    if args.subset:
        rng = np.random.default_rng(args.subset_seed)
        keep = np.sort(rng.choice(len(images), min(args.subset, len(images)), replace=False))
        images, texts = (images[keep], texts[keep]) if len(images) == len(texts) else (images[keep], texts)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    log(f"projection bench: {len(images)} images + {len(texts)} texts, dim {images.shape[1]}, seeds {args.seeds}")
    results = run_methods(images, texts, methods, seeds=tuple(range(args.seeds)), log=log)
    table = summarise(results)
    out = dict(table)
    out["data"] = {
        "n_images": len(images),
        "n_texts": len(texts),
        "dim": int(images.shape[1]),
        "seeds": args.seeds,
        "subset": args.subset,
        "subset_seed": args.subset_seed if args.subset else None,
        "source": args.data or "coco500",
    }
    if args.scale:
        log("scale figures:")
        out["scale"] = scale_figures(images, texts, log=log)
    md = markdown(table)
    if args.scale:
        s = out["scale"]
        md += (
            f"\n\nScale: MFM fit on the embedded default ({s['n_default']:,} points) {s['mfm_fit_default_s']:.1f} s; "
            f"MFM fit on {s['n_fit']:,} points {s['mfm_fit_10k_s']:.1f} s, UMAP fit on the same "
            f"{s['umap_fit_10k_s']:.1f} s (ratio {s['mfm_fit_10k_over_umap']:.2f}; CPU-time ratio "
            f"{s['mfm_fit_10k_cpu_over_umap']:.2f}); MFM transform of {s['n_transform']:,} vectors "
            f"{s['mfm_transform_1m_s']:.1f} s."
        )
    print(md)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    args.json.with_suffix(".md").write_text(md + "\n")
    png = args.png or args.json.with_suffix(".png")
    drawn = plot(results, len(images), png, log=log)
    log(f"wrote {args.json}, {args.json.with_suffix('.md')}" + (f", {png}" if drawn else ""))
    return 0
