"""torch's CPU thread count, set in one place.

``torch.set_num_threads(n)`` does two things: it sets the count of the calling thread (OpenMP keeps one per
thread once a thread has used torch), and it sets the process-wide value every thread that has not used torch
yet starts from (and MKL's count). The package trains small networks from more than one Python thread at
once: ``Chorus`` fits MFM on a background thread while a cell may run an alignment round or a transform.
Each of them saving the count, setting its own and putting the saved one back races on the process-wide
part: the background thread starts while a round has set 2, saves 2 as "the count before", and when it ends
last it leaves every later thread at what the round chose, not what the user had.

``torch_threads(n)`` is the one context manager for it. What it does:

- inside the block, the calling thread uses ``min(n, its count before the block)`` threads (at least 1;
  ``n=None`` is ``default_threads()``), so a block never raises what the user or an enclosing block set;
- blocks nest: closing one gives the thread back the count it had when that block opened;
- blocks overlap from any number of threads: a lock counts the blocks open in the process, and when the last
  one closes, in whatever order they close, the process-wide value goes back to what it was before the first
  one opened (the thread closing it gets that count too);
- overlapping blocks in different threads each use their own count (one thread cannot set another's).

``worker_threads(n)`` is for a process that does one job (a Ray task or actor): it sets the count for the
whole process and does not restore it.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

from .errors import InputError

__all__ = ["default_threads", "torch_threads", "worker_threads"]

_lock = threading.Lock()
_local = threading.local()  # .stack: the counts this thread had when each of its open blocks opened
_state = {"open": 0, "outside": None}  # blocks open in the process; the count before the first one opened


def default_threads() -> int:
    """At most 2 threads, and 1 when the machine is oversubscribed (load above the core count), where
    OpenMP barriers stall every small op; the package's networks are small enough that more do not help."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] > cores
    except OSError:
        busy = False
    return 1 if busy else max(1, min(2, cores))


def _check(n) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or int(n) < 1:
        raise InputError(f"torch_threads: n must be a whole number of threads >= 1 (or None), got {n!r}")
    return int(n)


@contextmanager
def torch_threads(n: int | None = None):
    """Run the block with torch using at most ``n`` CPU threads, safely across Python threads.

    Parameters
    ----------
    n : int or None
        The most threads the block may use (>= 1); None uses ``default_threads()``.

    Yields
    ------
    int
        The thread count torch uses as the block starts.

    Raises
    ------
    InputError
        When ``n`` is not a whole number >= 1.

    Examples
    --------
    >>> import torch
    >>> from modalchorus_widget.threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1) as used:
    ...     used
    1
    >>> torch.get_num_threads() == before
    True
    """
    import torch

    limit = _check(n)
    limit = default_threads() if limit is None else limit
    stack = _local.__dict__.setdefault("stack", [])
    with _lock:
        if _state["open"] == 0:
            _state["outside"] = torch.get_num_threads()
        _state["open"] += 1
        before = torch.get_num_threads()
        stack.append(before)
        count = max(1, min(limit, before))
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        with _lock:
            before = stack.pop()
            _state["open"] -= 1
            torch.set_num_threads(_state["outside"] if _state["open"] == 0 else before)


def worker_threads(n: int) -> None:
    """Set torch's thread count for the whole of a worker process (a Ray task or actor that does one job);
    not restored. Inside the package's own process, use ``torch_threads``."""
    import torch

    torch.set_num_threads(_check(n))
