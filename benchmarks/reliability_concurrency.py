"""Concurrency: two alignment rounds asked for at once on one Chorus; one runs, the other is refused."""

from __future__ import annotations

import time

import numpy as np

from modalchorus_widget.errors import (
    WidgetError,
)


# ------------------------------------------------------------------------------------------ concurrency
def concurrent_align(c) -> dict:
    """Two alignment rounds asked for at once on the shared Chorus (a cell and a thread standing for the
    browser): one runs, the other is refused with a clear WidgetError; the aligner's history grows by exactly one
    round and the widget's round count matches it (the Chorus shares the context's aligner, so a round an earlier
    case ran on the aligner directly is adopted by the widget too, and its count may grow by more than one)."""
    import threading

    from modalchorus_widget.alignment import PointSet

    w = c.chorus
    rounds, hist = w.state.rounds, len(w.aligner.history_)
    started, results = threading.Event(), {}
    real_step = w.aligner.step

    def slow_step(*a, **k):  # holds the round open until the second call has been tried
        started.set()
        time.sleep(0.5)
        return real_step(*a, **k)

    def first():
        try:
            results["first"] = w.align(PointSet(c.n_pairs + 3, np.arange(20, 24)))
        except Exception as exc:  # noqa: BLE001
            results["first"] = exc

    w.aligner.step = slow_step
    try:
        t = threading.Thread(target=first)
        t.start()
        started.wait(30)
        try:
            w.align(PointSet(c.n_pairs + 4, np.arange(24, 28)))
            results["second"] = None
        except WidgetError as exc:
            results["second"] = exc
        t.join(120)
    finally:
        del w.aligner.step
    second = results.get("second")
    ok = (
        not isinstance(results.get("first"), Exception)
        and isinstance(second, WidgetError)
        and "another alignment round is running" in str(second)
        and len(w.aligner.history_) == hist + 1
        and w.state.rounds == len(w.aligner.history_)
    )
    return {
        "ok": bool(ok),
        "refused_message": str(second),
        "first": repr(results.get("first"))[:200],
        "rounds": [rounds, int(w.state.rounds)],
        "history": [hist, len(w.aligner.history_)],
    }
