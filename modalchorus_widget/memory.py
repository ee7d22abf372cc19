"""Large fresh arrays backed by huge pages, so that a round at a million rows does not pay a page fault per 4 KB.

A round writes a new (n, d) state (undo keeps the old one). With ordinary pages, first-touching 2 GB costs half
a million page faults: on a 2-core machine that is 2-10 s of a round, more than its arithmetic. An anonymous
mapping advised ``MADV_HUGEPAGE`` faults in 2 MB at a time (about 3x less system time, and far less when the
machine is busy). Smaller arrays, and systems without ``madvise``, get a plain ``numpy.empty``.
"""

from __future__ import annotations

import mmap

import numpy as np

__all__ = ["HUGE_MIN_BYTES", "empty", "copy"]

HUGE_MIN_BYTES = 64 << 20  # below this, numpy's allocator is as fast


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised writable C-contiguous array, on huge pages when it is large and the system allows."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    advise = getattr(mmap, "MADV_HUGEPAGE", None)
    if nbytes < HUGE_MIN_BYTES or advise is None or not hasattr(mmap, "MAP_PRIVATE"):
        return np.empty(shape, dtype)
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf.madvise(advise)
    except (OSError, ValueError):  # no THP support or no address space: the ordinary way
        return np.empty(shape, dtype)
    return np.frombuffer(buf, dtype).reshape(shape)  # the array keeps the mapping alive; unmapped with it


def copy(a) -> np.ndarray:
    """A writable copy of ``a`` (C order) in memory from :func:`empty`."""
    a = np.asarray(a)
    out = empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out
