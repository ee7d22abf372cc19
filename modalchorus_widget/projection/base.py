"""The one projector interface of the package, its input checks, and the factory every caller uses.

A projector is a scikit-learn estimator (parameters in ``__init__``, learned state in ``*_`` attributes):

- ``fit_transform(X, modality=None, callback=None) -> (n, 2)`` float32, rows in the order given; ``X`` is
  an ``EmbeddingSet`` (its modalities are used) or an (n, d) array with one ``modality`` name per row;
  ``callback(fraction_done)`` is called as the fit progresses (at least once, with 1.0, at the end);
- ``fit(X, modality=None, callback=None) -> self``;
- ``transform(vectors, modality=None) -> (m, 2)`` for new or re-aligned vectors, where ``supports_transform`` is
  True (``modality``, one name or one per row, is checked against the fitted modalities).

All projectors work on L2-normalised rows (cosine geometry). ``make_projector(name)`` builds one by its
menu name (``registry.PROJECTORS``); the widget, the session file and the benchmarks all go through it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..data.validation import Check, check_modality, check_params, check_vectors
from ..errors import NotFittedError, ProjectionError

__all__ = ["Projector", "EstimatorProjector", "check_embeddings"]

_BLOCK = 65_536  # rows per block of a large transform: each block is checked, normalised and placed in turn


def check_embeddings(X, modality=None, min_modalities: int = 1, where: str = "Projector.fit"):
    """(unit vectors, modality name per row) from an EmbeddingSet or an array plus ``modality``.

    Parameters
    ----------
    X : EmbeddingSet or array-like (n, d)
        The rows to project (an EmbeddingSet's modalities are used when ``modality`` is None).
    modality : str or sequence of str, optional
        One name for every row, or one per row.
    min_modalities : int, default 1
        How many modalities the projector needs.
    where : str
        The call, named in every message.

    Returns
    -------
    tuple of numpy.ndarray
        float32 unit rows (n, d) and an object array of n names.

    Raises
    ------
    EmbeddingError
        Bad vectors or modality names (``data.validation``).
    ProjectionError
        Fewer modalities than the projector fuses.
    """
    if modality is None and hasattr(X, "modality") and hasattr(X, "vectors"):
        modality = X.modality
    Z = check_vectors(X, where, normalize="always")
    if modality is None:
        if min_modalities > 1:
            raise ProjectionError(
                f"{where}: this projector fuses modalities: pass an EmbeddingSet, or X with "
                "modality=<one name per row> (e.g. EmbeddingSet.from_pairs(images, texts))."
            )
        modality = "image"
    modality = check_modality(modality, len(Z), where, known=None)
    names = list(dict.fromkeys(modality.tolist()))
    if len(names) < min_modalities:
        raise ProjectionError(
            f"{where}: this projector fuses {min_modalities} or more modalities; got only {names}. "
            "Use PCA, t-SNE or UMAP for a single modality."
        )
    return Z, modality


class Projector(BaseEstimator):
    """Base of every projector: a scikit-learn estimator from embeddings to 2-D positions.

    Subclasses implement ``_fit(Z, modality) -> (n, 2)`` and, when they can place new points,
    ``_transform(V) -> (m, 2)`` (``supports_transform = True``); their parameters are their ``__init__``'s,
    stored as given (``get_params`` / ``set_params``).

    Examples
    --------
    >>> from modalchorus_widget import Projector, load_coco500, make_projector
    >>> es = load_coco500().embeddings
    >>> p = make_projector("PCA")
    >>> isinstance(p, Projector), p.fit_transform(es.vectors, es.modality).shape
    (True, (1000, 2))
    """

    name = "?"
    supports_transform = False
    min_modalities = 1
    persistable = False  # True where the fitted map can be written to a file (``to_bytes`` / ``from_bytes``)
    _parameter_constraints: dict = {}  # parameter name -> allowed kinds (``data.validation.check_params``)

    def fit_transform(self, X, modality=None, callback=None) -> np.ndarray:
        """Fit on ``X`` and return its (n, 2) float32 positions, rows in the order given.

        Parameters
        ----------
        X : EmbeddingSet or array-like (n, d)
            The rows to project.
        modality : str or sequence of str, optional
            One name for every row, or one per row (an EmbeddingSet's own by default).
        callback : callable, optional
            ``callback(fraction_done)`` as the fit progresses (at least once, with 1.0, at the end).

        Returns
        -------
        numpy.ndarray
            (n, 2) float32.

        Raises
        ------
        EmbeddingError
            Bad vectors or modality names.
        ProjectionError
            Fewer modalities than the projector fuses.
        """
        check_params(self, self.name)
        Z, mod = check_embeddings(X, modality, self.min_modalities, f"{self.name}.fit")
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
        """Fit on ``X`` (see :meth:`fit_transform`); returns self."""
        self.fit_transform(X, modality, callback)
        return self

    def transform(self, vectors, modality=None) -> np.ndarray:
        """Place new or re-aligned vectors on the fitted map.

        Parameters
        ----------
        vectors : EmbeddingSet or array-like (m, d)
            Vectors of the fitted dimension (rows L2-normalised first).
        modality : str or sequence of str, optional
            One name for every row, or one per row; checked against the modalities the map was fitted on.

        Returns
        -------
        numpy.ndarray
            (m, 2) float32.

        Raises
        ------
        ProjectionError
            The method cannot place new points.
        EmbeddingError
            Bad vectors, another dimension, or a modality the map was not fitted on.
        NotFittedError
            Before ``fit``.
        """
        if not self.supports_transform:
            raise ProjectionError(f"{self.name} cannot place new points; refit it, or use MFM, PCA, t-SNE or UMAP.")
        self.check_fitted()
        where = f"{self.name}.transform"
        raw = vectors.vectors if hasattr(vectors, "modality") and hasattr(vectors, "vectors") else vectors
        if isinstance(raw, np.ndarray) and raw.ndim == 2 and len(raw) > _BLOCK:  # blockwise: no (n, d) copy
            self._check_transform_modality(vectors, modality, len(raw), where)
            out = np.empty((len(raw), 2), np.float32)
            for s in range(0, len(raw), _BLOCK):
                part = check_vectors(
                    raw[s : s + _BLOCK], where, dim=self.n_features_in_, normalize="always", row_offset=s
                )
                out[s : s + len(part)] = self._transform(part)
            return out
        V = check_vectors(vectors, where, dim=self.n_features_in_, normalize="always")
        self._check_transform_modality(vectors, modality, len(V), where)
        return np.asarray(self._transform(V), dtype=np.float32)

    def _check_transform_modality(self, vectors, modality, n, where):
        if modality is None and hasattr(vectors, "modality") and hasattr(vectors, "vectors"):
            modality = vectors.modality
        if modality is not None:
            check_modality(modality, n, where, known=getattr(self, "modalities_", None))

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
    _parameter_constraints = {
        "estimator": [Check(lambda e: hasattr(e, "fit_transform"), "an estimator with fit_transform(X), e.g. PCA(2)")]
    }

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
