"""The report of one alignment round: the before/after figures the widget and the history show."""

from __future__ import annotations

import numpy as np

from ..evaluation import recall_at_k
from .adapter import apply_adapter
from .constraints import Resolved
from .rounds import delta_between, reading_concepts, readings, readings_after

__all__ = ["round_report", "describe"]


def _f(x) -> float:
    return round(float(x), 6)


def round_report(es, before, after, resolved, adapters, selected, info, delta=None, concepts=None) -> dict:
    """The figures of one round: how far selected / unselected rows moved, each constraint before / after,
    predictions changed outside the selection, zero-shot accuracy before / after where labels exist.

    ``delta`` (``rounds.Delta``): the rows the round changed and how far, so only those are read (computed from
    the two states when not given). Predictions are read against the class prompts ``concepts`` (rows), or
    every text row while that is cheap (``rounds.reading_concepts``); only changed rows are read again."""
    unsel = np.ones(es.n, dtype=bool)
    unsel[selected] = False
    if delta is None:
        delta = delta_between(before, after, np.arange(es.n))
    moved = delta.moved_all(es.n)
    rep = {
        "steps": info["steps"],
        "stopped": info.get("stopped"),
        "validation_curve": info["validation_curve"],
        "n_selected": int(len(selected)),
        "moved_selected_mean": _f(moved[~unsel].mean()) if (~unsel).any() else 0.0,
        "moved_unselected_mean": _f(moved[unsel].mean()) if unsel.any() else 0.0,
        "moved_unselected_max": _f(moved[unsel].max()) if unsel.any() else 0.0,
    }
    if "references_in_scope" in info:  # anchor mode: references left out of the KL (see anchors.py)
        rep["references_in_scope"] = int(info["references_in_scope"])
    rep["constraints"] = [
        dict(
            constraint=c_desc,
            before=_constraint_figures(r, before, es, r.anchor),
            after=_constraint_figures(r, after, es, _adapted_anchor(r, adapters, after)),
        )
        for c_desc, r in zip([describe(r) for r in resolved], resolved)
    ]
    read = reading_concepts(es, concepts)
    if read is not None:
        q, t = read
        p0 = readings(before, q, t)
        p1 = readings_after(before, after, q, t, delta, p0)
        changed = p0 != p1
        rep["predictions_changed_unselected"] = int((changed & unsel[q]).sum())
        rep["predictions_changed_selected"] = int((changed & ~unsel[q]).sum())
        if es.labels is not None:  # label codes (-1: none), compared as integers
            import pandas as pd

            codes = pd.factorize(pd.Series(es.labels, dtype=object))[0]
            cq, ct = codes[q], codes[t]
            ok = cq >= 0
            if ok.any() and (ct >= 0).any():
                rep["zero_shot_acc_before"] = _f(np.mean(ct[p0[ok]] == cq[ok]))
                rep["zero_shot_acc_after"] = _f(np.mean(ct[p1[ok]] == cq[ok]))
    if info["steps"] == 0:  # an identity round: say why, in the widget's report as well
        rep["note"] = (
            "the constraints already held on every selected row; nothing moved"
            if info.get("stopped") == "satisfied"
            else "no step improved the held-out slice of the constraints; nothing moved (select more rows, "
            "or pass validation=0 to run every step)"
        )
    return rep


def describe(r: Resolved) -> str:
    """A constraint in words, for reports and the widget."""
    if r.kind == "point-set":
        where = f"row {r.anchor_row}" if r.anchor_row is not None else f"a {r.anchor_modality} vector"
        return f"point-set {r.direction}: {len(r.members)} members -> anchor {where}"
    return f"set-set {r.direction}: {len(r.a)} vs {len(r.b)}{' (paired)' if r.paired else ''}"


def _adapted_anchor(r: Resolved, adapters, after):
    if r.kind != "point-set":
        return None
    if r.anchor_row is not None:
        return after[r.anchor_row]
    if adapters is None:  # deep mode: anchors that are not rows are held fixed during the round
        return r.anchor
    return apply_adapter(adapters, r.anchor[None], r.anchor_modality)[0]


def _constraint_figures(r: Resolved, vecs, es, anchor) -> dict:
    """Per-constraint figures: how well it holds on these vectors (members only, extras excluded)."""
    if r.kind == "point-set":
        m = r.members
        if len(m) == 0:
            return {}
        cos = vecs[m] @ anchor
        out = {"anchor_cos": _f(cos.mean())}
        cross = m[es.modality[m] != r.anchor_modality]
        if len(cross):
            cand = np.flatnonzero(es.mask(r.anchor_modality))
            if r.anchor_row is not None:
                cand = cand[cand != r.anchor_row]
            best_other = (vecs[cross] @ vecs[cand].T).max(axis=1) if len(cand) else np.full(len(cross), -np.inf)
            out["anchor_top1"] = _f(np.mean(vecs[cross] @ anchor > best_other))
        return out
    ca, cb = vecs[r.a].mean(0), vecs[r.b].mean(0)
    out = {"centroid_cos": _f(ca @ cb / max(np.linalg.norm(ca) * np.linalg.norm(cb), 1e-12))}
    if r.paired:
        out["pair_r1"] = _f(recall_at_k(vecs[r.a], vecs[r.b], 1))
    return out
