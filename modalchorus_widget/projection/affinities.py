"""Fused neighbourhoods of a two-modality set, in O(n k) memory: the k nearest points of every block of
cosine distances (image-image, text-text, image-text, text-image), each block's distances rank-normalised to
[0, 1] on its own so that the modality gap never decides who is a neighbour (docs/methods.md 2), and the
t-SNE-style affinities calibrated on them. MFM and the fused baselines (DCM-t-SNE, DCM-UMAP) share them."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["block_knn", "fused_knn", "calibrate", "joint_affinities", "tsne_layout"]


def block_knn(A, B, k, same=False, chunk=1024):
    """k nearest rows of B for every row of A by cosine: (indices (n_A, k), cosine distances (n_A, k)),
    sorted by distance. ``same`` excludes each row itself (A is B). Chunked: O(chunk * n_B) memory."""
    k = min(k, len(B) - (1 if same else 0))
    idx = np.empty((len(A), k), dtype=np.int64)
    dist = np.empty((len(A), k), dtype=np.float32)
    for s in range(0, len(A), chunk):
        S = A[s : s + chunk] @ B.T
        if same:
            S[np.arange(len(S)), np.arange(s, s + len(S))] = -np.inf
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(S, part, 1)
        o = np.argsort(-v, axis=1, kind="stable")
        idx[s : s + chunk] = np.take_along_axis(part, o, 1)
        dist[s : s + chunk] = 1.0 - np.take_along_axis(v, o, 1)
    return idx, dist


def fused_knn(X, groups, k, rng, cross_weight=1.0, n_rows=256):
    """For every point, its k nearest points over both modalities by block-rank-normalised distance.

    ``groups``: row indices of each of the two modalities. A block's ranks are read off the distances from
    a random sample of ``n_rows`` of its rows (so no block is ever held whole); ``cross_weight`` > 1 shrinks
    cross-modal distances. Returns (indices (n, k), normalised distances (n, k)), sorted."""
    n = len(X)
    ci, cd = [[], []], [[], []]
    for a in range(2):
        for b in range(2):
            ga, gb = groups[a], groups[b]
            kb = min(k, len(gb) - (a == b))
            idx, dist = block_knn(X[ga], X[gb], kb, same=(a == b))
            rows = rng.choice(len(ga), min(len(ga), n_rows), replace=False)
            blk = 1.0 - X[ga][rows] @ X[gb].T
            if a == b:
                blk[np.arange(len(rows)), rows] = np.nan
            ref = np.sort(blk[np.isfinite(blk)])
            r = np.searchsorted(ref, dist, side="right") / len(ref)
            ci[a].append(gb[idx])
            cd[a].append(r / cross_weight if a != b else r)
    k = min(k, min(sum(c.shape[1] for c in ci[a]) for a in range(2)))
    idx = np.empty((n, k), dtype=np.int64)
    D = np.empty((n, k), dtype=np.float64)
    for a in range(2):
        c_i, c_d = np.concatenate(ci[a], 1), np.concatenate(cd[a], 1)
        o = np.argsort(c_d, axis=1, kind="stable")[:, :k]
        idx[groups[a]] = np.take_along_axis(c_i, o, 1)
        D[groups[a]] = np.take_along_axis(c_d, o, 1)
    return idx, D


def calibrate(dist, perplexity, n_iter=40):
    """Row-wise p = softmax(-beta * dist) with perplexity(p) = ``perplexity`` (bisection on log beta, vectorised)."""
    d = dist - dist[:, :1]
    target = math.log(max(1.0 + 1e-3, min(perplexity, d.shape[1] - 1e-3)))
    lo = np.full((len(d), 1), -20.0)
    hi = np.full((len(d), 1), 20.0)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        p = np.exp(-np.exp(mid) * d)
        p /= p.sum(1, keepdims=True)
        h = -(p * np.log(np.maximum(p, 1e-30))).sum(1, keepdims=True)
        flat = h > target
        lo = np.where(flat, mid, lo)
        hi = np.where(flat, hi, mid)
    p = np.exp(-np.exp((lo + hi) / 2) * d)
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def joint_affinities(X, groups, perplexity, rng, cross_weight=1.0):
    """Symmetric t-SNE affinities (scipy CSR, summing to 1) on the fused neighbourhoods of ``fused_knn``:
    each point's ``3 * perplexity`` nearest points, one perplexity per point, P = (P + P^T) / sum."""
    from scipy.sparse import csr_matrix

    n = len(X)
    perp = min(float(perplexity), (n - 1) / 3.0)
    nbr, Dk = fused_knn(X, groups, min(n - 1, max(1, int(3 * perp))), rng, cross_weight)
    P = calibrate(Dk.astype(np.float32), perp)
    P = csr_matrix((P.ravel().astype(np.float64), (np.repeat(np.arange(n), nbr.shape[1]), nbr.ravel())), shape=(n, n))
    P = P + P.T
    return (P / P.sum()).tocsr()


def tsne_layout(P, seed, n_iter=500, exaggeration=1.0, dof=1.0, n_jobs=1):
    """openTSNE layout of the affinities ``P`` (CSR, sums to 1): spectral start, 250 early-exaggeration
    iterations (12), then ``n_iter`` at ``exaggeration``. Returns (n, 2) float64."""
    from openTSNE import TSNEEmbedding, initialization
    from openTSNE.affinity import PrecomputedAffinities

    Y0 = initialization.spectral(P, random_state=seed)
    emb = TSNEEmbedding(Y0, PrecomputedAffinities(P, normalize=False), n_jobs=n_jobs, random_state=seed, dof=dof)
    emb = emb.optimize(250, exaggeration=12.0, momentum=0.5)
    if n_iter:
        emb = emb.optimize(int(n_iter), exaggeration=exaggeration, momentum=0.8)
    return np.asarray(emb, dtype=np.float64)
