"""``Chorus``: the ModalChorus tool in one cell (projection view + concept-axis view + named sets + report).

A thin widget over a ``ChorusState`` (``widget/state.py``): the state computes, the widget syncs what it
computed to the browser (binary buffers, see ``buffers``) and forwards the browser's actions back.
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path

import numpy as np
import traitlets as t

from ..errors import WidgetError
from ..projection.registry import PROJECTORS
from . import buffers as B
from . import session
from .augment import decode_data_url
from .browser_actions import BrowserActions
from .front_door import FrontDoor, chorus_inputs, default_color
from .protocol import TRAILS, handles
from .scatter import ScatterWidget, _array_trait
from .state import ChorusState, codes_in_order
from .suspects import SuspectsActions

__all__ = ["Chorus", "save_session", "load_session"]
_log = logging.getLogger("modalchorus_widget")


class Chorus(SuspectsActions, BrowserActions, FrontDoor, ScatterWidget):
    """The ModalChorus tool in one cell: projection view + concept-axis view + named sets + status.

    Selections, hover and named sets are linked between both views and Python; ``align(*constraints)`` runs a
    round (figures in ``report``; ``undo()`` / ``redo()`` / ``goto(k)``); also ``gallery``, ``search``,
    ``to_png``, ``augment``, ``suspects`` / ``probe()``, ``save(path)`` / ``Chorus.load(path)``.

    Parameters
    ----------
    embeddings : EmbeddingSet or ChorusData
        A ``ChorusData`` (``load_default("shapes")``) brings its encoder and class prompts (DataFrame:
        ``Chorus.from_dataframe``).
    projector : str, Projector or dict, optional
        A name (``PROJECTORS``), a ``Projector``, or ``{name: Projector}``; default MFM (two modalities) or PCA.
    positions : ndarray of shape (n, 2), optional
        Positions to show instead of projecting.
    color_by : str, optional
        A frame column, ``"prediction"`` or ``"modality"``; default: the first of these (``label`` first) found.
    encoder : Encoder, optional
        Embeds free text (search, concept axis, anchors given as text) and new items.
    aligner : Aligner, optional
        An ``Aligner(mode=...)``, fitted here on these embeddings; default: a fast-mode one.
    class_prompts : array-like, list of str or dict, optional
        For zero-shot predictions: prompt rows (they follow alignment), texts, {name: text or vector}, or vectors.
    wait : bool, optional
        Fit before the first frame (True), or draw PCA and animate into the map fitted in the background
        (False; the default from 400 points on, but for PCA). Calls that need the map wait (``w.wait()``).
    autosave : str or Path, optional
        A session file written atomically after every round and change of the named sets (crash recovery).
    item_folders : list of str or Path, optional
        Folders whose image files tooltips may read (default: any; ``Chorus.load``: none).
    **kwargs
        Passed to ``ScatterWidget`` (e.g. ``max_points``).

    Examples
    --------
    >>> from modalchorus_widget import Chorus, load_coco500
    >>> w = Chorus(load_coco500(), projector="PCA")
    >>> w.selected = [0, 1, 2]
    >>> w.embeddings.n, w.projector.name, len(w.selected_frame())
    (1000, 'PCA', 3)
    """

    _BACKGROUND_FROM = 400
    axis_positions = _array_trait(np.zeros((0, 2), np.float32), B.positions_to_json, B.positions_from_json)
    axis_titles = t.Dict().tag(sync=True)
    report = t.Dict().tag(sync=True)
    history = t.Dict().tag(sync=True)
    png_written = t.Unicode("")

    def __init__(
        self,
        embeddings,
        projector=None,
        positions=None,
        color_by=None,
        encoder=None,
        aligner=None,
        class_prompts=None,
        wait=None,
        autosave=None,
        item_folders=None,
        **kwargs,
    ):
        embeddings, encoder, class_prompts = chorus_inputs(embeddings, encoder, class_prompts)
        n = embeddings.n
        self._align_lock = threading.Lock()
        self._autosave = None
        self._item_folders = None if item_folders is None else [Path(f) for f in item_folders]
        self._stored_thumbs = {}
        defer = (n >= self._BACKGROUND_FROM) if wait is None else not wait
        self.state = st = ChorusState(
            embeddings,
            projector=projector,
            positions=positions,
            encoder=encoder,
            aligner=aligner,
            class_prompts=class_prompts,
            defer_fit=defer and positions is None,
        )
        self._fit_thread, self._fit_error = None, None
        self._axis_spec = None
        self._thumbs = {}
        options = st.color_options()
        color_by = default_color(options) if color_by is None else color_by
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
            self.set_trait("method", st.method)
            self.set_trait("methods", list(dict.fromkeys([*PROJECTORS, st.method])))
            self.set_trait("color_options", options)
            self.set_trait("color_by", color_by)
            self.point_labels = st.default_labels()
            self.status = st.status()
            self.history = st.history()
        if st.pending is not None:
            self.busy = f"fitting {st.pending}\u2026 showing PCA until it is ready"
            self._fit_thread = threading.Thread(target=self._finish_fit, name="modalchorus-fit", daemon=True)
            self._fit_thread.start()
        self.observe(lambda _change: self._save_autosave(), "named_sets")
        if autosave is not None:
            self.autosave = autosave
        self._follow_cells()
        self._start_probe()  # in the background: w.suspects, the Suspects panel (widget/suspects.py)

    def _follow_cells(self):
        """After every cell, show what it did to the aligner directly (``sync``); no-op outside IPython."""
        from IPython import get_ipython

        ip = get_ipython()
        if ip is None:
            return
        ref = weakref.ref(self)

        def after_cell(*_args):
            w = ref()
            if w is None:
                ip.events.unregister("post_run_cell", after_cell)
            elif w.state.moved():
                try:
                    w.sync()
                except Exception as exc:  # shown in the widget; the cell itself already ran
                    w.status = f"error: could not show the aligner's new state ({type(exc).__name__}: {exc})"

        ip.events.register("post_run_cell", after_cell)

    def sync(self, animate: bool = True):
        """Show what was done on ``aligner`` directly (``w.aligner.undo()`` / ``redo()`` / ``step()`` in a cell):
        the points move there and the history strip offers redo for rounds undone that way."""
        self.wait()
        if not self._align_lock.acquire(blocking=False):
            raise WidgetError("sync: an alignment round is running on this widget; wait for it to finish")
        try:
            xy = self.state.sync()
            codes, names = self.state.codes_for(self.color_by)
            self._show_round(xy, codes, names, animate)
        finally:
            self._align_lock.release()
        return self

    # ------------------------------------------------------------ autosave
    @property
    def autosave(self):
        """The session file written after every round and set change (None: off); setting it saves now."""
        return self._autosave

    @autosave.setter
    def autosave(self, path):
        self._autosave = None if path is None else Path(path)
        self._save_autosave()

    def _save_autosave(self):
        if self._autosave is None or self.state.pending is not None:
            return  # a deferred fit saves when it is done
        try:
            self.save(self._autosave)
        except Exception as exc:  # a full disk must not break the round; say so where the user looks
            logging.getLogger("modalchorus_widget").warning("autosave to %s failed: %s", self._autosave, exc)
            self.status = f"error: autosave to {self._autosave} failed ({type(exc).__name__}: {exc})"

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
            self.set_trait("method", method)
        if self._axis_spec is not None and self._axis_spec.get("y") is None:
            self._recompute_axis()
        self._save_autosave()

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
            self.set_trait("method", method)
            if method not in self.methods:
                self.set_trait("methods", self.methods + [method])
        if self._axis_spec is not None and self._axis_spec.get("y") is None:
            self._recompute_axis()
        return self

    def add_layout(self, name: str, positions):
        """Offer precomputed positions (n, 2) as a projection method named ``name`` in the toolbar."""
        self.wait()
        self.state.add_layout(name, positions)
        if name not in self.methods:
            self.set_trait("methods", self.methods + [str(name)])
        return self

    # ------------------------------------------------------------ colour
    def set_color_by(self, key: str):
        """Colour the points by a frame column, ``"prediction"`` or ``"modality"``."""
        codes, names = self.state.codes_for(key)
        with self.hold_sync():
            self.category_names = names
            self.category = codes
            self.set_trait("color_by", key)
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
        jumping. If anything fails, the widget, its state and the aligner stay as they were. A round asked for
        while another runs (another cell, a thread, the browser) is refused with a WidgetError.
        """
        self.wait()
        if not self._align_lock.acquire(blocking=False):
            raise WidgetError(
                "align: another alignment round is running on this widget; wait for it to finish, then run "
                "this round again (rounds compose, so they run one at a time)"
            )
        try:
            return self._align(constraints, animate)
        finally:
            self._align_lock.release()

    def _align(self, constraints, animate):
        self.busy = "aligning\u2026"
        try:
            rnd, xy = self.state.align(*constraints)
            codes, names = self.state.codes_for(self.color_by)
        finally:
            self.busy = ""
        self._show_round(xy, codes, names, animate)
        return rnd

    def _send_trails(self, new_xy):
        """Before the new positions: the points that moved most on the map apart from the round's common drift
        (shown indices, old and new places), with that drift and the median move over every shown point (the
        ``stats`` of js/src/trails.js), so the browser draws the round's trails at once instead of after
        uploading every point."""
        old = np.asarray(self.positions, np.float32)
        new = np.asarray(new_xy, np.float32)
        shown = self._sample.index if self._sample is not None else None
        if shown is not None:
            old, new = old[shown], new[shown]
        move = new - old  # both finite (buffers.as_positions)
        shift = np.median(move, axis=0) if len(move) else np.zeros(2, np.float32)
        d = np.hypot(*(move - shift).T)
        k = min(TRAILS["max"], len(d))
        top = np.argpartition(-d, k - 1)[:k] if 0 < k < len(d) else np.arange(len(d))
        top = np.sort(top[d[top] > 0]).astype(np.uint32)
        bufs = [top.tobytes(), np.ascontiguousarray(old[top]).tobytes(), np.ascontiguousarray(new[top]).tobytes()]
        spread = float(np.median(d)) if len(d) else 0.0
        shift = [float(v) for v in shift]
        self.send_message(
            "round_trails", buffers=bufs, round=int(self.state.rounds), count=int(len(top)), shift=shift, spread=spread
        )

    # ------------------------------------------------------------ augmentation
    def augment(self, images=(), texts=(), set_name: str = "augmented", names=None):
        """Add images (paths, PNG/JPEG bytes, PIL images, (H, W, 3) uint8 arrays) and texts as points: encoded
        by ``encoder``, placed by the projector on show (and the concept axis), labelled and tagged into
        ``w.sets[set_name]``. Returns their row indices. A bad file or a missing encoder raises and changes nothing."""
        from ..data.embeddings import make_thumbnail

        self.wait()
        name = str(set_name).strip()
        if not name or len(name) > 100:
            raise WidgetError(f"augment: set_name must be a non-empty name of at most 100 characters, got {set_name!r}")
        if self.sampled:
            raise WidgetError(
                "augment: this widget shows a sample of its points; make it with max_points=None (or fewer rows) "
                "to add points"
            )
        if not self._align_lock.acquire(blocking=False):
            raise WidgetError("augment: an alignment round is running on this widget; wait for it to finish")
        try:
            rows, pil = self.state.augment(images, texts, name, names)
            for r, im in zip(rows[: len(pil)], pil):
                self._stored_thumbs[int(r)] = make_thumbnail(im, 96)
            st, es = self.state, self.state.embeddings
            codes, cnames = st.codes_for(self.color_by)
            sets = dict(self.named_sets)
            sets[name] = np.union1d(np.asarray(sets.get(name, []), np.int64), rows).astype(np.uint32)
            self._thumbs.clear()
            with self.hold_sync():
                with self.hold_trait_notifications():
                    self.positions = st.positions[st.method]
                    self.modality_names = list(es.modalities)
                    self.modality = codes_in_order(es.modality, list(es.modalities))
                    self.category_names = cnames
                    self.category = codes
                    self.named_sets = sets
                if self._axis_spec is not None:
                    self._recompute_axis()
                self.status = st.status()
        finally:
            self._align_lock.release()
        self.send_message("tooltip_reset")
        self._save_autosave()
        return rows

    def _augment_from_browser(self, content):
        """The augmentation panel's message: files as base64, texts, a set name; the answer says what happened."""
        files, texts = list(content["files"]), list(content["texts"])
        reply = {"request": (content.get("request") or "")[:40]}
        try:
            names = [
                str(f.get("name", f"file {i}"))[:200] if isinstance(f, dict) else f"file {i}"
                for i, f in enumerate(files)
            ]
            data = [decode_data_url(f.get("data") if isinstance(f, dict) else f, names[i]) for i, f in enumerate(files)]
            rows = self.augment(images=data, texts=texts, set_name=content["set_name"], names=names)
            reply.update(added=int(len(rows)), images=len(data), texts=len(texts), set_name=content["set_name"].strip())
        except Exception as exc:  # shown in the panel; nothing changed
            reply["error"] = str(exc)
        self.send_message("augment", **reply)

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
            aligner=st.aligner_to_save(),
            thumbnails=self._thumbnails_to_store(),
        )

    def _thumbnails_to_store(self) -> dict:
        """PNG thumbnails of the image rows (made once, kept across rounds) so a reopened session never reads
        the paths it names."""
        store = self._stored_thumbs
        es = self.state.embeddings
        items = es.items
        if items is None or "image" not in es.modalities:
            return store
        for i in es.indices("image"):
            i = int(i)
            if i not in store:
                png = self._thumb(i, items[i])
                if png is not None:
                    store[i] = png
        return store

    def _thumb(self, index, item):
        """A thumbnail of ``item`` when it may be read (``item_folders``), else None."""
        from ..data.embeddings import make_thumbnail
        from ..safe_zip import os_path_inside

        if item is None or (isinstance(item, float) and item != item):
            return None
        if isinstance(item, str) and self._item_folders is not None and not os_path_inside(item, self._item_folders):
            return None
        try:
            return make_thumbnail(item, 96)
        except Exception:  # unreadable: no thumbnail
            return None

    @classmethod
    def load(cls, path, encoder=None, images=None, texts=None, item_folders=(), autosave=None, **kwargs):
        """Re-open a session saved with ``save``; pass ``encoder`` to embed free-text concepts again (and the
        raw ``images`` / ``texts`` for a deep-mode aligner whose set's items do not hold them).

        The file may come from someone else: it is read through ``data/safe_zip.py`` and a hostile one raises
        ``UntrustedFileError`` (nothing is loaded). Tooltips show the thumbnails stored in it; image paths it
        names are read only inside ``item_folders`` (default: none; None: any path)."""
        s = session.read_session(path, encoder=encoder, images=images, texts=texts)
        w = cls(
            s["embeddings"],
            projector=None if s["projector"] is None else {s["method"]: s["projector"]},
            positions=s["positions"],
            color_by=s["color_by"],
            encoder=encoder,
            aligner=s["aligner"],
            class_prompts=s["class_prompts"],
            item_folders=item_folders,
            **kwargs,
        )
        w._stored_thumbs = dict(s["thumbnails"])
        w.sets = s["sets"]
        w.selected = s["selected"]
        w.state.rounds = s["rounds"]
        w.status = w.state.status()
        w.history = w.state.history()
        if autosave is not None:
            w.autosave = autosave
        return w

    # ------------------------------------------------------------ browser
    def tooltip(self, index: int) -> dict:
        if index not in self._thumbs and (self._item_folders is not None or index in self._stored_thumbs):
            items = self.state.embeddings.items
            png = self._stored_thumbs.get(index)
            self._thumbs[index] = (
                png if png is not None else self._thumb(index, items[index] if items is not None else None)
            )
        return self.state.tooltip(index, self._thumbs)

    # ------------------------------------------------------------ browser messages (checked by protocol.check)
    @handles("augment")
    def _on_augment(self, content, _buffers):
        self._augment_from_browser(content)

    @handles("method")
    def _on_method(self, content, _buffers):
        if content["method"] not in self.methods:
            _log.warning("ignored a 'method' message naming an unknown method %r", content["method"][:40])
            return
        self.set_method(content["method"])

    @handles("color_by")
    def _on_color_by(self, content, _buffers):
        if content["key"] not in self.color_options:
            _log.warning("ignored a 'color_by' message naming an unknown key %r", content["key"][:40])
            return
        self.set_color_by(content["key"])

    @handles("concept_axis")
    def _on_concept_axis(self, content, _buffers):
        a, b = content["a"], content["b"]
        if not (a.strip() and b.strip() and len(a) + len(b) < 4000):
            _log.warning("ignored a 'concept_axis' message: name two concepts of fewer than 4000 characters")
            return
        self.concept_axis(a, b)
        self.status = self.status.split(" \u00b7 error")[0]


def save_session(chorus: Chorus, path):
    """Save ``chorus``'s whole session to one file, atomically (same as ``chorus.save(path)``).

    Parameters
    ----------
    chorus : Chorus
    path : str or Path

    Returns
    -------
    Path

    Examples
    --------
    >>> from modalchorus_widget import Chorus, load_coco500, load_session, save_session
    >>> load_session(save_session(Chorus(load_coco500(), projector="PCA"), "s.chorus")).embeddings.n
    1000
    """
    return chorus.save(path)


def load_session(path, encoder=None, images=None, texts=None, **kwargs) -> Chorus:
    """Re-create the Chorus saved at ``path``, history included (same as ``Chorus.load``).

    Parameters
    ----------
    path : str or Path
    encoder, images, texts : optional
        Embeds free-text concepts again; the raw items for a deep-mode aligner whose items do not hold them.
    **kwargs
        Passed to ``Chorus.load`` (``item_folders``, ``autosave``, widget options).

    Returns
    -------
    Chorus

    Raises
    ------
    UntrustedFileError

    Examples
    --------
    >>> from modalchorus_widget import Chorus, load_coco500, load_session
    >>> load_session(Chorus(load_coco500(), projector="PCA").save("s.chorus")).state.method
    'PCA'
    """
    return Chorus.load(path, encoder=encoder, images=images, texts=texts, **kwargs)
