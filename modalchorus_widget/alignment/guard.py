"""The guard: how strong a round may be (``Aligner(guard=...)``; ``docs/methods.md``, "The guard").

A round maps the vectors of its state from ``before`` b to ``after`` a. At strength alpha in [0, 1] it gives
normalise((1 - alpha) b + alpha a), row by row (alpha = 0 is the state before, bit for bit; alpha = 1 the full
round, bit for bit). Only rows the round changed are interpolated; every other row is copied.

The guard scores a grid of alphas without refitting (it re-reads vectors only) and, among the alphas whose worst
regression stays within ``tolerance`` (default 0.01: one point), keeps the one at which the most selected rows
satisfy their constraints, the larger on a tie (``pick="best_target"``; ``pick="largest"``: the largest such alpha).
A round is fitted with early stopping on a held-out slice, not on its own rows' satisfaction, so its full strength
can satisfy fewer of them than a part of it, at a larger cost outside. Regression, in order of what is at hand:

- ``"labels"``: the watched rows have labels that name concepts (e.g. images labelled with a class whose
  prompt row carries the same label): the drop of each class's accuracy, read against the concepts;
- ``"pairs"``: ``guard=dict(pairs=(rows_a, rows_b))``: the drop of recall@1 of those pairs (both ways);
- ``"keep_selected"`` (with any of these): the rows of each constraint read by readings (a pull to an anchor row,
  a paired set-set) that satisfied it before the round: the net share of them that no longer does. A lasso that
  keeps a class in place is the user's own statement of what must not move.
- ``"readings"``: otherwise, for each reading r (the best-matching concept of a watched row before the round; its
  label where concepts are labelled: prompts of one class are one reading), the share of rows read r that read
  something else after, not counting the moves asked for (a pulled member's reading -> its anchor; anything away
  from a pushed anchor).

Without labels a reading's share is taken over at least ``min_count`` rows (default ``ceil(1 / tolerance)``: 100
at one point), so a reading of 1-2 rows may lose one row (else any single move stops the round). That floor,
``keep_selected`` and ``pick`` were chosen by leave-one-case-out cross-validation (``scripts/guard_cv.py --measure``).

Watched rows are the unselected rows of the other modality than the concepts (``on=`` narrows them); concepts
are the rows of the concept modality (text when the set has text and something else). The target curve is the
share of selected rows that satisfy their constraints at each alpha.

Reading a row at many alphas costs one read of the vectors per alpha restricted to a few candidate concepts (its
best ``K`` at alpha 0 and at alpha 1, and every concept the round changed); the chosen alpha is then read exactly
over every concept, and if that exact read exceeds the tolerance the guard steps down to the next alpha.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import memory
from ..errors import AlignmentError
from .guard_spec import ALPHAS, DEFAULT_TOLERANCE, GuardSpec, check_alpha, check_guard, guard_ok, guard_to_json
from .rounds import Delta, forget_readings, reading_concepts, readings, readings_after

__all__ = [
    "ALPHAS",
    "DEFAULT_TOLERANCE",
    "GuardSpec",
    "check_alpha",
    "check_guard",
    "guard_ok",
    "guard_to_json",
    "interpolate",
    "run_guard",
    "read_exact",
]

MAX_EXACT = 4  # exact reads of the guard's pick before it falls back to alpha 0
_K = 8  # candidate concepts per row and endpoint
_BLOCK = 4096


@dataclass
class GuardResult:
    alpha: float
    tolerance: float
    on: str
    curve: dict
    pick: str = "best_target"
    regressions: list = field(default_factory=list)
    changed_outside: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vectors: np.ndarray | None = field(default=None, repr=False)  # the state at ``alpha``

    def to_report(self, max_rows: int = 10_000) -> dict:
        rows = self.changed_outside
        return {
            "tolerance": self.tolerance,
            "pick": self.pick,
            "on": self.on,
            "curve": self.curve,
            "regressions": [list(r) for r in self.regressions],
            "changed_outside": [int(x) for x in rows[:max_rows]],
            "changed_outside_n": int(len(rows)),
        }


# ------------------------------------------------------------------------------------------ interpolation
def changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Rows whose vector the round changed."""
    return np.flatnonzero((before != after).any(axis=1))


def interpolate(before, after, alpha: float, rows=None) -> np.ndarray:
    """normalise((1 - alpha) before + alpha after) on the rows that differ (a copy; alpha 0 / 1 are exact)."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise AlignmentError(f"a round's strength alpha must lie in [0, 1], got {alpha!r}.")
    if alpha == 0.0:
        return memory.copy(before)
    if alpha == 1.0:
        return memory.copy(after)
    return _mix_rows(before, after, alpha, rows, memory.copy(before))


def _mix_rows(before, after, alpha, rows, out):
    """``out[rows]`` = the rows at ``alpha`` (all rows that differ when ``rows`` is None), block by block: no
    (rows, d) temporaries of a whole round. Returns ``out``."""
    rows = changed_rows(before, after) if rows is None else np.asarray(rows, np.int64)
    for s in range(0, len(rows), 65_536):
        r = rows[s : s + 65_536]
        out[r] = _mix(before[r], after[r], alpha)
    return out


def _mix_into(before, after, alpha, changed):
    """``after`` made the state at ``alpha`` in place: no new (n, d) array (readings kept with it are dropped)."""
    forget_readings(after)
    return _mix_rows(before, after, alpha, changed, after)


def _state_at(before, after, alpha, changed):
    """The state at ``alpha``: ``before`` / ``after`` themselves at the ends (states are read-only: shared, not
    copied, which at a million rows saves a 2 GB copy when the guard settles at 0), else :func:`interpolate`."""
    return before if alpha == 0.0 else after if alpha == 1.0 else interpolate(before, after, alpha, changed)


def _mix(b, a, alpha):
    m = np.float32(1.0 - alpha) * np.asarray(b, np.float32) + np.float32(alpha) * np.asarray(a, np.float32)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def mix_vectors(b, a, alpha):
    """The interpolation of two (n, d) arrays at ``alpha`` (exact at 0 and 1), for vectors that are not rows."""
    alpha = float(alpha)
    if alpha == 0.0:
        return np.array(b, np.float32, copy=True)
    if alpha == 1.0:
        return np.array(a, np.float32, copy=True)
    return _mix(b, a, alpha)


# ------------------------------------------------------------------------------------------ readings
def _read_at(before, after, alpha, changed, queries, concepts, p0=None) -> np.ndarray:
    """:func:`read_exact` on the state at ``alpha`` without making it: block by block, the changed rows mixed on
    the fly (the same bits as reading ``interpolate``'s copy). With no concept changed, only the changed query rows
    can read otherwise than ``p0``: only they are read."""
    is_changed = np.zeros(len(before), bool)
    is_changed[np.asarray(changed, np.int64)] = True
    cv = np.array(before[concepts], np.float32)
    cc = is_changed[concepts]
    if cc.any():
        cv[cc] = _mix(before[concepts[cc]], after[concepts[cc]], alpha)
    ct = np.ascontiguousarray(cv.T)
    out = np.array(p0, np.int64) if p0 is not None and not cc.any() else np.empty(len(queries), np.int64)
    todo = np.flatnonzero(is_changed[queries]) if p0 is not None and not cc.any() else np.arange(len(queries))
    for s in range(0, len(todo), _BLOCK):
        q = queries[todo[s : s + _BLOCK]]
        lo, hi = int(q[0]), int(q[-1]) + 1
        blk = before[lo:hi] if hi - lo == len(q) else before[q]
        ch = np.flatnonzero(is_changed[q])
        if len(ch):
            blk = np.array(blk, np.float32)
            blk[ch] = _mix(before[q[ch]], after[q[ch]], alpha)
        out[todo[s : s + len(q)]] = np.argmax(blk @ ct, axis=1)
    return out


def read_exact(vectors, queries, concepts) -> np.ndarray:
    """Index into ``concepts`` of each query row's best-matching concept row (blockwise)."""
    out = np.empty(len(queries), np.int64)
    c = vectors[concepts].T
    for s in range(0, len(queries), _BLOCK):
        out[s : s + _BLOCK] = np.argmax(vectors[queries[s : s + _BLOCK]] @ c, axis=1)
    return out


def _read_curve(before, after, queries, concepts, alphas, always=(), changed=None) -> np.ndarray:
    """Readings (n_alphas, n_queries) of ``queries`` among ``concepts`` at each alpha, restricted to candidates:
    each query's best concept at alpha 0 and at 1 (every concept when there are at most ``4 * _K``), and the
    concept positions ``always`` (e.g. the concepts the round changed). Exact when the candidates hold the best.

    A score along the path is a quadratic in alpha over the concept's norm, bb + x P + x^2 Q with P and Q taken once
    from the four products: each alpha then costs two multiply-adds and a product per candidate, in float32. Every
    row is read at every 4th alpha; the rows whose reading differs anywhere on that grid are read at every alpha
    (a row steady on the grid moves between two of its points only when its reading flips and flips back within a
    fifth of the path; the exact read at the chosen alpha checks the pick). With ``changed`` (the rows the round
    changed), a block of query rows it did not change is multiplied once (its rows are the same at both ends)."""
    nq, nc = len(queries), len(concepts)
    out = np.empty((len(alphas), nq), np.int64)
    if nq == 0 or nc == 0:
        return out
    cb, ca = before[concepts], after[concepts]
    dot_ba = np.einsum("ij,ij->i", cb, ca)  # per concept: |(1-x) b + x a|^2 = (1-x)^2 + x^2 + 2 x (1-x) b.a
    al = np.asarray(alphas, np.float64)
    norms = np.sqrt(
        np.maximum((1 - al[:, None]) ** 2 + al[:, None] ** 2 + 2 * al[:, None] * (1 - al[:, None]) * dot_ba, 1e-12)
    )
    always = np.asarray(always, np.int64)
    full = nc <= 4 * _K  # few concepts: read them all
    if len(always) > 4 * _K:  # most concepts moved: their best at either end is among the candidates already
        always = always[:0]
    both = np.ascontiguousarray(np.concatenate([cb, ca]).T)  # each row meets both ends' concepts in one product
    moved = None
    if changed is not None:
        moved = np.zeros(len(before), bool)
        moved[np.asarray(changed, np.int64)] = True
    for s in range(0, nq, _BLOCK):
        q = queries[s : s + _BLOCK]
        lo, hi = int(q[0]), int(q[-1]) + 1
        qb, qa = (before[lo:hi], after[lo:hi]) if hi - lo == len(q) else (before[q], after[q])  # views when dense
        sb = qb @ both  # two passes over the rows instead of four (one when the block's rows did not move)
        still = moved is not None and not moved[q].any()
        sa = sb if still else qa @ both
        s0, s1 = sb[:, :nc], sa[:, nc:]
        wide = full and not (still and 0 < len(always) < nc // 2)
        if wide:
            cand = np.broadcast_to(np.arange(nc), (len(q), nc))
            bb, ba, ab, aa = s0, sb[:, nc:], sa[:, :nc], s1
        else:  # four products (matmuls), then each row's candidates taken from them: no (m, c, d) gathers
            if still and len(always):  # only concepts moved: a row reads its best unmoved concept (a constant
                # score along the path) or a moved one, exactly
                rest = s0.copy()
                rest[:, always] = -np.inf
                top = [np.argmax(rest, axis=1)[:, None]]
            else:  # each row's best at both ends (a reading between them is almost always one of the two; the
                # exact read at the chosen alpha checks it): argmax costs a tenth of a top-k partition
                top = [np.argmax(s0, axis=1)[:, None], np.argmax(s1, axis=1)[:, None]]
            if len(always):
                top.append(np.broadcast_to(always, (len(q), len(always))))
            cand = np.concatenate(top, 1)
            bb, aa = np.take_along_axis(s0, cand, 1), np.take_along_axis(s1, cand, 1)
            ba, ab = np.take_along_axis(sb[:, nc:], cand, 1), np.take_along_axis(sa[:, :nc], cand, 1)
            del s0, s1, sb, sa
        cross = ba + ab
        P, Q = cross - 2 * bb, bb + aa - cross  # (1-x)^2 bb + x(1-x)(ba+ab) + x^2 aa = bb + x P + x^2 Q
        inv, x32 = (1.0 / norms).astype(np.float32), al.astype(np.float32)

        def read(i, Q, P, bb, cand, wide=wide):
            sc = Q * x32[i]
            sc += P
            sc *= x32[i]
            sc += bb
            sc *= inv[i][None] if wide else inv[i][cand]
            best = np.argmax(sc, axis=1)
            return best if wide else cand[np.arange(len(best)), best]

        # every 4th alpha first; only rows whose reading differs somewhere on that coarse grid are read at the rest
        coarse = sorted(set(range(0, len(al), 4)) | {len(al) - 1})
        got = {i: read(i, Q, P, bb, cand) for i in coarse}
        steady = np.all([got[i] == got[coarse[0]] for i in coarse], axis=0)
        out[:, s : s + len(q)] = got[coarse[0]]
        for i in coarse:
            out[i, s : s + len(q)] = got[i]
        move = np.flatnonzero(~steady)
        if len(move):
            sub = (Q[move], P[move], bb[move], cand[move])
            for i in sorted(set(range(len(al))) - set(coarse)):
                out[i, s + move] = read(i, *sub)
    return out


# ------------------------------------------------------------------------------------------ the guard
def _concepts(es):
    """(query modality rows mask, concept rows): the text rows when the set has text and more, while reading the
    rest against them is cheap (``rounds.reading_concepts``); a larger set reads only guard=dict(concepts=rows)."""
    read = reading_concepts(es)
    return (None, np.zeros(0, np.int64)) if read is None else (~es.mask("text"), read[1])


def _names(es, labels, rows):
    ids = es.ids
    if labels is not None:
        return [str(labels[r]) if labels[r] is not None else str(ids[r]) for r in rows]
    return [str(ids[r]) for r in rows]


def _intended(resolved, concepts, p0_of) -> set:
    """(from, to) concept positions the round asked for: a pulled member's reading -> its anchor, a pushed
    member's anchor -> anything (to = -1), a set-set pull's side a -> the concepts of side b."""
    pos = {int(r): i for i, r in enumerate(concepts)}
    out = set()
    for r in resolved:
        if r.kind == "point-set" and r.anchor_row is not None and int(r.anchor_row) in pos:
            a = pos[int(r.anchor_row)]
            if r.direction == "pull":
                out |= {(int(f), a) for f in p0_of(r.members) if f != a}
            else:
                out.add((a, -1))
        elif r.kind == "set-set" and r.direction == "pull":
            for x, y in ((r.a, r.b), (r.b, r.a)):
                tos = [pos[int(t)] for t in y if int(t) in pos]
                if tos:
                    froms = set(int(f) for f in p0_of(x)) - set(tos)
                    out |= {(f, t) for f in froms for t in tos}
    return out


def _target_curve(es, before, after, resolved, alphas, concepts, drops=None) -> list:
    """Share of the selected rows that satisfy their constraints at each alpha. ``drops`` (a list) gets, per
    constraint read by readings (a pull to an anchor row, a paired set-set), the net share of its rows that
    satisfied it at alpha 0 and no longer do at each alpha (the rule ``keep_selected``)."""
    hits = np.zeros(len(alphas))
    total = 0
    for r in resolved:
        if r.kind == "point-set" and len(r.members):
            if r.direction == "pull" and r.anchor_row is not None:
                cands = np.flatnonzero(es.mask(es.modality[r.anchor_row]))
                m = r.members[es.modality[r.members] != es.modality[r.anchor_row]]
                if len(m) == 0:
                    continue
                always = np.flatnonzero(cands == r.anchor_row)
                rd = _read_curve(before, after, m, cands, alphas, always)
                h = (cands[rd] == r.anchor_row).sum(1)
                hits += h
                total += len(m)
                if drops is not None:
                    drops.append((h[0] - h) / len(m))
            else:
                anchor = r.anchor if r.anchor_row is None else None
                for i, x in enumerate(alphas):
                    av = anchor if anchor is not None else _mix_one(before[r.anchor_row], after[r.anchor_row], x)
                    mv = interpolate(before[r.members], after[r.members], x)
                    c = mv @ av
                    c0 = before[r.members] @ (anchor if anchor is not None else before[r.anchor_row])
                    hits[i] += (c > c0 if r.direction == "pull" else c < c0).sum()
                total += len(r.members)
        elif r.kind == "set-set" and len(r.a) and len(r.b):
            if r.paired and len(r.a) == len(r.b):
                rd = _read_curve(before, after, r.a, r.b, alphas)
                h = (rd == np.arange(len(r.a))).sum(1)
                hits += h
                total += len(r.a)
                if drops is not None:
                    drops.append((h[0] - h) / len(r.a))
            else:
                for i, x in enumerate(alphas):
                    va, vb = interpolate(before[r.a], after[r.a], x), interpolate(before[r.b], after[r.b], x)
                    cb = vb.mean(0)
                    c0 = before[r.a] @ before[r.b].mean(0)
                    c = va @ cb
                    hits[i] += (c > c0 if r.direction == "pull" else c < c0).sum()
                total += len(r.a)
    return [round(float(h / total), 6) if total else None for h in hits]


def _mix_one(b, a, x):
    return mix_vectors(b[None], a[None], x)[0]


def run_guard(spec: GuardSpec, es, before, after, resolved, selected, changed=None, own=False) -> GuardResult:
    """Score the round at ``spec.alphas`` and pick an alpha within the tolerance (``spec.pick``; the module doc).
    ``own``: ``after`` is the round's own fresh array, which the state at the pick may be written into."""
    alphas = list(spec.alphas)
    n = es.n
    watched = np.ones(n, bool)
    watched[selected] = False
    if spec.on is not None:
        keep = np.zeros(n, bool)
        keep[spec.on] = True
        watched &= keep
    qmask, concepts = _concepts(es)
    if spec.concepts is not None:
        concepts = spec.concepts
        qmask = ~np.isin(np.arange(n), concepts) if qmask is None else qmask
    labels = spec.labels if spec.labels is not None else es.labels
    changed = changed_rows(before, after) if changed is None else changed  # the round's Delta rows when known
    keep = [] if spec.keep_selected else None
    target = _target_curve(es, before, after, resolved, alphas, concepts, keep)
    kept = np.max(np.maximum(np.array(keep), 0.0), axis=0) if keep else np.zeros(len(alphas))
    worst = np.zeros(len(alphas))
    kind = "none"
    measure = None
    if spec.pairs is not None:
        kind = "pairs"
        measure = _pairs_measure(spec.pairs, before, after, alphas)
    elif qmask is not None:
        queries = np.flatnonzero(watched & qmask)
        cl = None
        if labels is not None:
            names = [labels[t] for t in concepts if labels[t] is not None]
            lq = pd.Series(np.asarray(labels, object)[queries], dtype=object).isin(names).to_numpy(bool)
            if lq.any() and lq.mean() >= 0.5:
                queries, cl = queries[lq], labels
        kind = "labels" if cl is not None else "readings"
        cpos = np.flatnonzero(np.isin(concepts, changed))
        measure = _readings_measure(
            es, before, after, queries, concepts, cpos, alphas, resolved, cl, changed, spec.floor(), labels
        )
    if measure is not None:
        worst = np.asarray(measure["worst"], np.float64)
    worst = np.maximum(worst, kept)  # a constraint's rows that held before and no longer do
    ok = [i for i, w in enumerate(worst) if w <= spec.tolerance + 1e-12]
    pick = spec.choose(ok, target)
    result, tries = None, 0
    while True:  # the chosen alpha, read exactly over every concept; step down if the exact read is worse
        alpha = alphas[pick]
        if measure is not None:
            exact = measure["exact"](alpha)
            exact = (max(exact[0], float(kept[pick])), *exact[1:])
        else:
            exact = (
                float(kept[pick]),
                [],
                np.zeros(0, np.int64),
                _state_at(before, after, alpha, changed),
            )
        if exact[0] <= spec.tolerance + 1e-12 or pick == 0:
            result = GuardResult(
                alpha=float(alpha),
                tolerance=spec.tolerance,
                pick=spec.pick,
                on=kind,
                curve={
                    "alpha": [float(a) for a in alphas],
                    "target": target,
                    "worst_regression": [round(float(w), 6) for w in worst],
                },
                regressions=exact[1],
                changed_outside=exact[2],
                vectors=_mix_into(before, after, alpha, changed)
                if own and 0.0 < alpha < 1.0
                else exact[3]()
                if callable(exact[3])
                else exact[3],
            )
            worst[pick] = exact[0]
            result.curve["worst_regression"][pick] = round(float(exact[0]), 6)
            break
        worst[pick] = exact[0]
        tries += 1
        # each exact read costs a pass over every row: after MAX_EXACT misses of the candidate read, fall back to 0
        # (two were too few: a row can leave its reading and come back along the path, which the curve misses)
        ok = [i for i in ok if i < pick] if tries < MAX_EXACT else []
        pick = spec.choose(ok, target)
    return result


def _readings_measure(
    es, before, after, queries, concepts, cpos, alphas, resolved, labels, changed, floor=1, named=None
):
    """``labels``: the watched rows' classes (labels rule) or None; ``named``: the concepts' labels (readings)."""
    names = _names(es, labels if labels is not None else named, concepts)
    code = pd.factorize(pd.Series(names, dtype=object))[0]  # with labels, two prompts of one class read the same
    p0 = readings(before, queries, concepts)  # kept with the state: the next round starts from them
    if len(cpos):  # a concept moved: any row may read differently
        curve = _read_curve(before, after, queries, concepts, alphas, cpos, changed)
    else:  # only the rows the round changed can: the rest read p0 at every alpha
        curve = np.repeat(p0[None].astype(np.int64), len(alphas), axis=0)
        sub = np.flatnonzero(np.isin(queries, changed))
        curve[:, sub] = _read_curve(before, after, queries[sub], concepts, alphas)
    curve[0] = p0  # alpha 0 is the state before
    order = np.argsort(queries, kind="stable")

    def p0_of(rows):
        rows = np.asarray(rows, np.int64)
        rows = rows[es.modality[rows] != "text"] if len(concepts) else rows
        at = order[np.minimum(np.searchsorted(queries, rows, sorter=order), len(order) - 1)] if len(order) else rows
        hit = (queries[at] == rows) if len(order) else np.zeros(len(rows), bool)
        known = list(p0[at[hit]])
        rest = rows[~hit]
        if len(rest):
            known += list(read_exact(before, rest, concepts))
        return known

    if labels is not None:
        clab = np.array([labels[t] for t in concepts], dtype=object)
        codes = pd.factorize(pd.Series(np.concatenate([clab, np.asarray(labels, object)[queries]]), dtype=object))[0]
        cc, yc = codes[: len(clab)], codes[len(clab) :]  # label codes (-1: none), compared as integers
        cls = np.unique(yc, return_inverse=True)[1]
        count = np.maximum(np.bincount(cls), 1)  # the user's classes: no floor (their accuracy, as they count it)
        ok0 = np.bincount(cls, weights=cc[p0] == yc)

        def worst_of(p):
            return max(float(np.max((ok0 - np.bincount(cls, weights=cc[p] == yc, minlength=len(count))) / count)), 0.0)
    else:
        intended = {(int(code[f]), int(code[t]) if t >= 0 else -1) for f, t in _intended(resolved, concepts, p0_of)}
        r0 = code[p0]
        counts = np.bincount(r0, minlength=len(concepts))

        def worst_of(p):
            r = code[p]
            moved = r != r0
            if not moved.any():
                return 0.0
            bad = np.array(
                [(int(f), int(t)) not in intended and (int(f), -1) not in intended for f, t in zip(r0[moved], r[moved])]
            )
            if not bad.any():
                return 0.0
            lost = np.bincount(r0[moved][bad], minlength=len(concepts))
            return float(np.max(lost / np.maximum(counts, floor)))

    worst = [worst_of(curve[i]) for i in range(len(alphas))]

    def exact(alpha):  # only the changed rows are mixed (on the fly: the state is made once, for the pick)
        if alpha in (0.0, 1.0):
            p = p0 if alpha == 0.0 else readings_after(before, after, queries, concepts, Delta(changed, None), p0)
        else:
            p = _read_at(before, after, alpha, changed, queries, concepts, p0)
        v = lambda: _state_at(before, after, alpha, changed)  # noqa: E731
        moved = code[p] != code[p0]
        pairs = {}
        for f, t in zip(p0[moved], p[moved]):
            pairs[(names[f], names[t])] = pairs.get((names[f], names[t]), 0) + 1
        regs = sorted(((f, t, c) for (f, t), c in pairs.items()), key=lambda x: (-x[2], x[0], x[1]))
        return worst_of(p), regs, queries[moved], v

    return {"worst": worst, "exact": exact}


def _pairs_measure(pairs, before, after, alphas):
    pa, pb = pairs
    if len(pa) == 0:
        return None

    def r1(p):
        return float(np.mean(p == np.arange(len(pa))))

    ab = _read_curve(before, after, pa, pb, alphas)
    ba = _read_curve(before, after, pb, pa, alphas)
    r0 = (r1(ab[0]), r1(ba[0]))
    worst = [max(0.0, r0[0] - r1(ab[i]), r0[1] - r1(ba[i])) for i in range(len(alphas))]

    x0, y0 = ab[0], ba[0]

    def exact(alpha):
        v = _state_at(before, after, alpha, None)
        x, y = read_exact(v, pa, pb), read_exact(v, pb, pa)
        w = max(0.0, r0[0] - r1(x), r0[1] - r1(y))
        return w, [], np.union1d(pa[x != x0], pb[y != y0]), v

    return {"worst": worst, "exact": exact}


def guard_round(guard, es, before, after, resolved, selected, map_set=None, changed=None, own=False):
    """The guard of one round (``Aligner.step``): (the vectors at the chosen alpha, alpha, the report's guard
    entry or None). ``guard`` is the Aligner's parameter; None applies the full round (alpha 1). ``map_set``
    (vectors, modality) -> (before, after) maps a guard set's rows through the earlier rounds and this one."""
    spec = check_guard(guard, es.n)
    if spec is None:
        return after, 1.0, None
    if spec.set is None:
        res = run_guard(spec, es, before, after, resolved, selected, changed, own)
        return res.vectors, res.alpha, res.to_report()
    if map_set is None:
        raise AlignmentError("Aligner: a guard set needs a vector map; deep mode takes guard='auto' or None.")
    gs = spec.set
    xb, xa = map_set(gs.vectors, gs.modality)
    joint = _Rows(
        np.concatenate([before, xb]),
        np.concatenate([es.modality, gs.modality]),
        np.concatenate([np.asarray(es.ids, object), np.array([f"guard {i}" for i in gs.ids], object)]),
    )
    lab = np.concatenate([spec.labels if spec.labels is not None else _labels(es), _labels(gs)])
    n = es.n
    from dataclasses import replace

    spec2 = replace(spec, set=None, on=np.arange(n, n + gs.n), labels=lab)
    res = run_guard(spec2, joint, joint.vectors, np.concatenate([after, xa]), resolved, selected)
    res.vectors = _state_at(before, after, res.alpha, changed)
    return res.vectors, res.alpha, {**res.to_report(), "on": "guard set", "set_rows": int(gs.n)}


class _Rows:
    """The fields of an EmbeddingSet the guard reads (the aligned set and a guard set side by side)."""

    def __init__(self, vectors, modality, ids):
        self.vectors, self.modality, self.ids, self.labels = vectors, np.asarray(modality), ids, None
        self.n = len(vectors)
        self.modalities = tuple(dict.fromkeys(self.modality.tolist()))

    def mask(self, m):
        return self.modality == m


def _labels(es):
    return es.labels if es.labels is not None else np.full(es.n, None, dtype=object)


def set_mapper(transform, adapters):
    """``map_set`` of :func:`guard_round`: a guard set's vectors through the earlier rounds (``transform``), then
    through this round's ``adapters`` (fast mode; None in anchor mode, where only the set's own rows move)."""

    def f(vectors, modality):
        mods = np.asarray(modality)
        xb = np.asarray(transform(vectors, mods), np.float32)
        xa = np.array(xb, copy=True)
        if adapters is not None:
            from .adapter import apply_adapter

            for m in dict.fromkeys(mods.tolist()):
                rows = mods == m
                xa[rows] = apply_adapter(adapters, xb[rows], m)
        return xb, xa

    return f
