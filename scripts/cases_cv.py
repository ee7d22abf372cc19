"""Choose the shapes world's zero-shot case settings on its training split only (inner cross-validation).

The ``cases`` bench measures the held-out split once; settings must not be picked by looking at it. This
script splits ``load_default("shapes")``'s *training* images into K class-stratified folds; for each fold it
runs the bench's zero-shot protocol (``benchmarks.cases.run_zero_shot``: the most frequent confusion,
lasso-style selections) with the other folds as training rows and the fold as held out, and prints the mean
target gain, the worst untouched-class drop and the untouched predictions that changed.

    python scripts/cases_cv.py [--folds 3] [--repeats 1] --grid '[{}, {"preserve_kl": 20.0}]'
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np


def folds(data, k, seed=0):
    """Class-stratified folds of ``data.train`` (row indices): [(fold-train rows, fold-held-out rows)]."""
    rng = np.random.default_rng(seed)
    tr = np.asarray(data.train)
    y = data.image_labels[tr]
    fold = np.empty(len(tr), dtype=int)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % k
    return [(np.sort(tr[fold != f]), np.sort(tr[fold == f])) for f in range(k)]


def cv(data, params, n_folds=3, repeats=1, quiet=False) -> dict:
    from benchmarks.cases import run_zero_shot

    rows = []
    for r in range(repeats):
        for tr, te in folds(data, n_folds, seed=r):
            z = run_zero_shot(replace(data, train=tr, test=te), params=params)
            rows.append(z)
            if not quiet:
                print(
                    f"  {z['target']} (as {z['confused_with']}, {z['selected_confused']} confused): "
                    f"{z['zero_shot_target_before']:.3f} -> {z['zero_shot_target_after']:.3f}  "
                    f"untouched drop {z['zero_shot_untouched_max_drop']:.3f} ({z['zero_shot_untouched_max_drop_class']})"
                    f"  changed {z['untouched_changed']}  {z['round_s']:.2f}s",
                    flush=True,
                )
    gains = [z["zero_shot_target_after"] - z["zero_shot_target_before"] for z in rows]
    return {
        "params": params,
        "folds": len(rows),
        "mean_target_gain": round(float(np.mean(gains)), 4),
        "min_target_gain": round(float(np.min(gains)), 4),
        "mean_untouched_drop": round(float(np.mean([z["zero_shot_untouched_max_drop"] for z in rows])), 4),
        "worst_untouched_drop": round(float(max(z["zero_shot_untouched_max_drop"] for z in rows)), 4),
        "untouched_changed": int(sum(z["untouched_changed"] for z in rows)),
        "mean_round_s": round(float(np.mean([z["round_s"] for z in rows])), 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1, help="fold assignments (seeds) to average over")
    ap.add_argument("--grid", default="[{}]", help="JSON list of Aligner parameter dicts to compare")
    ap.add_argument("--quiet", action="store_true", help="only the summary line per setting")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    from modalchorus_widget import load_default

    data = load_default("shapes")
    for params in json.loads(args.grid):
        print(json.dumps(cv(data, params, args.folds, args.repeats, args.quiet)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
