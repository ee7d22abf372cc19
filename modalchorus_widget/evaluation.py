"""Figures that say whether embeddings are aligned: zero-shot accuracy and cross-modal retrieval recall.

Shared by the alignment history, the benchmarks and the widget's before/after panel, so every place
reports the same numbers. Inputs are L2-normalised rows; similarity is the dot product (cosine).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def _rows(x, name):
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(f"{name}: expected a non-empty (n, d) array, got shape {x.shape}.")
    return x


def zero_shot_predict(image_vectors, prompt_vectors, batch_size: int = 65536) -> np.ndarray:
    """Index of the best-matching prompt (class) for every image row; batched, so memory stays O(batch * classes)."""
    x = _rows(image_vectors, "image_vectors")
    p = _rows(prompt_vectors, "prompt_vectors")
    if x.shape[1] != p.shape[1]:
        raise InputError(f"image_vectors have dimension {x.shape[1]} but prompt_vectors {p.shape[1]}.")
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), batch_size):
        out[s : s + batch_size] = np.argmax(x[s : s + batch_size] @ p.T, axis=1)
    return out


def accuracy(pred, truth) -> float:
    pred, truth = np.asarray(pred), np.asarray(truth)
    return float(np.mean(pred == truth)) if len(truth) else float("nan")


def per_class_accuracy(pred, truth, n_classes: int | None = None) -> np.ndarray:
    """Accuracy of each class (NaN for a class absent from ``truth``)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    n_classes = int(max(pred.max(initial=0), truth.max(initial=0)) + 1) if n_classes is None else n_classes
    hits = np.bincount(truth, weights=(pred == truth).astype(float), minlength=n_classes)
    counts = np.bincount(truth, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def confusion_matrix(pred, truth, n_classes: int) -> np.ndarray:
    """Counts[true, predicted]."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(truth), np.asarray(pred)), 1)
    return m


def recall_at_k(queries, keys, k: int = 1, truth=None, batch_size: int = 4096) -> float:
    """Fraction of queries whose true key (row i by default, or ``truth[i]``) is among the top-k keys."""
    q = _rows(queries, "queries")
    kk = _rows(keys, "keys")
    if q.shape[1] != kk.shape[1]:
        raise InputError(f"queries have dimension {q.shape[1]} but keys {kk.shape[1]}.")
    truth = np.arange(len(q)) if truth is None else np.asarray(truth)
    if len(truth) != len(q):
        raise InputError(f"truth has {len(truth)} entries for {len(q)} queries.")
    hits = 0
    for s in range(0, len(q), batch_size):
        sim = q[s : s + batch_size] @ kk.T
        true_sim = sim[np.arange(len(sim)), truth[s : s + batch_size]]
        # rank = number of keys strictly more similar than the true one
        rank = (sim > true_sim[:, None]).sum(axis=1)
        hits += int((rank < k).sum())
    return hits / len(q)
