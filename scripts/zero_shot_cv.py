"""Choose alignment settings for the zero-shot protocol on the training split only (inner cross-validation).

The bench's zero-shot protocol (``bench alignment``) reports held-out accuracy; settings must not be picked
by looking at those figures. This script splits the *training* images into K class-stratified folds; for
each fold it runs the same protocol with the other folds as "training" and the fold as "held out", and
prints the mean target gain, the worst untouched-class drop and the untouched predictions that changed.

    python scripts/zero_shot_cv.py [--folds 5] [--repeats 1] [--mode fast|deep] [--prompt "a stick" --prompt-class 1]
                                   [--set key=value ... | --grid '[{...}, ...]'] [--quiet]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np


def folds(d, k, seed=0):
    rng = np.random.default_rng(seed)
    y = d.image_labels[np.searchsorted(d.image_index, d.train)]
    fold = np.empty(len(d.train), dtype=int)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % k
    return [(np.sort(d.train[fold != f]), np.sort(d.train[fold == f])) for f in range(k)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--mode", default="fast", choices=["fast", "deep"])
    ap.add_argument("--prompt", default="a stick", help="user wording for --prompt-class ('' = the default prompts)")
    ap.add_argument("--prompt-class", type=int, default=1, help="class whose prompt --prompt replaces")
    ap.add_argument("--set", nargs="*", default=[], help="Aligner parameters, key=value (JSON values)")
    ap.add_argument("--grid", help="JSON list of parameter dicts to compare (instead of --set)")
    ap.add_argument("--repeats", type=int, default=1, help="fold assignments (seeds) to average over")
    ap.add_argument("--quiet", action="store_true", help="only the summary line per setting")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    from modalchorus_widget.worlds.defaults import load_default

    grid = json.loads(args.grid) if args.grid else [{k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}]
    d = load_default()
    for params in grid:
        cv(d, params, args)


def cv(d, params, args):
    from benchmarks.alignment import zero_shot

    rows = []
    splits = [s for r in range(args.repeats) for s in folds(d, args.folds, seed=r)]
    for tr, te in splits:
        z = zero_shot(
            params=params or None,
            prompt_override={args.prompt_class: args.prompt} if args.prompt else None,
            data=replace(d, train=tr, test=te),
            mode=args.mode,
        )
        rows.append(z)
        if not args.quiet:
            print(
                f"target {z['target_class']} (as {z['confused_with']}, {z['n_selected']} sel): "
                f"{z['target_acc_before']:.3f} -> {z['target_acc_after']:.3f}  overall {z['overall_acc_before']:.3f} -> "
                f"{z['overall_acc_after']:.3f}  untouched drop {z['untouched_max_drop']:.3f} changed {z['untouched_changed']}"
                f"  steps {z['steps']}  {z['round_s']:.2f}s",
                flush=True,
            )
    gain = np.mean([z["target_acc_after"] - z["target_acc_before"] for z in rows])
    print(
        json.dumps(
            {
                "params": params,
                "mode": args.mode,
                "prompt": args.prompt,
                "class": args.prompt_class,
                "folds": len(splits),
                "mean_target_gain": round(float(gain), 4),
                "mean_overall_change": round(
                    float(np.mean([z["overall_acc_after"] - z["overall_acc_before"] for z in rows])), 4
                ),
                "worst_untouched_drop": round(float(max(z["untouched_max_drop"] for z in rows)), 4),
                "untouched_changed": int(sum(z["untouched_changed"] for z in rows)),
                "folds_gain_ge_10": int(
                    sum(z["target_acc_after"] - z["target_acc_before"] >= 0.1 - 1e-9 for z in rows)
                ),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
