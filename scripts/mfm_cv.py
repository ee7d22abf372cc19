"""Cross-validation of MFM's defaults on subsets, never on one whole file (docs/methods.md 1).

Sets: random 250- and 350-pair subsets of COCO-500 (``--n-each`` of each size, drawn with ``--subset-seed``)
and the embedded default (1,797 digit images + 10 prompts). Every candidate runs with every seed on every set
and is scored with ``metrics.evaluate``: Tx/Cx at k = 5, 10, 20 and Ti@10 (minimum over modalities) on the
COCO subsets (mean and worst subset); on the default set, where 10 texts allow k <= 6, Tx/Cx@6 text->image and
the image Ti@10. ``--fused`` adds the fused non-parametric baselines (DCM-t-SNE, DCM-UMAP) for reference.

    python scripts/mfm_cv.py '[{}, {"cross_weight": 1.0}]' --seeds 0 1 --json mfm_cv.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np


def cv_sets(sizes=(250, 350), n_each=2, seed=123):
    from modalchorus_widget.data.datasets import load_coco500
    from modalchorus_widget.worlds.defaults import load_default

    es = load_coco500().embeddings
    X, mod = np.asarray(es.vectors, np.float32), np.asarray(es.modality, dtype=object)
    img, txt = np.flatnonzero(mod == "image"), np.flatnonzero(mod == "text")
    rng = np.random.default_rng(seed)
    for size in sizes:
        for r in range(n_each):
            pick = np.sort(rng.choice(len(img), size, replace=False))
            rows = np.concatenate([img[pick], txt[pick]])
            yield f"coco{size}_{r}", X[rows], mod[rows]
    d = load_default().embeddings
    yield "default", np.asarray(d.vectors, np.float32), np.asarray(d.modality, dtype=object)


def score(X, mod, Y, name):
    from modalchorus_widget.projection.metrics import evaluate, intermodal_scores, intramodal_trustworthiness

    if name != "default":
        e = evaluate(X, Y, mod, ks=(5, 10, 20))
        return {k: e[k] for k in ("Tx@5", "Tx@10", "Tx@20", "Cx@5", "Cx@10", "Cx@20", "Ti@10")}
    _, _, per = intermodal_scores(X, Y, mod, k=6, per_direction=True)
    t2i = per[("text", "image")]
    im = mod == "image"
    ti = intramodal_trustworthiness(X[im], Y[im], mod[im], 10)["image"]
    return {"Tx_t2i@6": t2i[0], "Cx_t2i@6": t2i[1], "Ti_image@10": ti}


def run(candidates, seeds=(0, 1), fused=False, n_each=2, subset_seed=123, log=print):
    from modalchorus_widget.projection.mfm import MFM
    from modalchorus_widget.projection.registry import make_projector

    data = list(cv_sets(n_each=n_each, seed=subset_seed))
    jobs = [("MFM", c) for c in candidates] + ([("DCM-t-SNE", {}), ("DCM-UMAP", {})] if fused else [])
    out = []
    for method, params in jobs:
        per = {}
        for name, X, mod in data:
            rs = []
            for s in seeds:
                est = MFM(random_state=s, **params) if method == "MFM" else make_projector(method, random_state=s)
                t = time.perf_counter()
                Y = est.fit_transform(X, mod)
                r = score(X, mod, Y, name)
                r["fit_s"] = time.perf_counter() - t
                rs.append(r)
            per[name] = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        coco = [v for k, v in per.items() if k.startswith("coco")]
        summ = {f"{m}_mean": float(np.mean([v[m] for v in coco])) for m in coco[0]}
        summ.update({f"{m}_min": float(np.min([v[m] for v in coco])) for m in ("Tx@10", "Cx@10", "Ti@10")})
        summ["default"] = per["default"]
        out.append({"method": method, "params": params, "summary": summ, "per_set": per})
        short = {k: round(v, 4) for k, v in summ.items() if k != "default"}
        log(f"{method} {json.dumps(params)} {short} default { ({k: round(v, 3) for k, v in per['default'].items()}) }")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidates", help="JSON list of MFM parameter dicts, e.g. '[{}, {\"cross_weight\": 1.0}]'")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--n-each", type=int, default=2, help="subsets per size (250 and 350 pairs)")
    ap.add_argument("--subset-seed", type=int, default=123)
    ap.add_argument("--fused", action="store_true", help="also score DCM-t-SNE and DCM-UMAP")
    ap.add_argument("--json", default=None, help="write all figures here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    warnings.filterwarnings("ignore")
    out = run(
        json.loads(args.candidates),
        tuple(args.seeds),
        args.fused,
        args.n_each,
        args.subset_seed,
        log=lambda s: print(s, flush=True),
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
