"""Two toy contrastive spaces with a known ground truth, for C-MCR tests, examples and the benchmark."""

from __future__ import annotations

import numpy as np

__all__ = ["make_synthetic", "synthetic_spaces"]


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_synthetic(
    n_train=2000,
    n_memory=2000,
    n_test=500,
    latent_dim=16,
    dims=(64, 48),
    gap=0.6,
    noise=(0.6, 0.3, 0.3, 0.6),
    random_state=0,
):
    """Two spaces from one latent z: space 1 = (A, B) in R^dims[0], space 2 = (B, C) in R^dims[1].

    x = normalise(z @ R_s + g_{s,m} + noise_m * eps) with R_s a random orthonormal embedding per space,
    g a per-(space, modality) gap of norm ``gap`` orthogonal to the semantic subspace.

    Parameters
    ----------
    n_train, n_memory, n_test : int
        Shared pairs, unpaired memory rows of A and of C, test pairs (A, C).
    latent_dim : int
        Dimension of z.
    dims : tuple of 2 int
        Dimensions of the two spaces.
    gap : float
        Norm of each (space, modality) gap.
    noise : tuple of 4 float
        Noise std of A, B in space 1, B in space 2, C.
    random_state : int

    Returns
    -------
    dict
        ``train`` (the two spaces as {modality: array}: paired shared rows, unpaired A / C memories),
        ``test_a`` / ``test_c`` (row i of both from the same z) and ``oracle`` (the true embeddings R1, R2).

    Examples
    --------
    >>> from modalchorus_widget.cmcr import make_synthetic
    >>> d = make_synthetic(n_train=100, n_memory=100, n_test=10)
    >>> d["test_a"].shape, d["test_c"].shape
    ((10, 64), (10, 48))
    """
    rng = np.random.default_rng(random_state)

    def embed(d):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        r, rest = q[:, :latent_dim].T, q[:, latent_dim:]  # (k, d) semantic rows; complement for gaps
        return r, rest

    r1, c1 = embed(dims[0])
    r2, c2 = embed(dims[1])

    def gapvec(rest):
        v = rest @ rng.standard_normal(rest.shape[1])
        return gap * v / np.linalg.norm(v)

    g = {"A": gapvec(c1), "B1": gapvec(c1), "B2": gapvec(c2), "C": gapvec(c2)}
    sd = dict(zip(("A", "B1", "B2", "C"), noise))

    def latent(n):
        return _unit(rng.standard_normal((n, latent_dim)))

    def emit(z, r, key):
        return _unit(z @ r + g[key] + sd[key] * rng.standard_normal((len(z), r.shape[1])) / np.sqrt(latent_dim))

    zb, za, zc, zt = latent(n_train), latent(n_memory), latent(n_memory), latent(n_test)
    space1 = {"text": emit(zb, r1, "B1"), "image": emit(za, r1, "A")}
    space2 = {"text": emit(zb, r2, "B2"), "audio": emit(zc, r2, "C")}
    return {"train": (space1, space2), "test_a": emit(zt, r1, "A"), "test_c": emit(zt, r2, "C"), "oracle": (r1, r2)}


def synthetic_spaces(random_state=0, **kw) -> dict:
    """Two toy spaces with a known ground truth (the benchmark's generator, see ``cmcr.synthetic.make_synthetic``).

    Parameters
    ----------
    random_state : int, default=0
    **kw
        Passed to ``make_synthetic`` (sizes, dimensions, gap, noise).

    Returns
    -------
    dict
        ``{"space1": {"text", "image"}, "space2": {"text", "audio"}, "test": {"space1": {"image"}, "space2":
        {"audio"}}}``: train with ``CMCR().fit(d["space1"], d["space2"])``; test row i of image and audio share
        one latent, so image -> audio retrieval measures the connection.

    Examples
    --------
    >>> from modalchorus_widget.cmcr import synthetic_spaces
    >>> d = synthetic_spaces(n_train=100, n_memory=100, n_test=10)
    >>> sorted(d["space1"]), d["test"]["space2"]["audio"].shape[0]
    (['image', 'text'], 10)
    """
    d = make_synthetic(random_state=random_state, **kw)
    s1, s2 = d["train"]
    return {
        "space1": s1,
        "space2": s2,
        "test": {"space1": {"image": d["test_a"]}, "space2": {"audio": d["test_c"]}},
        "oracle": d["oracle"],
    }
