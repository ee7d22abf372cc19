"""Modal Fusion Map (docs/methods.md 1): a parametric 2-D map that fuses two modalities.

What it optimises, and why:

- Fused neighbourhoods. Each of the four blocks of cosine distances (image-image, text-text, image-text,
  text-image) is rank-normalised on its own (``affinities.fused_knn``), so the modality gap never decides
  who is a neighbour; cross-modal distances are then divided by ``cross_weight`` (1.5: more cross-modal
  neighbours). Every point keeps its ``3 * perplexity`` nearest points over both modalities and gets t-SNE
  affinities over them (one perplexity per point), symmetrised (``affinities.joint_affinities``).
- Two objectives, in turn. First t-SNE's cross-entropy between those affinities and a Student-t kernel in 2-D,
  attraction multiplied by ``exaggeration`` (1.5): openTSNE computes its non-parametric optimum (spectral
  start, 250 early-exaggerated iterations, ``n_layout_iter`` (150) more, Barnes-Hut repulsion; on a stratified
  sample of ``max_layout_points`` when there are more points). Then the rank term of docs/methods.md 1
  (``rank_refine``): ``n_rank_steps`` (50) steps on smooth versions of the metrics' own penalties, cross-modal
  trustworthiness and continuity (weighted ``rank_continuity``, 6) at k = 5, 10, 20 plus intra-modal
  trustworthiness (weighted ``rank_intra``, 0.3). t-SNE alone is a tie with DCM-t-SNE; the rank steps are what
  put MFM above it (subset CV, README).
- Parametric, by distillation: the network (a fixed PCA pre-projection, then one MLP shared by both modalities)
  regresses that layout (``n_distill_steps`` Adam steps of 256-row mini-batches on the squared error, inputs
  jittered by ``distill_noise``); where
  the layout was a sample, ``n_steps`` Adam steps then fine-tune it on t-SNE's loss over all points, or over a
  stratified sample of ``max_tune_points`` when there are more (and the rank steps are skipped: the fine-tuning
  would blur them). ``transform`` places new or re-aligned vectors
  without refitting, and points move between alignment rounds.
- Cost: a rank step sorts the 2-D distances of at most 512 anchors per direction; fine-tuning is exact up to
  ``batch_size`` points; above, a step samples ``batch_size`` neighbour pairs (attraction) and
  ``batch_size / 2`` random points (repulsion), so memory stays O(batch * n + n k), never n x n. Above
  ``max_tune_points`` every step of the fit reads bounded samples (PCA 5,000 rows, layout ``max_layout_points``,
  fine-tuning ``max_tune_points``, a fixed number of steps): only the row checks and the final ``transform``
  run over all n, so a fit of 1,000,000 points costs about a fit of 10,000 plus a linear pass
  (``fit_profile_`` says where the time went; ``benchmarks scale-fit``). The distilled
  network is within 0.004 Tx@10 of its layout on COCO-500; the input noise costs that, for a map smooth enough
  that an alignment round moves unselected points little.
"""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np

from .._optim import Adam, OneCycle
from ..data.validation import Check, Interval, check_params, check_vectors
from ..device import device_ok, resolve_device
from ..errors import NotFittedError, ProjectionError
from ..threads import torch_threads
from .base import Projector, check_embeddings
from .mfm_file import mfm_from_bytes, mfm_to_bytes

__all__ = ["MFM"]


_DISTILL_BATCH = 256


def _stratified(groups, n, m, rng):
    """(rows, groups within rows): about ``m`` of the ``n`` rows, drawn from each modality in proportion
    (at least 3 of each), sorted."""
    take = [max(3, int(round(m * len(g) / n))) for g in groups]
    rows = np.sort(np.concatenate([rng.choice(g, min(len(g), t), replace=False) for g, t in zip(groups, take)]))
    return rows, [np.flatnonzero(np.isin(rows, g)) for g in groups]


def _mlp(p, hidden, torch):
    layers, prev = [], p
    for h in hidden:
        layers += [torch.nn.Linear(prev, int(h)), torch.nn.GELU()]
        prev = int(h)
    layers.append(torch.nn.Linear(prev, 2))
    return torch.nn.Sequential(*layers)


class MFM(Projector):
    """Modal Fusion Map estimator: ``MFM().fit(embedding_set)`` (exactly two modalities), ``transform(vectors)``.

    Learned state: ``mean_``, ``components_`` (PCA), ``network_`` (torch MLP), ``embedding_``, ``modalities_``,
    ``n_features_in_``, ``loss_curve_`` (fine-tuning loss per step), ``layout_`` / ``layout_rows_`` (the distilled
    layout and the rows it covers), ``fit_profile_`` (seconds, ``*_s``, and rows read, ``*_rows``, of each step).

    Parameters
    ----------
    perplexity : float, default 30.0
        Fused neighbourhood size.
    cross_weight : float, default 1.5
        > 1 shrinks the normalised cross-modal distances: more cross-modal neighbours.
    n_components : int, default 64
        PCA pre-projection.
    hidden : tuple of int, default (256, 128)
        MLP widths.
    batch_size : int, default 1024
        Points of an exact step / neighbour pairs of a sampled one.
    learning_rate : float, default 5e-2
        Of the regression; fine-tuning runs at ``* 0.018`` after a warm start, ``* 0.18`` without.
    n_steps : int or None, default None
        Fine-tuning steps; None: 0 when the layout covered every point, 100 when it was computed on a sample,
        400 without a warm start.
    exaggeration : float, default 1.5
        Attraction factor after the early phase.
    dof : float, default 1.0
        Student-t degrees of freedom.
    warm_start : bool, default True
        Distil the openTSNE layout first; False trains the network on the loss alone, with early exaggeration 4
        over the first quarter of the steps.
    n_layout_iter, max_layout_points : int, default 150, 3000
        That layout's iterations and the points it covers.
    max_tune_points : int or None, default 10000
        Fine-tuning and its fused k-NN over every point up to this many, else over a stratified sample of this
        size; None: always every point.
    n_distill_steps : int, default 1000
        Regression steps.
    distill_noise : float, default 0.1
        Gaussian input noise of the regression, relative to the rows' RMS norm (a smoother map).
    n_rank_steps : int or None, default None
        Rank refinement of the layout; None: 50 when the layout covers every point, else 0.
    rank_continuity, rank_intra : float >= 0, default 6.0, 0.3
        Weights of its continuity and intra-modal terms.
    random_state : int, default 0
    verbose : bool, default False
        A progress bar.
    device : str, default "auto"
        Where the network trains and ``transform`` runs: ``"auto"`` is CUDA when torch sees a GPU, else the CPU
        (``device.resolve_device``); ``device_`` says which the fit used. Random draws stay on the CPU, so the
        CPU gives the same bits as before the parameter existed and a GPU agrees to float tolerance.

    Raises
    ------
    ParameterError
        A parameter out of its range (at ``fit``).

    Examples
    --------
    >>> from modalchorus_widget import MFM, load_coco500
    >>> es = load_coco500().embeddings
    >>> mfm = MFM(n_layout_iter=20, n_distill_steps=20, n_steps=0, n_rank_steps=0).fit(es)
    >>> mfm.embedding_.shape, mfm.transform(es.vectors[:3]).shape
    ((1000, 2), (3, 2))
    """

    name = "MFM"
    supports_transform = True
    min_modalities = 2
    persistable = True
    _ARRAYS = ("mean_", "components_")

    def __init__(
        self,
        perplexity=30.0,
        cross_weight=1.5,
        n_components=64,
        hidden=(256, 128),
        batch_size=1024,
        learning_rate=5e-2,
        n_steps=None,
        exaggeration=1.5,
        dof=1.0,
        warm_start=True,
        n_layout_iter=150,
        max_layout_points=3000,
        max_tune_points=10000,
        n_distill_steps=1000,
        distill_noise=0.1,
        n_rank_steps=None,
        rank_continuity=6.0,
        rank_intra=0.3,
        random_state=0,
        verbose=False,
        device="auto",
    ):
        self.perplexity = perplexity
        self.cross_weight = cross_weight
        self.n_components = n_components
        self.hidden = hidden
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.exaggeration = exaggeration
        self.dof = dof
        self.warm_start = warm_start
        self.n_layout_iter = n_layout_iter
        self.max_layout_points = max_layout_points
        self.max_tune_points = max_tune_points
        self.n_distill_steps = n_distill_steps
        self.distill_noise = distill_noise
        self.n_rank_steps = n_rank_steps
        self.rank_continuity = rank_continuity
        self.rank_intra = rank_intra
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    _parameter_constraints = {
        "perplexity": [Interval(Real, 1, None, closed="neither")],
        **dict.fromkeys(
            ("cross_weight", "learning_rate", "dof", "exaggeration"), [Interval(Real, 0, None, closed="neither")]
        ),
        **dict.fromkeys(("rank_continuity", "rank_intra", "distill_noise"), [Interval(Real, 0, None)]),
        **dict.fromkeys(("n_steps", "n_rank_steps"), [None, Interval(Integral, 0, None)]),
        **dict.fromkeys(("n_components", "batch_size"), [Interval(Integral, 1, None)]),
        **dict.fromkeys(("n_layout_iter", "n_distill_steps"), [Interval(Integral, 0, None)]),
        "max_layout_points": [Interval(Integral, 10, None)],
        "max_tune_points": [None, Interval(Integral, 10, None)],
        "warm_start": ["boolean"],
        "hidden": [
            Check(
                lambda v: len(v) > 0 and all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in v),
                "a list of positive layer widths, e.g. (256, 128)",
            )
        ],
        "random_state": [None, Interval(Integral, 0, None)],
        "verbose": ["boolean"],
        "device": [Check(device_ok, "'auto' (CUDA when torch sees a GPU, else the CPU), 'cpu', 'cuda' or 'cuda:N'")],
    }

    # ------------------------------------------------------------------ fit
    def fit(self, X, modality=None, callback=None):
        """Learn the map from an EmbeddingSet, or from vectors X with one ``modality`` name per row (two
        modalities). ``callback(fraction_done)`` is called as training progresses."""
        import torch

        check_params(self, "MFM")
        self.device_ = resolve_device(self.device, "MFM(device=...)")
        self._dev, self._net_dev = torch.device(self.device_), None
        self.fit_profile_, self._clock = {}, time.perf_counter()
        Z, mod = check_embeddings(X, modality, self.min_modalities, "MFM.fit")
        names = list(dict.fromkeys(mod.tolist()))
        if len(names) != 2:
            raise ProjectionError(f"MFM fuses exactly two modalities; got {names}. Fit one map per pair of modalities.")
        groups = [np.flatnonzero(mod == m) for m in names]
        if min(len(g) for g in groups) < 3:
            raise ProjectionError(f"MFM: every modality needs at least 3 points; got {[len(g) for g in groups]}.")
        self._lap("check_s")
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        # the network is small: one thread is as fast on a quiet machine and far faster on a busy one
        with torch_threads(1):
            self._train(Z, groups, rng, gen, seed, torch, callback)
        self.modalities_ = tuple(names)
        self.n_features_in_ = Z.shape[1]
        self.embedding_ = self.transform(Z)
        self._lap("embed_s")
        self.fit_profile_["total_s"] = sum(v for k, v in self.fit_profile_.items() if k.endswith("_s"))
        return self

    def fit_transform(self, X, modality=None, callback=None) -> np.ndarray:
        """Fit, then return the (n, 2) float32 positions of the training points (in the order given)."""
        return self.fit(X, modality, callback).embedding_.copy()

    def _layout(self, X, groups, P, rng, seed):
        """(rows, 2-D layout of those rows): openTSNE on the fused affinities, on all points up to
        ``max_layout_points``, else on a sample of that size drawn from each modality in proportion; a layout of
        every point is then rank-refined (``rank_refine``)."""
        from .affinities import joint_affinities, tsne_layout
        from .rank_refine import refine_layout

        n = len(X)
        m = int(self.max_layout_points)
        if n <= m:
            rows, sub = np.arange(n), groups
            if P is None:
                P = joint_affinities(X, groups, self.perplexity, rng, self.cross_weight)
                self.fit_profile_["knn_rows"] += n
        else:
            rows, sub = _stratified(groups, n, m, rng)
            P = joint_affinities(X[rows], sub, self.perplexity, rng, self.cross_weight)
            self.fit_profile_["knn_rows"] += len(rows)
        # Barnes-Hut repulsion: openTSNE's FFT repulsion is 0.7x its CPU time at 3,000 points, but two runs
        # with the same seed differ (measured), and the map must be deterministic under random_state
        Y = tsne_layout(P, seed, int(self.n_layout_iter), float(self.exaggeration), float(self.dof))
        steps = self.n_rank_steps
        if steps is None:  # a sampled layout is fine-tuned on all points afterwards, which would blur the ranks
            steps = 50 if len(rows) == n else 0
        self.fit_profile_["layout_rows"] = len(rows)
        self.fit_profile_["rank_rows"] = len(rows) if steps else 0
        self._lap("layout_s")
        if steps:
            Y = refine_layout(
                Y, X[rows], sub, int(steps), float(self.rank_continuity), float(self.rank_intra), seed=seed
            )
        self._lap("rank_s")
        return rows, Y

    def _distill(self, net, Xp, Y, gen, torch):
        """Regress the network onto the layout Y (standardised), then fold the layout's scale and centre
        into the last layer, so the network outputs the layout itself."""
        mu = Y.mean(0)
        sd = float(np.sqrt(((Y - mu) ** 2).sum(1).mean())) or 1.0
        T = torch.from_numpy(((Y - mu) / sd).astype(np.float32)).to(self._dev)
        lr = float(self.learning_rate)
        opt = Adam(net.parameters(), lr=lr)
        steps = int(self.n_distill_steps)
        sched = OneCycle(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
        # mini-batches: a full batch costs 3x a 256-row one per step and reached no better fidelity in as many seconds
        batch = min(len(T), _DISTILL_BATCH)
        # input noise (Tikhonov-like): the rank-refined layout has fine detail, and without it the network that
        # fits it moved unchanged-looking points 4x more after a small change of their vectors (an alignment round)
        jit = float(self.distill_noise) * float(Xp.pow(2).sum(1).mean().sqrt()) / Xp.shape[1] ** 0.5
        for _ in range(steps):
            i = torch.randint(0, len(T), (batch,), generator=gen).to(self._dev)  # drawn on the CPU, as before
            xb = torch.index_select(Xp, 0, i)
            if jit:
                xb = xb + jit * torch.randn(xb.shape, generator=gen).to(self._dev)
            loss = ((net(xb) - T[i]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        last = net[-1]
        with torch.no_grad():
            last.weight.mul_(sd)
            last.bias.mul_(sd).add_(torch.from_numpy(mu.astype(np.float32)).to(self._dev))

    def _train(self, X, groups, rng, gen, seed, torch, callback):
        from .affinities import joint_affinities

        n, d = X.shape
        # fixed PCA pre-projection, applied to raw unit rows at transform
        self.mean_ = X.mean(0)
        sample = X[rng.choice(n, min(n, 5000), replace=False)] - self.mean_
        p = int(min(self.n_components, d, len(sample)))
        from threadpoolctl import threadpool_limits

        # one BLAS thread: OpenBLAS's threaded SVD of 5,000 x 512 took 10 s on a busy 2-core machine, 0.5 s on one
        with threadpool_limits(1, user_api="blas"):
            _, sv, vt = np.linalg.svd(sample, full_matrices=False)
        scale = float(np.sqrt((sv[:p] ** 2).sum() / len(sample)))
        self.components_ = (vt[:p] / scale).astype(np.float32)
        self._lap("pca_s")
        # every point's fused affinities only while fine-tuning covers every point; above ``max_tune_points`` the
        # fit reads bounded samples only (layout, rank term, distillation, fine-tuning), so its cost stops growing
        # with n: what runs over all rows is the per-row checks and the final ``transform``
        every = self.max_tune_points is None or n <= int(self.max_tune_points)
        Xp = P = None
        self.fit_profile_["knn_rows"] = 0  # rows whose fused k nearest neighbours are searched (exact blocks)
        if every:
            Xp = self._project(X, torch)
            P = joint_affinities(X, groups, self.perplexity, rng, self.cross_weight)
            self.fit_profile_["knn_rows"] = n
        self._lap("affinities_s")

        net = _mlp(len(self.components_), self.hidden, torch).to(self._dev)
        share, covered = 0.0, False
        if self.warm_start:
            rows, Y = self._layout(X, groups, P, rng, seed)
            covered = len(rows) == n
            self.layout_rows_, self.layout_ = rows, Y.astype(np.float32)
            if callback is not None:
                callback(0.5)
            Xl = Xp[torch.from_numpy(rows).to(self._dev)] if every else self._project(X[rows], torch)
            self._distill(net, Xl, Y, gen, torch)
            self._lap("distill_s")
            share = 0.6
            if callback is not None:
                callback(share)
        steps = self.n_steps
        if steps is None:  # fine-tune what the layout did not cover; 400 steps from scratch
            steps = (0 if covered else 100) if self.warm_start else 400
        steps, dof = int(steps), float(self.dof)
        losses = []
        self.fit_profile_["tune_rows"] = 0
        if steps:
            if not every:  # a stratified sample of max_tune_points rows, exact fused affinities among them
                rows, sub = _stratified(groups, n, int(self.max_tune_points), rng)
                Xp = self._project(X[rows], torch)
                P = joint_affinities(X[rows], sub, self.perplexity, rng, self.cross_weight)
                self.fit_profile_["knn_rows"] += len(rows)
            self.fit_profile_["tune_rows"] = len(Xp)
            self._lap("tune_affinities_s")
            Pc = P.tocoo()
            ei = torch.from_numpy(Pc.row.astype(np.int64))
            ej = torch.from_numpy(Pc.col.astype(np.int64))
            ev = torch.from_numpy(Pc.data.astype(np.float32))
            cdf = torch.cumsum(ev.double(), 0)
            self._fine_tune(net, Xp, ei, ej, ev, cdf, steps, dof, gen, torch, losses, callback, share)
        self._lap("tune_s")
        self.network_ = self._freeze(net.cpu())  # kept on the CPU (files, transform); a device copy is cached
        self.loss_curve_ = np.asarray(losses, dtype=np.float32)
        if callback is not None:
            callback(1.0)

    def _project(self, X, torch):
        """The PCA pre-projection of unit rows X, as a float32 tensor on the fit's device."""
        return torch.from_numpy((X - self.mean_) @ self.components_.T).to(self._dev)

    def _lap(self, key):
        """Record the seconds since the last lap under ``fit_profile_[key]``."""
        now = time.perf_counter()
        self.fit_profile_[key] = now - self._clock
        self._clock = now

    def _fine_tune(self, net, Xp, ei, ej, ev, cdf, steps, dof, gen, torch, losses, callback, share):
        """Adam on t-SNE's loss (attraction times ``exaggeration``): exact up to ``batch_size`` points, else
        ``batch_size`` neighbour pairs sampled by affinity against ``batch_size / 2`` random points. Without a
        warm start the first quarter of the steps uses early exaggeration 4."""
        n = len(Xp)
        lr = float(self.learning_rate) * (0.018 if self.warm_start else 0.18)
        opt = Adam(net.parameters(), lr=lr)
        sched = OneCycle(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
        full = n <= int(self.batch_size)
        E, M = int(self.batch_size), max(1, int(self.batch_size) // 2)
        eye = torch.eye(n, dtype=torch.bool).to(self._dev) if full else None
        dev = self._dev  # the pairs and negatives are drawn on the CPU (the same draws on any device)
        ei_d, ej_d, ev_d = ei.to(dev), ej.to(dev), ev.to(dev)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc="MFM", mininterval=1.0, leave=False)
        for step in range(steps):
            ex = float(self.exaggeration)
            if not self.warm_start and step < steps // 4:
                ex = 4.0
            if full:
                Y = net(Xp)
                t = (1.0 + torch.cdist(Y, Y).pow(2) / dof).pow(-dof).masked_fill(eye, 0.0)
                # index_select: its backward (index_add) is deterministic on CPU, Y[ei]'s is not
                diff = torch.index_select(Y, 0, ei_d) - torch.index_select(Y, 0, ej_d)
                att = dof * (ev_d * torch.log1p((diff**2).sum(1) / dof)).sum()
                rep = torch.log(t.sum())
            else:
                e = torch.searchsorted(cdf, torch.rand(E, generator=gen, dtype=torch.float64) * cdf[-1])
                e = e.clamp_max(len(ev) - 1)
                neg = torch.randint(0, n, (M,), generator=gen)
                Y = net(torch.index_select(Xp, 0, torch.cat([ei[e], ej[e], neg]).to(dev)))
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
                callback(share + (1.0 - share) * (step + 1) / steps)
        if bar is not None:
            bar.close()

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

    def transform(self, vectors, modality=None, batch_size: int = 65536) -> np.ndarray:
        """2-D positions (m, 2) float32 of any vectors of the fitted dimension (rows L2-normalised first).

        Parameters
        ----------
        vectors : EmbeddingSet or array-like (m, d)
            Vectors of the fitted dimension; a memory-mapped array is read once, in batches, without a full copy.
        modality : str or sequence of str, optional
            One name for every row, or one per row; checked against the fitted modalities (one network
            places every modality).
        batch_size : int, default 65536
            Rows per batch.

        Returns
        -------
        numpy.ndarray
            (m, 2) float32.

        Raises
        ------
        EmbeddingError
            Vectors that are not numeric, not finite, zero or of another dimension, or an unknown modality.
        NotFittedError
            Before ``fit``.

        Examples
        --------
        >>> xy = mfm.transform(aligner.embeddings_)  # doctest: +SKIP
        """
        import torch

        self.check_fitted()
        V = vectors.vectors if hasattr(vectors, "vectors") and not isinstance(vectors, np.ndarray) else vectors
        V = np.asarray(V)
        if V.ndim != 2 or not np.issubdtype(V.dtype, np.number) or len(V) == 0:
            check_vectors(V, "MFM.transform")  # the clear error, without reading a large array twice
        if V.shape[1] != self.n_features_in_:
            check_vectors(V[:1], "MFM.transform", dim=self.n_features_in_)
        self._check_transform_modality(vectors, modality, len(V), "MFM.transform")
        dev, net = self._device_net(torch)
        W = torch.from_numpy(np.ascontiguousarray(self.components_.T)).to(dev)
        b = torch.from_numpy((self.mean_ @ self.components_.T).astype(np.float32)).to(dev)
        out = np.empty((len(V), 2), dtype=np.float32)
        with torch_threads(2), torch.inference_mode():
            for s in range(0, len(V), batch_size):
                part = V[s : s + batch_size]
                ok = part.dtype == np.float32 and part.flags.c_contiguous and part.flags.writeable
                c = torch.from_numpy(part if ok else np.array(part, dtype=np.float32)).to(dev)
                nrm = torch.linalg.vector_norm(c, dim=1, keepdim=True)
                good = torch.isfinite(nrm) & (nrm > 0)
                if not bool(good.all()):  # the validator names the fault and its rows
                    check_vectors(part, "MFM.transform", row_offset=s)
                out[s : s + batch_size] = net((c @ W) / nrm - b).cpu().numpy()
        return out

    def _device_net(self, torch):
        """(device, network there): the fit's device (the CPU for a loaded map, whose ``device_`` is unset), the
        network copied there once (``network_`` itself stays on the CPU)."""
        dev = getattr(self, "device_", "cpu")
        if dev == "cpu":
            return torch.device("cpu"), self.network_
        cached = getattr(self, "_net_dev", None)
        if cached is None or cached[0] is not self.network_:
            import copy

            cached = self._net_dev = (self.network_, copy.deepcopy(self.network_).to(dev))
        return torch.device(dev), cached[1]

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
        from ..io import atomic_write_bytes

        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path) -> MFM:
        from pathlib import Path

        from ..errors import MissingFileError
        from ..safe_zip import read_regular_file

        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no MFM file at {path}; write one with MFM.save(path).")
        return cls.from_bytes(
            read_regular_file(path), str(path)
        )  # a regular file within the size cap, like every loader
