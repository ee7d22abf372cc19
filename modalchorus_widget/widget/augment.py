"""Augmentation (ModalChorus paper, Fig. 5e): image files and texts an analyst adds to a session.

``read_augmentation`` checks and decodes what the browser's augmentation panel (or a cell) hands over, all
before anything is encoded: files are untrusted, so their count and size are capped and each is decoded with
the package's image decoding (``encoders.base.open_image``, errors ``ImageDecodeError``). ``ChorusState``
then encodes the items and appends them as rows (``state.augment``); rows past the aligner's own are handed
to constraints as few-shot extras (``as_extras``).
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np

from ..encoders.base import open_image
from ..errors import ImageDecodeError, InputTypeError, WidgetError

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "MAX_TEXTS", "MAX_TEXT_CHARS", "read_augmentation", "decode_data_url"]

MAX_FILES = 32
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TEXTS = 64
MAX_TEXT_CHARS = 1000


class _NamedBytes(io.BytesIO):
    """File bytes that print as their file name (so decoding errors name the file the user dropped)."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self._label = name

    def __str__(self):
        return self._label

    def __repr__(self):
        return repr(self._label)


def decode_data_url(data, name: str) -> bytes:
    """The bytes of a base64 (data-URL) string from the browser, refusing it unread when over the size cap."""
    if not isinstance(data, str):
        raise InputTypeError(f"augment: file {name!r} arrived as {type(data).__name__}, not base64 text")
    payload = data.split(",", 1)[-1]
    if len(payload) > MAX_FILE_BYTES * 4 // 3 + 4:
        raise WidgetError(f"augment: file {name!r} is larger than {MAX_FILE_BYTES >> 20} MiB; downscale it first")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise ImageDecodeError(f"augment: file {name!r} is not valid base64 data ({exc}); drop it again") from exc


def _one_image(item, i: int, name: str):
    from PIL import Image

    if isinstance(item, Image.Image):
        return item.copy()
    if isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        if len(data) > MAX_FILE_BYTES:
            raise WidgetError(f"augment: image {name!r} is larger than {MAX_FILE_BYTES >> 20} MiB; downscale it first")
        return open_image(_NamedBytes(data, name), i, "augment")
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
            raise InputTypeError(
                f"augment: image {name!r} is an array of shape {item.shape} and dtype {item.dtype}; pass an "
                "(H, W, 3) uint8 RGB array (or a file path, PNG/JPEG bytes, a PIL image)"
            )
        return Image.fromarray(item)
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise WidgetError(f"augment: image file '{path}' does not exist (or is not a regular file)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise WidgetError(f"augment: image file '{path}' is larger than {MAX_FILE_BYTES >> 20} MiB; downscale it")
        return open_image(path, i, "augment")
    raise InputTypeError(
        f"augment: image {i} is a {type(item).__name__}; pass image file paths, PNG/JPEG bytes, PIL images or "
        "(H, W, 3) uint8 arrays"
    )


def read_augmentation(images=(), texts=(), names=None):
    """(PIL images, texts, image names) checked and decoded, or an error naming the first bad item; nothing is
    encoded here. ``names``: display names of ``images`` (file names from the browser)."""
    if isinstance(images, np.ndarray):  # one (H, W, 3) image or a stack (n, H, W, 3) of them
        images = [images] if images.ndim == 3 else list(images)
    images = [images] if isinstance(images, (str, bytes, os.PathLike)) else list(images or ())
    texts = [texts] if isinstance(texts, str) else list(texts or ())
    if not images and not texts:
        raise WidgetError("augment: nothing to add; give images=[...] (files) and/or texts=[...]")
    if len(images) > MAX_FILES:
        raise WidgetError(f"augment: {len(images)} images at once; add at most {MAX_FILES} per call")
    if len(texts) > MAX_TEXTS:
        raise WidgetError(f"augment: {len(texts)} texts at once; add at most {MAX_TEXTS} per call")
    bad = [i for i, s in enumerate(texts) if not isinstance(s, str) or not s.strip() or len(s) > MAX_TEXT_CHARS]
    if bad:
        raise WidgetError(
            f"augment: text {bad[0]} is not a non-empty string of at most {MAX_TEXT_CHARS} characters; fix or drop it"
        )
    if names is None:
        names = [str(x) if isinstance(x, (str, os.PathLike)) else f"image {i}" for i, x in enumerate(images)]
    pil = [_one_image(x, i, str(names[i])) for i, x in enumerate(images)]
    return pil, [s.strip() for s in texts], [str(n) for n in names]


def as_extras(constraint, n_base: int, raw: np.ndarray, modality: np.ndarray, items, fixed=None):
    """``constraint`` with its rows at or past ``n_base`` (augmented rows, unknown to the aligner) moved into its
    few-shot extras (``Constraint.augment``); unchanged when it has none. Image rows go as their original-space
    vectors ``raw``; text rows too when they are alone on their side, else as their texts (``items``, embedded
    by the aligner's encoder: an extra holds vectors of one modality). Rows ``fixed`` (no original vector
    known) are refused."""
    sides = {"members": "members"} if constraint.kind == "point-set" else {"a": "a", "b": "b"}
    out = constraint
    for side, attr in sides.items():
        rows = getattr(constraint, attr, None)
        if rows is None:
            continue
        rows = np.asarray(rows)
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        extra = idx[idx >= n_base] - n_base
        if extra.size == 0:
            continue
        if extra.max() >= len(raw):
            raise WidgetError(f"align: row {int(extra.max()) + n_base} is past the last augmented row")
        if fixed is not None and fixed[extra].any():
            raise WidgetError(
                f"align: row {int(extra[fixed[extra]][0]) + n_base} was added with augment before the rounds of this "
                "reopened session and its original vector is not stored; add it again with w.augment to use it"
            )
        if constraint.kind == "set-set" and constraint.b is None:
            raise WidgetError("align: SetSet(a) with augmented rows in a: give the second set explicitly, SetSet(a, b)")
        mods = list(dict.fromkeys(modality[extra]))
        for m in mods:
            sel = extra[modality[extra] == m]
            if m == "text" and len(mods) > 1:
                out = out.augment(texts=[str(items[n_base + i]) for i in sel], side=side)
            else:
                out = out.augment(vectors=raw[sel], modality=str(m), side=side)
        setattr(out, attr, idx[idx < n_base])
    return out
