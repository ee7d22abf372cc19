"""Comm fuzzing: hypothesis-made garbage and out-of-protocol messages into a widget's comm entry, the chunks of
the sets panel's named-sets transfer among them."""

from __future__ import annotations

import numpy as np

from .reliability_context import _same


# ------------------------------------------------------------------------------------------ comm fuzzing
def fuzz_comm(widget, n_cases: int = 1000, seed: int = 0) -> dict:
    """Hypothesis-made garbage and out-of-protocol comm messages into ``widget._handle_msg`` (the entry of
    every front-end message: custom messages, named-sets chunks and state updates with buffers). Counts the cases, the
    exceptions that escaped, and the cases that were neither refused (exactly one warning on the
    "modalchorus_widget" logger, synced state unchanged) nor accepted (a well-formed message, applied
    without a warning): ``state_changed`` (refused but changed state) and ``not_one_warning``."""
    import logging

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = ["selected", "named_sets", "positions", "category", "color_by", "method", "nope", "point_size"]
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=12),
        st.binary(max_size=24),
    )
    junk = st.recursive(
        scalar, lambda s: st.lists(s, max_size=4) | st.dictionaries(st.text(max_size=6), s, max_size=4), max_leaves=8
    )
    custom = st.fixed_dictionaries(
        {"type": st.sampled_from(["hover", "method", "color_by", "concept_axis", "lasso", "", "align"]) | junk},
        optional={"index": junk | st.integers(-(2**40), 2**40), "method": junk, "key": junk, "a": junk, "b": junk},
    )
    bufs = st.lists(st.binary(max_size=37), max_size=3)
    # the sets panel's chunked transfer (widget/set_transfer.py): near-valid chunks of two transfer ids, so
    # whole transfers, partial ones, out-of-order, truncated and lying chunks all come up
    index_bytes = st.lists(st.integers(0, 120) | st.integers(0, 2**32 - 1), max_size=6).map(
        lambda v: np.asarray(v, "<u4").tobytes()
    )
    chunk = st.fixed_dictionaries(
        {
            "type": st.just("sets_chunk"),
            "id": st.sampled_from(["t0", "t1"]) | junk,
            "seq": st.integers(-1, 3) | junk,
            "total": st.integers(0, 3) | junk,
        },
        optional={
            "nbytes": st.integers(-4, 32).map(lambda k: 4 * k) | st.integers(0, 40) | junk,
            "sets": st.lists(
                st.tuples(st.sampled_from(["a", "b", " "]) | junk, st.integers(-1, 8) | junk).map(list), max_size=3
            )
            | junk,
        },
    )
    chunk_bufs = st.lists(index_bytes | st.binary(max_size=37), max_size=2)

    def transfer_chunk(sets, seq, total, lie):
        """Chunk ``seq`` of a well-formed transfer of ``sets`` cut into ``total`` pieces, one field changed by ``lie``."""
        flat = b"".join(np.asarray(v, "<u4").tobytes() for _, v in sets)
        cut = (len(flat) // 8) * 4
        pieces = [flat] if total == 1 else [flat[:cut], flat[cut:]]
        content = {"type": "sets_chunk", "id": "t0", "seq": seq, "total": total}
        if seq == 0:
            content.update(nbytes=len(flat), sets=[[n, len(v)] for n, v in sets])
        content.update(lie)
        return content, [pieces[min(seq, len(pieces) - 1)]]

    whole = st.builds(
        transfer_chunk,
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.lists(st.integers(0, 60), max_size=5)), max_size=3),
        st.integers(0, 1),
        st.integers(1, 2),
        st.dictionaries(st.sampled_from(["id", "seq", "total", "nbytes", "sets"]), junk, max_size=1),
    ).map(lambda cb: ({"method": "custom", "content": cb[0]}, cb[1]))
    update = st.builds(
        lambda state, paths, b: ({"method": "update", "state": state, "buffer_paths": paths}, b),
        st.dictionaries(st.sampled_from(keys), junk, max_size=3),
        st.lists(st.lists(st.sampled_from(keys) | st.integers(0, 3), min_size=1, max_size=2), max_size=3) | junk,
        bufs,
    )
    msg = st.one_of(
        st.builds(lambda c, b: ({"method": "custom", "content": c}, b), custom, bufs),
        st.builds(lambda c, b: ({"method": "custom", "content": c}, b), chunk, chunk_bufs),
        whole,
        update,
        st.builds(lambda m, b: ({"method": m, "state": {}}, b), st.text(max_size=8), bufs),
        st.builds(lambda d, b: (d, b), junk, bufs),
    )
    synced = [k for k in widget.keys if not k.startswith("_") and k not in ("status", "busy", "layout")]

    def state():
        return {
            k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else repr(v))
            for k, v in ((k, getattr(widget, k)) for k in synced)
        }

    class Count(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.n = 0

        def emit(self, record):
            self.n += 1

    out = {"cases": 0, "escaped": 0, "state_changed": 0, "not_one_warning": 0, "accepted": 0, "examples": []}
    lg = logging.getLogger("modalchorus_widget")
    handler = Count()
    lg.addHandler(handler)
    old_prop = lg.propagate
    lg.propagate = False
    before = state()

    @settings(
        max_examples=n_cases, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(msg)
    def case(m):
        data, buffers = m
        out["cases"] += 1
        handler.n = 0
        try:
            widget._handle_msg({"content": {"data": data}, "buffers": [memoryview(b) for b in buffers]})
        except BaseException as exc:  # noqa: BLE001 - an escape is what this counts
            out["escaped"] += 1
            if len(out["examples"]) < 5:
                out["examples"].append(f"escaped {type(exc).__name__}: {exc} <- {str(data)[:120]}")
        now = state()
        changed = any(not _same(before[k], now[k]) for k in synced)
        if handler.n == 0:  # a well-formed message the widget applied (e.g. an empty selection)
            out["accepted"] += 1
            before.update(now)
        elif handler.n > 1 or changed:
            out["state_changed" if changed else "not_one_warning"] += 1
            if len(out["examples"]) < 5:
                out["examples"].append(f"{handler.n} warnings, changed={changed} <- {str(data)[:120]}")
            before.update(now)

    try:
        case()
    finally:
        lg.removeHandler(handler)
        lg.propagate = old_prop
    return out
