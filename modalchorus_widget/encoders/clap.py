"""CLAP backend: an audio-text contrastive space (the second space of the C-MCR paper: CLIP + CLAP).

Works with whichever of the two public CLAP packages the user has installed, with a checkpoint file on
disk (this project never downloads weights at run time, and installs neither package):
- ``laion_clap`` (LAION-CLAP): ``CLAP_Module(enable_fusion, amodel)`` + ``load_ckpt(path)``;
- ``msclap`` (Microsoft CLAP): ``CLAP(model_fp=path, version=...)``.
Without a package or a checkpoint, ``CLAPEncoder`` raises ``CLAPUnavailableError`` saying what to install
or where to point. Images are not a CLAP modality: ``encode_images`` raises; audio goes through
``encode_audio`` (file paths; laion_clap also takes 48 kHz float waveforms).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import CLAPUnavailableError, EncoderError, InputTypeError, MissingFileError
from .base import Encoder

BACKENDS = ("laion_clap", "msclap")


def available_backends() -> tuple:
    """The CLAP packages importable in this environment (without importing them)."""
    return tuple(b for b in BACKENDS if importlib.util.find_spec(b) is not None)


def _unit(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class CLAPEncoder(Encoder):
    """Encode audio and texts with CLAP (``laion_clap`` or ``msclap``) from a local checkpoint.

    Parameters
    ----------
    checkpoint : str or Path
        The local CLAP checkpoint file (``.pt`` / ``.pth``), required.
    backend : str, default="auto"
        ``"auto"`` (first installed of laion_clap, msclap), ``"laion_clap"`` or ``"msclap"``.
    amodel : str, default="HTSAT-tiny"
        laion_clap audio tower matching the checkpoint (``"HTSAT-tiny"`` for 630k-*.pt,
        ``"HTSAT-base"`` for the music / speech checkpoints).
    enable_fusion : bool, default=False
        True for laion_clap fusion checkpoints (``*fusion*.pt``).
    version : str, default="2023"
        msclap checkpoint version (``"2022"``, ``"2023"`` or ``"clapcap"``).
    device : str, default="cpu"
        "cpu" or "cuda".

    Examples
    --------
    Needs a CLAP package and a checkpoint at a local path (neither is here, so the lines are not run):

    >>> from modalchorus_widget.encoders import CLAPEncoder
    >>> enc = CLAPEncoder("path/to/630k-audioset-best.pt")  # doctest: +SKIP
    >>> enc.encode_texts(["a dog barking"]).shape  # doctest: +SKIP
    (1, 512)
    """

    name = "clap"

    def __init__(
        self,
        checkpoint,
        backend: str = "auto",
        amodel: str = "HTSAT-tiny",
        enable_fusion: bool = False,
        version: str = "2023",
        device: str = "cpu",
    ):
        if backend not in ("auto",) + BACKENDS:
            raise EncoderError(f"backend={backend!r}; use 'auto', 'laion_clap' or 'msclap'.")
        self.checkpoint = checkpoint
        self.backend = backend
        self.amodel = amodel
        self.enable_fusion = enable_fusion
        self.version = version
        self.device = device
        self._model = None
        self.backend_ = self._pick_backend()
        if checkpoint is None or not Path(checkpoint).is_file():
            raise CLAPUnavailableError(
                f"CLAP checkpoint {checkpoint!r} is not a file. Download it once on a machine with network "
                "(LAION-CLAP: e.g. 630k-audioset-best.pt from huggingface.co/lukewys/laion_clap; MS-CLAP: "
                "CLAP_weights_2023.pth from huggingface.co/microsoft/msclap) and pass its local path."
            )

    def _pick_backend(self) -> str:
        have = available_backends()
        if self.backend == "auto":
            if not have:
                raise CLAPUnavailableError(
                    "CLAPEncoder needs a CLAP package, and neither laion_clap nor msclap is installed. "
                    "Install one (pip install laion_clap, or pip install msclap) plus a local checkpoint, "
                    "or use a text-only second space: modalchorus_widget.encoders.SentenceEncoder()."
                )
            return have[0]
        if self.backend not in have:
            raise CLAPUnavailableError(
                f"backend={self.backend!r} but the package {self.backend} is not installed "
                f"(installed CLAP packages: {list(have) or 'none'}); pip install {self.backend}."
            )
        return self.backend

    def _load(self):
        if self._model is None:
            ckpt = str(self.checkpoint)
            if self.backend_ == "laion_clap":
                import laion_clap

                model = laion_clap.CLAP_Module(enable_fusion=self.enable_fusion, amodel=self.amodel, device=self.device)
                model.load_ckpt(ckpt, verbose=False)
                model.eval()
            else:
                from msclap import CLAP

                model = CLAP(model_fp=ckpt, version=self.version, use_cuda=str(self.device).startswith("cuda"))
            self._model = model
        return self._model

    @property
    def dim(self) -> int:
        return int(self.encode_texts(["a sound", "a noise"]).shape[1])

    def encode_images(self, items, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        raise NotImplementedError(
            "CLAP embeds audio and text, not images; use encode_audio for sounds, and a CLIP "
            "encoder for images (then connect the spaces with modalchorus_widget.connect)."
        )

    def encode_texts(self, texts, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Strings -> (n, dim) unit-length float32, in input order."""
        texts = self._check_texts(texts)
        model = self._load()
        import torch

        parts = []
        with torch.no_grad():
            for sl in self._batches(len(texts), batch_size, progress, "CLAP texts"):
                chunk = texts[sl]
                if self.backend_ == "laion_clap":
                    # laion_clap squeezes a batch of one; pad it to two and keep the first row
                    padded = chunk if len(chunk) > 1 else chunk + chunk
                    v = _unit(model.get_text_embedding(padded, use_tensor=False))[: len(chunk)]
                else:
                    v = _unit(model.get_text_embeddings(chunk))
                parts.append(v)
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def encode_audio(self, items, batch_size: int = 16, progress: bool | None = None) -> np.ndarray:
        """Audio file paths (or, with laion_clap, 1-D float waveforms at 48 kHz) -> (n, dim) unit float32."""
        items = list(items)
        paths = [isinstance(x, (str, Path)) for x in items]
        if not all(paths) and any(paths):
            raise InputTypeError("encode_audio: give either all file paths or all waveforms, not a mix.")
        if all(paths):
            missing = [str(x) for x in items if not Path(x).is_file()]
            if missing:
                raise MissingFileError(f"encode_audio: {len(missing)} audio file(s) not found, e.g. {missing[0]}.")
        elif self.backend_ != "laion_clap":
            raise InputTypeError("encode_audio: msclap embeds audio files only; pass file paths.")
        model = self._load()
        import torch

        parts = []
        with torch.no_grad():
            for sl in self._batches(len(items), batch_size, progress, "CLAP audio"):
                chunk = items[sl]
                if self.backend_ == "laion_clap":
                    if all(paths):
                        v = model.get_audio_embedding_from_filelist(x=[str(p) for p in chunk], use_tensor=False)
                    else:
                        n = max(len(np.ravel(w)) for w in chunk)
                        data = np.zeros((len(chunk), n), dtype=np.float32)
                        for i, w in enumerate(chunk):
                            w = np.ravel(np.asarray(w, dtype=np.float32))
                            data[i, : len(w)] = w
                        v = model.get_audio_embedding_from_data(x=data, use_tensor=False)
                else:
                    v = model.get_audio_embeddings([str(p) for p in chunk])
                parts.append(_unit(v))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def encode(self, items, modality: str, batch_size: int | None = None) -> np.ndarray:
        if modality == "audio":
            return self.encode_audio(items, **({} if batch_size is None else {"batch_size": batch_size}))
        if modality == "text":
            return self.encode_texts(items, **({} if batch_size is None else {"batch_size": batch_size}))
        raise EncoderError(f"CLAPEncoder.encode: modality {modality!r}; CLAP embeds 'audio' and 'text'.")
