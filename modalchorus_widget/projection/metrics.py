"""Quality metrics for 2-D projections of multi-modal embeddings (docs/methods.md section 2).

- ``trustworthiness`` / ``continuity``: the standard Venna & Kaski figures over all points
  (scikit-learn's ``trustworthiness``, cosine distance in high-D).
- ``intermodal_trustworthiness`` / ``intermodal_continuity``: the same idea restricted to
  cross-modal neighbourhoods: for every query of modality A, its k nearest points *of modality B*
  in 2-D (U) and in high-D (V); ranks r are 1-based among all m points of B,

      T_x = 1 - 2 / (n k (2m - 3k - 1)) * sum_i sum_{j in U_i minus V_i} (r_high(i, j) - k)

  and C_x with the roles of 2-D and high-D swapped. Reported as the mean over both directions
  (A=images/B=texts and A=texts/B=images), and over every ordered pair when more than two
  modalities are present.
- ``modality_gap``: distance between modality centroids, raw or relative to the spread of the data.

All functions take ``high`` (n, d), ``low`` (n, 2) and ``modality`` (n,) per-row names; queries are
processed in mini-batches so memory stays O(batch * m), never O(n^2) for large n.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from ..data.validation import check_vectors
from ..errors import ProjectionError

__all__ = [
    "trustworthiness",
    "continuity",
    "intermodal_trustworthiness",
    "intermodal_continuity",
    "intramodal_scores",
    "intramodal_trustworthiness",
    "intramodal_continuity",
    "intermodal_scores",
    "modality_gap",
    "modality_labels",
    "evaluate",
]

_BATCH = 512


def modality_labels(n_images: int, n_texts: int) -> np.ndarray:
    """Per-row modality names for the "images first, then texts" layout used everywhere."""
    return np.array(["image"] * int(n_images) + ["text"] * int(n_texts), dtype=object)


def _as_2d(a, name: str) -> np.ndarray:
    """float64 (n, d) rows of ``a`` (EmbeddingSet, tensor or array), checked by the package's one validator."""
    if hasattr(a, "vectors") and not isinstance(a, np.ndarray):  # an EmbeddingSet
        a = a.vectors
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().numpy()
    check_vectors(a, f"quality metric ({name})", allow_zero=True)
    return np.asarray(a).astype(np.float64, copy=False)


def _check(high, low, modality=None, k: int | None = None):
    high = _as_2d(high, "high")
    low = _as_2d(low, "low")
    if high.shape[0] != low.shape[0]:
        raise ProjectionError(
            f"high has {high.shape[0]} rows but low has {low.shape[0]}; pass the projection of exactly these points."
        )
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ProjectionError(f"k must be a positive integer; got {k!r}.")
    if modality is None:
        return high, low, None
    modality = np.asarray(modality, dtype=object)
    if modality.shape != (high.shape[0],):
        raise ProjectionError(
            f"modality must give one name per row ({high.shape[0]}); got shape {modality.shape}. "
            "Use modality_labels(n_images, n_texts) for the images-then-texts layout."
        )
    return high, low, modality


def _unit(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if (norms == 0).any():
        check_vectors(a, "quality metric (high)")  # names the zero rows
    return a / norms


def _ranks(d: np.ndarray) -> np.ndarray:
    """1-based rank of every column within its row (ties broken by column order)."""
    order = np.argsort(d, axis=1, kind="stable")
    r = np.empty_like(order)
    rows = np.arange(d.shape[0])[:, None]
    r[rows, order] = np.arange(1, d.shape[1] + 1)[None, :]
    return r


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _cross_sums(hq, hc, lq, lc, k: int, same: bool = False) -> tuple[float, float]:
    """Unnormalised T_x and C_x penalty sums for queries (hq, lq) over candidates (hc, lc).

    ``same``: queries and candidates are the same points; each query's own row is ranked last in both
    spaces, so it never counts as a neighbour (standard T / C within one set)."""
    t_sum = 0.0
    c_sum = 0.0
    for s in range(0, hq.shape[0], _BATCH):
        dh = 1.0 - hq[s : s + _BATCH] @ hc.T
        dl = _sqdist(lq[s : s + _BATCH], lc)
        if same:
            rows = np.arange(dh.shape[0])
            dh[rows, s + rows] = np.inf
            dl[rows, s + rows] = np.inf
        rh = _ranks(dh)
        rl = _ranks(dl)
        in_v = rh <= k
        in_u = rl <= k
        t_sum += float((rh - k)[in_u & ~in_v].sum())
        c_sum += float((rl - k)[in_v & ~in_u].sum())
    return t_sum, c_sum


def intermodal_scores(high, low, modality, k: int = 10, per_direction: bool = False):
    """Inter-modal trustworthiness and continuity at ``k`` as ``(T_x, C_x)``.

    Averaged over every ordered pair (A, B) of distinct modalities present. With
    ``per_direction=True`` also returns a dict {(A, B): (T_x, C_x)}.
    """
    high, low, modality = _check(high, low, modality, k)
    names = list(dict.fromkeys(modality.tolist()))
    if len(names) < 2:
        raise ProjectionError(f"inter-modal metrics need at least two modalities; got only {names}.")
    high = _unit(high)
    per = {}
    for a, b in permutations(names, 2):
        qa = modality == a
        cb = modality == b
        n, m = int(qa.sum()), int(cb.sum())
        if k >= m or 2 * m - 3 * k - 1 <= 0:
            raise ProjectionError(
                f"k={k} is too large for {m} {b!r} points (need k < m and 2m - 3k - 1 > 0, i.e. k <= {(2 * m - 2) // 3}); "
                "use a smaller k or more points."
            )
        t_sum, c_sum = _cross_sums(high[qa], high[cb], low[qa], low[cb], k)
        norm = 2.0 / (n * k * (2.0 * m - 3.0 * k - 1.0))
        per[(a, b)] = (1.0 - norm * t_sum, 1.0 - norm * c_sum)
    tx = float(np.mean([v[0] for v in per.values()]))
    cx = float(np.mean([v[1] for v in per.values()]))
    return (tx, cx, per) if per_direction else (tx, cx)


def intermodal_trustworthiness(high, low, modality, k: int = 10) -> float:
    """T_x(k) of docs/methods.md, mean over both directions: are 2-D cross-modal neighbours true ones?"""
    return intermodal_scores(high, low, modality, k)[0]


def intermodal_continuity(high, low, modality, k: int = 10) -> float:
    """C_x(k) of docs/methods.md, mean over both directions: are true cross-modal neighbours kept in 2-D?"""
    return intermodal_scores(high, low, modality, k)[1]


def intramodal_scores(high, low, modality, k: int = 10) -> dict:
    """Intra-modal trustworthiness and continuity (docs/methods.md 2): standard T and C within each modality on
    its own (cosine in high-D, Euclidean in 2-D). Returns {modality: (T_i, C_i)}; mini-batched, O(batch * m)."""
    high, low, modality = _check(high, low, modality, k)
    high = _unit(high)
    out = {}
    for a in dict.fromkeys(modality.tolist()):
        rows = modality == a
        m = int(rows.sum())
        if k >= m / 2:
            raise ProjectionError(f"k={k} must be smaller than half the {m} {a!r} points; use a smaller k.")
        t_sum, c_sum = _cross_sums(high[rows], high[rows], low[rows], low[rows], k, same=True)
        norm = 2.0 / (m * k * (2.0 * m - 3.0 * k - 1.0))
        out[str(a)] = (1.0 - norm * t_sum, 1.0 - norm * c_sum)
    return out


def intramodal_trustworthiness(high, low, modality, k: int = 10) -> dict:
    """T_i(k) of every modality: are 2-D neighbours among the same modality true ones?"""
    return {m: v[0] for m, v in intramodal_scores(high, low, modality, k).items()}


def intramodal_continuity(high, low, modality, k: int = 10) -> dict:
    """C_i(k) of every modality: are true neighbours among the same modality kept in 2-D?"""
    return {m: v[1] for m, v in intramodal_scores(high, low, modality, k).items()}


def _check_k_all(n: int, k: int):
    if k >= n / 2:
        raise ProjectionError(f"k={k} must be smaller than half the number of points ({n}); use a smaller k.")


def trustworthiness(high, low, k: int = 10) -> float:
    """Standard trustworthiness over all points (scikit-learn, cosine distance in high-D)."""
    from sklearn.manifold import trustworthiness as _tw

    high, low, _ = _check(high, low, None, k)
    _check_k_all(high.shape[0], k)
    return float(_tw(_unit(high), low, n_neighbors=k, metric="cosine"))


def continuity(high, low, k: int = 10) -> float:
    """Standard continuity: trustworthiness with the roles of 2-D and high-D swapped.

    High-D rows are L2-normalised so their Euclidean neighbour order equals the cosine order.
    """
    from sklearn.manifold import trustworthiness as _tw

    high, low, _ = _check(high, low, None, k)
    _check_k_all(high.shape[0], k)
    return float(_tw(low, _unit(high), n_neighbors=k, metric="euclidean"))


def modality_gap(points, modality, relative: bool = False) -> float:
    """Distance between modality centroids (mean over pairs when more than two modalities).

    ``relative=True`` divides by the RMS distance of all points to their overall centroid, a
    scale-free figure that compares a 2-D map with its high-D source.
    """
    points = _as_2d(points, "points")
    modality = np.asarray(modality, dtype=object)
    if modality.shape != (points.shape[0],):
        raise ProjectionError(f"modality must give one name per row ({points.shape[0]}); got shape {modality.shape}.")
    names = list(dict.fromkeys(modality.tolist()))
    if len(names) < 2:
        raise ProjectionError(f"modality gap needs at least two modalities; got only {names}.")
    cents = [points[modality == n].mean(0) for n in names]
    gaps = [np.linalg.norm(cents[i] - cents[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    gap = float(np.mean(gaps))
    if relative:
        spread = float(np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean()))
        gap = gap / spread if spread > 0 else 0.0
    return gap


def evaluate(high, low, modality, ks=(5, 10, 20), standard_k: int = 10) -> dict:
    """All figures of the projection benchmark for one projection (docs/methods.md section 2).

    Parameters
    ----------
    high : ndarray of shape (n, d)
        The embeddings.
    low : ndarray of shape (n, 2)
        Their 2-D positions.
    modality : array-like of shape (n,)
        The modality of every row (e.g. "image", "text").
    ks : tuple of int, default=(5, 10, 20)
        Neighbourhood sizes of the inter-modal figures.
    standard_k : int, default=10
        Neighbourhood size of the intra-modal and standard figures.

    Returns
    -------
    dict
        "Tx@k", "Cx@k" for every k in ``ks``; "Ti@{standard_k}" / "Ci@{standard_k}" (intra-modal, minimum
        over modalities) and "Ti_<modality>@{standard_k}" / "Ci_<modality>@{standard_k}"; "T@{standard_k}",
        "C@{standard_k}" (standard, over all points; information, not a target), "gap_high" (raw centroid
        distance), "gap_high_rel" and "gap_2d_rel" (relative to spread).

    Examples
    --------
    >>> from modalchorus_widget import evaluate, load_coco500, make_projector
    >>> es = load_coco500().embeddings
    >>> xy = make_projector("PCA").fit_transform(es.vectors, es.modality)
    >>> round(evaluate(es.vectors, xy, es.modality)["Tx@10"], 3)
    0.486
    """
    high, low, modality = _check(high, low, modality, standard_k)
    out = {}
    for k in ks:
        tx, cx = intermodal_scores(high, low, modality, k)
        out[f"Tx@{k}"] = tx
        out[f"Cx@{k}"] = cx
    intra = intramodal_scores(high, low, modality, standard_k)
    for m, (ti, ci) in intra.items():
        out[f"Ti_{m}@{standard_k}"] = ti
        out[f"Ci_{m}@{standard_k}"] = ci
    out[f"Ti@{standard_k}"] = min(v[0] for v in intra.values())
    out[f"Ci@{standard_k}"] = min(v[1] for v in intra.values())
    out[f"T@{standard_k}"] = trustworthiness(high, low, standard_k)
    out[f"C@{standard_k}"] = continuity(high, low, standard_k)
    hu = _unit(high)
    out["gap_high"] = modality_gap(hu, modality)
    out["gap_high_rel"] = modality_gap(hu, modality, relative=True)
    out["gap_2d_rel"] = modality_gap(low, modality, relative=True)
    return out
