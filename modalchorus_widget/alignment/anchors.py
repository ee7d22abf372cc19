"""Anchor-mode alignment (``Aligner(mode="anchors")``): a round tunes only the vectors of its point-set anchors.

Fast mode moves every row of a modality through an adapter; here each anchor row (e.g. the class prompt a lasso
was pulled to) gets a residual of its own, g(a) = normalise(a + delta_a), and every other row, and every vector
passed to ``Aligner.transform`` but a tuned anchor's own original vector, stays as it is. For a zero-shot classifier, whose weights are its prompts, that is
Task Residual tuning (Yu et al., CVPR 2023): only decisions that involve a concept the round names can change (an
image may move to or from a tuned prompt, never between two others).

The objective is fast mode's (``fit.Problem``: the constraints' losses, ``preserve_kl`` on unselected reference
rows), with ``preserve_l2`` on the anchors' own change, and one difference in the references: a reference whose
best match among the anchors' modality is already one of the round's anchors is left out of the KL. Those are
the points the round is about (an unselected red square read as a red circle, when the red-square and red-circle
prompts are the anchors); keeping their similarity profiles would hold back the fix the lasso asked for.
"""

from __future__ import annotations

import numpy as np

from .. import memory
from ..errors import AlignmentError
from .fit import Problem, fit_problem


def check_constraints(resolved) -> np.ndarray:
    """The anchor rows of a round in anchor mode (sorted); a clear error for a constraint without one."""
    rows = []
    for r in resolved:
        if r.kind != "point-set" or r.anchor_row is None:
            what = "a set-set constraint" if r.kind != "point-set" else "a point-set whose anchor is not a row"
            raise AlignmentError(
                f"Aligner(mode='anchors') tunes the anchor rows of point-set constraints, and this round has "
                f"{what}. Give PointSet an anchor row of the set (e.g. a class prompt's row), or use mode='fast'."
            )
        rows.append(int(r.anchor_row))
    return np.unique(np.asarray(rows, np.int64))


def _find(sorted_rows, rows):
    """(position of each of ``rows`` in ``sorted_rows``, whether it is there)."""
    pos = np.searchsorted(sorted_rows, rows)
    return pos, (pos < len(sorted_rows)) & (sorted_rows[np.minimum(pos, len(sorted_rows) - 1)] == rows)


def _model(rows, dim):
    import torch

    class AnchorResiduals(torch.nn.Module):
        """One residual per anchor row, starting at zero (a fresh model is exactly the identity)."""

        def __init__(self):
            super().__init__()
            self.rows = np.asarray(rows, np.int64)
            self.delta = torch.nn.Parameter(torch.zeros(len(rows), dim))

        def __contains__(self, modality):  # few-shot extras and free vectors are held fixed
            return False

        def adapt(self, rows, v):
            pos, hit = _find(self.rows, rows)
            if not hit.any():
                return v
            h = torch.from_numpy(np.flatnonzero(hit))
            moved = torch.nn.functional.normalize(v[h] + self.delta[torch.from_numpy(pos[hit])], dim=-1)
            return v.index_put((h,), moved)

    return AnchorResiduals()


class _Moved:
    """Adapted vectors of a round's rows where only the rows at ``pos`` (sorted) moved, to ``moved``: indexing
    gives the start vectors with those rows put in, so a slice without an anchor row needs no gradient."""

    def __init__(self, v, pos, moved):
        self.v, self.pos, self.moved = v, np.asarray(pos, np.int64), moved

    def __getitem__(self, idx):
        import torch

        idx = np.asarray(idx, np.int64)
        out = self.v[torch.from_numpy(idx)]
        at, hit = _find(self.pos, idx)
        if not hit.any():
            return out
        return out.index_put((torch.from_numpy(np.flatnonzero(hit)),), self.moved[torch.from_numpy(at[hit])])


class AnchorProblem(Problem):
    """fit.Problem where only the anchor rows move, with the references the round is about left out of the KL."""

    def __init__(self, vectors, modality, resolved, ref_rows, params, rng, anchors):
        super().__init__(vectors, modality, resolved, ref_rows, params, rng)
        self.anchors = anchors
        keep = np.ones(len(self.ref), bool)
        for m in sorted(set(self.mod[anchors])):
            pool = np.union1d(self.cands.get(m, np.flatnonzero(self.mod == m)), anchors[self.mod[anchors] == m])
            q = np.flatnonzero(self.mod[self.ref] != m)
            if len(q) and len(pool):
                best = pool[np.argmax(self.V[self.ref[q]] @ self.V[pool].T, axis=1)]
                keep[q[np.isin(best, anchors)]] = False
        self.in_scope = int((~keep).sum())
        self.ref = self.ref[keep]

    def _adapted(self, model, rows):
        """fit.Problem's, with the adapted rows as a :class:`_Moved` view: only anchor rows change, so only the
        slices that hold one carry a gradient (the same numbers, without backpropagating through every row)."""
        import torch

        v = torch.from_numpy(np.ascontiguousarray(self.V[rows]))
        pos, hit = _find(rows, model.rows)
        moved = model.adapt(model.rows[hit], v[torch.from_numpy(pos[hit])])
        return v, _Moved(v, pos[hit], moved), (lambda r: torch.from_numpy(np.searchsorted(rows, r)))

    def objective(self, model, rng=None):
        import torch

        total = super().objective(model, rng)
        if self.p.preserve_l2:
            v = torch.from_numpy(np.ascontiguousarray(self.V[self.anchors]))
            total = total + self.p.preserve_l2 * ((model.adapt(self.anchors, v) - v) ** 2).sum(1).mean()
        return total


def fit_anchor_round(vectors, modality, resolved, ref_rows, params):
    """Fit one anchor-mode round: (anchor rows, their new unit vectors (k, d) float32, info)."""
    import torch

    anchors = check_constraints(resolved)
    problem = AnchorProblem(vectors, modality, resolved, ref_rows, params, np.random.default_rng(params.seed), anchors)
    model, info = fit_problem(problem, params, lambda: _model(anchors, vectors.shape[1]))
    info["references_in_scope"] = problem.in_scope
    with torch.no_grad():
        new = model.adapt(anchors, torch.from_numpy(np.ascontiguousarray(vectors[anchors]))).numpy()
    return anchors, new.astype(np.float32), info


def anchors_to_bytes(rows, vectors) -> bytes:
    """safetensors bytes of a round's anchor rows and their new vectors."""
    import torch
    from safetensors.torch import save

    return save({"rows": torch.from_numpy(np.asarray(rows, np.int64)), "vectors": torch.from_numpy(vectors)})


def apply_anchor_round(vectors, blob: bytes, where: str = "anchor round") -> np.ndarray:
    """``vectors`` (n, d) with a round's anchor rows replaced by the vectors it stored (a copy); checked first."""
    from safetensors.torch import load

    try:
        t = load(blob)
        rows, new = t["rows"].numpy(), t["vectors"].numpy()
    except Exception as exc:  # safetensors raises its own error types on a damaged blob
        raise AlignmentError(f"{where}: not an anchor round's weights ({exc}).") from exc
    n, d = np.shape(vectors)
    if rows.ndim != 1 or new.shape != (len(rows), d) or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
        raise AlignmentError(f"{where}: anchor rows {rows.shape} / vectors {new.shape} do not fit a ({n}, {d}) set.")
    if not np.isfinite(new).all():
        raise AlignmentError(f"{where}: the stored anchor vectors are not finite.")
    out = memory.copy(np.asarray(vectors, np.float32))
    out[rows] = new
    return out


def map_tuned_anchors(v, modality, first, now) -> np.ndarray:
    """``Aligner.transform`` in anchor mode: rows of ``v`` equal (cosine > 1 - 1e-6) to the original vector of a
    row the rounds tuned (``first`` -> ``now``), and of its modality when ``modality`` is given, become that row's
    tuned vector; the rest stay as they are, since the rounds moved nothing else."""
    moved = np.flatnonzero((first.vectors != now.vectors).any(axis=1))
    if not len(moved):
        return v
    sim = v @ first.vectors[moved].T
    best = np.argmax(sim, axis=1)
    hit = sim[np.arange(len(v)), best] > 1 - 1e-6
    if modality is not None:
        hit &= modality == first.modality[moved[best]]
    v[hit] = now.vectors[moved[best[hit]]]
    return v
