"""The world's tiny unCLIP-style decoder: a joint-space image embedding -> a 32x32 RGB scene.

Trained by ``scripts/train_generator.py`` on rendered scenes of the training split: its head learns each
scene's code (colour, shape, size, centre) from the image embedding under the shipped shapes model
(``encoders/shapes.py``), with a little noise on its input (``NOISE``) so that it also draws the slightly
perturbed embeddings the prior samples; its pixel network learns to draw a code. It is the frozen image
side of generation: what it draws depends only on the image embedding it is given.
"""

from __future__ import annotations

import numpy as np

from ...checkpoint import WEIGHTS_DIR, ShippedNetwork
from ...errors import InputError

DECODER_FILE = WEIGHTS_DIR / "generator_shapes.safetensors"
NOISE = 0.1  # norm of the Gaussian perturbation of unit embeddings in training (and in the prior)


def build_decoder(dim: int = 384, hidden: int = 256, width: int = 128):
    """dim -> (3, 32, 32), about 0..1, through a scene code (``_scene_decoder.SceneDecoderNet``)."""
    from ._scene_decoder import SceneDecoderNet

    return SceneDecoderNet(dim, hidden, width)


def perturb(vectors: np.ndarray, scale: float, rng) -> np.ndarray:
    """Unit vectors moved by Gaussian noise of expected norm ``scale``, renormalised."""
    v = np.asarray(vectors, np.float32)
    noise = rng.standard_normal(v.shape).astype(np.float32) * np.float32(scale / np.sqrt(v.shape[1]))
    out = v + noise
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class ShapesDecoder(ShippedNetwork):
    """The shipped decoder. ``decode(image_embeddings)`` -> uint8 (n, 32, 32, 3).

    Parameters
    ----------
    weights : str or Path, optional
        The safetensors file (default: the shipped one; its JSON config sits beside it).

    Examples
    --------
    >>> from modalchorus_widget.worlds import load_shapes_encoder
    >>> from modalchorus_widget.worlds.generation import ShapesDecoder
    >>> from modalchorus_widget.worlds.shapes import render_all, sample_scenes
    >>> emb = load_shapes_encoder().encode_images(render_all(sample_scenes(2, "single", "test", 0)))
    >>> out = ShapesDecoder().decode(emb)
    >>> out.shape, out.dtype
    ((2, 32, 32, 3), dtype('uint8'))
    """

    weights_file = DECODER_FILE
    train_script = "train_generator.py"  # in the repository's scripts folder
    what = "shapes decoder"

    def build(self, config):
        return build_decoder(int(config["dim"]), int(config["hidden"]), int(config["width"]))

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    def decode(self, embeddings, batch_size: int = 512) -> np.ndarray:
        """Image embeddings (n, dim), any norm -> uint8 (n, 32, 32, 3) scenes."""
        import torch

        v = np.asarray(embeddings, np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise InputError(f"shapes decoder: expected (n, {self.dim}) image embeddings, got shape {v.shape}.")
        if not np.isfinite(v).all():
            raise InputError("shapes decoder: embeddings contain NaN or inf; drop or re-encode those rows.")
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        if (norms < 1e-12).any():
            raise InputError("shapes decoder: zero vectors have no direction; drop them.")
        v = v / norms
        net = self.network()
        out = np.empty((len(v), 32, 32, 3), np.uint8)
        with torch.inference_mode():
            for s in range(0, len(v), batch_size):
                x = net(torch.from_numpy(v[s : s + batch_size])).numpy().transpose(0, 2, 3, 1)
                out[s : s + batch_size] = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
        return out

    def __repr__(self):
        return f"ShapesDecoder(weights={self.weights!r})"
