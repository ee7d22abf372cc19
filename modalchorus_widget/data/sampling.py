"""Sampling rows of an embedding set: a deterministic sample stratified by modality.

Used by the widget (which draws a sample when a set has more points than its budget) and by ``scale``
(which samples shard rows the same way), so both show the same rows for the same input and seed.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["stratified_sample"]


def stratified_sample(modality, max_points: int, keep=None, random_state: int = 0) -> np.ndarray:
    """A deterministic sample of ``max_points`` rows with each modality's share of the full data.

    Quotas per modality code are proportional to its count (largest remainders, so they add up to
    ``max_points``; a modality present keeps at least one row). Within a modality, rows in ``keep``
    (e.g. the current selection) come first, then rows in the order of one seeded random key per row,
    so the same input and ``random_state`` always give the same sample.

    Parameters
    ----------
    modality : array of int, shape (n,)
        One code per row (e.g. 0 image, 1 text); the strata.
    max_points : int
        How many rows to keep (at least 1).
    keep : array of int, optional
        Rows to keep first within their modality (out-of-range rows are ignored).
    random_state : int
        Seed of the per-row random key.

    Returns
    -------
    rows : ndarray of int64
        Sorted unique row numbers, ``min(n, max_points)`` of them.

    Raises
    ------
    InputError
        When ``max_points`` is not a positive number.

    Examples
    --------
    >>> stratified_sample(np.array([0] * 90 + [1] * 10), 10).size
    10
    """
    codes = np.asarray(modality).reshape(-1)
    n = int(codes.size)
    max_points = int(max_points)
    if max_points < 1:
        raise InputError(f"stratified_sample: max_points must be a positive number of points, got {max_points}")
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    counts = np.bincount(codes.astype(np.int64))
    present = np.flatnonzero(counts)
    share = counts[present] / n * max_points
    quota = np.floor(share).astype(np.int64)
    quota = np.maximum(quota, 1) if len(present) <= max_points else quota
    short = max_points - int(quota.sum())
    if short > 0:
        quota[np.argsort(-(share - np.floor(share)), kind="stable")[:short]] += 1
    while quota.sum() > max_points:  # the at-least-one rule overshot: take back from the largest
        quota[int(np.argmax(quota))] -= 1
    key = np.random.default_rng(random_state).random(n, dtype=np.float32)
    if keep is not None:
        k = np.asarray(keep, dtype=np.int64).reshape(-1)
        key[k[(k >= 0) & (k < n)]] -= 1.0  # kept rows sort before every other row of their modality
    order = np.argsort(codes, kind="stable")  # rows grouped by modality, ascending within each
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for code, q in zip(present, quota):
        rows = order[starts[code] : starts[code + 1]]
        if q >= rows.size:
            parts.append(rows)
        elif q > 0:
            parts.append(rows[np.argpartition(key[rows], q - 1)[:q]])
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)
