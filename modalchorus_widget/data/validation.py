"""The package's one input validator for vectors (like scikit-learn's ``check_array``) and its declarative
parameter checks (like scikit-learn's ``_parameter_constraints``).

Every entry point that takes vectors (``EmbeddingSet``, the projectors, ``Aligner``, ``CMCR``, the widget's
concepts, the probe) calls :func:`check_vectors`, so one fault gives one error class (``EmbeddingError``) and one
message shape, naming the call where it happened::

    MFM.fit: vectors contain NaN at rows [3, 17]; drop or re-encode those rows.

Every estimator declares ``_parameter_constraints`` (parameter name -> list of allowed kinds) and calls
:func:`check_params` at ``fit``; a bad value raises ``ParameterError`` naming the estimator, the parameter, what
it must be and what it got.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .. import memory
from ..errors import EmbeddingError, ParameterError

__all__ = [
    "check_vectors",
    "check_modality",
    "check_rows",
    "check_params",
    "Interval",
    "Options",
    "Check",
    "MODALITIES",
]

MODALITIES = ("image", "text", "audio", "video")
_CHUNK = 65536  # rows per block: temporaries stay ~100 MB whatever n is
_SMALL = 8192  # rows per block where a pass makes (rows, d) temporaries: under glibc's mmap threshold (32 MB), so
# they are reused from the heap instead of mapped and page-faulted afresh for every block


def _rows_where(arr: np.ndarray, test) -> np.ndarray:
    """Row indices where ``test(block)`` is True, evaluated block by block (no n x d temporaries)."""
    hits = [s + np.flatnonzero(test(arr[s : s + _CHUNK])) for s in range(0, len(arr), _CHUNK)]
    hits = [h for h in hits if h.size]
    return np.concatenate(hits) if hits else np.zeros(0, np.int64)


def _row_norms(arr: np.ndarray) -> np.ndarray:
    out = np.empty(len(arr), np.float64)
    for s in range(0, len(arr), _CHUNK):
        c = arr[s : s + _CHUNK]
        out[s : s + len(c)] = np.sqrt(np.einsum("ij,ij->i", c, c, dtype=np.float64))
    return out


def _rows_text(rows: np.ndarray, offset: int) -> str:
    shown = (rows[:5] + offset).tolist()
    return f"{shown}" if rows.size <= 5 else f"{shown[:-1] + ['...']} ({rows.size} rows)".replace("'...'", "...")


def check_vectors(
    x,
    where: str,
    *,
    dim: int | None = None,
    normalize: bool = False,
    allow_zero: bool = False,
    allow_1d: bool = False,
    row_offset: int = 0,
    tol: float = 1e-4,
) -> np.ndarray:
    """Validate vectors and return them as a float32 (n, d) array.

    Parameters
    ----------
    x : array-like, torch tensor or EmbeddingSet
        The vectors, one row per item (an ``EmbeddingSet``'s ``vectors`` are taken).
    where : str
        The call that received them (``"MFM.fit"``); every message starts with it.
    dim : int, optional
        The dimension the rows must have (e.g. the one an estimator was fitted on).
    normalize : bool or "always", default False
        Return unit-length rows. A float32 input whose rows are already unit length (within ``tol``) is
        returned as it is (no second n x d copy); ``"always"`` divides every row by its float32 norm (what the
        projectors, the Aligner and C-MCR compute with, bit for bit).
    allow_zero : bool, default False
        Accept all-zero rows (only where no direction is needed).
    allow_1d : bool, default False
        Accept one vector (d,) as one row (1, d).
    row_offset : int, default 0
        Added to the row numbers in messages (a caller checking a block of a larger array).
    tol : float, default 1e-4
        Tolerance of the unit-length test of ``normalize``.

    Returns
    -------
    numpy.ndarray
        float32 (n, d); no copy when ``x`` already is one and nothing had to change.

    Raises
    ------
    EmbeddingError
        Not numeric, not 2-D, empty, of another dimension, NaN or inf values, or (unless ``allow_zero``)
        all-zero rows. The message names ``where``, the fault and the first rows that hold it.

    Examples
    --------
    >>> import numpy as np
    >>> check_vectors(np.ones((2, 3)), "demo").shape
    (2, 3)
    >>> check_vectors(np.array([[1.0, np.nan]]), "demo")
    Traceback (most recent call last):
    ...
    modalchorus_widget.errors.EmbeddingError: demo: vectors contain NaN at rows [0]; drop or re-encode those rows.
    """
    if hasattr(x, "vectors") and hasattr(x, "modality") and not isinstance(x, np.ndarray):
        x = x.vectors
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise EmbeddingError(
            f"{where}: vectors cannot be read as an (n, d) array ({exc}); pass an (n, d) float array."
        ) from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise EmbeddingError(f"{where}: vectors have dtype {arr.dtype}, not numbers; pass an (n, d) float32 array.")
    if allow_1d and arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise EmbeddingError(
            f"{where}: vectors must have shape (n, d), got shape {arr.shape}; reshape them to one row per item."
        )
    if arr.shape[0] == 0:
        raise EmbeddingError(f"{where}: vectors are empty (shape {arr.shape}); pass at least one row.")
    if arr.shape[1] == 0:
        raise EmbeddingError(f"{where}: vectors have dimension 0 (shape {arr.shape}); pass (n, d) with d >= 1.")
    if dim is not None and arr.shape[1] != dim:
        raise EmbeddingError(
            f"{where}: vectors have dimension {arr.shape[1]}, expected {dim}; use vectors from the same "
            "embedding model."
        )
    arr = arr.astype(np.float32, copy=False)
    norms = _row_norms(arr)  # one pass: a row holds NaN or inf exactly when its (float64) norm is not finite
    if not np.isfinite(norms).all():
        for what, test in (("NaN", np.isnan), ("inf", np.isinf)):
            rows = _rows_where(arr, lambda c, test=test: test(c).any(axis=1))
            if rows.size:
                raise EmbeddingError(
                    f"{where}: vectors contain {what} at rows {_rows_text(rows, row_offset)}; drop or re-encode "
                    "those rows."
                )
    if allow_zero and not normalize:
        return arr
    zero = np.flatnonzero(norms < 1e-12)
    if zero.size and not allow_zero:
        raise EmbeddingError(
            f"{where}: vectors are zero at rows {_rows_text(zero, row_offset)}; a zero vector has no "
            "direction: drop or re-encode those rows."
        )
    if normalize == "always":  # each row over its float32 norm, block by block (the same bits as one pass)
        out = memory.empty(arr.shape, np.float32)
        for s in range(0, len(arr), _SMALL):
            c = arr[s : s + _SMALL]
            np.divide(c, np.linalg.norm(c, axis=1, keepdims=True), out=out[s : s + len(c)])
        return out
    if not normalize or (arr.dtype == np.float32 and np.abs(norms - 1.0).max() <= tol):
        return arr
    out = memory.empty(arr.shape, np.float32)
    safe = np.where(norms < 1e-12, 1.0, norms)
    for s in range(0, len(arr), _CHUNK):
        out[s : s + _CHUNK] = arr[s : s + _CHUNK] / safe[s : s + _CHUNK, None]
    return out


def check_modality(modality, n: int, where: str, known=MODALITIES) -> np.ndarray:
    """One modality name per row, as an object array.

    Parameters
    ----------
    modality : str or sequence of str
        One name broadcast to every row, or one name per row.
    n : int
        The number of rows.
    where : str
        The call that received it; every message starts with it.
    known : sequence of str, optional
        The names allowed (default: the package's modalities); None allows any name.

    Returns
    -------
    numpy.ndarray
        (n,) object array of names.

    Raises
    ------
    EmbeddingError
        Another length than ``n``, or a name not in ``known``.

    Examples
    --------
    >>> check_modality("text", 2, "demo").tolist()
    ['text', 'text']
    """
    if isinstance(modality, (str, np.str_)):
        out = np.full(n, str(modality), dtype=object)
    else:
        try:
            out = np.empty(len(modality), dtype=object)
        except TypeError as exc:
            raise EmbeddingError(
                f"{where}: modality must be one name or one name per row, got {type(modality).__name__}; "
                "pass e.g. modality='image'."
            ) from exc
        out[:] = [str(m) for m in modality]
        if len(out) != n:
            raise EmbeddingError(
                f"{where}: modality has {len(out)} entries but there are {n} vectors; give one name per row, "
                "or one name for all."
            )
    if known is not None:
        unknown = sorted(set(out.tolist()) - set(known))
        if unknown:
            raise EmbeddingError(f"{where}: unknown modality name(s) {unknown}; use one of {list(known)}.")
    return out


def check_rows(idx, n: int, where: str) -> np.ndarray:
    """Row indices (ints, or a boolean mask of n) of a set of ``n`` rows, as int64.

    Parameters
    ----------
    idx : array-like of int or bool
        The rows.
    n : int
        How many rows the set has.
    where : str
        The call that received them; every message starts with it.

    Returns
    -------
    numpy.ndarray
        int64 row indices, in the order given.

    Raises
    ------
    EmbeddingError
        A mask of another length, indices that are not integers, or indices out of range.

    Examples
    --------
    >>> check_rows([0, 2], 3, "demo").tolist()
    [0, 2]
    """
    arr = np.asarray(idx)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise EmbeddingError(f"{where}: a boolean mask needs shape ({n},), got {arr.shape}; give one per row.")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise EmbeddingError(f"{where}: row indices must be integers, got dtype {arr.dtype}; pass row numbers.")
    arr = arr.astype(np.int64).ravel()
    if arr.min() < 0 or arr.max() >= n:
        raise EmbeddingError(
            f"{where}: row indices must lie in [0, {n}); got min {arr.min()}, max {arr.max()} (out of range). "
            "Select rows of the set."
        )
    return arr


# ------------------------------------------------------------------------------------ parameter constraints
class Interval:
    """Numbers of a kind (``Integral`` or ``Real``) between ``lo`` and ``hi`` (None: unbounded);
    ``closed``: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    def __init__(self, kind, lo=None, hi=None, closed="both"):
        self.kind, self.lo, self.hi, self.closed = kind, lo, hi, closed

    def ok(self, v) -> bool:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, self.kind):
            return False
        if self.kind is Real and not np.isfinite(v):
            return False
        lo_ok = self.lo is None or (v >= self.lo if self.closed in ("both", "left") else v > self.lo)
        hi_ok = self.hi is None or (v <= self.hi if self.closed in ("both", "right") else v < self.hi)
        return bool(lo_ok and hi_ok)

    def __str__(self) -> str:
        what = "an integer" if self.kind is Integral else "a number"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>=' if self.closed in ('both', 'left') else '>'} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<=' if self.closed in ('both', 'right') else '<'} {self.hi:g}")
        return what + (" " + " and ".join(parts) if parts else "")


class Options:
    """One of the given values."""

    def __init__(self, *values):
        self.values = values

    def ok(self, v) -> bool:
        return any(v == o and type(v) is type(o) for o in self.values if not isinstance(v, np.ndarray))

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.values)


class Check:
    """Any test (``fn(value) -> bool``), with the words that say what it accepts."""

    def __init__(self, fn, description: str):
        self.fn, self.description = fn, description

    def ok(self, v) -> bool:
        try:
            return bool(self.fn(v))
        except Exception:  # a test that cannot run on the value rejects it
            return False

    def __str__(self) -> str:
        return self.description


def _ok(constraint, v) -> bool:
    if constraint is None:
        return v is None
    if constraint == "boolean":
        return isinstance(v, (bool, np.bool_))
    return constraint.ok(v)


def _describe(constraint) -> str:
    return {None: "None", "boolean": "True or False"}.get(constraint, None) or str(constraint)


def check_params(estimator, owner: str | None = None) -> None:
    """Check every parameter of ``estimator`` against its class's ``_parameter_constraints``.

    Parameters
    ----------
    estimator : object
        An estimator whose class declares ``_parameter_constraints``: parameter name -> list of allowed kinds
        (an :class:`Interval`, :class:`Options`, :class:`Check`, ``"boolean"`` or ``None``).
    owner : str, optional
        The name the message starts with (default: the class name).

    Raises
    ------
    ParameterError
        A parameter that none of its kinds allows; the message names the owner, the parameter, what it
        must be and the value given.

    Examples
    --------
    >>> from numbers import Real
    >>> class Demo:
    ...     _parameter_constraints = {"rate": [Interval(Real, 0, None, closed="neither")]}
    ...     rate = -1.0
    >>> check_params(Demo())
    Traceback (most recent call last):
    ...
    modalchorus_widget.errors.ParameterError: Demo: rate must be a number > 0; got -1.0. Pass a value it allows.
    """
    owner = owner or type(estimator).__name__
    for name, allowed in type(estimator)._parameter_constraints.items():
        v = getattr(estimator, name)
        if not any(_ok(c, v) for c in allowed):
            what = " or ".join(_describe(c) for c in allowed)
            raise ParameterError(f"{owner}: {name} must be {what}; got {v!r}. Pass a value it allows.")
