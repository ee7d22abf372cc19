"""Modal Fusion Map (docs/methods.md 1): a parametric 2-D map that fuses two modalities.

What it optimises, and why:

- Fused neighbourhoods. Each of the four blocks of cosine distances (image-image, text-text, image-text,
  text-image) is rank-normalised on its own (``affinities.fused_knn``), so the modality gap never decides
  who is a neighbour; every point keeps its ``3 * perplexity`` nearest points over both modalities and gets
  t-SNE affinities over them (one perplexity per point), symmetrised.
- One loss: t-SNE's cross-entropy between those affinities and a Student-t kernel in 2-D. Across the
  modalities it is the listwise cross-modal rank term (the high-D distribution over the other modality's
  nearest points against the 2-D one); within a modality it keeps each modality's own neighbourhoods (T_i).
  A separate rank term, per-block losses and the old global/trustworthiness terms measured no better
  (README, projection table; scripts/mfm_cv.py) and were dropped.
- Parametric: a fixed PCA pre-projection (learned in fit) and one MLP shared by both modalities, so
  ``transform`` places new or re-aligned vectors without refitting and points move between rounds.
- Cost: ``n_steps`` Adam steps whatever n is. Up to ``batch_size`` points a step uses the exact gradient;
  above, a step samples ``batch_size`` neighbour pairs (attraction) and ``batch_size / 2`` random points
  (repulsion), so memory stays O(batch^2 + n k), never n x n. Training starts from a gap-free PCA layout
  (each modality centred), which the network first regresses, with early exaggeration of the attraction.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ..errors import NotFittedError, ProjectionError
from .affinities import calibrate, fused_knn
from .base import Projector, check_embeddings
from .mfm_file import mfm_from_bytes, mfm_to_bytes

__all__ = ["MFM"]


def _mlp(p, hidden, torch):
    layers, prev = [], p
    for h in hidden:
        layers += [torch.nn.Linear(prev, int(h)), torch.nn.GELU()]
        prev = int(h)
    layers.append(torch.nn.Linear(prev, 2))
    return torch.nn.Sequential(*layers)


class MFM(Projector):
    """Modal Fusion Map estimator: ``MFM().fit(embedding_set)`` (exactly two modalities), ``transform(vectors)``.

    Parameters: ``perplexity`` (fused neighbourhood size), ``cross_weight`` (> 1 shrinks the normalised
    cross-modal distances: more cross-modal neighbours), ``n_components`` (PCA pre-projection), ``hidden``
    (MLP widths), ``batch_size`` (points of an exact step / neighbour pairs of a sampled one),
    ``learning_rate`` (Adam, one-cycle schedule), ``n_steps``, ``exaggeration`` and ``early_frac``
    (attraction factor over the first fraction of the steps), ``warm_start`` / ``init_rms`` (start from a
    gap-free PCA layout of that RMS), ``dof`` (Student-t degrees of freedom), ``random_state``, ``verbose``
    (a progress bar). Learned state: ``mean_``, ``components_`` (PCA), ``network_`` (torch MLP),
    ``embedding_``, ``modalities_``, ``n_features_in_``, ``loss_curve_``.
    """

    name = "MFM"
    supports_transform = True
    min_modalities = 2
    persistable = True
    _ARRAYS = ("mean_", "components_")

    def __init__(
        self,
        perplexity=30.0,
        cross_weight=1.0,
        n_components=64,
        hidden=(256, 128),
        batch_size=1024,
        learning_rate=1e-2,
        n_steps=400,
        exaggeration=4.0,
        early_frac=0.25,
        warm_start=True,
        init_rms=1.0,
        dof=1.0,
        random_state=None,
        verbose=False,
    ):
        self.perplexity = perplexity
        self.cross_weight = cross_weight
        self.n_components = n_components
        self.hidden = hidden
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.exaggeration = exaggeration
        self.early_frac = early_frac
        self.warm_start = warm_start
        self.init_rms = init_rms
        self.dof = dof
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        for name, lo in (
            ("perplexity", 1.0),
            ("cross_weight", 0.0),
            ("learning_rate", 0.0),
            ("dof", 0.0),
            ("init_rms", 0.0),
            ("exaggeration", 0.0),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v <= lo:
                raise ProjectionError(f"MFM: {name} must be a number > {lo:g}; got {v!r}.")
        for name in ("n_components", "batch_size", "n_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
                raise ProjectionError(f"MFM: {name} must be a positive integer; got {v!r}.")
        if not 0 <= self.early_frac <= 1:
            raise ProjectionError(f"MFM: early_frac must be a fraction in [0, 1]; got {self.early_frac!r}.")
        if not self.hidden or any(isinstance(h, bool) or not isinstance(h, Integral) or h < 1 for h in self.hidden):
            raise ProjectionError(f"MFM: hidden must list positive layer widths, e.g. (256, 128); got {self.hidden!r}.")

    # ------------------------------------------------------------------ fit
    def fit(self, X, modality=None, callback=None):
        """Learn the map from an EmbeddingSet, or from vectors X with one ``modality`` name per row (two
        modalities). ``callback(fraction_done)`` is called as training progresses."""
        import torch

        self._check_params()
        Z, mod = check_embeddings(X, modality, self.min_modalities)
        names = list(dict.fromkeys(mod.tolist()))
        if len(names) != 2:
            raise ProjectionError(f"MFM fuses exactly two modalities; got {names}. Fit one map per pair of modalities.")
        groups = [np.flatnonzero(mod == m) for m in names]
        if min(len(g) for g in groups) < 3:
            raise ProjectionError(f"MFM: every modality needs at least 3 points; got {[len(g) for g in groups]}.")
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(min(2, prev_threads))
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        try:
            self._train(Z, groups, rng, gen, torch, callback)
        finally:
            torch.set_num_threads(prev_threads)
        self.modalities_ = tuple(names)
        self.n_features_in_ = Z.shape[1]
        self.embedding_ = self.transform(Z)
        return self

    def fit_transform(self, X, modality=None, callback=None) -> np.ndarray:
        """Fit, then return the (n, 2) float32 positions of the training points (in the order given)."""
        return self.fit(X, modality, callback).embedding_.copy()

    def _affinities(self, X, groups, rng, torch):
        n = len(X)
        perp = min(float(self.perplexity), (n - 1) / 3.0)
        nbr, Dk = fused_knn(X, groups, min(n - 1, int(3 * perp)), rng, self.cross_weight)
        P = calibrate(Dk.astype(np.float32), perp)
        from scipy.sparse import coo_matrix

        Ps = coo_matrix((P.ravel(), (np.repeat(np.arange(n), nbr.shape[1]), nbr.ravel())), shape=(n, n)).tocsr()
        Ps = (Ps + Ps.T).tocoo()
        ev = torch.from_numpy((Ps.data / Ps.data.sum()).astype(np.float32))
        return torch.from_numpy(Ps.row.astype(np.int64)), torch.from_numpy(Ps.col.astype(np.int64)), ev

    def _warm_start(self, net, X, Xp, groups, rng, gen, torch):
        """Regress a gap-free PCA layout (each modality centred), so training starts fused."""
        n = len(X)
        C = X.copy()
        for g in groups:
            C[g] -= C[g].mean(0)
        _, _, v2 = np.linalg.svd(C[rng.choice(n, min(n, 5000), replace=False)], full_matrices=False)
        T = C @ v2[:2].T
        T = torch.from_numpy((T / np.sqrt((T**2).sum(1).mean()) * self.init_rms).astype(np.float32))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(150):
            i = torch.randint(0, n, (min(n, 1024),), generator=gen)
            loss = ((net(Xp[i]) - T[i]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    def _train(self, X, groups, rng, gen, torch, callback):
        n, d = X.shape
        # fixed PCA pre-projection, applied to raw unit rows at transform
        self.mean_ = X.mean(0)
        sample = X[rng.choice(n, min(n, 5000), replace=False)] - self.mean_
        p = int(min(self.n_components, d, len(sample)))
        _, sv, vt = np.linalg.svd(sample, full_matrices=False)
        scale = float(np.sqrt((sv[:p] ** 2).sum() / len(sample)))
        self.components_ = (vt[:p] / scale).astype(np.float32)
        Xp = torch.from_numpy((X - self.mean_) @ self.components_.T)
        ei, ej, ev = self._affinities(X, groups, rng, torch)
        cdf = torch.cumsum(ev.double(), 0)

        net = _mlp(Xp.shape[1], self.hidden, torch)
        if self.warm_start:
            self._warm_start(net, X, Xp, groups, rng, gen, torch)
        steps, dof = int(self.n_steps), float(self.dof)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.learning_rate, total_steps=steps, pct_start=0.1)
        full = n <= int(self.batch_size)
        E, M = int(self.batch_size), int(self.batch_size) // 2
        eye = torch.eye(n, dtype=torch.bool) if full else None
        losses = []
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc="MFM", mininterval=1.0, leave=False)
        for step in range(steps):
            ex = self.exaggeration if step < steps * self.early_frac else 1.0
            if full:
                Y = net(Xp)
                t = (1.0 + torch.cdist(Y, Y).pow(2) / dof).pow(-dof).masked_fill(eye, 0.0)
                # index_select: its backward (index_add) is deterministic on CPU, Y[ei]'s is not
                diff = torch.index_select(Y, 0, ei) - torch.index_select(Y, 0, ej)
                att = dof * (ev * torch.log1p((diff**2).sum(1) / dof)).sum()
                rep = torch.log(t.sum())
            else:
                e = torch.searchsorted(cdf, torch.rand(E, generator=gen, dtype=torch.float64) * cdf[-1])
                e = e.clamp_max(len(ev) - 1)
                neg = torch.randint(0, n, (M,), generator=gen)
                Y = net(Xp[torch.cat([ei[e], ej[e], neg])])
                yi, yj, yn = Y[:E], Y[E : 2 * E], Y[2 * E :]
                att = dof * torch.log1p(((yi - yj) ** 2).sum(1) / dof).mean()
                rep = torch.log((1.0 + torch.cdist(yi, yn).pow(2) / dof).pow(-dof).mean())
            loss = ex * att + rep
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
            if callback is not None and (step + 1) % 20 == 0:
                callback((step + 1) / steps)
        if bar is not None:
            bar.close()
        self.network_ = self._freeze(net)
        self.loss_curve_ = np.asarray(losses, dtype=np.float32)
        if callback is not None:
            callback(1.0)

    @staticmethod
    def _freeze(net):
        net.eval()
        for prm in net.parameters():
            prm.requires_grad_(False)
        return net

    def _build(self, dim: int):
        """An untrained network of the fitted shape (``components_`` must be set); used when loading."""
        import torch

        return _mlp(int(self.components_.shape[0]), self.hidden, torch)

    # ------------------------------------------------------------------ use
    def is_fitted(self) -> bool:
        return hasattr(self, "network_")

    def check_fitted(self):
        if not self.is_fitted():
            raise NotFittedError("this MFM is not fitted yet; call fit(embeddings) first.")

    def transform(self, vectors, batch_size: int = 65536) -> np.ndarray:
        """2-D positions (m, 2) float32 of any vectors of the fitted dimension (rows L2-normalised first).

        Streams over the input in batches (memory-mapped arrays are read once, without a full copy); the row
        normalisation is folded after the PCA projection ((v / |v| - mean) W = (v W) / |v| - mean W).
        """
        import torch

        self.check_fitted()
        V = vectors.vectors if hasattr(vectors, "vectors") and not isinstance(vectors, np.ndarray) else vectors
        V = np.asarray(V)
        if V.ndim != 2 or not np.issubdtype(V.dtype, np.number):
            raise ProjectionError(
                f"vectors must be a numeric 2-D array (n, dim); got shape {V.shape}, dtype {V.dtype}."
            )
        if V.shape[1] != self.n_features_in_:
            raise ProjectionError(
                f"vectors have dimension {V.shape[1]} but this MFM was fitted on {self.n_features_in_}-d vectors; "
                "use vectors from the same embedding model."
            )
        W = torch.from_numpy(np.ascontiguousarray(self.components_.T))
        b = torch.from_numpy((self.mean_ @ self.components_.T).astype(np.float32))
        prev = torch.get_num_threads()
        torch.set_num_threads(min(2, prev))
        out = np.empty((len(V), 2), dtype=np.float32)
        try:
            with torch.inference_mode():
                for s in range(0, len(V), batch_size):
                    part = V[s : s + batch_size]
                    ok = part.dtype == np.float32 and part.flags.c_contiguous and part.flags.writeable
                    c = torch.from_numpy(part if ok else np.array(part, dtype=np.float32))
                    nrm = torch.linalg.vector_norm(c, dim=1, keepdim=True)
                    good = torch.isfinite(nrm) & (nrm > 0)
                    if not bool(good.all()):
                        bad = s + int(torch.nonzero(~good[:, 0])[0, 0])
                        raise ProjectionError(
                            f"vectors row {bad} is NaN, inf or all zero; drop or fix those rows first."
                        )
                    out[s : s + batch_size] = self.network_((c @ W) / nrm - b).numpy()
        finally:
            torch.set_num_threads(prev)
        return out

    # ------------------------------------------------------------------ files
    def to_bytes(self) -> bytes:
        """The fitted map as one safetensors blob (weights, arrays, parameters in its metadata)."""
        self.check_fitted()
        return mfm_to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "<bytes>") -> MFM:
        return mfm_from_bytes(cls, data, where)

    def save(self, path):
        """Write the fitted map to ``path`` atomically (safetensors; no pickle)."""
        from ..data.io import atomic_write_bytes

        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path) -> MFM:
        from pathlib import Path

        from ..errors import MissingFileError

        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no MFM file at {path}; write one with MFM.save(path).")
        return cls.from_bytes(path.read_bytes(), str(path))
