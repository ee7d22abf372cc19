"""Every 2-D projection the widget offers, behind one interface.

``make_projector(name, **params)`` for name in ``PROJECTORS`` ("MFM", "PCA", "t-SNE", "UMAP", "MDS",
"DCM") returns an object with

- ``fit_transform(images, texts) -> (n_images + n_texts, 2)`` float32, images first;
- ``transform(vectors)`` where the method can place new points (MFM, PCA, t-SNE, UMAP); the others
  raise ``NotImplementedError`` (``supports_transform`` says which).

All methods work on L2-normalised vectors (cosine geometry). DCM (Data Context Map) normalises the
image-image, text-text and image-text cosine-distance blocks separately (min-max) and runs metric MDS
on the fused matrix, so the modality gap does not dominate.
"""
from __future__ import annotations

import inspect

import numpy as np

__all__ = ["PROJECTORS", "make_projector", "Projector", "fused_distances"]


class ProjectorInputError(ValueError):
    """Bad input to a projector (shapes, NaN, mismatched dimensions)."""


def _matrix(x, name):
    if hasattr(x, "vectors") and not isinstance(x, np.ndarray):
        x = x.vectors
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ProjectorInputError(f"{name} must be a non-empty 2-D array (n, dim); got shape {x.shape}.")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise ProjectorInputError(f"{name} contains NaN or inf (first at row {bad}); drop or fix those rows first.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ProjectorInputError(f"{name} has an all-zero row; cosine geometry needs non-zero vectors.")
    return x / norms


def _pair(images, texts):
    A = _matrix(images, "images")
    B = _matrix(texts, "texts")
    if A.shape[1] != B.shape[1]:
        raise ProjectorInputError(f"images have dimension {A.shape[1]} but texts have {B.shape[1]}; use one model.")
    return A, B


def fused_distances(images, texts) -> np.ndarray:
    """DCM's fused matrix: cosine-distance blocks II, TT, IT each min-max normalised to [0, 1] (O(n^2))."""
    A, B = _pair(images, texts)
    X = np.concatenate([A, B]).astype(np.float64)
    D = np.clip(1.0 - X @ X.T, 0.0, 2.0)
    na = len(A)
    blocks = [(slice(0, na), slice(0, na), True), (slice(na, None), slice(na, None), True),
              (slice(0, na), slice(na, None), False)]
    for r, c, diag in blocks:
        blk = D[r, c]
        vals = blk[~np.eye(*blk.shape, dtype=bool)] if diag else blk
        lo, hi = vals.min(), vals.max()
        blk = (blk - lo) / (hi - lo) if hi > lo else np.zeros_like(blk)
        D[r, c] = blk
        if not diag:
            D[c, r] = blk.T
    np.fill_diagonal(D, 0.0)
    return D


class Projector:
    """Base class: subclasses implement ``_fit(A, B) -> (n, 2)`` and optionally ``_transform(V)``."""

    name = "?"
    supports_transform = False

    def fit_transform(self, images, texts) -> np.ndarray:
        A, B = _pair(images, texts)
        out = np.asarray(self._fit(A, B), dtype=np.float32)
        self.n_features_in_ = A.shape[1]
        self.embedding_ = out
        return out

    def fit(self, images, texts):
        self.fit_transform(images, texts)
        return self

    def transform(self, vectors) -> np.ndarray:
        if not self.supports_transform:
            raise NotImplementedError(f"{self.name} cannot place new points; refit with fit_transform or use MFM.")
        if not hasattr(self, "embedding_"):
            raise RuntimeError(f"{self.name} is not fitted yet; call fit_transform(images, texts) first.")
        V = _matrix(vectors, "vectors")
        if V.shape[1] != self.n_features_in_:
            raise ProjectorInputError(
                f"vectors have dimension {V.shape[1]}, but {self.name} was fitted on {self.n_features_in_}-d vectors."
            )
        return np.asarray(self._transform(V), dtype=np.float32)

    def get_params(self):
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class MFMProjector(Projector):
    name = "MFM"
    supports_transform = True

    def __init__(self, random_state=0, **params):
        self.random_state = random_state
        self.params = params

    def get_params(self):
        return {"random_state": self.random_state, **self.params}

    def _fit(self, A, B):
        from .mfm import MFM

        self.model_ = MFM(random_state=self.random_state, **self.params)
        return self.model_.fit_transform(A, B)

    def _transform(self, V):
        return self.model_.transform(V)


class PCAProjector(Projector):
    name = "PCA"
    supports_transform = True

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, A, B):
        from sklearn.decomposition import PCA

        self.model_ = PCA(2, random_state=self.random_state)
        return self.model_.fit_transform(np.concatenate([A, B]))

    def _transform(self, V):
        return self.model_.transform(V)


class TSNEProjector(Projector):
    """openTSNE with cosine distance and PCA initialisation (it can place new points)."""

    name = "t-SNE"
    supports_transform = True

    def __init__(self, perplexity=30.0, random_state=0, n_jobs=2):
        self.perplexity = perplexity
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, A, B):
        from openTSNE import TSNE

        X = np.concatenate([A, B]).astype(np.float64)
        perp = min(float(self.perplexity), (len(X) - 1) / 3.0)
        self.model_ = TSNE(perplexity=perp, metric="cosine", initialization="pca",
                           random_state=self.random_state, n_jobs=self.n_jobs).fit(X)
        return np.asarray(self.model_)

    def _transform(self, V):
        return np.asarray(self.model_.transform(V.astype(np.float64)))


class UMAPProjector(Projector):
    name = "UMAP"
    supports_transform = True

    def __init__(self, n_neighbors=15, min_dist=0.1, random_state=0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state

    def _fit(self, A, B):
        import warnings

        import umap

        X = np.concatenate([A, B])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = umap.UMAP(n_neighbors=min(self.n_neighbors, len(X) - 1), min_dist=self.min_dist,
                                    metric="cosine", random_state=self.random_state)
            return self.model_.fit_transform(X)

    def _transform(self, V):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model_.transform(V)


def _metric_mds(D, random_state, max_iter):
    from sklearn.manifold import MDS

    params = inspect.signature(MDS).parameters
    kw = dict(n_components=2, n_init=1, max_iter=max_iter, random_state=random_state)
    if "metric_mds" in params:  # scikit-learn >= 1.8
        kw.update(metric_mds=True, metric="precomputed", init="random")
    else:
        kw.update(metric=True, dissimilarity="precomputed")
    return MDS(**kw).fit_transform(D)


class MDSProjector(Projector):
    """Metric MDS (SMACOF) on cosine distances over all points; O(n^2) memory, for small sets."""

    name = "MDS"

    def __init__(self, random_state=0, max_iter=300):
        self.random_state = random_state
        self.max_iter = max_iter

    def _fit(self, A, B):
        X = np.concatenate([A, B]).astype(np.float64)
        D = np.clip(1.0 - X @ X.T, 0.0, 2.0)
        np.fill_diagonal(D, 0.0)
        return _metric_mds(D, self.random_state, self.max_iter)


class DCMProjector(Projector):
    """Data Context Map: metric MDS on block-normalised fused distances (``fused_distances``)."""

    name = "DCM"

    def __init__(self, random_state=0, max_iter=300):
        self.random_state = random_state
        self.max_iter = max_iter

    def _fit(self, A, B):
        return _metric_mds(fused_distances(A, B), self.random_state, self.max_iter)


PROJECTORS = {
    "MFM": MFMProjector,
    "PCA": PCAProjector,
    "t-SNE": TSNEProjector,
    "UMAP": UMAPProjector,
    "MDS": MDSProjector,
    "DCM": DCMProjector,
}


def make_projector(name: str, **params) -> Projector:
    """A projector by name (one of ``PROJECTORS``), with its parameters."""
    if name not in PROJECTORS:
        raise KeyError(f"unknown projection {name!r}; choose one of {sorted(PROJECTORS)}.")
    return PROJECTORS[name](**params)
