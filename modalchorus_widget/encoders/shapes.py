"""The second embedded default: a LiT-style image-text model for the procedural shapes world.

Same recipe as the digits model (``default.py``): the text tower is the frozen all-MiniLM-L6-v2 (its 384-d
unit vectors are the joint space), only a small CNN image tower (3x32x32 -> 384) is trained, with the CLIP
contrastive loss against captions of ``data/shapes.py``'s *training* distribution (biased on purpose).
Trained by ``scripts/train_shapes.py``; weights in ``modalchorus_widget/weights/default_shapes.*``.

It fails the way CLIP does (figures in the JSON config, measured by the training script): it reads single
objects well, but barely tells "a red circle to the left of a blue square" from its attribute- or
relation-swapped caption, and red objects that are not circles lean towards "red circle".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, EncoderError, InputTypeError, MissingFileError
from .base import Encoder, open_image
from .default import encode_texts_minilm

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
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
    from ..data.shapes import Scene, render

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


class ShapesEncoder(Encoder):
    """The embedded shapes-world image-text model (384-d joint space = all-MiniLM-L6-v2 space).

    Parameters
    ----------
    weights : path to the safetensors file (default: the shipped one; its JSON config sits beside it).
    device : "cpu" or "cuda".
    """

    name = "modalchorus-default-shapes"

    def __init__(self, weights=None, device: str = "cpu"):
        self.weights = weights
        self.device = device
        self._tower = None
        self._config = None
        self._text_cache: dict[str, np.ndarray] = {}

    @property
    def weights_path(self) -> Path:
        return Path(self.weights) if self.weights is not None else WEIGHTS_FILE

    @property
    def config(self) -> dict:
        if self._config is None:
            cfg = self.weights_path.with_suffix(".json")
            if not cfg.is_file():
                raise MissingFileError(
                    f"shapes encoder: config '{cfg}' is missing next to the weights; re-run "
                    "`python scripts/train_shapes.py` or reinstall the package."
                )
            self._config = json.loads(cfg.read_text())
        return self._config

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    def _load_tower(self):
        if self._tower is None:
            import torch
            from safetensors.torch import load_file

            path = self.weights_path
            if not path.is_file():
                raise MissingFileError(
                    f"shapes encoder: weights '{path}' not found; re-run `python scripts/train_shapes.py` or "
                    "reinstall modalchorus-widget."
                )
            tower = build_shapes_tower(width=int(self.config["width"]), dim=self.dim)
            try:
                tower.load_state_dict(load_file(str(path)))
            except Exception as exc:  # safetensors raises its own error type; torch a RuntimeError
                raise CheckpointError(
                    f"shapes encoder: weights '{path}' cannot be read ({type(exc).__name__}: {exc}); the file is "
                    "corrupt or from another model. Re-run `python scripts/train_shapes.py`."
                ) from exc
            tower.eval().to(self.device)
            for p in tower.parameters():
                p.requires_grad_(False)
            self._tower, self._torch = tower, torch
        return self._tower

    def encode_images(self, items, batch_size: int = 1024, progress: bool | None = None) -> np.ndarray:
        """Embed scene images (see ``scenes_to_array``) -> (n, 384) unit float32."""
        arr = scenes_to_array(items)
        tower = self._load_tower()
        torch = self._torch
        out = np.empty((len(arr), self.dim), np.float32)
        with torch.inference_mode():
            for s in self._batches(len(arr), batch_size, progress, "shapes: images"):
                x = torch.from_numpy(np.ascontiguousarray(arr[s].transpose(0, 3, 1, 2)) / 255.0).to(self.device)
                out[s] = torch.nn.functional.normalize(tower(x), dim=-1).cpu().numpy()
        return out

    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        """Embed free text with the frozen MiniLM text tower -> (n, 384) unit float32 (cached per text)."""
        texts = self._check_texts(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            show = progress if progress is not None else len(missing) > 2000
            for t, v in zip(missing, encode_texts_minilm(missing, batch_size, self.device, show)):
                self._text_cache[t] = v
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self._text_cache[t] for t in texts]).astype(np.float32)

    def __repr__(self):
        return f"ShapesEncoder(weights={self.weights!r}, device={self.device!r})"


_SHAPES_ENCODER = None


def load_shapes_encoder(device: str = "cpu") -> ShapesEncoder:
    """The shipped shapes encoder (one shared instance per process for the default device)."""
    global _SHAPES_ENCODER
    if device != "cpu":
        return ShapesEncoder(device=device)
    if _SHAPES_ENCODER is None:
        _SHAPES_ENCODER = ShapesEncoder()
    return _SHAPES_ENCODER
