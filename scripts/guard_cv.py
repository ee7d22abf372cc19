"""Leave-one-case-out choice of the Aligner's default fitting settings under the guard (issue 30).

For each candidate (a few settings of the round's fit: the defaults today, every step run with no held-out slice
since the guard now sets the strength, and a larger learning rate), every case of ``benchmarks/fixes.py`` runs
its guarded default round. The criterion is training-side only: the gain of the round's own target (share of the
selected rows that satisfy their constraints, from the guard's curve) at the alpha the guard chose, which the
guard already keeps within the tolerance on its rows. For each case left out, the candidate with the best mean
criterion over the other cases is picked; the left-out case's held-out figures under that pick are read at the
end, once, and written beside the picks.

    python scripts/guard_cv.py --json guard_cv.json [--cases zero_shot digits_stick ...]

``--measure``: the leave-one-case-out choice of the guard's rules among ``MEASURES``: the unlabelled rule's floor
(``guard min_count``: a reading's share is taken over at least that many rows), ``keep_selected`` (a
constraint's rows that satisfied it before are watched too) and ``pick`` (the largest alpha within the tolerance,
or the one whose target is best). Each case's default round is fitted once at full
strength; the guard then reads it twice per candidate: as a user without labels has the map (every label hidden:
the readings rule) and with the case's own guard (its labelled rows). Criterion, training side only, the mean of
the two: the round's own target gain at the alpha picked, when the case's labelled guard rows
(training-distribution rows a user could label, never the held-out split) lose at most the tolerance in any class
at that alpha; otherwise minus the excess. Held-out figures at each pick are read once, for the report.

    python scripts/guard_cv.py --measure --json guard_cv_measure.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the guard's rules: the unlabelled rule's floor (min_count; None: ceil(1 / tolerance)) and keep_selected
MEASURES = {
    "plain": {"min_count": 1, "keep_selected": False},
    "floor10": {"min_count": 10, "keep_selected": False},
    "floor_point": {"min_count": None, "keep_selected": False},
    "keep": {"min_count": 1, "keep_selected": True},
    "keep_floor10": {"min_count": 10, "keep_selected": True},
    "keep_floor_point": {"min_count": None, "keep_selected": True},
}
# the pick among the alphas within the tolerance: the largest, or the one whose target is best (``_best``)
MEASURES = {
    **{k: {**v, "pick": "largest"} for k, v in MEASURES.items()},
    **{f"{k}_best": {**v, "pick": "best_target"} for k, v in MEASURES.items()},
}
CANDIDATES = {
    "defaults": {},
    "all_steps": {"validation": 0.0, "stop_when_satisfied": False},
    "all_steps_lr1e-3": {"validation": 0.0, "stop_when_satisfied": False, "learning_rate": 1e-3},
    "lr1e-3": {"learning_rate": 1e-3},
    # the KL over the whole similarity profile (temperature 0.1, the compositional case's choice) instead of
    # the nearest reference only (0.01)
    "kl_t0.1": {"kl_temperature": 0.1},
    "kl_t0.1_lr1e-3": {"kl_temperature": 0.1, "learning_rate": 1e-3},
}


def main(argv=None) -> int:
    import numpy as np
    import torch

    from benchmarks import fixes as F
    from modalchorus_widget import Aligner

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="guard_cv.json")
    ap.add_argument("--cases", nargs="*", default=list(F.CASES), choices=list(F.CASES))
    ap.add_argument("--measure", action="store_true", help="choose the unlabelled rule's floor (min_count)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    if args.measure:
        return measure_cv(args)
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


def _class_drop(al, alpha, guard_rows):
    """Worst per-class accuracy drop of labelled guard rows (images vs text concepts) at ``alpha`` vs 0."""
    import numpy as np

    xg, yg, cv, cl = guard_rows
    yg, cl = np.asarray(yg, object), np.asarray(cl, object)
    acc = []
    for a in (0.0, alpha):
        al.set_strength(a)
        pred = cl[np.argmax(al.transform(xg, "image") @ al.transform(cv, "text").T, axis=1)]
        acc.append({c: float(np.mean(pred[yg == c] == c)) for c in dict.fromkeys(yg.tolist())})
    return max([acc[0][c] - acc[1][c] for c in acc[0]] + [0.0])


def _without_held_out(row: dict) -> dict:
    """A criterion row without its held-out figures (``held_out_all`` keeps them, once)."""
    return {v: {k: x for k, x in r.items() if k != "held_out"} if isinstance(r, dict) else r for v, r in row.items()}


def _shipped() -> str:
    """The candidate whose rules are the guard's defaults (``GuardSpec``): a tie between candidates keeps it."""
    from modalchorus_widget.alignment.guard_spec import GuardSpec

    spec = GuardSpec()
    for name, rules in MEASURES.items():
        if all(getattr(spec, k) == v for k, v in rules.items()):
            return name
    raise SystemExit("guard_cv: no candidate in MEASURES has the guard's default rules (GuardSpec)")


def measure_cv(args) -> int:
    import numpy as np

    from benchmarks import fixes as F
    from modalchorus_widget import Aligner
    from modalchorus_widget.alignment.guard import DEFAULT_TOLERANCE, guard_round, set_mapper

    table, held = {}, {}
    shipped = _shipped()
    for name in args.cases:
        case = F.CASES[name]()
        before_fig = case["evaluate"](F.Reader())
        fits = [("defaults", {}, case["constraints"])]
        if case["tuned"] is not None:  # a second round per case: the guard's rules must hold on any round
            fits.append(("tuned", {k: v for k, v in case["tuned"][0].items() if k != "guard"}, case["tuned"][1]))
        for fit_name, params, constraints in fits:
            key = f"{name}/{fit_name}"
            al = Aligner(**{"mode": case["mode"], **params, "encoder": case["encoder"], "guard": None})
            al.fit(case["es"])
            rnd = al.step(*constraints)
            prev, full = al._states[0], al.embeddings_.vectors
            current = al.embeddings_
            try:  # the constraints resolve on the state the round started from
                al.embeddings_ = prev
                resolved = [c.resolve(al) for c in rnd.constraints]
            finally:
                al.embeddings_ = current
            selected = np.unique(np.concatenate([r.rows() for r in resolved]))
            hidden = np.full(prev.n, None, dtype=object)  # a user without labels
            base = case["guard"] if isinstance(case["guard"], dict) else {}
            adapters = rnd.adapters if al.mode == "fast" else None  # anchor mode moves only the set's own rows
            mapper = set_mapper(lambda v, m: v / np.linalg.norm(v, axis=1, keepdims=True), adapters)
            for cand, rules in MEASURES.items():
                rules = {k: v for k, v in rules.items() if v is not None}
                rows = {}
                for view, guard in (("no_labels", {"labels": hidden, **rules}), ("case_guard", {**base, **rules})):
                    t0 = time.perf_counter()
                    _, alpha, rep = guard_round(guard, prev, prev.vectors, full, resolved, selected, mapper)
                    s = time.perf_counter() - t0
                    i = rep["curve"]["alpha"].index(alpha)
                    tg = rep["curve"]["target"]
                    gain = (tg[i] - tg[0]) if tg[i] is not None and tg[0] is not None else 0.0
                    drop = _class_drop(al, alpha, case["guard_rows"]) if case["guard_rows"] is not None else 0.0
                    crit = gain if drop <= DEFAULT_TOLERANCE + 1e-9 else -(drop - DEFAULT_TOLERANCE)
                    rows[view] = {
                        "alpha": alpha,
                        "on": rep["on"],
                        "target_gain_train": round(float(gain), 4),
                        "guard_rows_drop": round(float(drop), 4),
                        "criterion": round(float(crit), 4),
                        "guard_s": round(s, 3),
                    }
                    al.set_strength(alpha)
                    rows[view]["held_out"] = F.figures(before_fig, case["evaluate"](F.aligner_reader(al)), alpha, s)
                table.setdefault(key, {})[cand] = {
                    "criterion": round(float(np.mean([r["criterion"] for r in rows.values()])), 4),
                    **rows,
                }
                held.setdefault(key, {})[cand] = {v: r["held_out"] for v, r in rows.items()}
                print(key, cand, json.dumps(table[key][cand]), flush=True)
    picks = {}
    for out in args.cases:  # a case left out with all its rounds
        rest = [k for k in table if k.split("/")[0] != out]
        score = {c: float(np.mean([table[r][c]["criterion"] for r in rest])) if rest else 0.0 for c in MEASURES}
        best = max(MEASURES, key=lambda c: (round(score[c], 6), c == shipped))
        mine = [k for k in table if k.split("/")[0] == out]
        picks[out] = {
            "pick": best,
            "mean_criterion_others": round(score[best], 4),
            "held_out": {k: held[k][best] for k in mine},
        }
    result = {
        "candidates": MEASURES,
        "shipped": shipped,
        "criterion": {k: {c: _without_held_out(r) for c, r in row.items()} for k, row in table.items()},
        "loo": picks,
        "held_out_all": held,
        "load_average": round(os.getloadavg()[0], 2),
    }
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps(picks, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
