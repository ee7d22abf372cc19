"""Named sets from the browser in chunks, each message under the Jupyter server's websocket limit.

A ``named_sets`` update is one message holding every set, and tornado closes the websocket of any message
from the browser over ``websocket_max_message_size`` (10 MiB by default), so the sets panel sends the whole
new ``named_sets`` as a transfer of custom messages instead (``js/src/set_transfer.js``)::

    {"type": "sets_chunk", "id": str, "seq": k, "total": K, "nbytes": B, "sets": [[name, count], ...]}

with one binary buffer each: the sets' uint32 (shown-row) indices concatenated in the order of ``sets``,
cut into pieces of at most ``CHUNK_BYTES``. ``seq`` 0 carries ``sets`` and ``nbytes`` (= 4 x the sum of the
counts); every chunk repeats ``id`` and ``total``. ``SetTransfers`` reassembles them: one transfer at a
time (a new one discards an unfinished one), at most ``MAX_TRANSFER_BYTES`` held, a partial transfer older
than ``max_age_s`` discarded, and a malformed chunk refused with a ``WidgetError`` that says what was wrong.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import WidgetError

__all__ = ["CHUNK_BYTES", "MAX_TRANSFER_BYTES", "MAX_SETS", "MAX_NAME_CHARS", "SetTransfers"]

CHUNK_BYTES = 4 * 2**20  # per message: 4 MiB of indices + a small JSON header, far under 10 MiB
MAX_TRANSFER_BYTES = 256 * 2**20  # the most one transfer may hold in the kernel (64 sets of 1M points)
MAX_SETS = 1000
MAX_NAME_CHARS = 200
log = logging.getLogger("modalchorus_widget")


def _int(v, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise WidgetError(f"sets chunk: {what} must be a whole number in [{lo}, {hi}], got {str(v)[:40]!r}")
    return v


@dataclass
class _Partial:
    id: str
    total: int
    nbytes: int
    sets: list
    started: float
    parts: list = field(default_factory=list)
    received: int = 0


class SetTransfers:
    """Reassembles the sets panel's chunked transfers (``add`` is told how many points the widget draws now)."""

    def __init__(self, max_bytes: int = MAX_TRANSFER_BYTES, max_age_s: float = 120.0, clock=None):
        self.max_bytes = int(max_bytes)
        self.max_age_s = float(max_age_s)
        self._clock = clock or time.monotonic
        self._partial: _Partial | None = None

    @property
    def held_bytes(self) -> int:
        """Bytes of the unfinished transfer held now (0 when none)."""
        return self._partial.received if self._partial is not None else 0

    def _header(self, content, n_shown: int) -> tuple[list, int]:
        sets = content.get("sets")
        if not isinstance(sets, list) or len(sets) > MAX_SETS:
            raise WidgetError(f"sets chunk 0: 'sets' must be a list of at most {MAX_SETS} [name, count] pairs")
        names, out = set(), []
        for item in sets:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise WidgetError(f"sets chunk 0: each entry of 'sets' must be [name, count], got {str(item)[:40]}")
            name = item[0]
            if not name.strip() or len(name) > MAX_NAME_CHARS or name in names:
                raise WidgetError(
                    f"sets chunk 0: set names must be distinct, non-empty and at most {MAX_NAME_CHARS} characters; "
                    f"got {name[:40]!r}"
                )
            names.add(name)
            out.append((name, _int(item[1], f"the count of {name[:40]!r}", 0, n_shown)))
        nbytes = _int(content.get("nbytes"), "nbytes", 0, self.max_bytes)
        if nbytes != 4 * sum(c for _, c in out):
            raise WidgetError(f"sets chunk 0: nbytes {nbytes} is not 4 bytes per index of the sets it names")
        return out, nbytes

    def add(self, content: dict, buffers, n_shown: int) -> tuple[str, dict] | None:
        """Take one chunk for a widget drawing ``n_shown`` points (no set holds more); return ``(id, {name: uint32 shown-row indices})`` when it completes a transfer.

        Raises ``WidgetError`` for a malformed chunk (the transfer it belongs to is dropped)."""
        now = self._clock()
        p = self._partial
        if p is not None and now - p.started > self.max_age_s:
            log.info("discarded sets transfer %r: unfinished after %.0f s", p.id, now - p.started)
            self._partial = p = None
        tid, seq = content.get("id"), content.get("seq")
        if not isinstance(tid, str) or not 0 < len(tid) <= 64:
            raise WidgetError("sets chunk: 'id' must be a string of 1 to 64 characters")
        max_chunks = self.max_bytes // CHUNK_BYTES + 1
        total = _int(content.get("total"), "total", 1, max_chunks)
        seq = _int(seq, "seq", 0, total - 1)
        bufs = list(buffers or [])
        if len(bufs) != 1:
            raise WidgetError(f"sets chunk: expected one binary buffer, got {len(bufs)}")
        data = bytes(memoryview(bufs[0]).cast("B"))
        if len(data) > CHUNK_BYTES:
            raise WidgetError(f"sets chunk: a buffer of {len(data)} bytes is over the {CHUNK_BYTES}-byte chunk size")
        if seq == 0:
            if p is not None:
                log.info("discarded sets transfer %r: a new one (%r) started before it finished", p.id, tid)
            self._partial = p = None
            sets, nbytes = self._header(content, int(n_shown))
            p = _Partial(tid, total, nbytes, sets, now)
        elif p is None or p.id != tid:
            raise WidgetError(f"sets chunk {seq} of transfer {tid[:20]!r}, which is not the one in progress")
        elif seq != len(p.parts) or total != p.total:
            self._partial = None
            raise WidgetError(
                f"sets chunk {seq}/{total} of {tid[:20]!r} out of order (expected {len(p.parts)}/{p.total}); "
                "the transfer is dropped"
            )
        if p.received + len(data) > p.nbytes or (seq == total - 1) != (p.received + len(data) == p.nbytes):
            self._partial = None
            raise WidgetError(
                f"sets chunk {seq}/{total} of {tid[:20]!r}: {p.received + len(data)} of {p.nbytes} bytes after it; "
                "the chunks do not add up to the sets named, the transfer is dropped"
            )
        p.parts.append(data)
        p.received += len(data)
        if seq < total - 1:
            self._partial = p
            return None
        self._partial = None
        flat = np.frombuffer(b"".join(p.parts), dtype="<u4").astype(np.uint32, copy=False)
        ends = np.cumsum([c for _, c in p.sets], dtype=np.int64)
        return p.id, {name: part for (name, _), part in zip(p.sets, np.split(flat, ends[:-1]))}
