"""The one interface every encoder implements: images and texts in, unit-length float32 numpy out.

An encoder maps raw items of each modality into one shared embedding space, so that its outputs can
go straight into an ``EmbeddingSet``. Backends: ``OpenCLIPEncoder`` (any open_clip model),
``DefaultEncoder`` (the embedded digits model shipped in the package).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import EncoderError, ImageDecodeError, InputTypeError


def open_image(path, i: int, who: str):
    """Open and fully decode the image file at ``path`` (item ``i``), as an RGB-or-other PIL image.

    Raises ``ImageDecodeError`` naming the file and the fix when it is not a decodable image or is so
    large that PIL refuses it as a decompression bomb (over ``PIL.Image.MAX_IMAGE_PIXELS`` x 2).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            f"{who}: image {i} at '{path}' is too large to decode safely ({exc}); downscale it, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            f"{who}: image {i} at '{path}' cannot be decoded ({type(exc).__name__}: {exc}); check that the file "
            "is a complete PNG/JPEG image, or drop it."
        ) from exc


class Encoder(ABC):
    """Abstract image/text encoder.

    Subclasses implement ``encode_images`` and ``encode_texts``; both return an (n, dim) float32
    numpy array whose rows have unit L2 norm, in input order; ``encode(items, modality)`` dispatches.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.encoders import Encoder, load_default_encoder
    >>> enc = load_default_encoder()
    >>> isinstance(enc, Encoder)
    True
    >>> v = enc.encode(["a photo of the digit 7"], "text")
    >>> v.shape, round(float(np.linalg.norm(v[0])), 3)
    ((1, 384), 1.0)
    """

    name: str = "encoder"

    @property
    @abstractmethod
    def dim(self) -> int:
        """Dimension of the shared embedding space."""

    @abstractmethod
    def encode_images(self, items, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Embed images (paths, PIL images or arrays, backend-specific) -> (n, dim) unit float32."""

    @abstractmethod
    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        """Embed strings -> (n, dim) unit float32."""

    def encode(self, items, modality: str, batch_size: int | None = None) -> np.ndarray:
        """Dispatch on modality name ("image" or "text")."""
        if modality == "image":
            return self.encode_images(items, **({} if batch_size is None else {"batch_size": batch_size}))
        if modality == "text":
            return self.encode_texts(items, **({} if batch_size is None else {"batch_size": batch_size}))
        raise EncoderError(f"{type(self).__name__}.encode: unknown modality {modality!r}; use 'image' or 'text'.")

    # --- helpers for subclasses -------------------------------------------------------------------
    @staticmethod
    def _check_texts(texts) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise InputTypeError(
                f"encode_texts: item {bad[0]} is a {type(texts[bad[0]]).__name__}, not a str; "
                "pass a list of strings (decode bytes first, e.g. b.decode('utf-8', errors='replace'))."
            )
        try:  # lone surrogates (from errors="surrogateescape") are undecodable bytes, not text
            "\n".join(texts).encode("utf-8")
        except UnicodeEncodeError:
            for i, t in enumerate(texts):
                try:
                    t.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise EncoderError(
                        f"encode_texts: item {i} is not valid UTF-8 text (undecodable byte(s) at position "
                        f"{exc.start}: {t[max(0, exc.start - 10) : exc.end + 10]!r}); decode the source with its real "
                        "encoding or errors='replace'."
                    ) from None
        return texts

    @staticmethod
    def _check_batch_size(batch_size) -> int:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise EncoderError(f"batch_size must be a positive int, got {batch_size!r}.")
        return int(batch_size)

    def _batches(self, n: int, batch_size: int, progress: bool | None, desc: str):
        """Yield slices of size ``batch_size`` over n items, with a tqdm bar when there are several."""
        batch_size = self._check_batch_size(batch_size)
        starts = range(0, n, batch_size)
        show = progress if progress is not None else len(starts) > 4
        if show:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="batch", mininterval=1.0)
        for s in starts:
            yield slice(s, min(s + batch_size, n))


class FunctionEncoder(Encoder):
    """Your own embedding functions as an ``Encoder``.

    Parameters
    ----------
    texts : callable, optional
        ``texts(list_of_str) -> (n, dim)`` array; rows are L2-normalised here.
    images : callable, optional
        ``images(list_of_items) -> (n, dim)`` array. At least one of the two is needed.
    dim : int, optional
        The dimension, when known before the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.encoders import FunctionEncoder
    >>> enc = FunctionEncoder(texts=lambda xs: np.array([[len(x), 1.0] for x in xs]), dim=2)
    >>> enc.encode_texts(["a", "abc"]).astype(float).round(3).tolist()
    [[0.707, 0.707], [0.949, 0.316]]
    """

    name = "function"

    def __init__(self, texts=None, images=None, dim: int | None = None):
        if texts is None and images is None:
            raise EncoderError("FunctionEncoder needs texts=f and/or images=g, functions list -> (n, dim) array.")
        self._fns = {"text": texts, "image": images}
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise EncoderError("FunctionEncoder(dim=...) was not given; its dimension is known after the first call.")
        return self._dim

    def _call(self, modality, items):
        fn = self._fns[modality]
        if fn is None:
            raise EncoderError(f"this FunctionEncoder has no {modality} function; pass {modality}s=f when making it.")
        out = fn(list(items))
        out = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float32)
        if out.ndim != 2 or len(out) != len(items):
            raise EncoderError(
                f"the {modality} function returned shape {out.shape} for {len(items)} items; "
                "it must return one row per item."
            )
        if self._dim is None:
            self._dim = out.shape[1]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_images(self, items, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        return self._call("image", list(items))

    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        return self._call("text", self._check_texts(texts))


def check_encoder(encoder, where: str = "encoder"):
    """``encoder`` itself when it is an ``Encoder`` (None stays None); a clear error for anything else.

    Parameters
    ----------
    encoder : Encoder or None
    where : str, default="encoder"
        Names the caller in the error message.

    Returns
    -------
    Encoder or None

    Raises
    ------
    EncoderError
        Anything that is not an ``Encoder`` (e.g. a plain function: wrap it with ``FunctionEncoder``).

    Examples
    --------
    >>> from modalchorus_widget.encoders import check_encoder
    >>> check_encoder(None) is None
    True
    """
    if encoder is None or isinstance(encoder, Encoder):
        return encoder
    raise EncoderError(
        f"{where}: expected a modalchorus_widget Encoder (DefaultEncoder, OpenCLIPEncoder, "
        f"SentenceEncoder, ...), got {type(encoder).__name__}; wrap your own functions with "
        "FunctionEncoder(texts=..., images=...)."
    )
