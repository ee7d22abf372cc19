"""The one projector interface of the package, its input checks, and the factory every caller uses.

A projector is a scikit-learn estimator (parameters in ``__init__``, learned state in ``*_`` attributes):

- ``fit_transform(X, modality=None, callback=None) -> (n, 2)`` float32, rows in the order given; ``X`` is
  an ``EmbeddingSet`` (its modalities are used) or an (n, d) array with one ``modality`` name per row;
  ``callback(fraction_done)`` is called as the fit progresses (at least once, with 1.0, at the end);
- ``fit(X, modality=None, callback=None) -> self``;
- ``transform(vectors) -> (m, 2)`` for new or re-aligned vectors, where ``supports_transform`` is True.

All projectors work on L2-normalised rows (cosine geometry). ``make_projector(name)`` builds one by its
menu name (``registry.PROJECTORS``); the widget, the session file and the benchmarks all go through it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import NotFittedError, ProjectionError

__all__ = ["Projector", "EstimatorProjector", "check_vectors", "check_embeddings"]


def check_vectors(x, name: str = "vectors") -> np.ndarray:
    """Unit-length float32 rows of a non-empty 2-D array (an EmbeddingSet's vectors are taken as is)."""
    if hasattr(x, "vectors") and not isinstance(x, np.ndarray):
        x = x.vectors
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ProjectionError(f"{name} must be a non-empty 2-D array (n, dim); got shape {x.shape}.")
    if not np.issubdtype(x.dtype, np.number):
        raise ProjectionError(f"{name} must be numeric; got dtype {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    finite = np.isfinite(x).all(1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ProjectionError(f"{name} contains NaN or inf (first at row {bad}); drop or fix those rows first.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        bad = int(np.flatnonzero(norms[:, 0] == 0)[0])
        raise ProjectionError(f"{name} row {bad} is all zero; cosine geometry needs non-zero vectors.")
    return x / norms


def check_embeddings(X, modality=None, min_modalities: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, modality names per row) from an EmbeddingSet or an array plus ``modality``."""
    if modality is None and hasattr(X, "modality") and hasattr(X, "vectors"):
        modality = X.modality
    Z = check_vectors(X, "X")
    if modality is None:
        if min_modalities > 1:
            raise ProjectionError(
                "this projector fuses modalities: pass an EmbeddingSet, or X with "
                "modality=<one name per row> (e.g. EmbeddingSet.from_pairs(images, texts))."
            )
        modality = np.full(len(Z), "image", dtype=object)
    modality = np.asarray(modality, dtype=object)
    if modality.shape != (len(Z),):
        raise ProjectionError(f"modality must give one name per row of X ({len(Z)} rows); got shape {modality.shape}.")
    names = list(dict.fromkeys(modality.tolist()))
    if len(names) < min_modalities:
        raise ProjectionError(
            f"this projector fuses {min_modalities} or more modalities; got only {names}. "
            "Use PCA, t-SNE or UMAP for a single modality."
        )
    return Z, modality


class Projector(BaseEstimator):
    """Base of every projector: subclasses implement ``_fit(Z, modality) -> (n, 2)`` and, when they can
    place new points, ``_transform(V) -> (m, 2)`` (``supports_transform = True``)."""

    name = "?"
    supports_transform = False
    min_modalities = 1
    persistable = False  # True where the fitted map can be written to a file (``to_bytes`` / ``from_bytes``)

    def fit_transform(self, X, modality=None, callback=None) -> np.ndarray:
        Z, mod = check_embeddings(X, modality, self.min_modalities)
        xy = np.asarray(self._fit(Z, mod), dtype=np.float32)
        if callback is not None:
            callback(1.0)
        if xy.shape != (len(Z), 2):
            raise ProjectionError(f"{self.name} returned shape {xy.shape}, expected ({len(Z)}, 2).")
        self.n_features_in_ = Z.shape[1]
        self.modalities_ = tuple(dict.fromkeys(mod.tolist()))
        self.embedding_ = xy
        return xy.copy()

    def fit(self, X, modality=None, callback=None):
        self.fit_transform(X, modality, callback)
        return self

    def transform(self, vectors) -> np.ndarray:
        if not self.supports_transform:
            raise ProjectionError(f"{self.name} cannot place new points; refit it, or use MFM, PCA, t-SNE or UMAP.")
        self.check_fitted()
        V = check_vectors(vectors)
        if V.shape[1] != self.n_features_in_:
            raise ProjectionError(
                f"vectors have dimension {V.shape[1]}, but {self.name} was fitted on "
                f"{self.n_features_in_}-d vectors; use vectors from the same embedding model."
            )
        return np.asarray(self._transform(V), dtype=np.float32)

    def is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def check_fitted(self):
        if not self.is_fitted():
            raise NotFittedError(f"this {self.name} is not fitted yet; call fit(embeddings) first.")

    def _fit(self, Z, modality):
        raise NotImplementedError

    def _transform(self, V):
        raise NotImplementedError


class EstimatorProjector(Projector):
    """Any scikit-learn style 2-D transformer (``fit_transform(X)``, optionally ``transform``) as a Projector.

    ``EstimatorProjector(sklearn.decomposition.PCA(2))``: it sees all rows, modality ignored.
    """

    name = "estimator"

    def __init__(self, estimator=None):
        self.estimator = estimator

    @property
    def supports_transform(self):
        return hasattr(self.estimator, "transform")

    def _fit(self, Z, modality):
        if self.estimator is None or not hasattr(self.estimator, "fit_transform"):
            raise ProjectionError("EstimatorProjector needs an estimator with fit_transform(X), e.g. PCA(2).")
        return self.estimator.fit_transform(Z)

    def _transform(self, V):
        return self.estimator.transform(V)
