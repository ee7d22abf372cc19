"""One interface for text-to-image generation from joint-space embeddings: ``Generator.generate``.

Why: the case study regenerates images from (aligned) text embeddings; the shipped shapes-world generator
and a real pipeline (e.g. a diffusers pipeline fed with prompt embeddings) must be interchangeable, and
what comes back must be checked before it is encoded and put on the map.

``generate(embeddings, random_state=None)`` takes (n, d) vectors and returns uint8 images (n, H, W, 3).
``FunctionGenerator`` wraps a user callable; for a diffusers pipeline, for example::

    def draw(e):  # e: (n, d) float32 prompt embeddings
        out = pipe(prompt_embeds=torch.from_numpy(e)[:, None], output_type="np").images  # floats 0..1
        return (out * 255).round().astype("uint8")

    gen = FunctionGenerator(draw, dim=768)
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ...data.validation import check_vectors
from ...errors import InputError, InputTypeError


class GenerationError(InputError):
    """A generator was given, or returned, something of the wrong shape, type or value.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.worlds.generation import FunctionGenerator, GenerationError
    >>> gen = FunctionGenerator(lambda e: np.zeros((len(e), 4, 4, 3), np.uint8), dim=8)
    >>> try:
    ...     gen.generate(np.ones((2, 5)))
    ... except GenerationError as exc:
    ...     print(type(exc).__name__)
    GenerationError
    """


def check_embeddings(embeddings, dim, where: str) -> np.ndarray:
    """(n, d) finite float32 vectors with no zero row (``dim``: required d, or None for any)."""
    if isinstance(embeddings, (str, bytes)) or embeddings is None:
        raise InputTypeError(f"{where}: expected an (n, d) array of embeddings, got {type(embeddings).__name__}.")
    try:
        v = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GenerationError(f"{where}: embeddings are not numeric ({exc}); pass an (n, d) float array.") from exc
    if v.ndim != 2 or (dim is not None and v.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise GenerationError(f"{where}: expected embeddings of shape {want}, got {v.shape}; one row per image.")
    return check_vectors(v, where) if len(v) else v  # NaN, inf and zero rows: the package's one validator


def check_images(images, n: int, where: str) -> np.ndarray:
    """What a generator returned: uint8 (n, H, W, 3), one image per embedding row."""
    try:
        a = np.asarray(images)
    except (TypeError, ValueError) as exc:
        raise GenerationError(f"{where}: the images are not one array ({exc}); return uint8 (n, H, W, 3).") from exc
    if a.dtype == object:
        raise GenerationError(f"{where}: images of unequal sizes or non-array items; return uint8 (n, H, W, 3).")
    if a.ndim != 4 or a.shape[0] != n or a.shape[3] != 3 or a.shape[1] < 1 or a.shape[2] < 1:
        raise GenerationError(
            f"{where}: expected {n} RGB images as an array of shape ({n}, H, W, 3), got {a.shape}; one image per "
            "embedding row, channels last."
        )
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise GenerationError(f"{where}: the images contain NaN or inf.")
        raise GenerationError(
            f"{where}: images must be uint8 0..255, got {a.dtype}; for floats in 0..1 return "
            "(x * 255).round().astype('uint8')."
        )
    return a


class Generator(ABC):
    """Joint-space embeddings -> images. Subclasses implement ``_generate`` on checked input; ``dim`` is
    the embedding width they need (None: any). ``generate`` checks the input and the returned images.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.worlds.generation import Generator
    >>> class Grey(Generator):
    ...     def _generate(self, embeddings, random_state):
    ...         return np.full((len(embeddings), 2, 2, 3), 128, np.uint8)
    >>> Grey().generate(np.ones((3, 4))).shape
    (3, 2, 2, 3)
    """

    dim: int | None = None

    def generate(self, embeddings, random_state=None) -> np.ndarray:
        """(n, d) embeddings -> uint8 (n, H, W, 3) images (``random_state`` seeds a stochastic generator)."""
        where = f"{type(self).__name__}.generate"
        v = check_embeddings(embeddings, self.dim, where)
        return check_images(self._generate(v, random_state), len(v), where)

    @abstractmethod
    def _generate(self, embeddings: np.ndarray, random_state): ...


class FunctionGenerator(Generator):
    """A Generator backed by ``fn(embeddings) -> images`` (a diffusers pipeline, for example).

    Parameters
    ----------
    fn : callable
        Gets (n, d) float32 vectors and returns uint8 (n, H, W, 3) images (checked).
    dim : int, optional
        The embedding width ``fn`` needs (checked first); None accepts any.
    name : str, optional
        Shown in the repr (default: ``fn.__name__``).

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.worlds.generation import FunctionGenerator
    >>> def draw(e):
    ...     return np.zeros((len(e), 8, 8, 3), np.uint8)
    >>> gen = FunctionGenerator(draw, dim=4)
    >>> gen, gen.generate(np.ones((2, 4))).shape
    (FunctionGenerator(draw, dim=4), (2, 8, 8, 3))
    """

    def __init__(self, fn, dim: int | None = None, name: str | None = None):
        if not callable(fn):
            raise InputTypeError(f"FunctionGenerator: fn must be callable, got {type(fn).__name__}.")
        if dim is not None and (not isinstance(dim, (int, np.integer)) or dim < 1):
            raise GenerationError(f"FunctionGenerator: dim must be a positive integer or None, got {dim!r}.")
        self.fn, self.dim = fn, None if dim is None else int(dim)
        self.name = name or getattr(fn, "__name__", "function")

    def _generate(self, embeddings, random_state):
        return self.fn(embeddings)

    def __repr__(self):
        return f"FunctionGenerator({self.name}, dim={self.dim})"
