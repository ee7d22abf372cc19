"""Automated baselines that alignment is measured against, fitted on the same selected pairs.

- ``gap_shift``: move one modality by the mean difference between the modalities (the modality-gap fix).
- ``procrustes``: orthogonal map of images onto their paired texts (orthogonal Procrustes).
- ``clip_adapter``: CLIP-Adapter (Gao et al. 2021): a residual bottleneck MLP on image features,
  mixed with ratio ``alpha`` and trained with the symmetric contrastive loss on the pairs.
Each of those ``fit`` returns a function (image_vectors, text_vectors) -> (image_vectors', text_vectors').

The few-shot fixes of a zero-shot classifier the guard is compared with (``benchmarks/fixes.py``), each given
the same guard there: ``TipAdapter`` (training-free cache), ``taskres`` (a residual on the prompts), and the
supervised upper bound ``linear_probe``.
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


def clip_adapter(
    images, texts, alpha=0.2, reduction=4, n_steps=100, learning_rate=1e-3, temperature=0.01, random_state=0
):
    """CLIP-Adapter on the image side, trained with symmetric InfoNCE on the pairs (full batch, Adam).

    Parameters
    ----------
    images, texts : array-like (n, d)
        Paired vectors, row i of both the same item (n >= 2).
    alpha : float, default 0.2
        Share of the adapter's output in the mix with the input.
    reduction : int, default 4
        Bottleneck: the hidden width is d / reduction.
    n_steps : int, default 100
        Full-batch Adam steps.
    learning_rate : float, default 1e-3
        Adam's learning rate.
    temperature : float, default 0.01
        InfoNCE temperature.
    random_state : int, default 0
        Seed of the adapter's initial weights.

    Returns
    -------
    callable
        ``apply(image_vectors, text_vectors) -> (image_vectors', text_vectors')``.

    Raises
    ------
    AlignmentError
        Inputs that are not paired (n, d) arrays with n >= 2.
    """
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
    opt = Adam(net.parameters(), lr=learning_rate)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lab = torch.arange(len(x))
    for _ in range(n_steps):
        logits = f(xt) @ yt.T / temperature
        loss = 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def apply(xi, yt_):
        with torch.no_grad():
            return f(torch.from_numpy(np.asarray(xi, np.float32))).numpy(), _unit(yt_)

    return apply


class TipAdapter:
    """Tip-Adapter (Zhang et al., ECCV 2022), training-free: the selected images are the cache keys, the vector
    each was pulled to (its target prompt, or its paired text) its value. A query x scores a concept t with
    x.t + alpha * sum_k A(x, k) B(t, k) / sum_k A(x, k), where A = exp(-beta (1 - x.key_k)) and B = exp(-beta
    (1 - t.value_k)) (B is the one-hot label of the paper when t is one of the values). ``alpha`` and ``beta``
    are the guard's (``choose_alpha``)."""

    def __init__(self, keys, values, beta=5.5):
        self.keys, self.values = _unit(keys), _unit(values)
        if self.keys.shape != self.values.shape or len(self.keys) == 0:
            raise AlignmentError(f"TipAdapter: keys {self.keys.shape} and values {self.values.shape} must pair up.")
        self.beta = float(beta)

    def scores(self, x, t, alpha=1.0):
        x, t = _unit(x), _unit(t)
        a = np.exp(-self.beta * (1.0 - x @ self.keys.T))
        b = np.exp(-self.beta * (1.0 - t @ self.values.T))
        return x @ t.T + float(alpha) * (a @ b.T) / np.maximum(a.sum(1, keepdims=True), 1e-12)


def taskres(images, targets, concepts, n_steps=100, learning_rate=1e-3, temperature=0.01, random_state=0):
    """TaskRes (Yu et al., CVPR 2023): a residual on the concept vectors (prompts), cross-entropy of the selected
    ``images`` over ``concepts`` towards ``targets`` (index of each image's concept), no preservation term.
    Returns the tuned concept vectors (k, d), unit rows; the guard interpolates towards them."""
    import torch
    import torch.nn.functional as F

    x, c = torch.from_numpy(_unit(images)), torch.from_numpy(_unit(concepts))
    y = torch.as_tensor(np.asarray(targets, np.int64))
    if len(x) == 0 or len(x) != len(y):
        raise AlignmentError("taskres: one target concept per selected image is needed.")
    torch.manual_seed(random_state)
    res = torch.zeros_like(c, requires_grad=True)
    opt = Adam([res], lr=learning_rate)
    for _ in range(n_steps):
        loss = F.cross_entropy(x @ F.normalize(c + res, dim=-1).T / temperature, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return F.normalize(c + res, dim=-1).numpy()


def linear_probe(images, labels, random_state=0):
    """A linear probe (multinomial logistic regression) on every labelled image of the map: the supervised
    upper bound, which a user does not have. Returns the fitted scikit-learn classifier."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10.0, max_iter=2000, random_state=random_state).fit(_unit(images), labels)


BASELINES = {"modality_gap_shift": gap_shift, "procrustes": procrustes, "clip_adapter": clip_adapter}


def choose_alpha(scores_at, truth, concept_labels, tolerance=None, alphas=None, target_at=None) -> tuple:
    """The guard for a fix that is not a vector map (a cache, a classifier): ``scores_at(alpha)`` gives the
    (n, k) scores of ``n`` labelled guard rows (labels ``truth``) against ``k`` concepts (labels
    ``concept_labels``); of the alphas whose worst per-class accuracy drop against alpha 0 is within
    ``tolerance`` (the labels rule of :func:`guard.run_guard`), the largest, or with ``target_at(alpha)`` (the
    share of selected rows the fix satisfies) the one whose target is best, the larger on a tie (the guard's
    default ``pick="best_target"``). Returns (alpha, curve of worst drops)."""
    from .guard import ALPHAS, DEFAULT_TOLERANCE, GuardSpec

    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    alphas = ALPHAS if alphas is None else alphas
    truth = np.asarray(truth, dtype=object)
    cl = np.asarray(concept_labels, dtype=object)
    classes = [truth == c for c in dict.fromkeys(truth.tolist())]
    ok0 = cl[np.argmax(scores_at(0.0), axis=1)] == truth
    worst = []
    for a in alphas:
        ok = cl[np.argmax(scores_at(float(a)), axis=1)] == truth
        worst.append(max([float(ok0[m].mean() - ok[m].mean()) for m in classes] + [0.0]))
    good = [i for i, w in enumerate(worst) if w <= tolerance + 1e-12]
    if not good:
        return 0.0, worst
    spec = GuardSpec(pick="largest" if target_at is None else "best_target")
    target = [float(target_at(float(a))) if i in good and target_at else None for i, a in enumerate(alphas)]
    return float(alphas[spec.choose(good, target)]), worst
