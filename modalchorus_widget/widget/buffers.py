"""Arrays <-> bytes for widget traitlets: every array crosses the comm as one binary buffer.

Why: ipywidgets sends ``bytes``/``memoryview`` values as raw binary buffers beside the JSON message,
so a million float32 positions cost 8 MB instead of ~20 MB of JSON digits. These helpers fix the
dtype and layout of each kind of array (little-endian, C order) and give traitlet serializers
(``to_json``/``from_json``) so a trait can hold a numpy array on the Python side.

Kinds: ``positions`` float32 (n, 2) interleaved x, y; ``codes`` uint8 (or uint16 when more than 256
categories) per point; ``indices`` uint32 sorted unique row indices.

Large inputs: a buffer above ``MAX_BUFFER_BYTES`` crosses as a list of chunks (each at most that size),
joined back into one typed array by the front-end (``js/src/buffers.js``). Above a widget's point budget
the serializers send a ``PointSample`` of the rows instead of all of them and map indices between the
full data (what Python holds) and the rows shown (what the browser draws).
"""

from __future__ import annotations

import numpy as np

from ..data.sampling import stratified_sample
from ..errors import BufferFormatError

__all__ = [
    "BufferFormatError",
    "to_bytes",
    "from_bytes",
    "as_positions",
    "as_codes",
    "as_indices",
    "sorted_unique",
    "codes_dtype",
    "positions_to_json",
    "positions_from_json",
    "codes_to_json",
    "codes_from_json",
    "indices_to_json",
    "indices_from_json",
    "index_dict_to_json",
    "index_dict_from_json",
    "payload_nbytes",
    "buffer_sizes",
    "MAX_BUFFER_BYTES",
    "chunk_buffer",
    "join_buffers",
    "PointSample",
    "sample_points",
    "labels_to_json",
]

# Largest single binary buffer one comm message carries; bigger arrays go as a list of chunks.
# Why 8 MiB: the Jupyter server accepts browser -> kernel websocket messages of at most tornado's
# ``websocket_max_message_size``, 10 MiB by default (tornado.websocket: ``_default_max_message_size =
# 10 * 1024 * 1024``; "Messages larger than the websocket_max_message_size application setting (default
# 10MiB) will not be accepted", tornado docs, WebSocketHandler.max_message_size; jupyter_server passes
# its ``tornado_settings`` through). A chunk of 8 MiB leaves room for the JSON part and the message
# framing. The limit is on whole messages the server *receives*; kernel -> browser messages are not
# capped by it, but they are chunked the same way so no single buffer is ever bigger than this.
MAX_BUFFER_BYTES = 8 * 1024 * 1024

_LE = {"float32": "<f4", "uint8": "|u1", "uint16": "<u2", "uint32": "<u4"}


def _bytes_view(data) -> memoryview:
    if isinstance(data, (list, tuple)):
        return join_buffers(data)
    if isinstance(data, memoryview):
        return data.cast("B") if data.format != "B" or data.ndim != 1 else data
    if isinstance(data, (bytes, bytearray)):
        return memoryview(data)
    if isinstance(data, np.ndarray):
        return memoryview(np.ascontiguousarray(data).view(np.uint8).reshape(-1))
    raise BufferFormatError(f"expected bytes, bytearray, memoryview or numpy array, got {type(data).__name__}")


def to_bytes(array, dtype: str) -> memoryview:
    """C-contiguous little-endian bytes of ``array`` as ``dtype`` (no copy when already in that form)."""
    if dtype not in _LE:
        raise BufferFormatError(f"unsupported buffer dtype {dtype!r}; use one of {sorted(_LE)}")
    a = np.ascontiguousarray(array, dtype=_LE[dtype])
    return memoryview(a.reshape(-1).view(np.uint8))


def from_bytes(data, dtype: str, shape=None) -> np.ndarray:
    """Decode a buffer into a numpy array of ``dtype`` (native byte order), optionally reshaped."""
    if dtype not in _LE:
        raise BufferFormatError(f"unsupported buffer dtype {dtype!r}; use one of {sorted(_LE)}")
    mv = _bytes_view(data)
    item = np.dtype(_LE[dtype]).itemsize
    if mv.nbytes % item:
        raise BufferFormatError(
            f"buffer of {mv.nbytes} bytes is not a whole number of {dtype} values ({item} bytes each)"
        )
    a = np.frombuffer(mv, dtype=_LE[dtype]).astype(dtype, copy=True)
    if shape is not None:
        try:
            a = a.reshape(shape)
        except ValueError as e:
            raise BufferFormatError(f"buffer of {a.size} {dtype} values cannot take shape {shape}") from e
    return a


def as_positions(xy, n: int | None = None, where: str = "positions") -> np.ndarray:
    """Validate (n, 2) finite positions and return them as C-contiguous float32."""
    a = np.asarray(xy)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise BufferFormatError(f"{where}: expected a numeric (n, 2) array, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != 2:
        raise BufferFormatError(f"{where}: expected shape (n, 2), got {a.shape}; pass one (x, y) row per point")
    if n is not None and a.shape[0] != n:
        raise BufferFormatError(f"{where}: expected {n} rows (one per point), got {a.shape[0]}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        bad = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
        raise BufferFormatError(f"{where}: row {bad} is not finite ({a[bad].tolist()}); drop or fix NaN/inf rows")
    return a


def codes_dtype(n_codes: int) -> str:
    """Smallest unsigned dtype holding codes 0..n_codes-1 (uint8 up to 256, else uint16)."""
    if n_codes <= 256:
        return "uint8"
    if n_codes <= 65536:
        return "uint16"
    raise BufferFormatError(f"{n_codes} categories is too many to colour by (at most 65536)")


def as_codes(codes, n: int | None = None, where: str = "codes") -> np.ndarray:
    """Validate non-negative integer codes, returned as uint8 (uint16 when a code is >= 256)."""
    a = np.asarray(codes)
    if a.ndim != 1:
        raise BufferFormatError(f"{where}: expected a 1-D array of integer codes, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise BufferFormatError(f"{where}: expected {n} codes (one per point), got {a.shape[0]}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise BufferFormatError(f"{where}: expected integer codes, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise BufferFormatError(f"{where}: codes must lie in 0..65535, got range {a.min()}..{a.max()}")
    dt = codes_dtype(int(a.max()) + 1 if a.size else 1)
    return np.ascontiguousarray(a, dtype=dt)


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values; O(n) when already sorted and unique (what the browser sends).

    Avoids ``np.unique``, whose hash-based path takes ~0.3 s for 250k uint32 here.
    """
    if a.size < 2 or bool((a[1:] > a[:-1]).all()):
        return a
    s = np.sort(a, kind="stable")
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def as_indices(idx, n: int | None = None, where: str = "indices") -> np.ndarray:
    """Sorted unique uint32 row indices from ints, a bool mask, or None (empty)."""
    if idx is None:
        return np.zeros(0, dtype=np.uint32)
    if isinstance(idx, (bytes, bytearray, memoryview)):
        idx = from_bytes(idx, "uint32")
    a = np.asarray(idx)
    if a.dtype == bool:
        if a.ndim != 1 or (n is not None and a.shape[0] != n):
            raise BufferFormatError(f"{where}: boolean mask must have shape ({n},), got {a.shape}")
        return np.flatnonzero(a).astype(np.uint32)
    if a.size == 0:
        return np.zeros(0, dtype=np.uint32)
    a = a.reshape(-1) if a.ndim == 0 else a
    if a.ndim != 1:
        raise BufferFormatError(f"{where}: expected a 1-D list of row indices, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise BufferFormatError(f"{where}: expected integer row indices, got dtype {a.dtype}")
    if a.min() < 0:
        raise BufferFormatError(f"{where}: negative index {int(a.min())}; indices are row numbers 0..n-1")
    if n is not None and a.max() >= n:
        raise BufferFormatError(f"{where}: index {int(a.max())} out of range for {n} points (0..{n - 1})")
    if a.max() > np.iinfo(np.uint32).max:
        raise BufferFormatError(f"{where}: index {int(a.max())} does not fit uint32")
    return sorted_unique(a.astype(np.uint32))


# ---- chunks: no single buffer above MAX_BUFFER_BYTES ----


def chunk_buffer(data, limit: int = MAX_BUFFER_BYTES):
    """``data`` as one memoryview when it fits in ``limit`` bytes, else a list of zero-copy slices of at most
    ``limit`` bytes each (ipywidgets sends every memoryview of a list as its own binary buffer)."""
    if limit < 8 or limit % 8:
        raise BufferFormatError(f"chunk limit must be a positive multiple of 8 bytes, got {limit}")
    mv = _bytes_view(data)
    if mv.nbytes <= limit:
        return mv
    return [mv[i : i + limit] for i in range(0, mv.nbytes, limit)]


def join_buffers(chunks) -> memoryview:
    """Inverse of ``chunk_buffer``: one contiguous byte view from a buffer or a list of buffers."""
    if not isinstance(chunks, (list, tuple)):
        return _bytes_view(chunks)
    if len(chunks) == 1:
        return _bytes_view(chunks[0])
    return memoryview(b"".join(_bytes_view(c) for c in chunks))


def buffer_sizes(state: dict) -> list[int]:
    """Sizes in bytes of every binary buffer ipywidgets would send for a widget ``state`` dict."""
    from ipywidgets.widgets.widget import _remove_buffers

    return [int(memoryview(b).nbytes) for b in _remove_buffers(state)[2]]


# ---- large inputs: a deterministic, modality-stratified sample of the rows ----


class PointSample:
    """The rows a widget draws when it has more points than its budget, and the index maps both ways.

    ``index``: sorted unique uint32 row numbers of the full data that are shown; shown row ``k`` of the
    browser is full row ``index[k]``. ``n_total``: rows in the full data.
    """

    def __init__(self, index, n_total: int):
        idx = np.asarray(index)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n_total)):
            raise BufferFormatError(f"sample index must be 1-D rows in [0, {n_total})")
        self.index = sorted_unique(idx.astype(np.uint32))
        self.n_total = int(n_total)

    @property
    def n_shown(self) -> int:
        return int(self.index.size)

    def take(self, a):
        """The shown rows of a per-point array (anything else, e.g. an empty default, passes through)."""
        a = np.asarray(a)
        return a[self.index] if a.ndim >= 1 and a.shape[0] == self.n_total else a

    def to_shown(self, full) -> np.ndarray:
        """Full-data row indices -> positions among the shown rows (rows not shown are dropped)."""
        full = np.asarray(full, dtype=np.int64).reshape(-1)
        if full.size == 0 or self.index.size == 0:
            return np.zeros(0, np.uint32)
        pos = np.searchsorted(self.index, full)
        pos = np.minimum(pos, self.index.size - 1)
        hit = self.index[pos] == full
        return sorted_unique(pos[hit].astype(np.uint32))

    def to_full(self, shown) -> np.ndarray:
        """Positions among the shown rows (what the browser sends) -> full-data row indices."""
        shown = np.asarray(shown).reshape(-1)
        if shown.size == 0:
            return np.zeros(0, np.uint32)
        if shown.min() < 0 or shown.max() >= self.index.size:
            raise BufferFormatError(f"shown index {int(shown.max())} out of range for {self.index.size} shown points")
        return sorted_unique(self.index[shown.astype(np.int64)])

    def notice(self) -> str:
        return (
            f"showing {self.n_shown:,} of {self.n_total:,} points (sampled, stratified by modality); "
            "selections map to the full data"
        )


def sample_points(modality, max_points: int, keep=None, random_state: int = 0) -> PointSample:
    """The ``PointSample`` a widget shows for ``max_points``: ``data.sampling.stratified_sample``'s rows."""
    modality = np.asarray(modality).reshape(-1)
    return PointSample(stratified_sample(modality, max_points, keep=keep, random_state=random_state), modality.size)


# ---- traitlet serializers (``trait.tag(sync=True, to_json=..., from_json=...)``) ----
# ``widget`` is the widget the trait belongs to (ipywidgets passes it): when it shows a sample
# (``widget._sample``, a PointSample) only the shown rows cross, and indices are mapped both ways.


def _sample_of(widget) -> PointSample | None:
    return getattr(widget, "_sample", None) if widget is not None else None


def positions_to_json(value, widget=None):
    a = np.zeros((0, 2), np.float32) if value is None else value
    s = _sample_of(widget)
    return chunk_buffer(to_bytes(s.take(a) if s is not None else a, "float32"))


def positions_from_json(value, widget=None):
    return from_bytes(value, "float32").reshape(-1, 2)


def codes_to_json(value, widget=None):
    a = np.zeros(0, np.uint8) if value is None else np.asarray(value)
    s = _sample_of(widget)
    return chunk_buffer(to_bytes(s.take(a) if s is not None else a, "uint16" if a.dtype == np.uint16 else "uint8"))


def codes_from_json(value, widget=None):
    return from_bytes(value, "uint8")


def _to_shown(value, widget):
    a = np.zeros(0, np.uint32) if value is None else value
    s = _sample_of(widget)
    return s.to_shown(a) if s is not None else a


def _from_shown(shown, widget, current=None):
    """Indices from the browser -> full-data indices. When the browser sent back exactly what it was shown
    of ``current``, ``current`` is kept whole (rows not shown stay in it)."""
    s = _sample_of(widget)
    if s is None:
        return shown
    if current is not None and np.array_equal(s.to_shown(current), shown):
        return np.asarray(current)
    return s.to_full(shown)


def indices_to_json(value, widget=None):
    return chunk_buffer(to_bytes(_to_shown(value, widget), "uint32"))


def indices_from_json(value, widget=None):
    shown = sorted_unique(from_bytes(value, "uint32"))
    return _from_shown(shown, widget, getattr(widget, "selected", None))


def index_dict_to_json(value, widget=None):
    return {str(k): chunk_buffer(to_bytes(_to_shown(v, widget), "uint32")) for k, v in (value or {}).items()}


def index_dict_from_json(value, widget=None):
    current = getattr(widget, "named_sets", None) or {}
    return {
        str(k): _from_shown(sorted_unique(from_bytes(v, "uint32")), widget, current.get(str(k)))
        for k, v in (value or {}).items()
    }


def labels_to_json(value, widget=None):
    """``[[row, text], ...]`` point labels; with a sample, rows become shown positions (others dropped)."""
    s = _sample_of(widget)
    if s is None or not value:
        return list(value or [])
    rows = np.asarray([int(r) for r, _ in value], dtype=np.int64)
    pos = np.searchsorted(s.index, rows)
    out = []
    for (_r, text), r, p in zip(value, rows, pos):
        if p < s.index.size and int(s.index[p]) == r:
            out.append([int(p), text])
    return out


def payload_nbytes(state: dict) -> tuple[int, int]:
    """(JSON bytes, binary bytes) that ipywidgets sends for a widget ``state`` dict.

    Uses ipywidgets' own ``_remove_buffers`` (what ``Widget.open``/``send_state`` do) so the figure is
    what really crosses the comm, not an estimate.
    """
    import json

    from ipywidgets.widgets.widget import _remove_buffers

    st, _paths, bufs = _remove_buffers(state)
    js = json.dumps(st, separators=(",", ":"), default=str).encode()
    return len(js), int(sum(memoryview(b).nbytes for b in bufs))
