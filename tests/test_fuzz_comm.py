"""Comm fuzzing (issue 19): hypothesis-made garbage and out-of-protocol messages (wrong types, huge indices,
truncated buffers, unknown kinds and comm methods, bad buffer paths) into the widgets' comm entry
(``_handle_msg``: custom messages -> ``_on_front_end_msg``, state updates -> the ``from_json`` deserializers of
``widget/buffers.py``). No exception escapes, the synced state is unchanged, and each refused message logs
exactly one warning on the "modalchorus_widget" logger."""

import logging

import numpy as np
import pytest

from benchmarks import reliability_cases as C
from modalchorus_widget.widget.scatter import ScatterWidget


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with C.Ctx(tmp=tmp_path_factory.mktemp("fuzz")) as c:
        yield c


def _check(out, n):
    assert out["cases"] >= n
    assert out["escaped"] == 0, out["examples"]
    assert out["state_changed"] == 0, out["examples"]
    assert out["not_one_warning"] == 0, out["examples"]


def test_fuzz_chorus_1000_cases(ctx):
    _check(C.fuzz_comm(ctx.chorus, 1000, seed=0), 1000)


def test_fuzz_scatter_widget_300_cases():
    w = ScatterWidget(np.random.default_rng(0).normal(size=(50, 2)), category=np.arange(50) % 3)
    w.selected = [1, 2]
    _check(C.fuzz_comm(w, 300, seed=1), 300)


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
