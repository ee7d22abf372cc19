"""The per-row work of a fast- or anchor-mode round, in blocks: what a round costs is what it changes.

A round's fit touches a few hundred rows; everything after it runs over the rows the round changed, block by block,
into one new array (the state before stays as it is, so undo is exact and a failed round leaves nothing behind):

- fast mode: every row of an adapted modality goes through its adapter (``BLOCK`` rows at a time, on the
  aligner's device), every other row is copied; anchor mode: a copy with the tuned anchor rows replaced;
- the same pass checks the changed rows are finite and records how far each moved (1 - cos), so nothing else
  compares the states row by row;
- the result is a :class:`Delta`: the changed rows and their moves. The report, the guard and the widget read
  only those rows (and the class prompts) instead of the whole set.

The blockwise path gives the same vectors as one dense pass over all rows, bit for bit on the CPU (torch's
kernels compute each row independently of the rows beside it; ``tests/test_rounds_scale.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import memory
from ..errors import AlignmentError

__all__ = ["BLOCK", "Delta", "apply_round", "after_state", "delta_between", "moved_of"]

BLOCK = 65_536  # rows per block: ~128 MB of 512-d float32 in and out


@dataclass
class Delta:
    """What one round changed: ``rows`` (sorted int64), the rows whose vectors it may have changed (every other
    row is bit for bit the same), and ``moved`` (float32, one per row of ``rows``): 1 - cos(before, after),
    clipped at 0."""

    rows: np.ndarray
    moved: np.ndarray

    @classmethod
    def none(cls) -> Delta:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32))

    def moved_all(self, n: int) -> np.ndarray:
        """How far every row moved (0 for rows the round left alone), float32 (n,)."""
        out = np.zeros(n, np.float32)
        out[self.rows] = self.moved
        return out


def moved_of(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """1 - cos of unit rows, clipped at 0, float32."""
    return np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", before, after)).astype(np.float32)


def delta_between(before: np.ndarray, after: np.ndarray, rows) -> Delta:
    """The Delta of ``rows`` between two states (blockwise; e.g. after the guard picked a strength below 1)."""
    rows = np.asarray(rows, np.int64)
    moved = np.empty(len(rows), np.float32)
    for s in range(0, len(rows), BLOCK):
        r = rows[s : s + BLOCK]
        moved[s : s + len(r)] = moved_of(before[r], after[r])
    return Delta(rows, moved)


def _rows_of(modality, adapters) -> list:
    """(modality, its rows) for every modality the round adapts."""
    mod = np.asarray(modality)
    return [(m, np.flatnonzero(mod == m)) for m in adapters.keys()]


def apply_round(vectors, modality, mode, weights, adapters, identity, device="cpu", where="Aligner.step"):
    """The vectors after a fast- or anchor-mode round and what it changed: ``(after, Delta)``.

    Parameters
    ----------
    vectors : (n, d) float32 array
        The state before the round (not written to).
    modality : (n,) array
        Each row's modality.
    mode : {"fast", "anchors"}
        Fast mode applies ``adapters`` to every row of each adapted modality; anchor mode replaces the anchor rows
        stored in ``weights``.
    weights : bytes
        The round's stored weights (anchor mode reads its rows and vectors from them).
    adapters : torch ModuleDict or None
        Fast mode's adapters.
    identity : bool
        The round kept zero steps: a copy, nothing changed.
    device : str
        Torch device the adapters run on (``device.resolve_device``); rows go there block by block.
    where : str
        Who asks, for error messages.

    Returns
    -------
    (np.ndarray, Delta)
        A new read-write (n, d) float32 array (``vectors`` itself for an identity round), and the changed rows
        with how far each moved.

    Raises
    ------
    AlignmentError
        The round produced non-finite vectors, or anchor-mode weights that do not fit the set.
    """
    v = np.asarray(vectors)
    if identity:  # nothing changed: the new state shares the (read-only) array of the one before
        return v.astype(np.float32, copy=False), Delta.none()
    if mode == "anchors":
        from safetensors.numpy import load

        from .anchors import apply_anchor_round

        after = apply_anchor_round(v, weights, where)  # checks the stored rows and vectors first
        rows = np.unique(np.asarray(load(weights)["rows"], np.int64))
        rows = rows[(after[rows] != v[rows]).any(axis=1)]
        return after, Delta(rows, moved_of(v[rows], after[rows]))
    from .adapter import adapt_rows, adapter_weights

    after = memory.empty(v.shape, np.float32)
    parts = _rows_of(modality, adapters)
    moved = []
    for m, rows in parts:
        w = adapter_weights(adapters[m], device)
        mv = np.empty(len(rows), np.float32)
        for s in range(0, len(rows), BLOCK):
            r = rows[s : s + BLOCK]
            lo, hi = int(r[0]), int(r[-1]) + 1
            if hi - lo == len(r):  # a modality's rows are often one contiguous range: written in place
                x, y = v[lo:hi], after[lo:hi]
                norms = adapt_rows(w, x, y)
            else:
                x, y = v[r], np.empty((len(r), v.shape[1]), np.float32)
                norms = adapt_rows(w, x, y)
                after[r] = y
            if not np.isfinite(norms).all():
                raise AlignmentError(
                    f"{where}: the round produced non-finite vectors; nothing was changed. Lower lr or the "
                    "constraint weights."
                )
            mv[s : s + len(r)] = moved_of(x, y)
        moved.append((rows, mv))
    changed = np.zeros(len(v), bool)
    for _, rows in parts:
        changed[rows] = True
    _copy_unchanged(v, after, changed)
    rows = np.concatenate([r for r, _ in moved]) if moved else np.zeros(0, np.int64)
    mv = np.concatenate([m for _, m in moved]) if moved else np.zeros(0, np.float32)
    order = np.argsort(rows, kind="stable")
    return after, Delta(rows[order].astype(np.int64), mv[order])


def _copy_unchanged(src, dst, changed) -> None:
    """dst[i] = src[i] for every row not in ``changed``, in contiguous runs (no (n, d) temporaries)."""
    keep = np.flatnonzero(~changed)
    if len(keep) == 0:
        return
    breaks = np.flatnonzero(np.diff(keep) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks + 1, [len(keep)]])
    if len(starts) > 4096:  # scattered rows: gather in blocks instead of one slice per run
        for s in range(0, len(keep), BLOCK):
            r = keep[s : s + BLOCK]
            dst[r] = src[r]
        return
    for a, b in zip(starts, ends):
        lo, hi = int(keep[a]), int(keep[b - 1]) + 1
        dst[lo:hi] = src[lo:hi]


def after_state(prev, mode, weights, adapters, identity, where="anchor round", device="cpu") -> np.ndarray:
    """The vectors of state ``prev`` (an EmbeddingSet) after a fast- or anchor-mode round (``apply_round``)."""
    return apply_round(prev.vectors, prev.modality, mode, weights, adapters, identity, device, where)[0]


# ------------------------------------------------------------------------------------------ readings
MAX_READ_PAIRS = 50_000_000  # query rows x concepts a round reads by default (COCO-500: 250,000)
_READ_BLOCK = 16_384
_cache: dict = {}  # id(base array) -> (weakref to it, concepts key, readings of every row, -1 where unread)


def _base(arr):
    while isinstance(arr, np.ndarray) and arr.base is not None and isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def reading_concepts(es, concepts=None):
    """(query rows, concept rows) a round's readings use, or None when there are none to read.

    The class prompts ``concepts`` (rows) when given; else every text row, read by every other row, while that
    costs at most ``MAX_READ_PAIRS`` row-concept pairs (a zero-shot classifier's prompts, COCO-500's captions). A
    larger set reads only the class prompts it is given (``guard=dict(concepts=rows)``; ``Chorus`` passes its own),
    so a round on a million rows never reads every row against every text row."""
    if "text" not in es.modalities or len(es.modalities) < 2:
        if concepts is None:
            return None
    text = es.mask("text") if "text" in es.modalities else np.zeros(es.n, bool)
    if concepts is None:
        c = np.flatnonzero(text)
        q = np.flatnonzero(~text)
        if len(c) == 0 or len(q) * len(c) > MAX_READ_PAIRS:
            return None
        return q, c
    c = np.unique(np.asarray(concepts, np.int64))
    qmask = ~text if text.any() else np.ones(es.n, bool)
    qmask[c] = False
    return np.flatnonzero(qmask), c


def read_rows(vectors, rows, concepts, concept_vectors=None) -> np.ndarray:
    """Index into ``concepts`` of the best-matching concept of each of ``rows`` (blockwise matmul, int32). Rows
    that fill most of their range are read in contiguous blocks of it (no gathered copies of the rows)."""
    cv = vectors[concepts] if concept_vectors is None else concept_vectors
    ct = np.ascontiguousarray(cv.T)
    rows = np.asarray(rows, np.int64)
    out = np.empty(len(rows), np.int32)
    if len(rows) == 0:
        return out
    lo, hi = int(rows.min()), int(rows.max()) + 1
    if len(rows) * 2 >= hi - lo and np.all(np.diff(rows) > 0):  # sorted and dense: read the range, keep the rows
        for s in range(lo, hi, _READ_BLOCK):
            e = min(hi, s + _READ_BLOCK)
            a, b = np.searchsorted(rows, [s, e])
            if b > a:
                best = np.argmax(vectors[s:e] @ ct, axis=1)
                out[a:b] = best[rows[a:b] - s]
        return out
    for s in range(0, len(rows), _READ_BLOCK):
        blk = vectors[rows[s : s + _READ_BLOCK]]
        out[s : s + len(blk)] = np.argmax(blk @ ct, axis=1)
    return out


def readings(vectors, queries, concepts) -> np.ndarray:
    """Readings of ``queries`` among ``concepts`` on the state ``vectors`` (int32 indices into ``concepts``). They
    are kept with the state's array, so the next call, and the next round, read only the rows not read yet."""
    full = _known(vectors, concepts)
    queries = np.asarray(queries, np.int64)
    got = full[queries]
    todo = np.flatnonzero(got < 0)
    if len(todo):
        got[todo] = read_rows(vectors, queries[todo], concepts)
        full[queries[todo]] = got[todo]
    return got


def forget_readings(vectors) -> None:
    """Drop the readings kept with ``vectors``' array: call before writing into it (the guard's state at alpha)."""
    _cache.pop(id(_base(vectors)), None)


def _known(vectors, concepts) -> np.ndarray:
    """The readings of every row of ``vectors`` among ``concepts`` known so far (-1: not read yet), kept with the
    array (dropped with it)."""
    import weakref

    key = np.asarray(concepts, np.int64).tobytes()
    base = _base(vectors)
    hit = _cache.get(id(base))
    if hit is not None and hit[0]() is base and hit[1] == key:
        return hit[2]
    full = np.full(len(vectors), -1, np.int32)
    try:
        ref = weakref.ref(base)
    except TypeError:
        return full
    if id(base) not in _cache:
        weakref.finalize(base, _cache.pop, id(base), None)
    _cache[id(base)] = (ref, key, full)
    return full


def readings_after(before, after, queries, concepts, delta: Delta, p0) -> np.ndarray:
    """Readings of ``queries`` on ``after`` from those on ``before`` (``p0``): only the rows the round changed are
    read again, unless it changed a concept (then every query row is, against the class prompts only). Kept with
    ``after`` like :func:`readings`."""
    concepts = np.asarray(concepts, np.int64)
    queries = np.asarray(queries, np.int64)
    changed = np.zeros(len(after), bool)
    changed[delta.rows] = True
    full = _known(after, concepts)
    if changed[concepts].any():
        return readings(after, queries, concepts)
    known = full[queries]
    p1 = np.where(known >= 0, known, p0).astype(np.int32)
    redo = np.flatnonzero(changed[queries] & (known < 0))
    if len(redo):
        p1[redo] = read_rows(after, queries[redo], concepts, before[concepts])
    full[queries] = p1
    return p1
