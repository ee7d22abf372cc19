"""The probe's view of the vectors: a PCA, k-means, k-NN and zero-shot readings, all in blocks.

Nothing here builds an n x n matrix: similarities are taken block by block against at most a sample of rows
(``max_fit``), k-NN is exact in blocks on a sample of at most ``max_knn`` rows, and rows outside that sample
read their neighbourhood from the micro-cluster (k-means on the sample) they fall in.
"""

from __future__ import annotations

import numpy as np

BLOCK = 8192


def sample_rows(n: int, m: int, rng) -> np.ndarray:
    """Sorted indices of at most ``m`` of ``n`` rows (all of them when n <= m)."""
    if n <= m:
        return np.arange(n)
    return np.sort(rng.choice(n, size=m, replace=False))


class PCA:
    """A PCA fitted on a sample (SVD of the centred sample), applied in blocks."""

    def __init__(self, x: np.ndarray, n_components: int, max_fit: int, rng):
        fit = np.asarray(x[sample_rows(len(x), max_fit, rng)], dtype=np.float32)
        self.mean = fit.mean(axis=0)
        p = int(min(n_components, fit.shape[1], max(1, len(fit) - 1)))
        c = fit - self.mean
        cov = c.T @ c  # d x d; its top eigenvectors by a few subspace iterations (a randomised range finder)
        q = rng.standard_normal((cov.shape[0], min(cov.shape[0], p + 8))).astype(np.float32)
        for _ in range(4):
            q, _ = np.linalg.qr(cov @ q)
        w, u = np.linalg.eigh((q.T @ cov @ q).astype(np.float64))
        vecs = q @ u[:, np.argsort(w)[::-1][:p]].astype(np.float32)
        self.components = np.ascontiguousarray(vecs.astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), self.components.shape[1]), np.float32)
        for s in range(0, len(x), BLOCK):
            out[s : s + BLOCK] = (np.asarray(x[s : s + BLOCK], np.float32) - self.mean) @ self.components
        return out


def nearest_centre(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre of every row (squared Euclidean), in blocks."""
    out = np.empty(len(z), np.int64)
    cc = np.einsum("ij,ij->i", centres, centres)
    for s in range(0, len(z), BLOCK):
        out[s : s + BLOCK] = np.argmin(cc[None, :] - 2.0 * (z[s : s + BLOCK] @ centres.T), axis=1)
    return out


def lloyd(fit: np.ndarray, k: int, rng, n_iter: int = 15) -> np.ndarray:
    """Centres of a plain k-means (Lloyd's iterations from ``k`` distinct random rows; an emptied cluster
    keeps its centre): no k-means++ seeding, whose cost grows with k times n."""
    k = int(max(1, min(k, len(fit))))
    centres = np.array(fit[np.sort(rng.choice(len(fit), size=k, replace=False))], np.float32)
    for _ in range(n_iter):
        lab = nearest_centre(fit, centres)
        counts = np.bincount(lab, minlength=k).astype(np.float32)
        sums = np.stack([np.bincount(lab, weights=fit[:, j], minlength=k) for j in range(fit.shape[1])], 1)
        keep = counts > 0
        new = centres.copy()
        new[keep] = (sums[keep] / counts[keep, None]).astype(np.float32)
        if np.allclose(new, centres, atol=1e-6):
            break
        centres = new
    return centres


def kmeans(z: np.ndarray, k: int, max_fit: int, random_state: int) -> np.ndarray:
    """Cluster of every row: k-means (``lloyd``) fitted on a sample of at most ``max_fit`` rows, every row
    assigned to its nearest centre."""
    rng = np.random.default_rng(random_state)
    fit = np.asarray(z[sample_rows(len(z), max_fit, rng)], np.float32)
    return nearest_centre(z, lloyd(fit, k, rng))


def knn(z: np.ndarray, k: int) -> np.ndarray:
    """Exact k nearest rows of every row of ``z`` (itself first), by squared Euclidean distance, in blocks
    (memory O(block x n)); meant for the sample, never for a million rows."""
    n = len(z)
    k = int(min(k, n))
    out = np.empty((n, k), np.int64)
    zz = np.einsum("ij,ij->i", z, z)
    step = max(256, min(BLOCK, 50_000_000 // max(n, 1)))
    for s in range(0, n, step):
        d = zz[None, :] - 2.0 * (z[s : s + step] @ z.T)
        d[np.arange(len(d)), np.arange(s, s + len(d))] = -np.inf  # a row is its own first neighbour
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
        out[s : s + step] = np.take_along_axis(part, order, axis=1)
    return out


def top2(x: np.ndarray, concepts: np.ndarray):
    """First and second concept of every row (cosine) and their similarities, in blocks."""
    n = len(x)
    r1, r2 = np.empty(n, np.int64), np.empty(n, np.int64)
    s1, s2 = np.empty(n, np.float32), np.empty(n, np.float32)
    c = np.asarray(concepts, np.float32)
    for s in range(0, n, BLOCK):
        sim = np.asarray(x[s : s + BLOCK], np.float32) @ c.T
        if sim.shape[1] == 1:
            r1[s : s + len(sim)], s1[s : s + len(sim)] = 0, sim[:, 0]
            r2[s : s + len(sim)], s2[s : s + len(sim)] = 0, -np.inf
            continue
        part = np.argpartition(-sim, 1, axis=1)[:, :2]
        ps = np.take_along_axis(sim, part, axis=1)
        swap = ps[:, 1] > ps[:, 0]
        part[swap] = part[swap][:, ::-1]
        ps[swap] = ps[swap][:, ::-1]
        r1[s : s + len(sim)], r2[s : s + len(sim)] = part[:, 0], part[:, 1]
        s1[s : s + len(sim)], s2[s : s + len(sim)] = ps[:, 0], ps[:, 1]
    return r1, r2, s1, s2


class BalancedReading:
    """Readings with each concept's similarities replaced by their rank among the images (the concept's
    column CDF, estimated on a sample): every concept then claims the images it is relatively closest to,
    whatever its overall closeness to the images. A hub (near every image) loses the images that are
    relatively closer to another concept; an empty concept wins its own nearest images back. ``strength``
    mixes the raw cosine (0) and the rank (1)."""

    def __init__(self, x: np.ndarray, concepts: np.ndarray, max_fit: int, rng, strength: float = 1.0):
        fit = np.asarray(x[sample_rows(len(x), max_fit, rng)], np.float32)
        self.concepts = np.asarray(concepts, np.float32)
        sim = fit @ self.concepts.T
        self.sorted = np.sort(sim, axis=0)
        self.scale = float(np.std(sim)) or 1.0
        self.strength = float(strength)

    def rank(self, sim: np.ndarray) -> np.ndarray:
        m = len(self.sorted)
        u = np.empty_like(sim)
        for c in range(sim.shape[1]):
            col = self.sorted[:, c]
            u[:, c] = (np.searchsorted(col, sim[:, c], "left") + np.searchsorted(col, sim[:, c], "right")) / (2.0 * m)
        return u

    def read(self, x: np.ndarray, first: np.ndarray | None = None):
        """The balanced reading of every row; with ``first`` (each row's raw reading) also the best other
        concept than ``first`` in the balanced scores and the balanced margin ``score[first] - score[other]``
        (negative where the balanced reading moved away from ``first``)."""
        out = np.empty(len(x), np.int64)
        if first is not None:
            other, margin = np.empty(len(x), np.int64), np.empty(len(x), np.float32)
        for s in range(0, len(x), BLOCK):
            sim = np.asarray(x[s : s + BLOCK], np.float32) @ self.concepts.T
            score = self.strength * self.rank(sim) + (1.0 - self.strength) * sim / (3.0 * self.scale)
            out[s : s + len(sim)] = np.argmax(score, axis=1)
            if first is not None:
                rows, f = np.arange(len(sim)), first[s : s + len(sim)]
                own = score[rows, f].copy()
                score[rows, f] = -np.inf
                if score.shape[1] > 1:
                    o = np.argmax(score, axis=1)
                    other[s : s + len(sim)], margin[s : s + len(sim)] = o, own - score[rows, o]
                else:
                    other[s : s + len(sim)], margin[s : s + len(sim)] = f, np.inf
        return out if first is None else (out, other, margin)


def consensus(z: np.ndarray, reading: np.ndarray, n_concepts: int, k: int, max_knn: int, random_state: int):
    """The reading most of each row's image neighbours hold, and its share among them.

    Exact k-NN (k neighbours, the row included) when there are at most ``max_knn`` rows; above that, k-NN on a
    sample of ``max_knn`` rows, and every other row takes the consensus of the sampled rows in its micro-cluster
    (k-means on the sample, about ``k`` sampled rows per cluster)."""
    n = len(z)
    rng = np.random.default_rng(random_state)
    sample = sample_rows(n, max_knn, rng)
    zs, rs = z[sample], reading[sample]
    nb = knn(zs, k)
    votes = rs[nb]  # (m, k)
    counts = np.zeros((len(zs), n_concepts), np.float32)
    for j in range(votes.shape[1]):
        np.add.at(counts, (np.arange(len(zs)), votes[:, j]), 1.0)
    counts /= votes.shape[1]
    if len(sample) == n:
        return counts.argmax(1), counts.max(1)
    centres = lloyd(zs, max(2, len(zs) // k), rng)
    cl_s = nearest_centre(zs, centres)
    agg = np.zeros((len(centres), n_concepts), np.float32)
    np.add.at(agg, cl_s, counts)
    agg /= np.maximum(agg.sum(1, keepdims=True), 1e-9)
    cons, share = np.empty(n, np.int64), np.empty(n, np.float32)
    for s in range(0, n, BLOCK * 8):
        cl = nearest_centre(z[s : s + BLOCK * 8], centres)
        cons[s : s + len(cl)], share[s : s + len(cl)] = agg[cl].argmax(1), agg[cl].max(1)
    cons[sample], share[sample] = counts.argmax(1), counts.max(1)
    return cons, share
