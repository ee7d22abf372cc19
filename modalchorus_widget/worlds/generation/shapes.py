"""The shapes world's generator (prior + decoder) and the oracle's held-out figures.

``ShapesGenerator``: text embedding -> ``PoolPrior`` draw among training-split image embeddings of the
shipped shapes model -> ``ShapesDecoder`` -> a 32x32 scene. The pool is rendered and embedded on first
use (deterministic, about a second), so nothing but the decoder ships.
"""

from __future__ import annotations

import numpy as np

from .. import shapes as S
from .. import shapes_cases as C
from .base import Generator
from .decoder import NOISE, ShapesDecoder, perturb
from .oracle import ShapesOracle, oracle_report
from .prior import PoolPrior

POOL_SEED = 23  # the training-split scenes whose embeddings the prior draws from
N_POOL = 3000


class ShapesGenerator(Generator):
    """unCLIP-style generator of the shapes world.

    Parameters
    ----------
    encoder : Encoder, optional
        The shapes encoder (default: the shipped one); embeds the prior's pool.
    decoder : ShapesDecoder, optional
        The decoder (default: the shipped one).
    n_pool : int, default=3000
        Training-split single-object scenes in the prior's pool (their natural, biased distribution).
    scale : float, optional
        The prior's logit scale (default: the encoder's learned one).
    noise : float, default=NOISE
        The prior's perturbation of each draw.
    aligner : Aligner, optional
        The prior then matches text and pool in its current (aligned) joint space (the pool mapped by
        ``aligner.transform(..., "image")``; pass text embeddings mapped by ``aligner.transform(..., "text")``).
        The decoder always draws the drawn scene's original embedding.

    Examples
    --------
    A small pool keeps this fast (the pool is rendered and embedded on first use):

    >>> from modalchorus_widget.worlds import load_shapes_encoder
    >>> from modalchorus_widget.worlds.generation import ShapesGenerator
    >>> gen = ShapesGenerator(n_pool=300)
    >>> text = load_shapes_encoder().encode_texts(["a photo of a red circle"])
    >>> gen.generate(text, random_state=0).shape
    (1, 32, 32, 3)
    """

    def __init__(
        self, encoder=None, decoder=None, n_pool: int = N_POOL, scale=None, noise: float = NOISE, aligner=None
    ):
        from ..shapes_encoder import load_shapes_encoder

        self.encoder = load_shapes_encoder() if encoder is None else encoder
        self.decoder = ShapesDecoder() if decoder is None else decoder
        self.n_pool, self.scale, self.noise, self.aligner = n_pool, scale, noise, aligner
        self.dim = self.decoder.dim
        self._prior = None

    @property
    def prior(self) -> PoolPrior:
        if self._prior is None:
            scenes = S.sample_scenes(self.n_pool, "single", "train", POOL_SEED)
            scale = self.scale if self.scale is not None else self.encoder.config["train"]["final_logit_scale"]
            self._prior = PoolPrior(scale=float(scale), noise=self.noise)
            self._prior.fit(self.encoder.encode_images(S.render_all(scenes)))
            self.pool_labels_ = S.labels(scenes)["combo1"]
        return self._prior

    def with_aligner(self, aligner) -> ShapesGenerator:
        """The same generator (shared prior and decoder) matching in ``aligner``'s space (None: the original)."""
        import copy

        _ = self.prior  # build the pool once, shared by the copy
        out = copy.copy(self)
        out.aligner = aligner
        return out

    def sample(self, embeddings, random_state=None) -> tuple:
        """(drawn original image embeddings, pool rows): the prior's draws for text ``embeddings``."""
        prior = self.prior
        if self.aligner is None or not self.aligner.history_:
            return prior.sample(embeddings, random_state)
        aligned = PoolPrior(scale=prior.scale, noise=prior.noise, random_state=prior.random_state)
        aligned.fit(self.aligner.transform(prior.pool_, "image"))
        return aligned.sample(embeddings, random_state, pool=prior.pool_)

    def _generate(self, embeddings, random_state):
        drawn, _ = self.sample(embeddings, random_state)
        return self.decoder.decode(drawn)

    def __repr__(self):
        return f"ShapesGenerator(n_pool={self.n_pool}, scale={self.scale}, noise={self.noise})"


_GENERATOR = None


def load_shapes_generator() -> ShapesGenerator:
    """The shipped shapes generator (one shared instance per process).

    Returns
    -------
    ShapesGenerator
        The default generator (3000-scene pool, built on its first ``generate``).

    Examples
    --------
    >>> from modalchorus_widget.worlds.generation import load_shapes_generator
    >>> gen = load_shapes_generator()
    >>> gen is load_shapes_generator(), gen.dim
    (True, 384)
    """
    global _GENERATOR
    if _GENERATOR is None:
        _GENERATOR = ShapesGenerator()
    return _GENERATOR


def oracle_figures(oracle: ShapesOracle, decoder: ShapesDecoder, encoder, n: int = C.N_TEST_SINGLE) -> dict:
    """The oracle's accuracy on the first ``n`` held-out single-object scenes: clean renders (all 16 classes),
    and decoder reconstructions of those of the 14 seen classes (embedded, perturbed as the prior does,
    decoded: generated style; a decoder mistake counts against the oracle here)."""
    scenes = S.sample_scenes(n, "single", "test", C.TEST_SEED)
    images, lab = S.render_all(scenes), S.labels(scenes)
    seen = np.isin(lab["combo1"], C.seen_combos())
    rng = np.random.default_rng(0)
    recon = decoder.decode(perturb(encoder.encode_images(images[seen]), NOISE, rng))
    return {
        "clean": oracle_report(oracle, images, lab),
        "generated": oracle_report(oracle, recon, {k: v[seen] for k, v in lab.items()}),
    }


def oracle_held_out(oracle, decoder, encoder, check_n: int = 300) -> dict:
    """What the training script stores: ``oracle_figures`` on the whole held-out sample and on a prefix."""
    return {
        **oracle_figures(oracle, decoder, encoder),
        "check": {"n": check_n, **oracle_figures(oracle, decoder, encoder, check_n)},
        "split": f"held-out: sample_scenes(n, 'single', 'test', seed={C.TEST_SEED})",
    }
