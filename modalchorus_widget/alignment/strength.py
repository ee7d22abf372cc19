"""A round's strength set by hand: ``Aligner.set_strength`` (the widget's "Apply") and ``Aligner.preview_strength``
(the widget's slider), on the guard's interpolation (``guard.py``)."""

from __future__ import annotations

import numpy as np

from ..errors import AlignmentError
from .guard import check_alpha, check_guard, interpolate, run_guard

__all__ = ["restrength", "preview", "strength_report"]


def strength_report(old: dict, guard, es, full, after, resolved, adapters, selected, alpha: float) -> dict:
    """A round's report when the user sets its strength to ``alpha`` (``Aligner.set_strength``): the figures
    at ``alpha``, the guard's curve as it was, and the regressions and changed rows at ``alpha``."""
    from .report import round_report

    info = {k: old.get(k) for k in ("steps", "stopped", "validation_curve")}
    if "references_in_scope" in old:
        info["references_in_scope"] = old["references_in_scope"]
    rep = round_report(es, es.vectors, after, resolved, adapters, selected, info)
    rep = {**{k: v for k, v in old.items() if k not in rep}, **rep, "alpha": alpha, "alpha_set_by": "user"}
    spec = check_guard(guard, es.n)
    if spec is not None and "guard" in old:
        res = run_guard(spec.reading(sorted({0.0, alpha})), es, es.vectors, full, resolved, selected)
        fresh = res.to_report()
        rep["guard"] = {
            **old["guard"],
            **{k: fresh[k] for k in ("regressions", "changed_outside", "changed_outside_n")},
        }
    return rep


def restrength(al, alpha, after_fn):
    """``Aligner.set_strength``: the last round of ``al`` at ``alpha`` (``after_fn``: the aligner's full-round map)."""
    from dataclasses import replace

    al._check_fitted("set_strength")
    if not al.history_:
        raise AlignmentError("Aligner.set_strength: no round yet; run aligner.step(...) first.")
    if al.mode == "deep":  # WiSE-FT: the tuned tensors interpolated, the rows re-encoded (deep.py)
        from .deep import deep_restrength

        return deep_restrength(al, alpha)
    alpha = check_alpha(alpha, "Aligner.set_strength")
    rnd, prev = al.history_[-1], al._states[-2]
    adapters = rnd.adapters if al.mode == "fast" and not rnd.is_identity else None
    full = after_fn(prev, al.mode, rnd.weights, adapters, rnd.is_identity)
    after = interpolate(prev.vectors, full, alpha)
    state, current = prev.with_vectors(after, normalize=False), al.embeddings_
    try:  # the constraints resolve on the state the round started from
        al.embeddings_ = prev
        resolved = [c.resolve(al) for c in rnd.constraints]
    finally:
        al.embeddings_ = current
    selected = np.unique(np.concatenate([r.rows() for r in resolved]))
    report = strength_report(rnd.report, al.guard, prev, full, after, resolved, adapters, selected, alpha)
    new = replace(rnd, report=report, alpha=alpha, _owner=al)
    al.history_, al._states = al.history_[:-1] + [new], al._states[:-1] + [state]
    al._redo, al.embeddings_ = [], state
    return new


def preview(al, alpha, after_fn) -> np.ndarray:
    """``Aligner.preview_strength``: the last round's vectors at ``alpha``, nothing committed. The full round's
    vectors are kept between calls of the same round (a slider sends many), so each call only interpolates."""
    al._check_fitted("preview_strength")
    if not al.history_:
        raise AlignmentError("Aligner.preview_strength: needs a round; run aligner.step first.")
    if al.mode == "deep":  # a re-encode at theta(alpha) (deep.py)
        from .deep import deep_preview

        return deep_preview(al, alpha)
    alpha = check_alpha(alpha, "Aligner.preview_strength")
    rnd, prev = al.history_[-1], al._states[-2]
    cache = getattr(al, "_strength_cache", None)
    if cache is None or cache[0] is not rnd.weights or cache[1] is not prev:
        adapters = rnd.adapters if al.mode == "fast" and not rnd.is_identity else None
        cache = (rnd.weights, prev, after_fn(prev, al.mode, rnd.weights, adapters, rnd.is_identity))
        al._strength_cache = cache
    return interpolate(prev.vectors, cache[2], alpha)
