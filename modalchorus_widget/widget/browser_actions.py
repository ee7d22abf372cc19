"""What a ``Chorus`` does beyond drawing: its round history (undo / redo / go to a round), the selection
gallery, search and PNG export, from Python and from the browser.

A mixin of ``Chorus`` (``widget/chorus.py``), kept apart so the widget stays thin; the computing is in
``ChorusState`` (history), ``browse.py`` (gallery pages, search) and ``report_view.py`` (round figures).
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import numpy as np

from ..errors import WidgetError
from ..io import atomic_write_bytes
from . import browse
from .protocol import handles

__all__ = ["BrowserActions"]

_MAX_PNG_BYTES = 32 * 1024 * 1024


class BrowserActions:
    """Round history, gallery, search and export for ``Chorus`` (see the module docstring)."""

    # ------------------------------------------------------------ round history
    def undo(self, animate: bool = True):
        """Step back one alignment round (bit-exact vectors of the round before); points move back."""
        if self.state.aligner is None or not len(self.state.aligner.history_):
            raise WidgetError("undo: there is no alignment round to undo")
        return self.goto(len(self.state.aligner.history_) - 1, animate=animate)

    def redo(self, animate: bool = True):
        """Re-apply the last undone round (undone with ``undo``/``goto`` or the history strip)."""
        if not self.state.future:
            raise WidgetError("redo: no undone round to redo (undo one first; a new round clears the redo list)")
        return self.goto(len(self.state.aligner.history_) + 1, animate=animate)

    def goto(self, k: int, animate: bool = True):
        """Go to the state after round ``k`` (0: before any round), undoing or redoing rounds in the aligner;
        the points move there and the report shows round ``k``."""
        self.wait()
        lock = getattr(self, "_align_lock", None)
        if lock is not None and not lock.acquire(blocking=False):
            raise WidgetError("goto: an alignment round is running on this widget; wait for it to finish")
        try:
            self.busy = f"going to round {int(k)}\u2026"
            try:
                xy = self.state.goto(k)
                codes, names = self.state.codes_for(self.color_by)
            finally:
                self.busy = ""
            self._show_round(xy, codes, names, animate)
        finally:
            if lock is not None:
                lock.release()
        return self

    def set_strength(self, alpha: float, animate: bool = True):
        """Apply the last round at strength ``alpha`` in [0, 1] (``Aligner.set_strength``): the points move there
        and the report shows the round at that strength (the round panel's slider and "Apply")."""
        self.wait()
        lock = getattr(self, "_align_lock", None)
        if lock is not None and not lock.acquire(blocking=False):
            raise WidgetError("set_strength: an alignment round is running on this widget; wait for it to finish")
        try:
            xy = self.state.set_strength(alpha)
            codes, names = self.state.codes_for(self.color_by)
            self._show_round(xy, codes, names, animate)
        finally:
            if lock is not None:
                lock.release()
        return self

    @handles("strength")
    def _on_strength(self, content, _buffers):
        alpha = min(1.0, max(0.0, float(content["alpha"])))
        if content["apply"]:
            self.set_strength(alpha)
            return
        pred, view = self.state.preview_strength(alpha)
        bufs = []
        if self.color_by == "prediction":  # re-colour by the predictions at alpha, in the palette on show
            from .state import codes_in_order

            codes = codes_in_order(np.where(pred == None, "(none)", pred), self.category_names)  # noqa: E711
            if (codes >= 0).all():
                codes = codes.astype(np.uint8 if len(self.category_names) <= 256 else np.uint16)
                if self._sample is not None:
                    codes = self._sample.take(codes)
                bufs = [np.ascontiguousarray(codes).tobytes()]
        self.send_message("strength_preview", buffers=bufs, alpha=alpha, report=view)

    def _show_round(self, xy, codes, names, animate):
        """Draw the state's current round: report, history strip and trails first (small), then the positions
        and colours of every point."""
        self._thumbs.clear()
        with self.hold_sync():
            self.report = self.state.round_views.get(self.state.rounds, {})
            self.history = self.state.history()
            self.status = self.state.status()
        if xy is not None:
            self._send_trails(xy)
            with self.hold_sync():
                self.category_names = names
                self.category = codes
                self.update_positions(xy, animate=animate)
        self.send_message("tooltip_reset")
        if xy is not None:
            self.send_message("round_drawn", round=int(self.state.rounds))
        if self._axis_spec is not None:
            self._recompute_axis()
        save = getattr(self, "_save_autosave", None)
        if save is not None:
            save()

    # ------------------------------------------------------------ gallery and search
    def _to_shown(self, rows):
        s = self._sample
        rows = np.asarray(rows, np.int64)
        if s is None:
            return rows
        pos = np.searchsorted(s.index, rows)
        pos = np.minimum(pos, len(s.index) - 1)
        return np.where(s.index[pos] == rows, pos, -1)

    def gallery(self, page: int = 0) -> dict:
        """Page ``page`` of the selection gallery (what the browser shows beside the map): per item its row,
        modality, text, label and prediction; images also get a thumbnail in the browser."""
        msg, buffers = browse.gallery_page(self.state, self.selected, page, self.tooltip, to_shown=self._to_shown)
        return msg, buffers

    def search(self, query: str, k: int = 8) -> dict:
        """Find points by label or text (substring, case-insensitive) and, with an encoder attached, the ``k``
        nearest points of each modality to the query's embedding; the browser highlights them and places the
        query as a temporary point. Returns {"matches", "nearest" (per modality), "query_xy", "axis_xy"}."""
        self.wait()
        res = browse.search(self.state, query, k=k, named_sets=dict(self.named_sets), axis_spec=self._axis_spec)
        matches = np.asarray(res["matches"], np.int64)
        nearest = np.asarray(res.get("nearest_all", np.zeros(0)), np.int64)
        sm, sn = self._to_shown(matches), self._to_shown(nearest)
        self.send_message(
            "search",
            buffers=[sm[sm >= 0].astype(np.uint32).tobytes(), sn[sn >= 0].astype(np.uint32).tobytes()],
            query=res["query"],
            n_matches=int(len(matches)),
            n_nearest=int(len(nearest)),
            query_xy=res.get("query_xy"),
            axis_xy=res.get("axis_xy"),
            has_encoder=self.state.encoder is not None,
        )
        out = {"query": res["query"], "matches": matches, "nearest": res["nearest"]}
        for key in ("query_xy", "axis_xy"):
            if key in res:
                out[key] = res[key]
        return out

    # ------------------------------------------------------------ export
    def to_png(self, path):
        """Ask the browser for a PNG of the views as drawn (points, rings, labels, trails) and write it to
        ``path`` when it answers. The browser answers once the kernel is free, i.e. right after the cell that
        calls this; ``w.png_written`` then holds the path. Returns the path."""
        path = Path(path)
        request = uuid.uuid4().hex[:12]
        self._png_requests = {**getattr(self, "_png_requests", {}), request: path}
        self.send_message("export_png", request=request)
        return path

    def _write_png(self, content):
        path = getattr(self, "_png_requests", {}).pop(content.get("request"), None)
        data = content.get("data")
        if path is None or not isinstance(data, str) or len(data) > _MAX_PNG_BYTES * 4 // 3 + 4:
            return
        raw = base64.b64decode(data.split(",", 1)[-1], validate=False)
        if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
            raise WidgetError("to_png: the browser did not send a PNG image")
        atomic_write_bytes(path, raw)
        self.png_written = str(path)

    # ------------------------------------------------------------ browser messages (checked by protocol.check)
    @handles("undo")
    def _on_undo(self, _content, _buffers):
        self.undo()

    @handles("redo")
    def _on_redo(self, _content, _buffers):
        self.redo()

    @handles("goto")
    def _on_goto(self, content, _buffers):
        self.goto(content["k"])

    @handles("gallery")
    def _on_gallery(self, content, _buffers):
        msg, buffers = self.gallery(content["page"])
        msg.pop("type", None)
        msg["request"] = content["request"][:40]
        self.send_message("gallery", buffers=buffers, **msg)

    @handles("search")
    def _on_search(self, content, _buffers):
        q = content["query"]
        if 0 < len(q.strip()) <= 500:
            try:
                self.search(q)
            except WidgetError as exc:  # shown beside the search box
                self.send_message("search", query=q, error=str(exc))

    @handles("png")
    def _on_png(self, content, _buffers):
        self._write_png(content)
