"""The baseline projections, behind the package's one ``Projector`` interface (see ``base``).

PCA, t-SNE (openTSNE), UMAP and metric MDS see all points together; the fused baselines of docs/methods.md
normalise the four cosine-distance blocks (image-image, text-text, image-text, text-image) each on its own
so that the modality gap does not dominate: DCM (Data Context Map: min-max normalised blocks + metric MDS),
DCM-t-SNE and DCM-UMAP (rank-normalised blocks, embedded by openTSNE / UMAP with precomputed distances).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np

from ..data.validation import Interval
from ..errors import ProjectionError
from .affinities import fused_knn
from .base import Projector

__all__ = ["BASELINES", "fused_distances"]


def _rank01(vals: np.ndarray) -> np.ndarray:
    """Ranks of ``vals`` scaled to [0, 1] (ties share the mean rank)."""
    from scipy.stats import rankdata

    r = rankdata(vals, method="average")
    return (r - 1) / max(len(r) - 1, 1)


def fused_distances(Z, modality, how: str = "minmax") -> np.ndarray:
    """Block-normalised fused cosine distances (n, n) of unit rows ``Z`` with two modalities (O(n^2)).

    Each block (within each modality, and between them) is normalised to [0, 1] on its own: ``"minmax"``
    (DCM) or ``"rank"`` (DCM-t-SNE / DCM-UMAP); the diagonal is 0.
    """
    if how not in ("minmax", "rank"):
        raise ProjectionError(f"how must be 'minmax' or 'rank'; got {how!r}.")
    modality = np.asarray(modality, dtype=object)
    names = list(dict.fromkeys(modality.tolist()))
    if len(names) != 2:
        raise ProjectionError(f"fused distances need exactly two modalities; got {names}.")
    Z = np.asarray(Z, dtype=np.float64)
    D = np.clip(1.0 - Z @ Z.T, 0.0, 2.0)
    groups = [np.flatnonzero(modality == m) for m in names]
    for a in range(2):
        for b in range(a, 2):
            blk = D[np.ix_(groups[a], groups[b])]
            # a within-modality block is symmetric: normalise its upper triangle, then mirror it
            off = np.triu(np.ones(blk.shape, bool), 1) if a == b else np.ones(blk.shape, bool)
            vals = blk[off]
            if how == "rank":
                out = np.zeros_like(blk)
                out[off] = _rank01(vals)
                if a == b:
                    out = out + out.T
            else:
                lo, hi = vals.min(), vals.max()
                out = (blk - lo) / (hi - lo) if hi > lo else np.zeros_like(blk)
            D[np.ix_(groups[a], groups[b])] = out
            if a != b:
                D[np.ix_(groups[b], groups[a])] = out.T
    np.fill_diagonal(D, 0.0)
    return D


_SEED = [None, Interval(Integral, 0, None)]
_TSNE = {
    "perplexity": [Interval(Real, 0, None, closed="neither")],
    "random_state": _SEED,
    "n_jobs": [Interval(Integral, 1, None)],
}
_UMAP = {
    "n_neighbors": [Interval(Integral, 2, None)],
    "min_dist": [Interval(Real, 0, None)],
    "random_state": _SEED,
}
_MDS = {"random_state": _SEED, "max_iter": [Interval(Integral, 1, None)]}


class PCAProjector(Projector):
    """The first two principal components: the map a widget draws at once while a slower one fits.

    Parameters
    ----------
    random_state : int or None, default 0
        Seed of the solver and of the sample.
    max_fit_points : int, default 50000
        Above this many rows the components are fitted on a random sample of that many (two directions of a
        million rows are the sample's to three decimals) and every row is placed in blocks: a first frame at a
        million rows costs a second, not a full SVD.
    """

    name = "PCA"
    supports_transform = True
    _parameter_constraints = {"random_state": _SEED, "max_fit_points": [Interval(Integral, 3, None)]}

    def __init__(self, random_state=0, max_fit_points=50_000):
        self.random_state = random_state
        self.max_fit_points = max_fit_points

    def _fit(self, Z, modality):
        from sklearn.decomposition import PCA

        self.model_ = PCA(2, random_state=self.random_state)
        if len(Z) <= self.max_fit_points:
            return self.model_.fit_transform(Z)
        rng = np.random.default_rng(self.random_state)
        self.model_.fit(Z[np.sort(rng.choice(len(Z), self.max_fit_points, replace=False))])
        return self._transform(Z)

    def _transform(self, V):
        out = np.empty((len(V), 2), np.float64)
        for s in range(0, len(V), 8192):  # (rows, d) temporaries under glibc's mmap threshold: reused, not faulted
            out[s : s + 8192] = self.model_.transform(V[s : s + 8192])
        return out


class TSNEProjector(Projector):
    """openTSNE with cosine distance and PCA initialisation (it can place new points)."""

    name = "t-SNE"
    supports_transform = True
    _parameter_constraints = _TSNE

    def __init__(self, perplexity=30.0, random_state=0, n_jobs=2):
        self.perplexity = perplexity
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, Z, modality):
        from openTSNE import TSNE

        X = Z.astype(np.float64)
        perp = min(float(self.perplexity), (len(X) - 1) / 3.0)
        self.model_ = TSNE(
            perplexity=perp, metric="cosine", initialization="pca", random_state=self.random_state, n_jobs=self.n_jobs
        ).fit(X)
        return np.asarray(self.model_)

    def _transform(self, V):
        return np.asarray(self.model_.transform(V.astype(np.float64)))


class UMAPProjector(Projector):
    name = "UMAP"
    supports_transform = True
    _parameter_constraints = _UMAP

    def __init__(self, n_neighbors=15, min_dist=0.1, random_state=0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state

    def _fit(self, Z, modality):
        import umap

        X = Z
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = umap.UMAP(
                n_neighbors=min(self.n_neighbors, len(X) - 1),
                min_dist=self.min_dist,
                metric="cosine",
                random_state=self.random_state,
            )
            return self.model_.fit_transform(X)

    def _transform(self, V):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model_.transform(V)


def _metric_mds(D, random_state, max_iter):
    from sklearn.manifold import MDS

    return MDS(
        n_components=2,
        n_init=1,
        max_iter=max_iter,
        random_state=random_state,
        metric_mds=True,
        metric="precomputed",
        init="random",
    ).fit_transform(D)


class MDSProjector(Projector):
    """Metric MDS (SMACOF) on cosine distances over all points; O(n^2) memory, for small sets."""

    name = "MDS"
    _parameter_constraints = _MDS

    def __init__(self, random_state=0, max_iter=300):
        self.random_state = random_state
        self.max_iter = max_iter

    def _fit(self, Z, modality):
        X = Z.astype(np.float64)
        D = np.clip(1.0 - X @ X.T, 0.0, 2.0)
        np.fill_diagonal(D, 0.0)
        return _metric_mds(D, self.random_state, self.max_iter)


class DCMProjector(Projector):
    """Data Context Map: metric MDS on block-normalised fused distances (``fused_distances``)."""

    name = "DCM"
    min_modalities = 2
    _parameter_constraints = _MDS

    def __init__(self, random_state=0, max_iter=300):
        self.random_state = random_state
        self.max_iter = max_iter

    def _fit(self, Z, modality):
        return _metric_mds(fused_distances(Z, modality, "minmax"), self.random_state, self.max_iter)


DENSE_MAX = 3000  # above this many points the fused baselines use k nearest neighbours per block


def _fused_neighbours(Z, modality, k, random_state):
    """(indices (n, k), distances (n, k)) of every point's nearest points by fused, rank-normalised distance:
    from the dense matrix for small sets, from k nearest neighbours per block above ``DENSE_MAX`` points."""
    n = len(Z)
    if n <= DENSE_MAX:
        D = fused_distances(Z, modality, "rank")
        np.fill_diagonal(D, np.inf)
        idx = np.argsort(D, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(D, idx, 1)
    names = list(dict.fromkeys(np.asarray(modality, dtype=object).tolist()))
    groups = [np.flatnonzero(np.asarray(modality, dtype=object) == m) for m in names]
    return fused_knn(Z, groups, k, np.random.default_rng(random_state))


class DCMTSNEProjector(Projector):
    """DCM-t-SNE (docs/methods.md 2): openTSNE (perplexity 30) on rank-normalised fused distances."""

    name = "DCM-t-SNE"
    min_modalities = 2
    _parameter_constraints = _TSNE

    def __init__(self, perplexity=30.0, random_state=0, n_jobs=2):
        self.perplexity = perplexity
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, Z, modality):
        from openTSNE import TSNE
        from openTSNE.affinity import PerplexityBasedNN
        from openTSNE.nearest_neighbors import PrecomputedNeighbors

        perp = min(float(self.perplexity), (len(Z) - 1) / 3.0)
        idx, dist = _fused_neighbours(Z, modality, min(len(Z) - 1, int(3 * perp)), self.random_state)
        aff = PerplexityBasedNN(
            perplexity=perp,
            knn_index=PrecomputedNeighbors(idx, dist),
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        tsne = TSNE(n_jobs=self.n_jobs, random_state=self.random_state)
        return np.asarray(tsne.fit(affinities=aff, initialization="spectral"))


class DCMUMAPProjector(Projector):
    """DCM-UMAP (docs/methods.md 2): UMAP on rank-normalised fused distances (a precomputed k-NN graph)."""

    name = "DCM-UMAP"
    min_modalities = 2
    _parameter_constraints = _UMAP

    def __init__(self, n_neighbors=15, min_dist=0.1, random_state=0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state

    def _fit(self, Z, modality):
        import umap

        n = len(Z)
        k = min(self.n_neighbors, n - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if n <= DENSE_MAX:
                D = fused_distances(Z, modality, "rank")
                return umap.UMAP(
                    n_neighbors=k, min_dist=self.min_dist, metric="precomputed", random_state=self.random_state
                ).fit_transform(D)
            idx, dist = _fused_neighbours(Z, modality, k - 1, self.random_state)
            idx = np.concatenate([np.arange(n)[:, None], idx], 1)
            dist = np.concatenate([np.zeros((n, 1)), dist], 1).astype(np.float32)
            return umap.UMAP(
                n_neighbors=k, min_dist=self.min_dist, random_state=self.random_state, precomputed_knn=(idx, dist, None)
            ).fit_transform(Z)


BASELINES = {
    "PCA": PCAProjector,
    "t-SNE": TSNEProjector,
    "UMAP": UMAPProjector,
    "MDS": MDSProjector,
    "DCM": DCMProjector,
    "DCM-t-SNE": DCMTSNEProjector,
    "DCM-UMAP": DCMUMAPProjector,
}
