"""The one protocol between kernel and browser (widget/protocol.py): the declaration, its checks, the kernel's
dispatch by it (a refused message logs one warning and changes nothing), what the kernel sends, and the copy of
the schema the JS tests read (js/test/protocol.json)."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from modalchorus_widget.widget import protocol as P
from modalchorus_widget.widget.chorus import Chorus
from modalchorus_widget.widget.scatter import ScatterWidget

REPO = Path(__file__).resolve().parents[1]


def _custom(w, content, buffers=()):
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers)})


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "modalchorus_widget" and r.levelno >= logging.WARNING]


def test_the_js_tests_read_the_current_schema():
    copy = json.loads((REPO / "js" / "test" / "protocol.json").read_text())
    assert copy == P.schema(), "regenerate: python -m modalchorus_widget.widget.protocol > js/test/protocol.json"


def test_the_widget_syncs_the_schema_read_only():
    w = ScatterWidget(np.zeros((3, 2)))
    assert w.get_state()["_protocol"] == P.schema()
    assert w._protocol["trails"] == P.TRAILS


@pytest.mark.parametrize(
    "content,buffers,why",
    [
        ({"type": "hover", "index": 3}, [], None),
        ({"type": "goto", "k": 2}, [], None),
        ({"type": "sets_chunk", "id": "t", "seq": 0, "total": 1, "nbytes": 4, "sets": [["a", 1]]}, [b"1234"], None),
        ({"type": "sets_chunk", "id": "t", "seq": 1, "total": 2}, [b""], None),
        ({"type": "augment", "set_name": "s", "texts": [], "files": []}, [], None),  # request is optional
        ({"type": "hover", "index": "3"}, [], "field 'index' is str, not int"),
        ({"type": "hover", "index": True}, [], "field 'index' is bool, not int"),
        ({"type": "hover"}, [], "without its field 'index'"),
        ({"type": "hover", "index": 1, "x": 1}, [], "does not declare: ['x']"),
        ({"type": "undo"}, [b"x"], "1 binary buffers; it carries 0 to 0"),
        ({"type": "ack_selected", "count": 1}, [], "unknown message kind 'ack_selected'"),  # the other way
        ({"type": "rm -rf"}, [], "unknown message kind"),
        ({"type": ["hover"]}, [], "unknown message kind"),
        (["hover"], [], "not a mapping"),
    ],
)
def test_check_says_why(content, buffers, why):
    got = P.check(content, buffers)
    assert got is None if why is None else why in got


def test_kernel_messages_are_checked_when_sent():
    assert P.message("round_drawn", round=2) == {"type": "round_drawn", "round": 2}
    with pytest.raises(ValueError, match="field 'round' is str, not int"):
        P.message("round_drawn", round="2")
    with pytest.raises(ValueError, match="unknown message kind 'hover'"):
        P.message("hover", index=1)
    with pytest.raises(ValueError, match="it carries 3 to 3"):
        P.message("round_trails", buffers=[b""], round=1, count=0, shift=[0.0, 0.0], spread=0.0)


def test_handlers_are_declared_kinds_and_each_class_handles_its_own():
    with pytest.raises(ValueError, match="not a browser -> kernel message"):
        P.handles("tooltip")
    assert set(ScatterWidget._message_handlers) == {"hover", "sets_chunk"}
    chorus = set(Chorus._message_handlers)
    assert chorus < set(P.MESSAGES[P.TO_KERNEL]) and {"hover", "undo", "gallery", "augment"} <= chorus
    from modalchorus_widget.scale.widget import ShardChorus

    # every kind the browser may send has a handler in the widget that sends it
    assert set(ShardChorus._message_handlers) == set(P.MESSAGES[P.TO_KERNEL])


def test_refused_messages_log_once_and_change_nothing(caplog):
    w = ScatterWidget(np.zeros((5, 2)), category=[0, 1, 0, 1, 0])
    w.selected = [1, 2]
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    for content, why in (
        ({"type": "undo"}, "a 'undo' message, which a ScatterWidget does not handle"),  # it has no rounds
        ({"type": "hover", "index": 99}, "hover on point 99 of 5 shown"),
        ({"type": "hover", "index": 1.0}, "field 'index' is float, not int"),
        ({"type": "nope"}, "unknown message kind 'nope'"),
    ):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="modalchorus_widget"):
            _custom(w, content)
        assert len(_warnings(caplog)) == 1 and why in _warnings(caplog)[0], (content, _warnings(caplog))
        assert w.selected.tolist() == [1, 2] and sent == []
    caplog.clear()
    _custom(w, {"type": "hover", "index": 2})
    assert sent == [{"type": "tooltip", "index": 2, "has_image": False, "text": "image #2", "label": "0"}]


def test_the_front_end_cannot_write_the_schema(caplog):
    w = ScatterWidget(np.zeros((3, 2)))
    with caplog.at_level(logging.WARNING, logger="modalchorus_widget"):
        w._handle_msg({"content": {"data": {"method": "update", "state": {"_protocol": {}}}}, "buffers": []})
    assert w._protocol == P.schema()
    assert any("read-only" in m for m in _warnings(caplog))


def test_the_kernel_acknowledges_a_selection_from_the_browser():
    w = ScatterWidget(np.zeros((6, 2)))
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._handle_msg(
        {
            "content": {"data": {"method": "update", "state": {"selected": None}, "buffer_paths": [["selected"]]}},
            "buffers": [memoryview(np.array([0, 4, 5], np.uint32).tobytes())],
        }
    )
    assert w.selected.tolist() == [0, 4, 5] and sent == [{"type": "ack_selected", "count": 3}]
    w.selected = [1]  # a change made in Python is not acknowledged
    assert len(sent) == 1
