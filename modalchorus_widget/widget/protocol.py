"""Every custom message between the kernel and the browser, declared once.

``MESSAGES`` holds, for each direction (``TO_KERNEL``: sent by the browser; ``TO_BROWSER``: sent by the kernel),
each message kind (the message's ``type`` field) with its fields and binary buffers. The widget syncs the whole
declaration to the front end as the read-only trait ``_protocol`` (``schema()``), and both sides check every
message against it: the kernel each message the browser sends, before dispatching it (``check``; a refused one
is logged once on the "modalchorus_widget" logger and changes nothing), and each one it sends itself
(``message``: a wrong one raises, since it is a bug); the browser builds its dispatch table from it
(``js/src/protocol.js``) and checks what it sends and gets. ``TRAILS``, the rule that picks which points of a
round draw a trail, travels in the same schema, so the kernel and the browser read one declaration.

How to add a message kind
-------------------------
1. Declare it below under its direction: ``"kind": Message({"field": "type", ...}, buffers=(min, max))``.
   Types: ``int``, ``number``, ``str``, ``bool``, ``list``, ``dict``, ``any``; a trailing ``?`` makes a field
   optional (absent or null); ``open=True`` also accepts fields that are not listed. Then refresh the JS tests'
   copy: ``python -m modalchorus_widget.widget.protocol > js/test/protocol.json`` (tests/test_protocol.py checks it).
2. Browser -> kernel: handle it in the widget class with a method decorated ``@handles("kind")``, which gets
   ``(content, buffers)`` already checked against the declaration (see ``scatter.py``). A kind that no class of
   the widget handles is refused with one logged warning.
3. Kernel -> browser: ``self.send_message("kind", buffers=[...], **fields)``; in the browser a panel listens
   with ``ctrl.on("kind", (msg, buffers) => ...)`` (see the comment at the top of ``js/src/widget.js``).
4. Browser -> kernel from a panel: ``ctrl.send("kind", {fields}, buffers)``, checked against the same schema.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["MESSAGES", "TO_BROWSER", "TO_KERNEL", "TRAILS", "Message", "check", "handled_kinds", "handles", "schema"]

TO_KERNEL = "kernel"
TO_BROWSER = "browser"
_TYPES = ("int", "number", "str", "bool", "list", "dict", "any")


@dataclass(frozen=True)
class Message:
    """One message kind: its fields (name -> type; ``?`` = optional), how many binary buffers it carries
    (``buffers``: (min, max)), and whether fields beyond ``fields`` are allowed (``open``)."""

    fields: dict = field(default_factory=dict)
    buffers: tuple = (0, 0)
    open: bool = False


# Which points of an alignment round draw a trail from their old place to the new one. The kernel sends at most
# ``max`` points: those that moved most apart from the round's common drift (the median move). The browser draws
# a point's trail when that move is at least ``min_length`` (NDC units), ``relative`` x the largest move and
# ``typical`` x the median one, each trail at most ``max_length`` long (js/src/trails.js).
TRAILS = {"max": 2000, "min_length": 0.01, "relative": 0.2, "typical": 3.0, "max_length": 0.25}

_GALLERY_PAGE = {"request": "str", "page": "int", "pages": "int", "total": "int", "counts": "dict", "items": "list"}

MESSAGES = {
    TO_KERNEL: {
        "hover": Message({"index": "int"}),
        "method": Message({"method": "str"}),
        "color_by": Message({"key": "str"}),
        "concept_axis": Message({"a": "str", "b": "str"}),
        # named sets from the sets panel, chunked (set_transfer.py); nbytes and sets come with chunk 0
        "sets_chunk": Message(
            {"id": "str", "seq": "int", "total": "int", "nbytes": "int?", "sets": "list?"}, buffers=(0, 1)
        ),
        "undo": Message(),
        "redo": Message(),
        "goto": Message({"k": "int"}),
        "strength": Message({"alpha": "number", "apply": "bool"}),  # the round panel's slider; apply: commit it
        "gallery": Message({"page": "int", "request": "str"}),
        "search": Message({"query": "str"}),
        "png": Message({"request": "str", "data": "str"}),  # the answer to export_png
        "augment": Message({"request": "str?", "set_name": "str", "texts": "list", "files": "list"}),
        "lasso_polygon": Message({"points": "list"}),  # scale.ShardChorus: the lasso in map coordinates
        # the Suspects panel (widget/suspects.py): select | axis | save | fix | thumbs | probe; name: set / anchor
        "suspect": Message({"action": "str", "index": "int", "name": "str?"}),
    },
    TO_BROWSER: {
        "ack_selected": Message({"count": "int"}),
        "sets_applied": Message({"id": "str", "count": "int"}),
        "sets_refused": Message({"id": "str", "reason": "str"}),
        # open: a widget's tooltip() may add fields of its own
        "tooltip": Message(
            {"index": "int", "has_image": "bool", "text": "str?", "label": "str?", "prediction": "str?"},
            buffers=(0, 1),
            open=True,
        ),
        "tooltip_reset": Message(),
        "gallery": Message(_GALLERY_PAGE, buffers=(0, 10_000)),
        "search": Message(
            {
                "query": "str",
                "n_matches": "int?",
                "n_nearest": "int?",
                "query_xy": "list?",
                "axis_xy": "list?",
                "has_encoder": "bool?",
                "error": "str?",
            },
            buffers=(0, 2),
        ),
        "augment": Message(
            {"request": "str", "added": "int?", "images": "int?", "texts": "int?", "set_name": "str?", "error": "str?"}
        ),
        "round_trails": Message({"round": "int", "count": "int", "shift": "list", "spread": "number"}, buffers=(3, 3)),
        "round_drawn": Message({"round": "int"}),
        # the points that moved (at most half of those shown): shown indices (uint32) and their places (float32 x, y)
        "positions_delta": Message({"count": "int"}, buffers=(2, 2)),
        # the slider's preview: the report at that alpha and the points' colour codes (when coloured by prediction)
        "strength_preview": Message({"alpha": "number", "report": "dict"}, buffers=(0, 1)),
        "export_png": Message({"request": "str"}),
        "suspect_done": Message({"action": "str", "index": "int", "error": "str?"}),
        "suspect_thumbs": Message({"index": "int", "count": "int"}, buffers=(0, 6)),
    },
}

for _to, _kinds in MESSAGES.items():
    for _kind, _spec in _kinds.items():
        for _name, _type in _spec.fields.items():
            if _type.rstrip("?") not in _TYPES or _name == "type":
                raise ValueError(f"protocol: {_to} message {_kind!r}: field {_name!r} has an unknown type {_type!r}")


def _spec_json(spec: Message) -> dict:
    out = {"fields": dict(spec.fields)}  # buffers (0, 0) and open False are left out: the browser's defaults
    if spec.buffers != (0, 0):
        out["buffers"] = list(spec.buffers)
    if spec.open:
        out["open"] = True
    return out


def schema() -> dict:
    """The declaration as JSON, as the browser gets it (the widget's ``_protocol`` trait)."""
    return {
        "version": 1,
        "messages": {to: {kind: _spec_json(s) for kind, s in kinds.items()} for to, kinds in MESSAGES.items()},
        "trails": dict(TRAILS),
    }


def _type_ok(value, typ: str) -> bool:
    if typ == "any":
        return True
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if typ == "str":
        return isinstance(value, str)
    if typ == "bool":
        return isinstance(value, bool)
    if typ == "list":
        return isinstance(value, (list, tuple))
    return isinstance(value, dict)  # "dict"


def check(content, buffers=(), to: str = TO_KERNEL) -> str | None:
    """Why ``content`` (with ``buffers``) is not a message the declaration allows towards ``to``; None when it is.

    Examples
    --------
    >>> check({"type": "hover", "index": 3}) is None
    True
    >>> check({"type": "hover", "index": "3"})
    "a 'hover' message: field 'index' is str, not int"
    """
    if not isinstance(content, dict):
        return f"a message is {type(content).__name__}, not a mapping"
    kind = content.get("type")
    spec = MESSAGES[to].get(kind) if isinstance(kind, str) else None
    if spec is None:
        return f"unknown message kind {str(kind)[:40]!r}"
    for name, typ in spec.fields.items():
        value = content.get(name)
        if value is None:
            if typ.endswith("?"):
                continue
            return f"a {kind!r} message without its field {name!r}"
        if not _type_ok(value, typ.rstrip("?")):
            return f"a {kind!r} message: field {name!r} is {type(value).__name__}, not {typ.rstrip('?')}"
    if not spec.open:
        extra = [str(k)[:40] for k in content if k != "type" and k not in spec.fields]
        if extra:
            return f"a {kind!r} message with fields the protocol does not declare: {extra[:5]}"
    n = len(buffers or ())
    lo, hi = spec.buffers
    if not lo <= n <= hi:
        return f"a {kind!r} message with {n} binary buffers; it carries {lo} to {hi}"
    return None


def message(kind: str, buffers=(), **fields) -> dict:
    """The kernel's message ``kind`` with ``fields``, checked against the declaration.

    Raises
    ------
    ValueError
        When the declaration does not allow it: a bug in the kernel side, not in the user's input.
    """
    content = {"type": kind, **fields}
    why = check(content, buffers, TO_BROWSER)
    if why is not None:
        raise ValueError(f"protocol: the kernel built {why}; fix the sender or its declaration in MESSAGES")
    return content


def handles(kind: str):
    """Mark a widget method as the kernel's handler of the browser's message ``kind`` (declared in
    ``MESSAGES[TO_KERNEL]``); the method is called as ``method(content, buffers)``."""
    if kind not in MESSAGES[TO_KERNEL]:
        raise ValueError(f"protocol: {kind!r} is not a browser -> kernel message; declare it in MESSAGES first")

    def mark(fn):
        fn._handles_message = kind
        return fn

    return mark


def handled_kinds(cls) -> dict:
    """kind -> name of the method of ``cls`` (or a base class) decorated ``@handles(kind)``; a subclass's own
    method wins."""
    table = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            kind = getattr(attr, "_handles_message", None)
            if kind is not None:
                table[kind] = name
    return table


if __name__ == "__main__":  # the JS tests' copy: python -m modalchorus_widget.widget.protocol > js/test/protocol.json
    import json

    print(json.dumps(schema(), indent=1, sort_keys=True))
