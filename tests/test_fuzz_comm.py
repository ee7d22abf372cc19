"""Comm fuzzing: hypothesis-made garbage and out-of-protocol messages (wrong types, huge indices,
truncated buffers, unknown kinds and comm methods, bad buffer paths, named-sets chunks that are out of order,
truncated, lying or from a stale transfer) into the widgets' comm entry
(``_handle_msg``: custom messages -> ``_on_front_end_msg``, state updates -> the ``from_json`` deserializers of
``widget/buffers.py``). No exception escapes, the synced state is unchanged, and each refused message logs
exactly one warning on the "modalchorus_widget" logger."""

import logging

import numpy as np
import pytest

from benchmarks import reliability_context as X
from benchmarks import reliability_fuzz as FZ
from modalchorus_widget.errors import WidgetError
from modalchorus_widget.widget.scatter import ScatterWidget
from modalchorus_widget.widget.set_transfer import CHUNK_BYTES, SetTransfers


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with X.Ctx(tmp=tmp_path_factory.mktemp("fuzz")) as c:
        yield c


def _check(out, n):
    assert out["cases"] >= n
    assert out["escaped"] == 0, out["examples"]
    assert out["state_changed"] == 0, out["examples"]
    assert out["not_one_warning"] == 0, out["examples"]


def test_fuzz_chorus_1000_cases(ctx):
    _check(FZ.fuzz_comm(ctx.chorus, 1000, seed=0), 1000)


def test_fuzz_scatter_widget_300_cases():
    w = ScatterWidget(np.random.default_rng(0).normal(size=(50, 2)), category=np.arange(50) % 3)
    w.selected = [1, 2]
    _check(FZ.fuzz_comm(w, 300, seed=1), 300)


@pytest.mark.parametrize(
    "data,buffers",
    [
        ({"method": "update", "state": {"selected": None}, "buffer_paths": [["selected"]]}, [b"\x01\x02\x03"]),
        ({"method": "update", "state": {"selected": None}, "buffer_paths": [["selected"]]}, [b"\xff" * 8]),
        ({"method": "update", "state": {"named_sets": {"a": None}}, "buffer_paths": [["named_sets", "a"]]}, [b"x"]),
        ({"method": "update", "state": {"positions": None}, "buffer_paths": [["positions"]]}, [b"\x00" * 12]),
        ({"method": "custom", "content": {"type": "hover", "index": 10**18}}, []),
        ({"method": "custom", "content": {"type": "hover", "index": "3"}}, []),
        ({"method": "custom", "content": ["hover"]}, []),
        ({"method": "custom", "content": {"type": "rm -rf"}}, []),
        ({"method": "nope"}, []),
    ],
)
def test_named_garbage_refused_atomically(data, buffers, caplog):
    w = ScatterWidget(np.zeros((5, 2)), category=[0, 1, 0, 1, 0])
    w.selected = [0, 1]
    w.sets["keep"] = [3]
    before = (w.selected.tolist(), {k: v.tolist() for k, v in w.sets.items()}, np.array(w.positions))
    with caplog.at_level(logging.WARNING, logger="modalchorus_widget"):
        w._handle_msg({"content": {"data": data}, "buffers": [memoryview(b) for b in buffers]})
    after = (w.selected.tolist(), {k: v.tolist() for k, v in w.sets.items()}, np.array(w.positions))
    assert before[:2] == after[:2] and np.array_equal(before[2], after[2])
    assert len([r for r in caplog.records if r.name == "modalchorus_widget"]) == 1


def test_a_good_update_still_applies():
    w = ScatterWidget(np.zeros((5, 2)))
    w._handle_msg(
        {
            "content": {"data": {"method": "update", "state": {"selected": None}, "buffer_paths": [["selected"]]}},
            "buffers": [memoryview(np.array([1, 3], np.uint32).tobytes())],
        }
    )
    assert w.selected.tolist() == [1, 3]


def test_notebook_without_kernel_says_rerun():
    bundle = ScatterWidget(np.zeros((3, 2)))._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "Re-run this cell" in data["text/plain"] and "Re-run this cell" in data["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in data


# ------------------------------------------------------------------ named sets in chunks (widget/set_transfer.py)
def _chunks(sets, tid="t", chunk=CHUNK_BYTES):
    """The messages the sets panel (js/src/set_transfer.js packSets) sends for ``sets``."""
    flat = b"".join(np.asarray(v, "<u4").tobytes() for v in sets.values())
    pieces = [flat[i : i + chunk] for i in range(0, len(flat), chunk)] or [b""]
    out = []
    for seq, piece in enumerate(pieces):
        c = {"type": "sets_chunk", "id": tid, "seq": seq, "total": len(pieces)}
        if seq == 0:
            c.update(nbytes=len(flat), sets=[[k, len(v)] for k, v in sets.items()])
        out.append(({"method": "custom", "content": c}, [piece]))
    return out


def _send(w, data, buffers):
    w._handle_msg({"content": {"data": data}, "buffers": [memoryview(b) for b in buffers]})


def _warnings(caplog):
    return [r for r in caplog.records if r.name == "modalchorus_widget" and r.levelno >= logging.WARNING]


def test_sets_over_the_websocket_limit_arrive_in_chunks_exactly(caplog):
    # 3M points: the widget shows a 2M sample, so the browser's shown-row indices map back to full rows
    w = ScatterWidget(np.zeros((3_000_000, 2), np.float32), modality=np.arange(3_000_000) % 2)
    every = np.arange(w.n_shown, dtype=np.uint32)
    thirds = np.arange(1, w.n_shown, 3, dtype=np.uint32)
    msgs = _chunks({"every shown": every, "thirds": thirds, "none": []})
    nbytes = 4 * (len(every) + len(thirds))
    assert nbytes > 10 * 2**20 and len(msgs) == -(-nbytes // CHUNK_BYTES) == 3
    assert all(len(b[0]) <= CHUNK_BYTES for _, b in msgs)
    with caplog.at_level(logging.INFO, logger="modalchorus_widget"):
        for data, bufs in msgs[:-1]:
            _send(w, data, bufs)
            assert dict(w.named_sets) == {}  # nothing applied before the last chunk
        assert 0 < w._set_transfers.held_bytes <= 4 * (len(every) + len(thirds))
        _send(w, *msgs[-1])
    assert _warnings(caplog) == []
    assert list(w.named_sets) == ["every shown", "thirds", "none"]
    assert np.array_equal(w.sets["every shown"], w.shown_index)
    assert np.array_equal(w.sets["thirds"], w.shown_index[thirds])
    assert w.sets["none"].size == 0 and w._set_transfers.held_bytes == 0


@pytest.mark.parametrize(
    "corrupt",
    ["out of order", "truncated", "wrong id", "lying nbytes", "index out of range", "two buffers", "oversized"],
)
def test_malformed_transfers_change_nothing_with_one_warning_each(corrupt, caplog):
    w = ScatterWidget(np.zeros((100, 2)))
    w.sets["keep"] = [3]
    msgs = _chunks({"a": np.arange(40), "b": np.arange(50, 90)}, chunk=64)  # 5 chunks of 64 bytes
    if corrupt == "out of order":
        msgs[2], msgs[3] = msgs[3], msgs[2]
    elif corrupt == "truncated":
        msgs[4] = (msgs[4][0], [msgs[4][1][0][:-3]])
    elif corrupt == "wrong id":
        msgs[1][0]["content"]["id"] = "other"
    elif corrupt == "lying nbytes":
        msgs[0][0]["content"]["nbytes"] += 4
    elif corrupt == "index out of range":
        msgs = _chunks({"a": [5, 100]})
    elif corrupt == "two buffers":
        msgs[0] = (msgs[0][0], msgs[0][1] * 2)
    elif corrupt == "oversized":
        msgs = _chunks({"a": np.zeros(CHUNK_BYTES // 4 + 1)}, chunk=CHUNK_BYTES + 4)
    n_warned = []
    for data, bufs in msgs:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="modalchorus_widget"):
            _send(w, data, bufs)
        n_warned.append(len(_warnings(caplog)))
    assert {k: v.tolist() for k, v in w.sets.items()} == {"keep": [3]}
    assert set(n_warned) <= {0, 1} and sum(n_warned) >= 1  # each refused chunk: exactly one warning
    assert w._set_transfers.held_bytes == 0  # nothing half-received is kept after the transfer failed


def test_stale_and_abandoned_partial_transfers_are_discarded():
    now = [0.0]
    tr = SetTransfers(max_age_s=60, clock=lambda: now[0])
    msgs = _chunks({"a": np.arange(40)}, tid="old", chunk=64)  # 3 chunks
    assert tr.add(msgs[0][0]["content"], msgs[0][1], 100) is None and tr.held_bytes == 64
    now[0] = 61.0  # the browser went away part-way: the partial transfer is dropped on the next chunk
    with pytest.raises(WidgetError, match="not the one in progress"):
        tr.add(msgs[1][0]["content"], msgs[1][1], 100)
    assert tr.held_bytes == 0
    # a new transfer replaces an unfinished one
    assert tr.add(msgs[0][0]["content"], msgs[0][1], 100) is None
    new = _chunks({"b": [1, 2]}, tid="new")
    assert tr.add(new[0][0]["content"], new[0][1], 100)[1]["b"].tolist() == [1, 2]
    assert tr.held_bytes == 0


def test_a_transfer_may_not_declare_more_than_the_buffer_bound():
    tr = SetTransfers(max_bytes=1024)
    head = {"type": "sets_chunk", "id": "t", "seq": 0, "total": 1, "nbytes": 2048, "sets": [["a", 512]]}
    with pytest.raises(WidgetError, match="nbytes"):
        tr.add(head, [b"\0" * 2048], 10**9)
    assert tr.held_bytes == 0


def test_fuzz_reaches_whole_transfers():
    # the fuzz's well-formed transfer chunks do complete and apply (the protocol is exercised, not just refused)
    w = ScatterWidget(np.zeros((80, 2)))
    applied = []
    w.observe(lambda ch: applied.append(ch["new"]), "named_sets")
    _check(FZ.fuzz_comm(w, 400, seed=2), 400)
    assert len(applied) >= 1
