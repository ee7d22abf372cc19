"""The second embedded default: a LiT-style image-text model for the procedural shapes world.

Same recipe as the digits model (``default.py``; common part in ``lit.py``): the text tower is the frozen all-MiniLM-L6-v2 (its 384-d
unit vectors are the joint space), only a small CNN image tower (3x32x32 -> 384) is trained, with the CLIP
contrastive loss against captions of ``data/shapes.py``'s *training* distribution (biased on purpose).
Trained by ``scripts/train_shapes.py``; weights in ``modalchorus_widget/weights/default_shapes.*``.

It fails the way CLIP does (figures in the JSON config, measured by the training script): it reads single
objects well, but barely tells "a red circle to the left of a blue square" from its attribute- or
relation-swapped caption, and red objects that are not circles lean towards "red circle".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..checkpoint import WEIGHTS_DIR
from ..encoders.base import open_image
from ..encoders.lit import LiTEncoder
from ..errors import EncoderError, InputTypeError, MissingFileError

WEIGHTS_FILE = WEIGHTS_DIR / "default_shapes.safetensors"
IMAGE_SIZE = 32


def build_shapes_tower(width: int = 16, dim: int = 384):
    """The image tower: a small CNN, 3x32x32 (values 0..1) -> ``dim`` (not normalised). The last feature
    map keeps a 4x4 layout, so where an object is can reach the output."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 16x16
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 8x8
        nn.Conv2d(2 * width, 4 * width, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 4x4
        nn.Conv2d(4 * width, 8 * width, 3, padding=1),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(16 * 8 * width, 256),
        nn.GELU(),
        nn.Linear(256, dim),
    )


def scenes_to_array(items) -> np.ndarray:
    """Coerce scene images to float32 (n, 32, 32, 3) in 0..255.

    Accepts a uint8 / float array (n, 32, 32, 3) or (32, 32, 3) in 0..255 (``shapes.render_all``), or a
    sequence of such arrays, ``shapes.Scene`` objects (rendered here), PIL images or image paths (any
    size: converted to RGB and resized to 32x32).
    """
    if isinstance(items, np.ndarray) and items.dtype != object:
        arr = np.asarray(items, dtype=np.float32)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
            raise EncoderError(
                f"shapes encoder: image array has shape {items.shape}; expected (n, 32, 32, 3) RGB in 0..255 "
                "(shapes.render_all). Pass PIL images or paths for other sizes."
            )
        if not np.all(np.isfinite(arr)):
            raise EncoderError("shapes encoder: image array contains NaN or inf values; clean them first.")
        return arr
    out = [_one(item, i) for i, item in enumerate(items)]
    if not out:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
    return np.stack(out).astype(np.float32)


def _one(item, i):
    from .shapes import Scene, render

    if isinstance(item, Scene):
        return render(item).astype(np.float32)
    if isinstance(item, (str, Path)):
        if not Path(item).is_file():
            raise MissingFileError(f"shapes encoder: image {i} not found at '{item}'; check the path.")
        item = open_image(Path(item), i, "shapes encoder")
    if hasattr(item, "convert") and hasattr(item, "resize"):
        from PIL import Image

        return np.asarray(item.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR), np.float32)
    if isinstance(item, np.ndarray):
        a = np.asarray(item, np.float32)
        if a.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
            raise EncoderError(f"shapes encoder: image {i} has shape {a.shape}; expected (32, 32, 3) RGB 0..255.")
        return a
    raise InputTypeError(
        f"shapes encoder: image {i} is a {type(item).__name__}; expected a (32, 32, 3) array, a shapes.Scene, "
        "a PIL image or a path."
    )


class ShapesEncoder(LiTEncoder):
    """The embedded shapes-world image-text model (384-d joint space = all-MiniLM-L6-v2 space).

    Parameters
    ----------
    weights : str or Path, optional
        The safetensors file (default: the shipped one; its JSON config sits beside it).
    device : str, default="cpu"
        "cpu" or "cuda".

    Examples
    --------
    >>> from modalchorus_widget.worlds import ShapesEncoder
    >>> from modalchorus_widget.worlds.shapes import render_all, sample_scenes
    >>> images = render_all(sample_scenes(2, "single", "test", 0))  # uint8 (2, 32, 32, 3)
    >>> ShapesEncoder.shared().encode_images(images).shape
    (2, 384)
    """

    name = "modalchorus-default-shapes"
    weights_file = WEIGHTS_FILE
    train_script = "train_shapes.py"  # in the repository's scripts folder
    what = "shapes encoder"

    def build(self, config):
        return build_shapes_tower(width=int(config["width"]), dim=int(config["dim"]))

    def images_to_array(self, items) -> np.ndarray:
        return scenes_to_array(items)

    def tower_input(self, arr, torch):
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)) / 255.0)


def load_shapes_encoder(device: str = "cpu") -> ShapesEncoder:
    """The shipped shapes encoder (one shared instance per process for the CPU: ``ShapesEncoder.shared``).

    Parameters
    ----------
    device : str, default="cpu"

    Returns
    -------
    ShapesEncoder
        The shapes world's embedded model (trained on its biased split).

    Examples
    --------
    >>> from modalchorus_widget.worlds import load_shapes_encoder
    >>> load_shapes_encoder().encode_texts(["a photo of a red square"]).shape
    (1, 384)
    """
    return ShapesEncoder.shared(device)
