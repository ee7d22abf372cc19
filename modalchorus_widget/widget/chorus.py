"""``Chorus``: the ModalChorus tool in one cell (projection view + concept-axis view + named sets + report).

A thin widget over a ``ChorusState`` (``widget/state.py``): the state computes, the widget syncs what it
computed to the browser (binary buffers, see ``buffers``) and forwards the browser's actions back.
"""

from __future__ import annotations

import threading

import numpy as np
import traitlets as t

from .. import session
from ..errors import WidgetError
from ..projection.registry import PROJECTORS
from . import buffers as B
from .scatter import ScatterWidget, _array_trait
from .state import ChorusState, codes_in_order

__all__ = ["Chorus", "save_session", "load_session"]


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist() if x.size <= 64 else f"array{x.shape}"
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return str(x)


class Chorus(ScatterWidget):
    """The ModalChorus tool in one cell: projection view + concept-axis view + named sets + status.

    ``Chorus(embeddings, projector="MFM")`` projects an EmbeddingSet (or shows given ``positions``), colours
    it by ``color_by`` (a frame column, ``"prediction"`` or ``"modality"``), and links lasso selections,
    hover and named sets between both views and Python. ``align(*constraints)`` runs one alignment round
    through ``aligner`` and animates the points to their new places.

    ``projector``: a method name (``PROJECTORS``) or a fitted-or-not ``Projector``. ``class_prompts`` (for
    zero-shot predictions of image rows): row indices of prompt texts in the set (they follow alignment), a
    list of texts (embedded by ``encoder``), a dict name -> text or vector, or an array of vectors.
    ``save(path)`` / ``Chorus.load(path)`` keep a whole session in one file.

    ``wait``: fit the projector before the first frame (True), or draw PCA at once and animate into the
    projector's map when its fit, run in the background with its progress in the widget, is done (False).
    Default: in the background when the fit is slow (any method but PCA, from 400 points on). Every call that
    needs the map waits for it (``w.wait()`` does so explicitly).
    """

    _BACKGROUND_FROM = 400
    axis_positions = _array_trait(np.zeros((0, 2), np.float32), B.positions_to_json, B.positions_from_json)
    axis_titles = t.Dict().tag(sync=True)
    report = t.Dict().tag(sync=True)

    def __init__(
        self,
        embeddings,
        projector=None,
        positions=None,
        color_by="label",
        encoder=None,
        aligner=None,
        class_prompts=None,
        method=None,
        wait=None,
        **kwargs,
    ):
        n = getattr(embeddings, "n", 0)
        defer = (n >= self._BACKGROUND_FROM) if wait is None else not wait
        self.state = st = ChorusState(
            embeddings,
            projector=projector,
            positions=positions,
            encoder=encoder,
            aligner=aligner,
            class_prompts=class_prompts,
            method=method,
            defer_fit=defer and positions is None,
        )
        self._fit_thread, self._fit_error = None, None
        self._axis_spec = None
        self._thumbs = {}
        options = st.color_options()
        if color_by not in options:
            raise WidgetError(f"color_by={color_by!r} is not available; choose one of {options}")
        codes, names = st.codes_for(color_by)
        es = st.embeddings
        super().__init__(
            positions=st.positions[st.method],
            category=codes,
            modality=codes_in_order(es.modality, list(es.modalities)),
            category_names=names,
            modality_names=list(es.modalities),
            **kwargs,
        )
        with self.hold_sync():
            self.view_mode = "chorus"
            self.method = st.method
            self.methods = list(dict.fromkeys([*PROJECTORS, st.method]))
            self.color_options = options
            self.color_by = color_by
            self.point_labels = st.default_labels()
            self.status = st.status()
        if st.pending is not None:
            self.busy = f"fitting {st.pending}\u2026 showing PCA until it is ready"
            self._fit_thread = threading.Thread(target=self._finish_fit, name="modalchorus-fit", daemon=True)
            self._fit_thread.start()

    # ------------------------------------------------------------ the first fit, in the background
    def _finish_fit(self):
        method = self.state.pending

        def progress(done):
            self.busy = f"fitting {method}\u2026 {100 * min(max(done, 0.0), 1.0):.0f} %"

        try:
            xy = self.state.finish_fit(progress)
        except BaseException as exc:  # shown in the widget and raised again by wait()
            self._fit_error = exc
            self.busy = ""
            self.status = f"error: fitting {method} failed ({type(exc).__name__}: {exc}); still showing PCA"
            return
        with self.hold_sync():
            self.busy = ""
            self.update_positions(xy)
            self.method = method
        if self._axis_spec is not None and self._axis_spec.get("y") is None:
            self._recompute_axis()

    def wait(self, timeout: float | None = None):
        """Block until a background fit (see ``wait=``) is done; raises the error it failed with, if any."""
        t = self._fit_thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                raise TimeoutError(f"the {self.state.pending} fit is still running after {timeout} s")
            self._fit_thread = None
        if self._fit_error is not None:
            err, self._fit_error = self._fit_error, None
            raise WidgetError(f"the background fit failed: {type(err).__name__}: {err}") from err
        return self

    # ------------------------------------------------------------ the state, read-only from here
    @property
    def embeddings(self):
        return self.state.embeddings

    @property
    def projector(self):
        self.wait()
        return self.state.projector

    @property
    def encoder(self):
        return self.state.encoder

    @property
    def aligner(self):
        return self.state.aligner

    @property
    def class_prompts(self):
        return self.state.class_prompts

    @property
    def predictions_(self):
        return self.state.predictions

    # ------------------------------------------------------------ projection
    def set_method(self, method: str, animate: bool = True):
        """Switch the projection view to another method (fitted once, then cached); animated."""
        self.wait()
        self.busy = f"computing {method}\u2026"
        try:
            xy = self.state.project(method)
        finally:
            self.busy = ""
        self.state.method = method
        with self.hold_sync():
            self.update_positions(xy, animate=animate)
            self.method = method
            if method not in self.methods:
                self.methods = self.methods + [method]
        if self._axis_spec is not None and self._axis_spec.get("y") is None:
            self._recompute_axis()
        return self

    def add_layout(self, name: str, positions):
        """Offer precomputed positions (n, 2) as a projection method named ``name`` in the toolbar."""
        self.wait()
        self.state.add_layout(name, positions)
        if name not in self.methods:
            self.methods = self.methods + [str(name)]
        return self

    # ------------------------------------------------------------ colour
    def set_color_by(self, key: str):
        """Colour the points by a frame column, ``"prediction"`` or ``"modality"``."""
        codes, names = self.state.codes_for(key)
        with self.hold_sync():
            self.category_names = names
            self.category = codes
            self.color_by = key
        return self

    def selected_frame(self):
        """Rows of ``embeddings.frame`` for the current selection (index = row number)."""
        return self.embeddings.frame.iloc[self.selected]

    # ------------------------------------------------------------ concept axis
    def concept_axis(self, a, b, y=None):
        """Place every point on the axis a -> b (see docs/methods.md); a, b: text, vectors, index sets or set
        names. ``y`` None keeps the projection's y; otherwise a pair of concepts, one concept, or n values."""
        self.wait()
        xy, titles = self.state.axis(a, b, y, self.named_sets, np.asarray(self.positions, np.float32)[:, 1])
        with self.hold_sync():
            self.axis_positions = xy
            self.axis_titles = titles
        self._axis_spec = {"a": a, "b": b, "y": y}
        return xy

    def _recompute_axis(self):
        spec = self._axis_spec
        if spec is not None:
            self.concept_axis(spec["a"], spec["b"], spec["y"])

    # ------------------------------------------------------------ alignment
    def align(self, *constraints, animate: bool = True):
        """One alignment round: aligner.step(*constraints), then re-place, recolour and report.

        The projector on show places the new vectors with ``transform`` (no refit) so points move instead of
        jumping. If anything fails, the widget, its state and the aligner stay as they were.
        """
        self.wait()
        self.busy = "aligning\u2026"
        try:
            rnd, xy = self.state.align(*constraints)
            codes, names = self.state.codes_for(self.color_by)
        finally:
            self.busy = ""
        self._thumbs.clear()
        with self.hold_sync():
            self.category_names = names
            self.category = codes
            self.update_positions(xy, animate=animate)
            self.report = _jsonable(getattr(rnd, "report", None) or {})
            self.status = self.state.status()
        self.send({"type": "tooltip_reset"})
        if self._axis_spec is not None:
            self._recompute_axis()
        return rnd

    # ------------------------------------------------------------ files
    def save(self, path):
        """Save the whole session (embeddings, map, sets, alignment history) to one file, atomically."""
        self.wait()
        st = self.state
        return session.write_session(
            path,
            embeddings=st.embeddings,
            positions=np.asarray(self.positions, np.float32),
            selected=np.asarray(self.selected, np.uint32),
            sets=dict(self.named_sets),
            method=st.method,
            color_by=self.color_by,
            class_prompts=st.class_prompts,
            rounds=st.rounds,
            projector=st.projector,
            aligner=st.aligner,
        )

    @classmethod
    def load(cls, path, encoder=None, images=None, texts=None, **kwargs):
        """Re-open a session saved with ``save``; pass ``encoder`` to embed free-text concepts again (and the
        raw ``images`` / ``texts`` for a deep-mode aligner whose set's items do not hold them)."""
        s = session.read_session(path, encoder=encoder, images=images, texts=texts)
        w = cls(
            s["embeddings"],
            projector=s["projector"],
            positions=s["positions"],
            color_by=s["color_by"],
            encoder=encoder,
            aligner=s["aligner"],
            class_prompts=s["class_prompts"],
            method=s["method"],
            **kwargs,
        )
        for name, idx in s["sets"].items():
            w.sets[name] = idx
        w.selected = s["selected"]
        w.state.rounds = s["rounds"]
        w.status = w.state.status()
        return w

    # ------------------------------------------------------------ browser
    def tooltip(self, index: int) -> dict:
        return self.state.tooltip(index, self._thumbs)

    def _on_action(self, kind, content):
        if kind == "method":
            self.set_method(str(content["method"]))
        elif kind == "color_by":
            self.set_color_by(str(content["key"]))
        elif kind == "concept_axis":
            self.concept_axis(str(content.get("a", "")), str(content.get("b", "")))
            self.status = self.status.split(" \u00b7 error")[0]


def save_session(chorus: Chorus, path):
    """Save ``chorus``'s whole session to one file (same as ``chorus.save(path)``)."""
    return chorus.save(path)


def load_session(path, encoder=None, images=None, texts=None, **kwargs) -> Chorus:
    """Re-create the Chorus saved at ``path`` (same as ``Chorus.load``)."""
    return Chorus.load(path, encoder=encoder, images=images, texts=texts, **kwargs)
