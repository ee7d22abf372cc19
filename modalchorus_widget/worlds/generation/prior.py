"""A small non-parametric prior: text embedding -> an image embedding sampled from the training images.

Why this form: p(e | t) is proportional to p_train(e) * exp(s * <t, e>), with p_train the empirical
distribution of training image embeddings (the pool) and s the contrastive model's logit scale. It is the
Bayes posterior of the model's own image-text likelihood, and it states where a correlated attribute leaks
in: a text that sits between two concepts draws from the one the training data holds more of (97 % of red
objects are circles in the shapes world). Aligning the text side moves <t, e> and so the draws.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ...errors import NotFittedError
from .base import GenerationError, check_embeddings
from .decoder import perturb


class PoolPrior(BaseEstimator):
    """Sample image embeddings for text embeddings from a pool of image embeddings.

    Parameters
    ----------
    scale : float, default=30.0
        Logit scale s of the softmax over the pool (the contrastive model's own).
    noise : float, default=0.1
        Norm of the Gaussian perturbation of each drawn embedding (0: the pool vector itself).
    random_state : int, default=0
        Seed of the draws when ``sample`` is not given one.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.worlds.generation import PoolPrior
    >>> prior = PoolPrior(scale=30.0, noise=0.0).fit(np.eye(3))
    >>> vectors, rows = prior.sample(np.array([[0.0, 1.0, 0.0]]))
    >>> rows, vectors
    (array([1]), array([[0., 1., 0.]], dtype=float32))
    """

    def __init__(self, scale=30.0, noise=0.1, random_state=0):
        self.scale, self.noise, self.random_state = scale, noise, random_state

    def fit(self, image_vectors, y=None):
        """Store the pool (unit image embeddings of the training distribution)."""
        if not (np.isfinite(self.scale) and self.scale > 0) or not (np.isfinite(self.noise) and self.noise >= 0):
            raise GenerationError(f"PoolPrior: scale must be > 0 and noise >= 0, got {self.scale!r}, {self.noise!r}.")
        v = check_embeddings(image_vectors, None, "PoolPrior.fit")
        if len(v) == 0:
            raise GenerationError("PoolPrior.fit: the pool is empty; pass the training image embeddings.")
        self.pool_ = v / np.linalg.norm(v, axis=1, keepdims=True)
        self.n_features_in_ = v.shape[1]
        return self

    def probabilities(self, text_vectors) -> np.ndarray:
        """(n, pool) draw probabilities of every pool row for every text row."""
        if not hasattr(self, "pool_"):
            raise NotFittedError("PoolPrior: call fit(image_vectors) before sampling.")
        t = check_embeddings(text_vectors, self.n_features_in_, "PoolPrior")
        t = t / np.linalg.norm(t, axis=1, keepdims=True)
        logits = np.float32(self.scale) * (t @ self.pool_.T)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def draw(self, text_vectors, rng) -> np.ndarray:
        """Pool rows (n,) drawn for the text rows with numpy Generator ``rng``."""
        p = self.probabilities(text_vectors)
        u = rng.random((len(p), 1))
        return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)

    def sample(self, text_vectors, random_state=None, pool=None) -> tuple:
        """(image embeddings (n, d), pool rows drawn (n,)): one draw per text row, perturbed by ``noise``.
        ``pool``: the vectors returned for the drawn rows (default: the pool itself)."""
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        rows = self.draw(text_vectors, rng)
        drawn = (self.pool_ if pool is None else pool)[rows]
        return (perturb(drawn, self.noise, rng) if self.noise > 0 else drawn.copy()), rows
