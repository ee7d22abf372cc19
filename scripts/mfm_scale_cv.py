"""Leave-one-world-out choice of MFM's large-n settings (``max_tune_points``, ...), never on one world.

Worlds at ``--n`` points each (half images, half texts): COCO-500's CLIP vectors repeated with noise 0.2 (the
issue's timing data), held-out shapes-world pairs through the shipped towers, and the embedded digits model's
1,797 images and 240 captions repeated with noise 0.2. Every candidate is fitted on every world and scored by
``benchmarks.scale_fit.sampled_scores`` (Tx@10, Cx@10, Ti@10 exact on ``--queries`` query rows per modality),
with its fit's CPU seconds. For each held-out world, the candidate with the best mean (Tx@10 + Cx@10) / 2 over
the two other worlds, among those whose CPU seconds stay within ``--budget`` x the fastest on those worlds, is
chosen and read on the held-out world.

    python scripts/mfm_scale_cv.py '[{"max_tune_points": 5000}, {"max_tune_points": 10000}]' --n 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np


def worlds(n):
    from benchmarks.projection import load_default_digits, noisy_copies
    from benchmarks.scale_fit import coco_copies, shapes_pairs
    from modalchorus_widget.projection.metrics import modality_labels

    yield "coco", *coco_copies(n)
    yield "shapes", *shapes_pairs(n, log=lambda s: None)
    img, txt = load_default_digits()
    rng = np.random.default_rng(0)
    a, b = noisy_copies(img, n // 2, 0.2, rng), noisy_copies(txt, n - n // 2, 0.2, rng)
    yield "digits", np.concatenate([a, b]), modality_labels(len(a), len(b))


def run(candidates, n, queries, log=print):
    from benchmarks.scale_fit import load, sampled_scores
    from modalchorus_widget.projection.mfm import MFM

    rows = []
    for world, X, mod in worlds(n):
        for params in candidates:
            ld, c0, t0 = load(), time.process_time(), time.perf_counter()
            m = MFM(random_state=0, **params).fit(X, mod)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            fig = sampled_scores(X, m.embedding_, mod, 10, queries)
            row = {"world": world, "params": params, "cpu_s": cpu, "wall_s": wall, "load": ld, **fig}
            row["profile"] = {k: round(v, 3) for k, v in m.fit_profile_.items()}
            rows.append(row)
            log(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}))
    return rows


def choose(rows, candidates, budget):
    """{held-out world: {"chosen": params, "held_out": its figures there}}."""
    names = list(dict.fromkeys(r["world"] for r in rows))
    key = [json.dumps(c, sort_keys=True) for c in candidates]
    out = {}
    for held in names:
        train = [r for r in rows if r["world"] != held]
        score, cpu = {}, {}
        for k in key:
            rs = [r for r in train if json.dumps(r["params"], sort_keys=True) == k]
            score[k] = float(np.mean([(r["Tx@10"] + r["Cx@10"]) / 2 for r in rs]))
            cpu[k] = float(np.mean([r["cpu_s"] for r in rs]))
        fastest = min(cpu.values())
        ok = [k for k in key if cpu[k] <= budget * fastest]
        best = max(ok, key=lambda k: score[k])
        there = next(r for r in rows if r["world"] == held and json.dumps(r["params"], sort_keys=True) == best)
        out[held] = {
            "chosen": json.loads(best),
            "train_score": score[best],
            "held_out": {m: there[m] for m in ("Tx@10", "Cx@10", "Ti@10", "cpu_s")},
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidates", help="JSON list of MFM parameter dicts")
    ap.add_argument("--n", type=int, default=20000, help="points per world")
    ap.add_argument("--queries", type=int, default=5000, help="query rows per modality")
    ap.add_argument("--budget", type=float, default=1.5, help="CPU seconds allowed, as a multiple of the fastest")
    ap.add_argument("--json", default=None, help="write all figures here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    warnings.filterwarnings("ignore")
    candidates = json.loads(args.candidates)
    rows = run(candidates, args.n, args.queries, log=lambda s: print(s, flush=True))
    chosen = choose(rows, candidates, args.budget)
    print(json.dumps(chosen, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "chosen": chosen, "n": args.n, "budget": args.budget}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
