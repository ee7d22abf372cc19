"""Leave-one-case-out choice of the Aligner's default fitting settings under the guard (issue 30).

For each candidate (a few settings of the round's fit: the defaults today, every step run with no held-out slice
since the guard now sets the strength, and a larger learning rate), every case of ``benchmarks/fixes.py`` runs
its guarded default round. The criterion is training-side only: the gain of the round's own target (share of the
selected rows that satisfy their constraints, from the guard's curve) at the alpha the guard chose, which the
guard already keeps within the tolerance on its rows. For each case left out, the candidate with the best mean
criterion over the other cases is picked; the left-out case's held-out figures under that pick are read at the
end, once, and written beside the picks.

    python scripts/guard_cv.py --json guard_cv.json [--cases zero_shot digits_stick ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CANDIDATES = {
    "defaults": {},
    "all_steps": {"validation": 0.0, "stop_when_satisfied": False},
    "all_steps_lr1e-3": {"validation": 0.0, "stop_when_satisfied": False, "learning_rate": 1e-3},
    "lr1e-3": {"learning_rate": 1e-3},
}


def main(argv=None) -> int:
    import numpy as np
    import torch

    from benchmarks import fixes as F
    from modalchorus_widget import Aligner

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="guard_cv.json")
    ap.add_argument("--cases", nargs="*", default=list(F.CASES), choices=list(F.CASES))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    table, held = {}, {}
    for name in args.cases:
        case = F.CASES[name]()
        before = case["evaluate"](F.Reader())
        for cand, params in CANDIDATES.items():
            al = Aligner(**{"mode": case["mode"], **params, "encoder": case["encoder"], "guard": case["guard"]})
            al.fit(case["es"])
            t0 = time.perf_counter()
            rnd = al.step(*case["constraints"])
            s = time.perf_counter() - t0
            curve = rnd.report.get("guard", {}).get("curve", {})
            tg = curve.get("target") or []
            i = curve.get("alpha", [1.0]).index(rnd.alpha) if curve else None
            crit = (tg[i] - tg[0]) if i is not None and tg and tg[i] is not None and tg[0] is not None else 0.0
            table.setdefault(name, {})[cand] = {
                "criterion": round(float(crit), 4),
                "alpha": rnd.alpha,
                "round_s": round(s, 2),
            }
            held.setdefault(name, {})[cand] = F.figures(before, case["evaluate"](F.aligner_reader(al)), rnd.alpha, s)
            print(name, cand, json.dumps(table[name][cand]), flush=True)
    picks = {}
    for out in args.cases:
        rest = [c for c in args.cases if c != out]
        score = {c: float(np.mean([table[r][c]["criterion"] for r in rest])) if rest else 0.0 for c in CANDIDATES}
        best = max(CANDIDATES, key=lambda c: (round(score[c], 6), c == "defaults"))
        picks[out] = {"pick": best, "mean_criterion_others": round(score[best], 4), "held_out": held[out][best]}
    result = {
        "candidates": CANDIDATES,
        "criterion": table,
        "loo": picks,
        "held_out_all": held,
        "load_average": round(os.getloadavg()[0], 2),
    }
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps(picks, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
