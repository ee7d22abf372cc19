"""``ScatterWidget``: one WebGL scatter of points with a colour and a glyph per point; ``Chorus`` builds on it.

Both render with the same bundled front-end (``static/widget.js``, built from ``js/``). Every per-point
array crosses the comm as one binary buffer (float32 positions, uint8/uint16 codes, uint32 indices),
never as JSON lists, so a million points cost ~10 MB. A lasso in the browser sets ``selected``;
setting ``selected`` (or a named set) from Python highlights it in the browser. ipywidgets' property
lock keeps the two directions from echoing.

Size limits: no single binary buffer is larger than ``buffers.MAX_BUFFER_BYTES`` (8 MiB); bigger arrays
cross as a list of chunks that the front-end joins into one typed array. Browser -> kernel messages are
capped as a whole by the server's websocket limit (tornado's default ``websocket_max_message_size`` is
10 MiB), so a widget draws at most ``max_points`` points (default ``DEFAULT_MAX_POINTS``): above that it
shows a deterministic, modality-stratified sample, says so in a visible notice (``sample_notice``), and
maps indices between the rows shown and the full data, so ``selected`` and the named sets always hold
full-data row indices.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from ..data.validation import check_rows
from ..errors import WidgetError
from . import buffers as B
from . import protocol
from .protocol import handles
from .set_transfer import SetTransfers
from .sets import NamedSets

__all__ = ["ScatterWidget", "DEFAULT_MAX_POINTS"]

_STATIC = Path(__file__).resolve().parent.parent / "static"
_BUNDLE = _STATIC / "widget.js"
_STYLES = _STATIC / "widget.css"
# The browser tests' bundle: the same front end with its test hooks (js/src/test_hooks.js), built by
# `npm run build` to js/dist/widget.test.js and named in the kernel's environment (tests/e2e/harness.py does).
_TEST_ESM = os.environ.get("MODALCHORUS_WIDGET_ESM")
if _TEST_ESM and Path(_TEST_ESM).is_file():
    _BUNDLE = Path(_TEST_ESM)
elif _TEST_ESM:
    warnings.warn(f"MODALCHORUS_WIDGET_ESM={_TEST_ESM!r} is not a file; using the shipped bundle", stacklevel=1)

# Point budget of one widget. Above it the widget shows a sample of this many points. Why 2,000,000:
# - a lasso around every shown point sends 4 bytes per point from the browser: 2,000,000 x 4 = 8.0 MB,
#   one buffer under MAX_BUFFER_BYTES and one message under tornado's default 10 MiB websocket limit
#   (the most that keeps that true is 8 MiB / 4 = 2,097,152 points);
# - measured (README; `bench widget`, headless Chromium with software WebGL, one loaded run): 1,000,000
#   points are shown in full (11 MB sent, first frame 4.4 s; 2.9 s on a quiet machine), 2,000,000 send
#   22 MB in 8 MiB chunks and draw in 6.6 s; 5,000,000 in full would send 55 MB, and the browser's
#   upload + index time grows with n (2.6 s at 1M, 4.0 s at 2M), so they are sampled: the kernel builds
#   the sample and the state message for 5,000,000 in 0.45 s (`bench reliability`), first frame 10.4 s.
DEFAULT_MAX_POINTS = 2_000_000
_SAFE_MAX_POINTS = B.MAX_BUFFER_BYTES // 4
log = logging.getLogger("modalchorus_widget")
_RERUN = (
    "modalchorus-widget: this interactive view needs a running Python kernel. Re-run this cell to show it "
    "again (the notebook was reopened, or the kernel restarted, since it was drawn)."
)
_COMM_METHODS = ("update", "echo_update", "request_state", "custom")


def _array_trait(default, to_json, from_json, echo=True):
    # echo_update=False: ipywidgets would otherwise send every front-end update straight back
    # (a second copy of a million-index selection) before applying it
    return t.Any(default).tag(sync=True, to_json=to_json, from_json=from_json, echo_update=echo)


class ScatterWidget(anywidget.AnyWidget):
    """A WebGL scatter plot of points with a category (colour) and a modality (glyph) per point.

    ``selected`` holds the sorted uint32 indices chosen by lasso/click in the browser, and setting it from
    Python highlights those points. Every per-point array crosses the comm as a binary buffer.

    Parameters
    ----------
    positions : ndarray of shape (n, 2), optional
        Where the points are drawn.
    category : array-like of int of shape (n,), optional
        Colour codes, with ``category_names`` naming them.
    modality : array-like of int of shape (n,), optional
        Glyph codes (dots, diamonds, ...), with ``modality_names`` naming them (default image, text).
    category_names, modality_names : list of str, optional
        Names of the codes, shown in the legend.
    selected : array-like of int, optional
        Rows selected at the start.
    max_points : int or None, default=DEFAULT_MAX_POINTS
        Above it the browser draws a deterministic sample stratified by modality (rows in ``selected`` at
        construction are kept), ``sample_notice`` says so in the widget, and ``selected`` / named sets still
        hold full-data rows (``shown_index``: the rows drawn; ``shown_selected``: the highlighted part of the
        selection). None: no limit.
    random_state : int, default=0
        Seed of that sample.
    **kwargs
        Passed to ``anywidget.AnyWidget``.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget import ScatterWidget
    >>> w = ScatterWidget(np.random.default_rng(0).normal(size=(100, 2)), modality=np.r_[np.zeros(50), np.ones(50)])
    >>> w.selected = [3, 1, 2]
    >>> w.selected.tolist()
    [1, 2, 3]
    """

    _esm = (
        _BUNDLE
        if _BUNDLE.exists()
        else (
            "export default { render({ el }) { el.textContent = 'modalchorus-widget: the front-end bundle is not "
            "built; run make setup (or cd js && npm install --no-audit --no-fund && npm run build)'; } }"
        )
    )
    _css = _STYLES if _STYLES.exists() else ""

    view_mode = t.Unicode("scatter").tag(sync=True)
    positions = _array_trait(np.zeros((0, 2), np.float32), B.positions_to_json, B.positions_from_json)
    category = _array_trait(np.zeros(0, np.uint8), B.codes_to_json, B.codes_from_json)
    category_names = t.List(t.Unicode()).tag(sync=True)
    modality = _array_trait(np.zeros(0, np.uint8), B.codes_to_json, B.codes_from_json)
    modality_names = t.List(t.Unicode()).tag(sync=True)
    selected = _array_trait(np.zeros(0, np.uint32), B.indices_to_json, B.indices_from_json, echo=False)
    named_sets = t.Dict().tag(
        sync=True, to_json=B.index_dict_to_json, from_json=B.index_dict_from_json, echo_update=False
    )
    # read-only: setting them would relabel without recolouring (Chorus.set_color_by does both)
    color_by = t.Unicode("", read_only=True).tag(sync=True)
    color_options = t.List(t.Unicode(), read_only=True).tag(sync=True)
    point_size = t.Float(4.0).tag(sync=True)
    opacity = t.Float(0.85).tag(sync=True)
    height = t.Int(420).tag(sync=True)
    animate_ms = t.Int(700).tag(sync=True)
    # read-only: setting them would relabel without re-projecting (Chorus.set_method does both)
    method = t.Unicode("", read_only=True).tag(sync=True)
    methods = t.List(t.Unicode(), read_only=True).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    busy = t.Unicode("").tag(sync=True)
    point_labels = t.List().tag(sync=True, to_json=B.labels_to_json)
    # non-empty when the widget shows a sample of the points; the browser shows it above the views
    sample_notice = t.Unicode("").tag(sync=True)
    # every custom message kind both ways, their fields, and the trail rule (protocol.py): the front end's
    # dispatch table and checks are built from it
    _protocol = t.Dict(protocol.schema(), read_only=True).tag(sync=True)

    def __init__(
        self,
        positions=None,
        category=None,
        modality=None,
        category_names=None,
        modality_names=None,
        selected=None,
        max_points=DEFAULT_MAX_POINTS,
        random_state=0,
        **kwargs,
    ):
        pos = B.as_positions(np.zeros((0, 2)) if positions is None else positions)
        n = len(pos)
        cat = np.zeros(n, np.uint8) if category is None else B.as_codes(category, n, "category")
        mod = np.zeros(n, np.uint8) if modality is None else B.as_codes(modality, n, "modality")
        if category_names is None:
            category_names = [str(i) for i in range(int(cat.max()) + 1 if n else 1)]
        if modality_names is None:
            modality_names = (
                ["image", "text"] if (n and mod.max() <= 1) else [str(i) for i in range(int(mod.max()) + 1 if n else 1)]
            )
        self._check_names(cat, category_names, "category")
        self._check_names(mod, modality_names, "modality")
        sel = B.as_indices(selected, n, "selected")
        self._max_points = self._check_max_points(max_points)
        # shown rows: all of them, or a deterministic modality-stratified sample that keeps the selection
        self._sample = None
        if self._max_points is not None and n > self._max_points:
            self._sample = B.sample_points(mod, self._max_points, keep=sel, random_state=int(random_state))
        super().__init__(**kwargs)
        with self.hold_sync():
            self.positions = pos
            self.category = cat
            self.category_names = [str(c) for c in category_names]
            self.modality = mod
            self.modality_names = [str(m) for m in modality_names]
            self.selected = sel
            self.sample_notice = self._sample.notice() if self._sample is not None else ""
        self._set_transfers = SetTransfers()
        # on_msg, not anywidget's @command: the kernel also sends unasked, and commands are looked up by name unchecked
        self.on_msg(self._on_front_end_msg)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._message_handlers = protocol.handled_kinds(cls)

    @staticmethod
    def _check_max_points(max_points):
        if max_points is None:
            return None
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
            raise WidgetError(
                f"max_points must be a positive whole number of points (or None for no limit), got {max_points!r}"
            )
        if max_points > _SAFE_MAX_POINTS:
            warnings.warn(
                f"max_points={max_points:,}: a lasso around more than {_SAFE_MAX_POINTS:,} shown points "
                "sends more than 8 MiB from the browser, near the Jupyter server's default 10 MiB websocket "
                "message limit; raise ServerApp.tornado_settings['websocket_max_message_size'] too",
                stacklevel=3,
            )
        return int(max_points)

    # ------------------------------------------------------------ large inputs
    @property
    def max_points(self) -> int | None:
        """The point budget this widget was made with (None: no limit); above it a sample is shown."""
        return self._max_points

    @property
    def sampled(self) -> bool:
        """True when the browser shows a sample of the points (see ``sample_notice``)."""
        return self._sample is not None

    @property
    def n_shown(self) -> int:
        """How many points the browser draws (``n`` unless sampled)."""
        return self._sample.n_shown if self._sample is not None else self.n

    @property
    def shown_index(self) -> np.ndarray:
        """Sorted uint32 full-data row indices of the points the browser draws (all rows unless sampled)."""
        return self._sample.index.copy() if self._sample is not None else np.arange(self.n, dtype=np.uint32)

    @property
    def shown_selected(self) -> np.ndarray:
        """The part of ``selected`` that is drawn (and highlighted) in the browser, as full-data indices."""
        if self._sample is None:
            return self.selected
        return self._sample.index[self._sample.to_shown(self.selected)]

    def _full_index(self, shown: int) -> int:
        """Row of the full data for the ``shown``-th point the browser draws."""
        return int(self._sample.index[shown]) if self._sample is not None else int(shown)

    # ------------------------------------------------------------ validation
    @staticmethod
    def _check_names(codes, names, what):
        if len(codes) and int(codes.max()) >= len(names):
            raise WidgetError(f"{what}: code {int(codes.max())} has no name; {what}_names lists only {len(names)}")

    @property
    def n(self) -> int:
        return int(len(self.positions))

    @t.validate("positions")
    def _v_positions(self, proposal):
        pos = B.as_positions(proposal["value"])
        if len(self.positions) and len(pos) != len(self.positions):
            raise WidgetError(
                f"positions: got {len(pos)} rows but the widget shows {len(self.positions)} points; "
                "make a new widget to change the number of points"
            )
        return pos

    @t.validate("category")
    def _v_category(self, proposal):
        return B.as_codes(proposal["value"], self.n or None, "category")

    @t.validate("modality")
    def _v_modality(self, proposal):
        return B.as_codes(proposal["value"], self.n or None, "modality")

    @t.validate("selected")
    def _v_selected(self, proposal):
        v = proposal["value"]
        if not isinstance(v, (bytes, bytearray, memoryview)) and np.asarray(v).dtype.kind in "iu":
            check_rows(v, self.n, "selected")  # rows out of range: the one message every entry point gives
        return B.as_indices(v, self.n, "selected")

    @t.validate("named_sets")
    def _v_sets(self, proposal):
        out = {}
        for k, v in (proposal["value"] or {}).items():
            if not isinstance(k, str) or not k.strip():
                raise WidgetError(f"sets: set names must be non-empty strings, got {k!r}")
            out[k] = B.as_indices(v, self.n, f"sets[{k!r}]")
        return out

    @t.validate("point_size")
    def _v_size(self, proposal):
        v = float(proposal["value"])
        if not (0 < v <= 100):
            raise WidgetError(f"point_size must be in (0, 100] pixels, got {v}")
        return v

    @t.validate("opacity")
    def _v_opacity(self, proposal):
        v = float(proposal["value"])
        if not (0 < v <= 1):
            raise WidgetError(f"opacity must be in (0, 1], got {v}")
        return v

    # ------------------------------------------------------------ API
    @property
    def sets(self) -> NamedSets:
        """Named sets, dict-like: ``w.sets["name"]`` -> uint32 indices; assigning updates the views."""
        return NamedSets(self)

    @sets.setter
    def sets(self, value):
        self.named_sets = dict(value)

    def update_positions(self, xy, animate: bool = True):
        """Move the points to new positions (same number of points); the browser animates the change.

        When at most half of the shown points moved (an anchor round, a few added prompts), only those go to the
        browser, as a ``positions_delta`` message of their indices and places, instead of every position."""
        pos = B.as_positions(xy, self.n, "positions")
        ms = self.animate_ms
        if not animate:
            self.animate_ms = 0
        try:
            moved = self._moved_shown(pos)
            if moved is None:
                self.positions = pos
            else:
                shown = self._sample.take(pos) if self._sample is not None else pos
                bufs = [moved.tobytes(), np.ascontiguousarray(shown[moved], np.float32).tobytes()]
                self._trait_values["positions"] = pos  # the browser applies the delta: no full upload
                self.send_message("positions_delta", buffers=bufs, count=int(len(moved)))
        finally:
            if not animate:
                self.animate_ms = ms
        return self

    def _moved_shown(self, pos):
        """Shown indices (uint32) whose position differs from the current one, or None when more than half moved
        (or the shapes differ): then the whole array is cheaper to send."""
        old = self.positions
        if old is None or old.shape != pos.shape or len(pos) == 0:
            return None
        s = self._sample
        a, b = (s.take(old), s.take(pos)) if s is not None else (old, pos)
        moved = np.flatnonzero((a != b).any(axis=1)).astype(np.uint32)
        return None if 2 * len(moved) > len(b) else moved

    def payload_nbytes(self) -> dict:
        """Bytes this widget's state sends over the comm: JSON, binary, and the plain array sizes.

        ``raw`` is the size of the point arrays themselves (positions + codes + indices), the
        yardstick for "no JSON inflation"; the front-end bundle (``_esm``) and the message schema
        (``_protocol``, the same for every widget: ``protocol``) are counted apart.
        """
        state = self.get_state()
        esm = len(str(state.pop("_esm", "")).encode())
        state.pop("_css", None)
        schema, _ = B.payload_nbytes({"_protocol": state.pop("_protocol", {})})
        js, binary = B.payload_nbytes(state)
        sizes = B.buffer_sizes(state)
        s = self._sample
        shown = (lambda a: s.take(a)) if s is not None else (lambda a: a)
        to_shown = (lambda a: s.to_shown(a)) if s is not None else (lambda a: a)
        raw = int(
            shown(self.positions).nbytes
            + shown(self.category).nbytes
            + shown(self.modality).nbytes
            + np.asarray(to_shown(self.selected), np.uint32).nbytes
            + sum(np.asarray(to_shown(v), np.uint32).nbytes for v in self.named_sets.values())
        )
        return {
            "json": js,
            "binary": binary,
            "total": js + binary,
            "raw": raw,
            "esm": esm,
            "protocol": schema,
            "n_buffers": len(sizes),
            "max_buffer": max(sizes, default=0),
        }

    # ------------------------------------------------------------ notebook without a kernel
    def _ipython_display_(self, **kwargs):
        """Two outputs: a "re-run this cell" note, then the view. A notebook reopened without its kernel cannot
        draw the view (JupyterLab shows "Error displaying widget: model not found" where it would be, since the
        model lived in the kernel), so the note is what the reader sees there; a view that renders hides the note
        just before it (``js/src/ui/rerun_note.js``)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display({"text/plain": data["text/plain"], "text/html": data["text/html"]}, raw=True)
        display(data, metadata=metadata or {}, raw=True)

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, plus text/plain and text/html saying to re-run the cell: what a notebook shows
        where the view cannot be drawn (no live kernel, a viewer without the widget manager)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/plain"] = _RERUN
            data["text/html"] = (
                f'<div class="modalchorus-rerun"><b>{_RERUN.split(": ", 1)[0]}</b>: {_RERUN.split(": ", 1)[1]}</div>'
            )
        return bundle

    # ------------------------------------------------------------ front-end messages
    # An override, not on_msg: anywidget and ipywidgets offer no public hook that sees a comm frame (method, buffer
    # paths) before ipywidgets decodes it and raises on a malformed one.
    def _handle_msg(self, msg):
        """Every comm message from the front-end. Malformed or out-of-protocol ones are dropped with one logged
        warning (logger "modalchorus_widget"); no exception reaches the kernel."""
        from ipywidgets.widgets.widget import _put_buffers

        try:
            data = msg["content"]["data"]
            method = data["method"]
            if method not in _COMM_METHODS:
                raise ValueError(f"unknown comm method {str(method)[:40]!r}")
            bufs = list(msg.get("buffers") or [])
            if method in ("update", "echo_update"):
                state, paths = data.get("state", {}), data.get("buffer_paths", [])
                if not isinstance(state, dict):
                    raise ValueError("an update without a state mapping")
                if not isinstance(paths, list) or len(paths) != len(bufs):
                    raise ValueError("buffer_paths do not match the buffers sent")
                for p in paths:
                    if not isinstance(p, list) or not p or not all(isinstance(k, (str, int)) for k in p):
                        raise ValueError(f"bad buffer path {str(p)[:40]}")
                # in place, as ipywidgets does: marimo applies an update twice, the second time through
                # set_state with this very dict, which must then hold the buffers, not their placeholders
                _put_buffers(state, paths, bufs)
            elif method == "custom" and not isinstance(data.get("content"), dict):
                raise ValueError("a custom message without a content mapping")
        except Exception as exc:  # noqa: BLE001 - anything malformed is dropped
            log.warning("ignored a malformed message from the front-end: %s: %s", type(exc).__name__, exc)
            return
        try:
            if method in ("update", "echo_update"):
                self.set_state(state)
            elif method == "request_state":
                self.send_state()
            else:
                self._handle_custom_msg(data["content"], bufs)
        except Exception as exc:  # noqa: BLE001 - the last net: the kernel never sees it
            log.warning("ignored a front-end message that failed: %s: %s", type(exc).__name__, exc)

    def set_state(self, sync_data):
        """Apply a state update from the front-end all or nothing: every value is decoded and validated before
        any is set, so a bad one (wrong type, truncated buffer, index out of range) changes nothing."""
        traits = self.traits()
        unknown = [str(k)[:40] for k in sync_data if k not in self.keys or traits[k].read_only]
        if unknown:
            log.warning("ignored a front-end update naming unknown or read-only traits %s", unknown[:5])
            return
        decoded = {}
        try:
            for name, value in sync_data.items():
                from_json = self.trait_metadata(name, "from_json", _as_is)
                decoded[name] = traits[name]._validate(self, from_json(value, self))
        except Exception as exc:  # noqa: BLE001 - dropped, state unchanged
            log.warning("ignored a front-end update of %s: %s: %s", sorted(sync_data)[:5], type(exc).__name__, exc)
            return
        super().set_state({k: v for k, v in sync_data.items() if k in decoded})
        if "selected" in decoded:
            # the browser waits for this before repainting the highlight at large n (js/src/selection.js)
            self.send_message("ack_selected", count=int(len(self.selected)))

    def send_message(self, kind: str, buffers=None, **fields):
        """Send the browser the message ``kind`` (declared in ``protocol.MESSAGES``) with ``fields`` and binary
        ``buffers``; a message the declaration does not allow raises ValueError (a bug in the sender)."""
        self.send(protocol.message(kind, buffers or (), **fields), buffers=buffers or None)

    def _on_front_end_msg(self, _widget, content, buffers):
        """A custom message from the browser: checked against ``protocol.MESSAGES``, then given to the method
        marked ``@handles(kind)``; refused with one logged warning otherwise, changing nothing."""
        why = protocol.check(content, buffers)
        if why is None and content["type"] not in self._message_handlers:
            why = f"a {content['type']!r} message, which a {type(self).__name__} does not handle"
        if why is not None:
            log.warning("ignored a front-end message: %s", why)
            return
        kind = content["type"]
        try:
            getattr(self, self._message_handlers[kind])(content, list(buffers or ()))
        except Exception as e:  # report in the widget, never kill the comm
            log.warning("front-end action %r failed: %s: %s", kind, type(e).__name__, e)
            self.busy = ""
            self.status = f"error: {e}"

    @handles("hover")
    def _on_hover(self, content, _buffers):
        if not 0 <= content["index"] < self.n_shown:
            log.warning("ignored a hover on point %d of %d shown", content["index"], self.n_shown)
            return
        self._reply_tooltip(content["index"])

    @handles("sets_chunk")
    def _on_sets_chunk(self, content, buffers):
        """One chunk of the sets panel's named-sets transfer (``set_transfer``); a complete transfer replaces
        ``named_sets`` all or nothing and is acknowledged (``sets_applied``), one whose indices do not fit the widget
        is refused (``sets_refused``, shown by the sets panel), a malformed chunk is dropped with one logged warning."""
        try:
            done = self._set_transfers.add(content, buffers, self.n_shown)
        except WidgetError as exc:
            log.warning("ignored a malformed named-sets chunk: %s", exc)
            return
        if done is None:
            return
        tid, shown = done
        try:
            sets = self.traits()["named_sets"]._validate(self, B.index_dict_from_json(shown, self))
        except Exception as exc:  # noqa: BLE001 - refused visibly, state unchanged
            log.warning("refused named sets from the front-end: %s: %s", type(exc).__name__, exc)
            self.send_message("sets_refused", id=tid, reason=str(exc)[:300])
            return
        self.named_sets = sets
        self.send_message("sets_applied", id=tid, count=len(sets))

    def tooltip(self, index: int) -> dict:
        """What the hover tooltip shows for point ``index`` (subclasses add text, thumbnails, predictions)."""
        return {
            "text": f"{self.modality_names[int(self.modality[index])]} #{index}",
            "label": self.category_names[int(self.category[index])],
        }

    def _reply_tooltip(self, index: int):
        """Answer a hover on the ``index``-th drawn point (a full-data row unless sampled)."""
        if not 0 <= index < self.n_shown:
            return
        info = dict(self.tooltip(self._full_index(index)))
        png = info.pop("png", None)
        fields = {k: (None if v is None else str(v)) for k, v in info.items()}
        self.send_message(
            "tooltip", buffers=[png] if png is not None else None, index=index, has_image=png is not None, **fields
        )


ScatterWidget._message_handlers = protocol.handled_kinds(ScatterWidget)


def _as_is(value, _widget):
    """ipywidgets' default deserializer: the JSON value itself."""
    return value
