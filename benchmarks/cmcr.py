"""`python -m benchmarks cmcr --json FILE`: how well C-MCR connects two spaces.

1. Synthetic ground truth (``make_synthetic``): one latent variable z, two spaces made from it by different
   random orthonormal embeddings, per-modality gap offsets (orthogonal to the semantic subspace, as CLIP's
   modality gap roughly is) and per-modality noise. C-MCR trains on the shared modality B only (plus
   unpaired memories of A and C); reported: recall@1 of held-out A (space 1) -> C (space 2) against an
   oracle that knows both true embeddings (it compares the noisy points in the latent space).
2. Real embeddings: CLIP ViT-B/16 (COCO-500 images + captions) connected with all-MiniLM-L6-v2 (the same
   captions, text only). Fixed split: ``numpy.random.default_rng(0).permutation(500)``, first 350 rows
   train, last 150 test. Training uses the 350 caption pairs (CLIP-text, MiniLM) and, as the unpaired image
   memory for consistency, the CLIP images of the 350 *training* rows, shuffled (their pairing is never
   used; no held-out image is seen in training). Evaluation: MiniLM caption -> CLIP image retrieval among
   the 150 held-out images. Baselines on the same split: ridge MiniLM -> CLIP-text (alpha by 5-fold CV on
   the training rows, and alpha=1), and an orthogonal Procrustes map; both compared with raw CLIP images.
   Ablation: no noise, no consistency (no image memory at all), no intra loss. C-MCR recalls are means
   over ``--n-seeds`` seeds (default 3; 150 test pairs make one run's R@1 uncertain by about +-4 points).
3. Training time (wall clock, torch limited to 2 threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SPLIT_SEED = 0
N_TRAIN = 350


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _recall(q, g, ks=(1, 5, 10)):
    sim = q @ g.T
    rank = (sim > np.diag(sim)[:, None]).sum(axis=1)
    return {f"r{k}": float((rank < k).mean()) for k in ks}


def coco_dir() -> Path:
    from modalchorus_widget.data.datasets import coco500_path

    return coco500_path()


from modalchorus_widget.cmcr.synthetic import make_synthetic  # noqa: E402


def run_synthetic(params: dict, random_state=0, **gen):
    from modalchorus_widget.cmcr import CMCR

    data = make_synthetic(random_state=random_state, **gen)
    r1, r2 = data["oracle"]
    oracle = _recall(_unit(data["test_a"] @ r1.T), _unit(data["test_c"] @ r2.T))
    cm = CMCR(random_state=random_state, **params).fit(*data["train"])
    got = _recall(cm.transform(data["test_a"], space=1), cm.transform(data["test_c"], space=2))
    return {
        "r1": got["r1"],
        "r5": got["r5"],
        "oracle_r1": oracle["r1"],
        "oracle_r5": oracle["r5"],
        "ratio_r1": got["r1"] / oracle["r1"],
        "train_s": cm.train_s_,
        "n_train_pairs": len(data["train"][0]["text"]),
        "n_test": len(data["test_a"]),
    }


# --------------------------------------------------------------------------------------------- COCO + MiniLM
def coco_split(n=500):
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return perm[:N_TRAIN], perm[N_TRAIN:]


def load_coco(folder=None):
    folder = Path(folder) if folder else coco_dir()
    clip_file, minilm_file = folder / "clip_vitb16_img_txt.npy", folder / "minilm_l6_v2_captions.npy"
    for f in (clip_file, minilm_file):
        if not f.exists():
            raise FileNotFoundError(f"{f} not found; pass the COCO-500 folder.")
    x = np.load(clip_file)
    return x[0], x[1], np.load(minilm_file)


def coco_spaces(images, texts, minilm, train):
    """Training inputs: CLIP = {text: 350 training captions, image: their images shuffled (unpaired memory)}."""
    memory = images[np.random.default_rng(SPLIT_SEED + 1).permutation(train)]
    return {"text": texts[train], "image": memory}, {"text": minilm[train]}


def linear_baselines(minilm, texts, images, train, test):
    from sklearn.linear_model import Ridge, RidgeCV

    out = {}
    cv = RidgeCV(alphas=np.logspace(-3, 2, 11), cv=5).fit(minilm[train], texts[train])
    for name, model in (
        ("ridge", Ridge(alpha=float(cv.alpha_)).fit(minilm[train], texts[train])),
        ("ridge_alpha1", Ridge(alpha=1.0).fit(minilm[train], texts[train])),
    ):
        q = _unit(model.predict(minilm[test]))
        out[name] = {**_recall(q, images[test]), "alpha": float(model.alpha)}
    u, _, vt = np.linalg.svd(minilm[train].T @ texts[train], full_matrices=False)
    out["procrustes"] = _recall(_unit(minilm[test] @ (u @ vt)), images[test])
    return out


ABLATIONS = {
    "full": {},
    "no_noise": {"noise_std": 0.0},
    "no_consistency": {"use_consistency": False},
    "no_intra": {"use_intra": False},
}


def run_coco(params: dict, seeds=(0, 1, 2), ablations=ABLATIONS, folder=None):
    from modalchorus_widget.cmcr import CMCR

    images, texts, minilm = load_coco(folder)
    train, test = coco_split(len(images))
    s1, s2 = coco_spaces(images, texts, minilm, train)
    res = {
        "split": {
            "seed": SPLIT_SEED,
            "rule": "numpy.random.default_rng(0).permutation(500): first 350 train, last 150 test",
            "n_train": len(train),
            "n_test": len(test),
        },
        "image_memory": "CLIP images of the 350 training rows only, shuffled, pairing unused; the 150 "
        "held-out images are never seen in training",
        "clip_text_to_image": _recall(texts[test], images[test]),
        "baselines": linear_baselines(minilm, texts, images, train, test),
        "ablation": {},
    }
    for name, extra in ablations.items():
        runs = []
        for seed in seeds:
            cm = CMCR(random_state=seed, **{**params, **extra}).fit(s1, s2)
            runs.append({**cm.score(minilm[test], images[test], query_space=2, key_space=1), "train_s": cm.train_s_})
        res["ablation"][name] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        res["ablation"][name]["per_seed"] = {str(sd): {k: r[k] for k in ("r1", "r5")} for sd, r in zip(seeds, runs)}
        print(f"  coco {name}: {json.dumps(res['ablation'][name])}", file=sys.stderr, flush=True)
    res["seeds"] = list(seeds)
    full = res["ablation"]["full"]
    res.update(
        r1=full["r1"],
        r5=full["r5"],
        r10=full["r10"],
        ridge_r1=res["baselines"]["ridge"]["r1"],
        ridge_r5=res["baselines"]["ridge"]["r5"],
        procrustes_r1=res["baselines"]["procrustes"]["r1"],
        procrustes_r5=res["baselines"]["procrustes"]["r5"],
        train_s=full["train_s"],
    )
    return res


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks cmcr", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-seeds", type=int, default=3, help="C-MCR seeds per COCO variant (recalls are means)")
    ap.add_argument("--data", type=Path, default=None, help="COCO-500 folder (default: ../shared/data/...)")
    ap.add_argument("--skip-real", action="store_true", help="synthetic only")
    ap.add_argument("--params", type=json.loads, default={}, help="CMCR parameters as JSON (default: defaults)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    out = {"params": args.params, "seed": args.seed, "torch_threads": torch.get_num_threads()}
    syn = run_synthetic(args.params, random_state=args.seed)
    out["synthetic"] = syn
    print(
        f"synthetic: r1 {syn['r1']:.3f} vs oracle {syn['oracle_r1']:.3f} ({syn['ratio_r1']:.1%}), "
        f"{syn['train_s']:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if not args.skip_real:
        coco = run_coco(args.params, seeds=tuple(args.seed + i for i in range(args.n_seeds)), folder=args.data)
        out["coco_minilm"] = {k: v for k, v in coco.items() if k != "ablation"}
        out["ablation"] = {
            k: {"r1": v["r1"], "r5": v["r5"], "r10": v["r10"], "per_seed": v["per_seed"]}
            for k, v in coco["ablation"].items()
        }
        print(
            f"coco: C-MCR r1 {coco['r1']:.3f} r5 {coco['r5']:.3f} | ridge r1 {coco['ridge_r1']:.3f} "
            f"r5 {coco['ridge_r5']:.3f} | procrustes r1 {coco['procrustes_r1']:.3f} r5 {coco['procrustes_r5']:.3f}",
            file=sys.stderr,
            flush=True,
        )
    out["train_s"] = {
        "synthetic": syn["train_s"],
        **({"coco_minilm": out["coco_minilm"]["train_s"]} if "coco_minilm" in out else {}),
    }
    out["total_s"] = time.perf_counter() - t0
    text = json.dumps(out, indent=2)
    if args.json:
        from modalchorus_widget.io import atomic_write_bytes

        atomic_write_bytes(args.json, text.encode())
    print(text)
    return 0
