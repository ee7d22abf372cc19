"""Automated baselines that alignment is measured against, fitted on the same selected pairs.

- ``gap_shift``: move one modality by the mean difference between the modalities (the modality-gap fix).
- ``procrustes``: orthogonal map of images onto their paired texts (orthogonal Procrustes).
- ``clip_adapter``: CLIP-Adapter (Gao et al. 2021): a residual bottleneck MLP on image features,
  mixed with ratio ``alpha`` and trained with the symmetric contrastive loss on the pairs.
Each ``fit`` returns a function (image_vectors, text_vectors) -> (image_vectors', text_vectors').
"""

from __future__ import annotations

import numpy as np

from .._optim import Adam
from ..errors import AlignmentError


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _pairs(images, texts):
    x, y = np.asarray(images, np.float32), np.asarray(texts, np.float32)
    if x.ndim != 2 or x.shape != y.shape or len(x) < 2:
        raise AlignmentError(
            f"baselines need paired (n, d) arrays of equal shape with n >= 2; got {x.shape} and {y.shape}."
        )
    return x, y


def gap_shift(images, texts):
    """Images move by mean(text) - mean(image), then re-normalise; texts stay."""
    x, y = _pairs(images, texts)
    shift = y.mean(0) - x.mean(0)
    return lambda xi, yt: (_unit(np.asarray(xi) + shift), _unit(yt))


def procrustes(images, texts):
    """R = argmin ||X R - Y|| over orthogonal R (SVD of X^T Y); images are mapped by R."""
    x, y = _pairs(images, texts)
    u, _, vt = np.linalg.svd(x.T @ y)
    r = (u @ vt).astype(np.float32)
    return lambda xi, yt: (_unit(np.asarray(xi) @ r), _unit(yt))


def clip_adapter(images, texts, alpha=0.2, reduction=4, steps=100, lr=1e-3, temperature=0.01, random_state=0):
    """CLIP-Adapter on the image side, trained with symmetric InfoNCE on the pairs (full batch, Adam)."""
    import torch
    import torch.nn.functional as F

    x, y = _pairs(images, texts)
    d = x.shape[1]
    g = torch.Generator().manual_seed(random_state)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, d // reduction, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(d // reduction, d, bias=False),
        torch.nn.ReLU(),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=g) / np.sqrt(p.shape[1]))
    f = lambda v: F.normalize(alpha * net(v) + (1 - alpha) * v, dim=-1)  # noqa: E731
    opt = Adam(net.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lab = torch.arange(len(x))
    for _ in range(steps):
        logits = f(xt) @ yt.T / temperature
        loss = 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def apply(xi, yt_):
        with torch.no_grad():
            return f(torch.from_numpy(np.asarray(xi, np.float32))).numpy(), _unit(yt_)

    return apply


BASELINES = {"modality_gap_shift": gap_shift, "procrustes": procrustes, "clip_adapter": clip_adapter}
