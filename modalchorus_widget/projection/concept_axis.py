"""Concept axis (docs/methods.md section 3): place every point by how much it leans toward concept a over b.

x(e) = cos(e, a) - cos(e, b), with a and b each a single embedding or the normalised mean of a set of
embeddings. The y coordinate is either a second concept pair (same formula), the similarity to a third
concept, or any given per-point value (for instance the MFM y), so images and texts share one plot.
Pure numpy; the widget's concept-axis view draws what this returns.
"""

from __future__ import annotations

import numpy as np

from ..data.validation import check_vectors
from ..errors import ProjectionError

__all__ = ["ProjectionError", "concept_vector", "axis_coordinate", "concept_axis"]


def _vectors(vectors) -> np.ndarray:
    return check_vectors(vectors, "concept_axis", allow_zero=True)  # EmbeddingSet or array


def concept_vector(concept, dim: int, where: str = "concept") -> np.ndarray:
    """Unit vector of a concept: one (d,) embedding, or the normalised mean of a (k, d) set of them."""
    c = np.asarray(getattr(concept, "vectors", concept))
    if c.size:  # NaN, inf and non-numbers get the package's one message; an empty set is said below
        check_vectors(c, where, allow_zero=True, allow_1d=True)
    c = c.astype(np.float64)
    if c.ndim == 2:
        if c.shape[0] == 0:
            raise ProjectionError(f"{where}: the set of embeddings is empty; give at least one vector")
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        c = c.mean(axis=0)
    if c.ndim != 1:
        raise ProjectionError(f"{where}: expected a (d,) vector or a (k, d) set, got shape {c.shape}")
    if c.shape[0] != dim:
        raise ProjectionError(
            f"{where}: has dimension {c.shape[0]} but the points have {dim}; "
            "embed the concept with the same model as the points"
        )
    norm = np.linalg.norm(c)
    if not np.isfinite(norm) or norm < 1e-8:
        raise ProjectionError(f"{where}: is (close to) the zero vector; its members cancel out or it is empty")
    return (c / norm).astype(np.float32)


def _cos(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1)
    return (v @ c) / np.maximum(norms, 1e-12)


def axis_coordinate(vectors, a, b) -> np.ndarray:
    """x = cos(e, a) - cos(e, b) for every row e of ``vectors``; float32 (n,)."""
    v = _vectors(vectors)
    ca = concept_vector(a, v.shape[1], "a")
    cb = concept_vector(b, v.shape[1], "b")
    if np.allclose(ca, cb, atol=1e-6):
        raise ProjectionError("a and b are the same concept; the axis a - b would be zero everywhere")
    return (_cos(v, ca) - _cos(v, cb)).astype(np.float32)


def concept_axis(vectors, a, b, y=None) -> np.ndarray:
    """Positions along the concept axis from ``a`` to ``b`` (docs/methods.md section 3).

    Each point e is placed at x = cos(e, a) - cos(e, b).

    Parameters
    ----------
    vectors : ndarray of shape (n, d) or EmbeddingSet
        The points to place.
    a, b : ndarray of shape (d,) or (k, d)
        The two concepts: a vector, or a set of vectors (their normalised mean).
    y : None, tuple of two concepts, concept, or ndarray of shape (n,), default=None
        The vertical coordinate: None gives 0 for every point (a one-dimensional strip); a pair ``(c, d)``
        gives y = cos(e, c) - cos(e, d), a second axis; one concept gives y = cos(e, c); a length-n array of
        numbers (e.g. the map's y) is used as it is.

    Returns
    -------
    ndarray of shape (n, 2), float32
        x and y of every point.

    Examples
    --------
    >>> from modalchorus_widget import concept_axis, load_coco500
    >>> es = load_coco500().embeddings
    >>> text = es.vectors[es.modality == "text"]
    >>> xy = concept_axis(es.vectors, text[0], text[1])
    >>> xy.shape
    (1000, 2)
    """
    v = _vectors(vectors)
    n, d = v.shape
    x = axis_coordinate(v, a, b)
    if y is None:
        yy = np.zeros(n, np.float32)
    elif isinstance(y, tuple) and len(y) == 2:
        yy = axis_coordinate(v, y[0], y[1])
    else:
        arr = np.asarray(getattr(y, "vectors", y), dtype=np.float32)
        if arr.ndim == 1 and arr.shape[0] == n and n != d:
            yy = arr
        elif arr.ndim == 1 and arr.shape[0] == d or arr.ndim == 2 and arr.shape[1] == d:
            yy = _cos(v, concept_vector(arr, d, "y")).astype(np.float32)
        elif arr.ndim == 1 and arr.shape[0] == n:
            yy = arr
        else:
            raise ProjectionError(
                f"y: expected None, a pair of concepts, one concept of dimension {d}, "
                f"or {n} per-point values; got shape {arr.shape}"
            )
        if not np.isfinite(yy).all():
            raise ProjectionError("y: per-point values must be finite")
    return np.stack([x, yy], axis=1).astype(np.float32)
