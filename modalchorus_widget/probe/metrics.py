"""How well a ranked list of suspects finds known faults (METHODS section 6): recall@k and precision@k."""

from __future__ import annotations

import numpy as np


def jaccard(a, b) -> float:
    """|a & b| / |a | b| of two sets of row indices.

    Parameters
    ----------
    a, b : array-like of int
        Row indices (repeats count once).

    Returns
    -------
    float
        The Jaccard index in [0, 1]; 0.0 when both are empty.

    Examples
    --------
    >>> from modalchorus_widget.probe import jaccard
    >>> jaccard([0, 1, 2], [1, 2, 3])
    0.5
    """
    a, b = np.unique(np.asarray(a, np.int64)), np.unique(np.asarray(b, np.int64))
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def slice_scores(suspects, true_slices, bad_rows, k: int = 5, match: float = 0.5) -> dict:
    """``recall_at_k``: the share of ``true_slices`` (lists of row indices: each slice's misread rows) matched
    by a top-``k`` suspect at Jaccard >= ``match``; ``precision_at_k``: the share of the top ``k`` suspects
    (or of all of them, when fewer) whose rows are at least half in ``bad_rows`` (the truly misread or
    mispaired rows).

    Parameters
    ----------
    suspects : Suspects
        The ranked table (``rows`` column).
    true_slices : list of array-like
        Row indices of each true slice.
    bad_rows : array-like
        Every truly misread row.
    k, match : int, float
        The cut-off and the Jaccard that counts as a match.

    Returns
    -------
    dict
        ``recall_at_k``, ``precision_at_k``, ``matched`` (per true slice: the rank of its match or None,
        and the best Jaccard in the top k) and ``n_suspects``.

    Examples
    --------
    >>> slice_scores(sus, [[1, 2, 3]], [1, 2, 3])["recall_at_k"]  # doctest: +SKIP
    """
    top = list(suspects["rows"])[:k]
    bad = np.zeros(0, np.int64) if bad_rows is None else np.unique(np.asarray(bad_rows, np.int64))
    matched = []
    for t in true_slices:
        js = [jaccard(r, t) for r in top]
        best = int(np.argmax(js)) if js else None
        ok = best is not None and js[best] >= match
        matched.append({"size": int(len(t)), "rank": best if ok else None, "jaccard": round(max(js, default=0.0), 3)})
    good = [float(np.isin(np.asarray(r, np.int64), bad).mean()) >= 0.5 for r in top]
    return {
        "recall_at_k": float(np.mean([m["rank"] is not None for m in matched])) if matched else float("nan"),
        "precision_at_k": float(np.mean(good)) if good else 0.0,
        "matched": matched,
        "n_suspects": int(len(suspects)),
    }
