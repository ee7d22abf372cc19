"""The held-out trade-off of one round across strengths, for ``python -m benchmarks fixes`` (issue 30).

The guard picks a strength from the rows a user has. This reads what each strength does on the held-out rows the
guard never sees: one round fitted at full strength with no guard, then read at every ``FRONTIER_ALPHAS``
(vectors interpolated as the guard interpolates them). ``best_within_tolerance`` is the largest held-out gain any
strength reaches while nothing outside the target drops more than the tolerance: the bound of any guard for that
round, whatever rows it reads. Where it is 0, no strength of the round meets the tolerance held out.
"""

from __future__ import annotations

from modalchorus_widget.alignment.guard import ALPHAS, DEFAULT_TOLERANCE

FRONTIER_ALPHAS = ALPHAS[::2]  # 0, 0.1, ..., 1: the guard's grid, every other point


def at_strength(aligner, alpha):
    """A reader of the aligner's last round at strength ``alpha``: both modalities' vectors interpolated."""
    from .fixes import Reader, _mix

    def mapped(modality):
        return lambda v: _mix(v, aligner.transform(v, modality), alpha)

    return Reader(img=mapped("image"), txt=mapped("text"))


def frontier(case, params, constraints, before, alphas=FRONTIER_ALPHAS) -> dict:
    """``{"curve": [{alpha, target_gain, worst_other_drop}], "best_within_tolerance": {alpha, target_gain}}`` of
    the case's round with ``params`` (fitted once, unguarded) read on the held-out figures at each alpha."""
    from modalchorus_widget import Aligner

    from .fixes import figures

    al = Aligner(**{"mode": case["mode"], **params, "encoder": case["encoder"], "guard": None}).fit(case["es"])
    al.step(*constraints)
    curve = []
    for a in alphas:
        f = figures(before, case["evaluate"](at_strength(al, float(a))), a, 0.0)
        curve.append({"alpha": float(a), "target_gain": f["target_gain"], "worst_other_drop": f["worst_other_drop"]})
    ok = [p for p in curve if p["worst_other_drop"] is None or p["worst_other_drop"] <= DEFAULT_TOLERANCE + 1e-9]
    best = max(ok, key=lambda p: (p["target_gain"], -p["alpha"])) if ok else None
    return {
        "curve": curve,
        "best_within_tolerance": None if best is None else {"alpha": best["alpha"], "target_gain": best["target_gain"]},
    }


def case_frontiers(case, before) -> dict:
    """The frontier of the case's default round and, where the case has them, of its tuned settings."""
    out = {"default": frontier(case, {}, case["constraints"], before)}
    if case["tuned"] is not None:
        out["tuned"] = frontier(case, case["tuned"][0], case["tuned"][1], before)
    return out
