"""The notebook widgets: ``ScatterWidget`` (one WebGL scatter) and ``Chorus`` (the full tool).

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

import inspect
import time
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from . import buffers as B

__all__ = ["ScatterWidget", "Chorus", "WidgetError", "METHODS", "DEFAULT_MAX_POINTS"]

_BUNDLE = Path(__file__).parent / "static" / "widget.js"
METHODS = ("MFM", "UMAP", "t-SNE", "PCA", "DCM")

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


class WidgetError(ValueError):
    """Bad input to a widget (wrong shapes, unknown names, missing encoder or aligner)."""


def _esm():
    if not _BUNDLE.exists():
        raise FileNotFoundError(
            f"the widget's front-end bundle {_BUNDLE.name} is missing from {_BUNDLE.parent}; "
            "build it with `cd js && npm install --no-audit --no-fund && npm run build` (or `make setup`).")
    return _BUNDLE


def _array_trait(default, to_json, from_json, echo=True):
    # echo_update=False: ipywidgets would otherwise send every front-end update straight back
    # (a second copy of a million-index selection) before applying it
    return t.Any(default).tag(sync=True, to_json=to_json, from_json=from_json, echo_update=echo)


class ScatterWidget(anywidget.AnyWidget):
    """A WebGL scatter plot of points with a category (colour) and a modality (glyph) per point.

    ``positions`` (n, 2), ``category`` codes with ``category_names``, ``modality`` codes with
    ``modality_names``; ``selected`` holds the sorted uint32 indices chosen by lasso/click in the
    browser, and setting it from Python highlights those points.

    ``max_points`` (default ``DEFAULT_MAX_POINTS``; None: no limit): above it the browser draws a
    deterministic sample stratified by modality (``sample_seed``; rows in ``selected`` at construction are
    kept), ``sample_notice`` says so in the widget, and ``selected`` / named sets still hold full-data rows
    (``shown_index``: the rows drawn; ``shown_selected``: the highlighted part of the selection).
    """

    _esm = _BUNDLE if _BUNDLE.exists() else "export default { render({ el }) { el.textContent = 'modalchorus-widget: front-end bundle not built (make setup)'; } }"

    view_mode = t.Unicode("scatter").tag(sync=True)
    positions = _array_trait(np.zeros((0, 2), np.float32), B.positions_to_json, B.positions_from_json)
    category = _array_trait(np.zeros(0, np.uint8), B.codes_to_json, B.codes_from_json)
    category_names = t.List(t.Unicode()).tag(sync=True)
    modality = _array_trait(np.zeros(0, np.uint8), B.codes_to_json, B.codes_from_json)
    modality_names = t.List(t.Unicode()).tag(sync=True)
    selected = _array_trait(np.zeros(0, np.uint32), B.indices_to_json, B.indices_from_json, echo=False)
    named_sets = t.Dict().tag(sync=True, to_json=B.index_dict_to_json, from_json=B.index_dict_from_json,
                              echo_update=False)
    color_by = t.Unicode("").tag(sync=True)
    color_options = t.List(t.Unicode()).tag(sync=True)
    point_size = t.Float(4.0).tag(sync=True)
    opacity = t.Float(0.85).tag(sync=True)
    height = t.Int(420).tag(sync=True)
    animate_ms = t.Int(700).tag(sync=True)
    method = t.Unicode("").tag(sync=True)
    methods = t.List(t.Unicode()).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    busy = t.Unicode("").tag(sync=True)
    point_labels = t.List().tag(sync=True, to_json=B.labels_to_json)
    # non-empty when the widget shows a sample of the points; the browser shows it above the views
    sample_notice = t.Unicode("").tag(sync=True)

    def __init__(self, positions=None, category=None, modality=None, category_names=None,
                 modality_names=None, selected=None, max_points=DEFAULT_MAX_POINTS, sample_seed=0, **kwargs):
        pos = B.as_positions(np.zeros((0, 2)) if positions is None else positions)
        n = len(pos)
        cat = np.zeros(n, np.uint8) if category is None else B.as_codes(category, n, "category")
        mod = np.zeros(n, np.uint8) if modality is None else B.as_codes(modality, n, "modality")
        if category_names is None:
            category_names = [str(i) for i in range(int(cat.max()) + 1 if n else 1)]
        if modality_names is None:
            modality_names = ["image", "text"] if (n and mod.max() <= 1) else [str(i) for i in range(int(mod.max()) + 1 if n else 1)]
        self._check_names(cat, category_names, "category")
        self._check_names(mod, modality_names, "modality")
        sel = B.as_indices(selected, n, "selected")
        self._max_points = self._check_max_points(max_points)
        # shown rows: all of them, or a deterministic modality-stratified sample that keeps the selection
        self._sample = None
        if self._max_points is not None and n > self._max_points:
            self._sample = B.stratified_sample(mod, self._max_points, keep=sel, seed=int(sample_seed))
        super().__init__(**kwargs)
        with self.hold_sync():
            self.positions = pos
            self.category = cat
            self.category_names = [str(c) for c in category_names]
            self.modality = mod
            self.modality_names = [str(m) for m in modality_names]
            self.selected = sel
            self.sample_notice = self._sample.notice() if self._sample is not None else ""
        self.on_msg(self._on_front_end_msg)
        self.observe(self._ack_selected, "selected")

    @staticmethod
    def _check_max_points(max_points):
        if max_points is None:
            return None
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
            raise WidgetError(f"max_points must be a positive whole number of points (or None for no limit), "
                              f"got {max_points!r}")
        if max_points > _SAFE_MAX_POINTS:
            import warnings

            warnings.warn(f"max_points={max_points:,}: a lasso around more than {_SAFE_MAX_POINTS:,} shown points "
                          "sends more than 8 MiB from the browser, near the Jupyter server's default 10 MiB websocket "
                          "message limit; raise ServerApp.tornado_settings['websocket_max_message_size'] too",
                          stacklevel=3)
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

    def _ack_selected(self, change):
        """Tell the browser the kernel holds the new selection (it waits for this before repainting at large n)."""
        if self._property_lock.get("selected") is not None or "selected" in self._property_lock:
            self.send({"type": "ack_selected", "count": int(len(change["new"]))})

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
            raise WidgetError(f"positions: got {len(pos)} rows but the widget shows {len(self.positions)} points; "
                              "make a new widget to change the number of points")
        return pos

    @t.validate("category")
    def _v_category(self, proposal):
        return B.as_codes(proposal["value"], self.n or None, "category")

    @t.validate("modality")
    def _v_modality(self, proposal):
        return B.as_codes(proposal["value"], self.n or None, "modality")

    @t.validate("selected")
    def _v_selected(self, proposal):
        return B.as_indices(proposal["value"], self.n, "selected")

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
    def sets(self) -> "_Sets":
        """Named sets, dict-like: ``w.sets["name"]`` -> uint32 indices; assigning updates the views."""
        return _Sets(self)

    @sets.setter
    def sets(self, value):
        self.named_sets = dict(value)

    def update_positions(self, xy, animate: bool = True):
        """Move the points to new positions (same number of points); the browser animates the change."""
        pos = B.as_positions(xy, self.n, "positions")
        ms = self.animate_ms
        if not animate:
            self.animate_ms = 0
        try:
            self.positions = pos
        finally:
            if not animate:
                self.animate_ms = ms
        return self

    def payload_nbytes(self) -> dict:
        """Bytes this widget's state sends over the comm: JSON, binary, and the plain array sizes.

        ``raw`` is the size of the point arrays themselves (positions + codes + indices), the
        yardstick for "no JSON inflation"; the front-end bundle (``_esm``) is counted apart.
        """
        state = self.get_state()
        esm = len(str(state.pop("_esm", "")).encode())
        state.pop("_css", None)
        js, binary = B.payload_nbytes(state)
        sizes = B.buffer_sizes(state)
        s = self._sample
        shown = (lambda a: s.take(a)) if s is not None else (lambda a: a)
        to_shown = (lambda a: s.to_shown(a)) if s is not None else (lambda a: a)
        raw = int(shown(self.positions).nbytes + shown(self.category).nbytes + shown(self.modality).nbytes
                  + np.asarray(to_shown(self.selected), np.uint32).nbytes
                  + sum(np.asarray(to_shown(v), np.uint32).nbytes for v in self.named_sets.values()))
        return {"json": js, "binary": binary, "total": js + binary, "raw": raw, "esm": esm,
                "n_buffers": len(sizes), "max_buffer": max(sizes, default=0)}

    # ------------------------------------------------------------ front-end messages
    def _on_front_end_msg(self, _widget, content, _buffers):
        kind = (content or {}).get("type")
        try:
            if kind == "hover":
                self._reply_tooltip(int(content["index"]))
            else:
                self._on_action(kind, content)
        except Exception as e:  # report in the widget, never kill the comm
            self.busy = ""
            self.status = f"error: {e}"

    def _on_action(self, kind, content):
        pass

    def tooltip(self, index: int) -> dict:
        """What the hover tooltip shows for point ``index`` (subclasses add text, thumbnails, predictions)."""
        return {"text": f"{self.modality_names[int(self.modality[index])]} #{index}",
                "label": self.category_names[int(self.category[index])]}

    def _reply_tooltip(self, index: int):
        """Answer a hover on the ``index``-th drawn point (a full-data row unless sampled)."""
        if not 0 <= index < self.n_shown:
            return
        info = dict(self.tooltip(self._full_index(index)))
        png = info.pop("png", None)
        msg = {"type": "tooltip", "index": index, "has_image": png is not None,
               **{k: (None if v is None else str(v)) for k, v in info.items()}}
        self.send(msg, buffers=[png] if png is not None else None)


# =============================================================================================
def _text_encoder(encoder):
    """A function list[str] -> (k, d) float32 from whatever encoder object was given."""
    if encoder is None:
        return None
    for name in ("encode_texts", "encode_text"):
        f = getattr(encoder, name, None)
        if callable(f):
            return lambda texts, f=f: np.asarray(f(list(texts)), dtype=np.float32)
    if hasattr(encoder, "encode") and callable(encoder.encode):
        try:
            if "modality" in inspect.signature(encoder.encode).parameters:
                return lambda texts: np.asarray(encoder.encode(list(texts), modality="text"), dtype=np.float32)
        except (TypeError, ValueError):
            pass
        return lambda texts: np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    if callable(encoder):
        return lambda texts: np.asarray(encoder(list(texts)), dtype=np.float32)
    raise WidgetError(f"encoder {type(encoder).__name__} has no encode_texts/encode method and is not callable")


def make_projector(method: str, random_state: int = 0):
    """A fresh estimator for a projection method name (MFM, UMAP, t-SNE, PCA, DCM, MDS).

    Uses ``modalchorus_widget.projectors`` (one interface for every method) and falls back to plain
    scikit-learn / umap-learn estimators where that module is unavailable.
    """
    key = method.strip().lower().replace("-", "").replace("_", "")
    try:
        from . import projectors as P

        names = {k.lower().replace("-", "").replace("_", ""): k for k in P.PROJECTORS}
        if key in names:
            try:
                return P.make_projector(names[key], random_state=random_state)
            except TypeError:
                return P.make_projector(names[key])
    except ImportError:
        pass
    if key == "mfm":
        from .mfm import MFM

        return MFM(random_state=random_state)
    if key == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state)
    if key == "umap":
        import umap

        return umap.UMAP(n_components=2, metric="cosine", random_state=random_state)
    if key == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, metric="cosine", init="pca", random_state=random_state)
    if key in ("dcm", "mds"):
        from sklearn.manifold import MDS

        return MDS(n_components=2, random_state=random_state, normalized_stress="auto")
    raise WidgetError(f"unknown projection method {method!r}; use one of {list(METHODS)}")


def _fit_project(projector, es) -> np.ndarray:
    """Fit ``projector`` on an EmbeddingSet and return (n, 2) positions in the set's row order.

    Three interfaces: ``fit_transform(images, texts)`` (projectors.py, images first), MFM's
    ``fit_transform(X, modality=...)``, and scikit-learn's ``fit_transform(X)``.
    """
    f = projector.fit_transform
    try:
        params = inspect.signature(f).parameters
    except (TypeError, ValueError):
        params = {}
    if "texts" in params:
        mods = set(es.modalities)
        if mods != {"image", "text"}:
            raise WidgetError(f"{type(projector).__name__} projects images and texts; this set has {sorted(mods)}")
        img, txt = es.indices("image"), es.indices("text")
        xy2 = np.asarray(f(es.vectors[img], es.vectors[txt]), dtype=np.float32)
        xy = np.empty((es.n, 2), np.float32)
        xy[img], xy[txt] = xy2[: len(img)], xy2[len(img):]
    elif "modality" in params:
        xy = f(es.vectors, modality=es.modality)
    else:
        xy = f(es.vectors)
    xy = np.asarray(xy, dtype=np.float32)
    if xy.shape != (es.n, 2):
        raise WidgetError(f"projector {type(projector).__name__} returned shape {xy.shape}, expected ({es.n}, 2)")
    return xy


def _categorise(values, max_bins: int = 10):
    """(codes, names) for a column: categorical as is; many-valued numbers as quantile bins."""
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.nunique() > 24:
        binned = pd.qcut(s, q=max_bins, duplicates="drop")
        codes = binned.cat.codes.to_numpy()
        names = [f"{iv.left:.3g}..{iv.right:.3g}" for iv in binned.cat.categories]
        missing = codes < 0
        if missing.any():
            codes = np.where(missing, len(names), codes)
            names.append("(missing)")
        return codes.astype(np.int64), names
    s = s.astype(object).where(s.notna(), "(none)").astype(str)
    codes, uniques = pd.factorize(s, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


class Chorus(ScatterWidget):
    """The ModalChorus tool in one cell: projection view + concept-axis view + named sets + status.

    ``Chorus(embeddings, projector=MFM())`` projects an EmbeddingSet (or takes ``positions``), colours it by
    ``color_by`` (a frame column, ``"prediction"`` or ``"modality"``), and links lasso selections,
    hover and named sets between both views and Python. ``align(*constraints)`` runs one alignment
    round through ``aligner`` and animates the points to their new places.

    ``class_prompts`` (for zero-shot predictions of image rows): row indices of prompt texts in the set
    (they follow alignment), a list of texts (embedded by ``encoder``), a dict name -> text or vector, or
    an array of vectors. ``save(path)`` / ``Chorus.load(path)`` keep a whole session in one file.
    """

    axis_positions = _array_trait(np.zeros((0, 2), np.float32), B.positions_to_json, B.positions_from_json)
    axis_titles = t.Dict().tag(sync=True)
    report = t.Dict().tag(sync=True)

    def __init__(self, embeddings, projector=None, positions=None, color_by="label", encoder=None,
                 aligner=None, class_prompts=None, method=None, **kwargs):
        from .embeddings import EmbeddingSet

        if not isinstance(embeddings, EmbeddingSet):
            raise WidgetError(f"embeddings: expected an EmbeddingSet, got {type(embeddings).__name__}; "
                              "wrap arrays with EmbeddingSet(vectors, modality=...) or EmbeddingSet.from_pairs")
        self.embeddings = embeddings
        self.encoder = encoder
        self.aligner = aligner
        self.class_prompts = class_prompts
        self._encode = _text_encoder(encoder)
        self._positions_by_method = {}
        self._axis_spec = None
        self._thumb_cache = {}
        self._rounds = 0
        self.projector = projector
        es = embeddings
        if positions is not None:
            xy = B.as_positions(positions, es.n, "positions")
            name = method or (type(projector).__name__ if projector is not None else "given")
        else:
            if projector is None:
                name = method or ("MFM" if len(es.modalities) >= 2 and es.n >= 8 else "PCA")
                projector = self._projector_or_fallback(name)
            else:
                name = method or type(projector).__name__
            self.projector = projector
            xy = _fit_project(projector, es)
        self._positions_by_method[name] = xy
        self._prompt_rows = None
        self._prompt_names, self._prompt_vectors = self._resolve_prompts(class_prompts)
        self.predictions_ = self._predict(es)
        mod_names = list(es.modalities)
        mod_codes = _codes_in_order(es.modality, mod_names)
        options = self._color_options()
        if color_by not in options:
            raise WidgetError(f"color_by={color_by!r} is not available; choose one of {options}")
        codes, names = self._codes_for(color_by)
        super().__init__(positions=xy, category=codes, modality=mod_codes, category_names=names,
                         modality_names=mod_names, **kwargs)
        with self.hold_sync():
            self.view_mode = "chorus"
            self.method = name
            self.methods = list(dict.fromkeys(list(METHODS) + [name]))
            self.color_options = options
            self.color_by = color_by
            self.point_labels = self._default_labels()
            self._refresh_status()

    # ------------------------------------------------------------ projection
    def _projector_or_fallback(self, method):
        try:
            return make_projector(method)
        except ImportError:
            return make_projector("PCA")

    def set_method(self, method: str, animate: bool = True):
        """Switch the projection view to another method (fitted once, then cached); animated."""
        if method in self._positions_by_method:
            xy = self._positions_by_method[method]
        else:
            projector = make_projector(method)
            self.busy = f"computing {method}\u2026"
            try:
                xy = _fit_project(projector, self.embeddings)
            finally:
                self.busy = ""
            self._positions_by_method[method] = xy
            if method == "MFM" or self.projector is None:
                self.projector = projector
        with self.hold_sync():
            self.update_positions(xy, animate=animate)
            self.method = method
            if method not in self.methods:
                self.methods = self.methods + [method]
            self._refresh_status()
        if self._axis_spec is not None and self._axis_spec.get("y") is None:
            self._recompute_axis()
        return self

    def add_layout(self, name: str, positions):
        """Offer precomputed positions (n, 2) as a projection method named ``name`` in the toolbar."""
        xy = B.as_positions(positions, self.n, f"layout {name!r}")
        self._positions_by_method[str(name)] = xy
        if name not in self.methods:
            self.methods = self.methods + [str(name)]
        return self

    # ------------------------------------------------------------ colour
    def _color_options(self):
        frame = self.embeddings.frame
        opts = [c for c in ("label",) if c in frame.columns]
        if self.predictions_ is not None:
            opts.append("prediction")
        opts.append("modality")
        for c in frame.columns:
            if c in ("id", "modality", "label", "item") or c in opts:
                continue
            try:
                if frame[c].nunique() <= 65536:
                    opts.append(str(c))
            except TypeError:
                continue
        return opts

    def _codes_for(self, key):
        es = self.embeddings
        if key == "prediction":
            if self.predictions_ is None:
                raise WidgetError("no predictions: pass class_prompts (and an encoder for text prompts)")
            return _categorise(self.predictions_)
        if key == "modality":
            return _categorise(es.modality)
        if key not in es.frame.columns:
            raise WidgetError(f"color_by={key!r} is not a column of embeddings.frame; choose one of {self._color_options()}")
        return _categorise(es.frame[key].to_numpy())

    def set_color_by(self, key: str):
        """Colour the points by a frame column, ``"prediction"`` or ``"modality"``."""
        codes, names = self._codes_for(key)
        with self.hold_sync():
            self.category_names = names
            self.category = codes
            self.color_by = key
        return self

    # ------------------------------------------------------------ predictions
    def _resolve_prompts(self, prompts):
        if prompts is None:
            return None, None
        if isinstance(prompts, dict):
            names = [str(k) for k in prompts]
            vals = list(prompts.values())
            if all(isinstance(v, str) for v in vals):
                return names, self._encode_or_fail(vals, "class_prompts")
            return names, np.asarray(vals, dtype=np.float32)
        prompts = list(prompts)
        if all(isinstance(p, str) for p in prompts):
            return prompts, self._encode_or_fail(prompts, "class_prompts")
        if prompts and all(isinstance(p, (int, np.integer)) for p in prompts):
            # rows of the set: their vectors are read at every prediction, so prompts follow alignment
            es = self.embeddings
            rows = es.check_indices(np.asarray(prompts, dtype=np.int64), "class_prompts")
            labels = es.labels
            names = [str(labels[r]) if labels is not None and labels[r] is not None else str(es.ids[r]) for r in rows]
            self._prompt_rows = rows
            return names, es.vectors[rows]
        arr = np.asarray(prompts, dtype=np.float32)
        return [str(i) for i in range(len(arr))], arr

    def _encode_or_fail(self, texts, where):
        if self._encode is None:
            raise WidgetError(f"{where}: text needs an encoder to embed it; pass encoder=... to Chorus, "
                              "or give vectors instead of strings")
        v = self._encode(texts)
        if v.ndim != 2 or v.shape[1] != self.embeddings.dim:
            raise WidgetError(f"{where}: the encoder returned shape {v.shape}, expected (k, {self.embeddings.dim})")
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def _predict(self, es):
        if self._prompt_vectors is None:
            return None
        from .evaluation import zero_shot_predict

        pred = np.full(es.n, None, dtype=object)
        img = es.indices("image") if "image" in es.modalities else np.zeros(0, np.uint32)
        if len(img):
            prompts = es.vectors[self._prompt_rows] if self._prompt_rows is not None else self._prompt_vectors
            idx = zero_shot_predict(es.vectors[img], prompts)
            pred[img] = np.asarray(self._prompt_names, dtype=object)[idx]
        return pred

    # ------------------------------------------------------------ selection and sets
    def selected_frame(self):
        """Rows of ``embeddings.frame`` for the current selection (index = row number)."""
        return self.embeddings.frame.iloc[self.selected]

    # ------------------------------------------------------------ concept axis
    def concept_axis(self, a, b, y=None):
        """Place every point on the axis a -> b (METHODS.md 3); a, b: text, vectors, index sets or set names.

        ``y`` None keeps the projection's y; otherwise a pair of concepts, one concept, or n values.
        """
        from .concept_axis import concept_axis as _axis

        va, na = self._concept(a, "a")
        vb, nb = self._concept(b, "b")
        if y is None:
            yv, ny = None, None
        elif isinstance(y, tuple) and len(y) == 2:
            (c, nc), (d, nd) = self._concept(y[0], "y[0]"), self._concept(y[1], "y[1]")
            yv, ny = (c, d), f"{nd} \u2192 {nc}"
        else:
            arr = np.asarray(y) if not isinstance(y, str) else None
            if arr is not None and arr.ndim == 1 and arr.shape[0] == self.n and arr.dtype.kind == "f":
                yv, ny = arr.astype(np.float32), "y"
            else:
                yv, ny = self._concept(y, "y")
        xy = _axis(self.embeddings.vectors, va, vb, y=yv if yv is not None else self._current_positions()[:, 1])
        with self.hold_sync():
            self.axis_positions = xy
            self.axis_titles = {"a": na, "b": nb, "y": ny or f"{self.method} y"}
        self._axis_spec = {"a": a, "b": b, "y": y}
        return xy

    def _recompute_axis(self):
        spec = self._axis_spec
        if spec is not None:
            self.concept_axis(spec["a"], spec["b"], spec["y"])

    def _current_positions(self):
        return np.asarray(self.positions, dtype=np.float32)

    def _concept(self, c, where):
        """(vector or (k, d) set, display name) for a concept given as text, vector, indices or set name."""
        es = self.embeddings
        if isinstance(c, str):
            name = c.strip()
            if not name:
                raise WidgetError(f"concept {where}: empty text; type a concept, a set name or a caption")
            sets = self.named_sets
            if name in sets:
                idx = sets[name]
                if len(idx) == 0:
                    raise WidgetError(f"concept {where}: set {name!r} is empty")
                return es.vectors[idx], name
            items = es.items
            if items is not None:
                tidx = es.indices("text") if "text" in es.modalities else np.zeros(0, np.uint32)
                hits = np.array([i for i in tidx if isinstance(items[i], str) and items[i] == name], dtype=np.int64)
                if len(hits):
                    return es.vectors[hits], name
            if self._encode is not None:
                return self._encode_or_fail([name], f"concept {where}")[0], name
            labels = es.labels
            if labels is not None:
                hits = np.flatnonzero(labels.astype(str) == name)
                if len(hits):
                    return es.vectors[hits], name
            raise WidgetError(f"concept {where}={name!r}: not a set name, text item or label, and no encoder is "
                              "attached to embed free text; pass encoder=... or use vectors/indices")
        arr = np.asarray(c)
        if arr.ndim == 1 and arr.dtype.kind in "iub":
            idx = B.as_indices(arr, es.n, f"concept {where}")
            if len(idx) == 0:
                raise WidgetError(f"concept {where}: empty index set")
            return es.vectors[idx], f"{len(idx)} points"
        if arr.ndim in (1, 2) and arr.shape[-1] == es.dim:
            return arr.astype(np.float32), "vector" if arr.ndim == 1 else f"{len(arr)} vectors"
        raise WidgetError(f"concept {where}: expected text, a ({es.dim},) vector, a (k, {es.dim}) set, "
                          f"or row indices; got {type(c).__name__} with shape {getattr(arr, 'shape', None)}")

    # ------------------------------------------------------------ alignment
    def save(self, path):
        """Save the whole session (embeddings, map, sets, alignment history) to one file, atomically."""
        from .session import save_session

        return save_session(self, path)

    @classmethod
    def load(cls, path, encoder=None, **kwargs):
        """Re-open a session saved with ``save``; pass ``encoder`` to embed free-text concepts again."""
        from .session import load_session

        return load_session(path, encoder=encoder, **kwargs)

    def align(self, *constraints, animate: bool = True):
        """One alignment round: aligner.step(*constraints), then re-place, recolour and report.

        The fitted projector places the new vectors with ``transform`` (no refit) so points move
        instead of jumping. If anything fails, the widget and its embeddings stay as they were.
        """
        if self.aligner is None:
            raise WidgetError("align: no aligner attached; pass aligner=Aligner(embeddings) to Chorus")
        self.busy = "aligning\u2026"
        rnd = None
        old_es, old_pred = self.embeddings, self.predictions_
        try:
            rnd = self.aligner.step(*constraints)
            new_es = self.aligner.embeddings_
            if new_es.n != self.n:
                raise WidgetError(f"align: the aligner returned {new_es.n} rows for {self.n} points")
            if self.projector is not None and hasattr(self.projector, "transform") and hasattr(self.projector, "network_"):
                xy = B.as_positions(self.projector.transform(new_es.vectors), self.n)
            elif self.projector is not None and hasattr(self.projector, "transform"):
                try:
                    xy = B.as_positions(self.projector.transform(new_es.vectors), self.n)
                except Exception:
                    xy = _fit_project(self.projector, new_es)
            else:
                xy = self._current_positions()
            self.embeddings = new_es
            pred = self.predictions_ = self._predict(new_es)
            codes, names = self._codes_for(self.color_by)
        except BaseException:
            # the round, or placing its result, failed: widget and aligner both go back to where they were
            self.embeddings, self.predictions_ = old_es, old_pred
            if rnd is not None:
                self.aligner.undo()
            self.busy = ""
            raise
        report = getattr(rnd, "report", None) or {}
        self.predictions_ = pred
        self._rounds += 1
        self._positions_by_method = {self.method: xy}
        self._thumb_cache.clear()
        with self.hold_sync():
            self.busy = ""
            self.category_names = names
            self.category = codes
            self.update_positions(xy, animate=animate)
            self.report = _jsonable(report)
            self._refresh_status()
        self.send({"type": "tooltip_reset"})
        if self._axis_spec is not None:
            self._recompute_axis()
        return rnd

    # ------------------------------------------------------------ misc
    def _default_labels(self, max_labels: int = 60):
        es = self.embeddings
        if "text" not in es.modalities:
            return []
        tidx = es.indices("text")
        if len(tidx) == 0 or len(tidx) > max_labels:
            return []
        items = es.items
        out = []
        for i in tidx:
            txt = items[i] if items is not None and isinstance(items[i], str) else (
                es.labels[i] if es.labels is not None else None)
            if txt:
                s = str(txt)
                out.append([int(i), s if len(s) <= 28 else s[:27] + "\u2026"])
        return out

    def _refresh_status(self):
        parts = []
        if self._rounds:
            parts.append(f"alignment rounds: {self._rounds}")
        if self.predictions_ is not None:
            parts.append(f"{len(self._prompt_names)} classes")
        self.status = " \u00b7 ".join(parts)

    def tooltip(self, index: int) -> dict:
        es = self.embeddings
        info = {}
        mod = str(es.modality[index])
        items = es.items
        item = items[index] if items is not None else None
        if mod != "image" and isinstance(item, str):  # texts show their text; image items are paths
            info["text"] = item if len(item) <= 300 else item[:299] + "\u2026"
        else:
            info["text"] = f"{mod} {es.frame['id'].iat[index]}"
        if es.labels is not None and es.labels[index] is not None:
            info["label"] = es.labels[index]
        if self.predictions_ is not None and self.predictions_[index] is not None:
            info["prediction"] = self.predictions_[index]
        missing = item is None or (isinstance(item, float) and item != item)  # pandas turns None into NaN
        if mod == "image" and not missing:
            if index not in self._thumb_cache:
                from .embeddings import make_thumbnail

                try:
                    self._thumb_cache[index] = make_thumbnail(item, 96)
                except Exception:
                    self._thumb_cache[index] = None
            if self._thumb_cache[index] is not None:
                info["png"] = self._thumb_cache[index]
        return info

    def _on_action(self, kind, content):
        if kind == "method":
            self.set_method(str(content["method"]))
        elif kind == "color_by":
            self.set_color_by(str(content["key"]))
        elif kind == "concept_axis":
            self.concept_axis(str(content.get("a", "")), str(content.get("b", "")))
            self.status = self.status.split(" \u00b7 error")[0]


def _codes_in_order(values, names):
    """Integer code of each value = its position in ``names``."""
    import pandas as pd

    return pd.Categorical(np.asarray(values).astype(str), categories=[str(n) for n in names]).codes.astype(np.int64)


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


class _Sets:
    """Dict-like view of a widget's named sets; writes replace the synced trait so the views update."""

    def __init__(self, widget):
        object.__setattr__(self, "_w", widget)

    def _raw(self) -> dict:
        return self._w.named_sets

    def __getitem__(self, name):
        d = self._raw()
        if name not in d:
            raise KeyError(f"no set named {name!r}; sets are {list(d)}")
        return d[name]

    def __setitem__(self, name, indices):
        d = dict(self._raw())
        d[str(name)] = indices
        self._w.named_sets = d

    def __delitem__(self, name):
        d = dict(self._raw())
        if name not in d:
            raise KeyError(f"no set named {name!r}; sets are {list(d)}")
        del d[name]
        self._w.named_sets = d

    def __contains__(self, name):
        return name in self._raw()

    def __iter__(self):
        return iter(list(self._raw()))

    def __len__(self):
        return len(self._raw())

    def keys(self):
        return list(self._raw())

    @property
    def names(self):
        return list(self._raw())

    def items(self):
        return list(self._raw().items())

    def values(self):
        return list(self._raw().values())

    def get(self, name, default=None):
        return self._raw().get(name, default)

    def clear(self):
        self._w.named_sets = {}

    def update(self, other=(), **kw):
        d = dict(self._raw())
        d.update(dict(other), **kw)
        self._w.named_sets = d

    def __repr__(self):
        return "Sets(" + ", ".join(f"{k!r}: {len(v)} points" for k, v in self._raw().items()) + ")"
