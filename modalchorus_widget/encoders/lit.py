"""The embedded LiT-style models' common part: a small trained image tower against a frozen text tower.

Both embedded defaults (digits: ``default.py``, the shapes world: ``worlds/shapes_encoder.py``) use the pretrained
all-MiniLM-L6-v2 sentence encoder, frozen, as their text tower: its 384-d unit vectors *are* the joint space.
Only a small CNN image tower is trained (``scripts/train_default.py``, ``scripts/train_shapes.py``), shipped as
safetensors with a JSON config beside it. A subclass says how to build its tower and how to turn its images
into the tower's input; loading, batching, caching and the errors live here, once. Deep-mode alignment
(``alignment.towers``) tunes the last layer of any ``LiTEncoder``'s image tower.
"""

from __future__ import annotations

import numpy as np

from ..checkpoint import ShippedNetwork
from .base import Encoder


def encode_texts_minilm(texts, batch_size: int = 256, device: str = "cpu", progress: bool = False) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (n, 384) float32 of ``texts`` (the frozen text tower;
    plain-torch implementation in ``minilm.py``, identical to sentence-transformers' output)."""
    from .minilm import load_minilm

    texts = list(texts)
    if progress and len(texts) > batch_size:
        from tqdm.auto import tqdm

        parts = [
            load_minilm(device).encode(texts[s : s + 4 * batch_size], batch_size)
            for s in tqdm(range(0, len(texts), 4 * batch_size), desc="texts", unit="chunk", mininterval=1.0)
        ]
        return np.concatenate(parts)
    return load_minilm(device).encode(texts, batch_size)


class LiTEncoder(ShippedNetwork, Encoder):
    """An embedded image-text model: trained image tower (``build``) + frozen MiniLM text tower.

    Parameters
    ----------
    weights : path to the safetensors file (default: the shipped one; its JSON config sits beside it).
    device : "cpu" or "cuda".

    Subclasses set ``weights_file``, ``train_script`` and ``what`` (``checkpoint.ShippedNetwork``) and define
    ``build(config)`` (the image tower), ``images_to_array(items)`` (accepted image forms -> float32 array) and
    ``tower_input(arr, torch)`` (that array -> the tower's input tensor).
    """

    _shared: dict = {}  # class -> the process's shared CPU instance

    def __init__(self, weights=None, device: str = "cpu"):
        super().__init__(weights)
        self.device = device
        self._text_cache: dict[str, np.ndarray] = {}

    @classmethod
    def shared(cls, device: str = "cpu"):
        """The shipped model, one shared instance per process for the CPU (a new one for another device;
        deep-mode alignment tunes an encoder in place, so give it an instance of its own)."""
        if device != "cpu":
            return cls(device=device)
        if cls not in LiTEncoder._shared:
            LiTEncoder._shared[cls] = cls()
        return LiTEncoder._shared[cls]

    def images_to_array(self, items) -> np.ndarray:
        raise NotImplementedError

    def tower_input(self, arr: np.ndarray, torch):
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    def load_tower(self):
        """The image tower (torch, eval mode, frozen, on ``device``), loaded once."""
        import torch

        self._torch = torch
        return self.network().to(self.device)

    # --- Encoder interface ------------------------------------------------------------------------
    def encode_images(self, items, batch_size: int = 1024, progress: bool | None = None) -> np.ndarray:
        """Embed images (see the subclass's ``images_to_array`` for accepted forms) -> (n, dim) unit float32."""
        arr = self.images_to_array(items)
        tower = self.load_tower()
        torch = self._torch
        out = np.empty((len(arr), self.dim), np.float32)
        with torch.inference_mode():
            for s in self._batches(len(arr), batch_size, progress, f"{self.what}: images"):
                x = self.tower_input(arr[s], torch).to(self.device)
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
        return f"{type(self).__name__}(weights={self.weights!r}, device={self.device!r})"
