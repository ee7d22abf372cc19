"""Large fresh arrays whose pages the kernel maps in one call, so a round at a million rows does not pay a page fault
per 4 KB.

A round writes a new (n, d) state (undo keeps the old one). First-touching 2 GB of fresh memory page by page costs
half a million page faults: on this 2-core VM 1-4 s of system time, more than the round's arithmetic. Huge pages
(``MADV_HUGEPAGE``, which numpy asks for) cut that to 0.3 s when the kernel has free 2 MB blocks, but stall 5-6 s
compacting memory when it has not (measured after a 1M-row fit). ``MAP_POPULATE`` maps every 4 KB page of the
array in the one ``mmap`` call: 0.6-1.0 s for 2 GB, whatever the state of memory. Smaller arrays, and systems
without it, get a plain ``numpy.empty``.

On a virtual machine even that is not the whole cost: pages the host has not backed yet (or took back while they
were free) fault on the host too, and 2 GB then take 4-6 s whatever the flags. Memory that stays in the process
does not: so a large array's mapping goes back to a small pool when the array is dropped (an undone round's state,
the redo stack a new round clears), and :func:`reserve` maps and touches one spare in a background thread while
the user is choosing the next lasso. :func:`empty` takes from the pool first. At most ``POOL_BUFFERS`` spares of
each size are kept; :func:`release` gives them back to the system.
"""

from __future__ import annotations

import mmap
import threading
import weakref

import numpy as np

__all__ = ["MIN_BYTES", "POOL_BUFFERS", "copy", "empty", "release", "reserve", "wait"]

MIN_BYTES = 64 << 20  # below this, numpy's allocator is as fast
POOL_BUFFERS = 1  # spare mappings kept per size
_pool: dict = {}  # nbytes -> [mmap, ...], each mapped and touched
_lock = threading.Lock()
_reserving: dict = {}  # nbytes -> threading.Event, set when that spare is in the pool (or failed)


def _map(nbytes: int, populate: bool = True):
    """A private anonymous mapping; ``populate``: its pages mapped in the call (which holds the GIL throughout)."""
    extra = getattr(mmap, "MAP_POPULATE", 0) if populate else 0
    return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | extra)


def _give_back(buf) -> None:
    """A pooled array was dropped: keep its mapping for the next one of its size (up to ``POOL_BUFFERS``)."""
    with _lock:
        spares = _pool.setdefault(len(buf), [])
        if len(spares) < POOL_BUFFERS:
            spares.append(buf)  # else dropped: unmapped once nothing refers to it


def _wrap(buf, dtype, shape) -> np.ndarray:
    flat = np.frombuffer(buf, dtype)
    weakref.finalize(flat, _give_back, buf)  # every view keeps ``flat`` alive; the mapping returns with the last
    return flat.reshape(shape)


def _pooled_bytes(shape, dtype) -> int:
    """The size of such an array when it is large enough to map and pool, else 0."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return nbytes if nbytes >= MIN_BYTES and hasattr(mmap, "MAP_ANONYMOUS") else 0


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised writable C-contiguous array: for a large one, a spare mapping from the pool, else a new
    one whose pages are mapped up front."""
    dtype = np.dtype(dtype)
    nbytes = _pooled_bytes(shape, dtype)
    if not nbytes:
        return np.empty(shape, dtype)
    with _lock:
        pending = _reserving.get(nbytes)
    if pending is not None:  # a spare of this size is being mapped: waiting for it beats mapping a second one
        pending.wait()
    with _lock:
        spares = _pool.get(nbytes)
        buf = spares.pop() if spares else None
    if buf is None:
        try:
            buf = _map(nbytes)
        except (OSError, ValueError):  # no address space for it: the ordinary way
            return np.empty(shape, dtype)
    return _wrap(buf, dtype, shape)


def copy(a) -> np.ndarray:
    """A writable copy of ``a`` (C order) in memory from :func:`empty`."""
    a = np.asarray(a)
    out = empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def reserve(shape, dtype=np.float32) -> None:
    """Map and touch one spare of this size in a background thread (no-op for small arrays, or when a spare is
    there or on its way): the next :func:`empty` of that size then costs nothing."""
    nbytes = _pooled_bytes(shape, dtype)
    if not nbytes:
        return
    with _lock:
        if _pool.get(nbytes) or nbytes in _reserving:
            return
        done = _reserving[nbytes] = threading.Event()

    def work():
        try:
            buf = _map(nbytes, populate=False)  # populating in mmap() would hold the GIL for seconds
            view = np.frombuffer(buf, np.uint8)
            if not _populate(view):
                _touch(view)  # every page, in numpy loops that release the GIL
            del view
            _give_back(buf)
        except (OSError, ValueError, MemoryError):
            pass
        finally:
            with _lock:
                _reserving.pop(nbytes, None)
            done.set()

    threading.Thread(target=work, name="memory-reserve", daemon=True).start()


def _populate(view: np.ndarray) -> bool:
    """Ask the kernel to map every page of ``view`` for writing (``MADV_POPULATE_WRITE``, Linux 5.14+), through
    ctypes, which releases the GIL meanwhile; 64 MB per call, since each call holds the process's memory-map lock
    and any new mapping elsewhere in the process waits for it. False where that is not available."""
    try:
        import ctypes

        madvise = ctypes.CDLL(None, use_errno=True).madvise
        base, step = view.ctypes.data, 64 << 20
        for at in range(0, view.nbytes, step):
            size = min(step, view.nbytes - at)
            if madvise(ctypes.c_void_p(base + at), ctypes.c_size_t(size), 23) != 0:
                return False if at == 0 else _touch(view[at:])
        return True
    except (OSError, AttributeError):
        return False


def _touch(view: np.ndarray) -> bool:
    for s in range(0, view.nbytes, 64 << 20):
        view[s : s + (64 << 20) : 4096] = 0
    return True


def wait(timeout: float | None = None) -> bool:
    """Wait for the spares being mapped (:func:`reserve`); False if one is still on its way after ``timeout``."""
    with _lock:
        pending = list(_reserving.values())
    return all(ev.wait(timeout) for ev in pending)


def release() -> None:
    """Give every spare mapping back to the system (each is unmapped once nothing refers to it)."""
    with _lock:
        _pool.clear()
