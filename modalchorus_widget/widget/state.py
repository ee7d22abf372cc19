"""What a ``Chorus`` shows, as a plain object (no traitlets, no comm): the embeddings, one fitted projector
per projection method, zero-shot predictions, colour codes, concepts and the alignment round logic.

``Chorus`` is the thin widget that draws a ``ChorusState`` and forwards the browser's actions to it; the
state can be driven and tested without a front-end.
"""

from __future__ import annotations

import numpy as np

from ..alignment.rounds import read_rows, readings
from ..data.embeddings import EmbeddingSet, make_thumbnail
from ..encoders.base import check_encoder
from ..errors import InputTypeError, WidgetError
from ..projection.base import Projector
from ..projection.concept_axis import concept_axis
from ..projection.registry import PROJECTORS, make_projector, method_name
from . import buffers as B
from .augment import as_extras
from .front_door import fitted_aligner
from .report_view import round_view, round_words

__all__ = ["ChorusState", "categorise", "codes_in_order"]


def categorise(values, max_bins: int = 10):
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


def codes_in_order(values, names):
    """Integer code of each value = its position in ``names``."""
    import pandas as pd

    return pd.Categorical(np.asarray(values).astype(str), categories=[str(n) for n in names]).codes.astype(np.int64)


class ChorusState:
    """Embeddings + projections + predictions of one Chorus session.

    ``projector``: a ``Projector`` or a method name (default: MFM when the set has two modalities, else PCA);
    ``positions``: precomputed (n, 2) positions for it (then it is not fitted again). ``defer_fit``: do not fit
    the projector now; show PCA (milliseconds) and let ``finish_fit`` fit it later (``pending`` says what).
    """

    def __init__(
        self,
        embeddings,
        projector=None,
        positions=None,
        encoder=None,
        aligner=None,
        class_prompts=None,
        defer_fit=False,
    ):
        if not isinstance(embeddings, EmbeddingSet):
            raise InputTypeError(
                f"embeddings: expected an EmbeddingSet, got {type(embeddings).__name__}; "
                "wrap arrays with EmbeddingSet(vectors, modality=...) or EmbeddingSet.from_pairs"
            )
        self.embeddings = embeddings
        self.encoder = check_encoder(encoder, "Chorus(encoder=...)")
        self.default_aligner = aligner is None
        self.aligner = aligner = fitted_aligner(aligner, embeddings, self.encoder)
        self.class_prompts = class_prompts
        self.rounds = 0
        self.round_views = {}  # round number (1-based) -> report_view.round_view of it
        self.n_base = embeddings.n  # rows added by ``augment`` follow: their original-space vectors and modality
        self.aug_raw = np.zeros((0, embeddings.dim), np.float32)
        self.aug_modality = np.zeros(0, dtype=object)
        self.aug_fixed = np.zeros(0, bool)  # rows of a reopened session whose original vectors are not known
        if aligner is not None and aligner.embeddings_.n < embeddings.n:  # a session saved after ``augment``
            self._adopt_augmented(aligner)
        self._seen = None if aligner is None else aligner.embeddings_  # the aligner state on show
        if projector is None:
            projector = "MFM" if len(embeddings.modalities) >= 2 and embeddings.n >= 8 else "PCA"
        method = None
        if isinstance(projector, dict) and len(projector) == 1:  # {name: projector}: a projector named apart
            method, projector = next(iter(projector.items()))
        if isinstance(projector, str):
            projector = make_projector(projector)
        if not isinstance(projector, Projector):
            raise WidgetError(
                f"projector: expected a method name ({list(PROJECTORS)}), a Projector or {{name: Projector}}, got "
                f"{type(projector).__name__}; wrap a scikit-learn transformer with "
                "modalchorus_widget.projection.base.EstimatorProjector(estimator)"
            )
        self.method = str(method or method_name(projector))
        self.projectors = {self.method: projector}
        self.pending = None
        if positions is not None:
            xy = B.as_positions(positions, embeddings.n, "positions")
        elif defer_fit and self.method != "PCA":
            self.pending = self.method
            self.method = "PCA"
            self.projectors["PCA"] = make_projector("PCA")
            xy = self._fit(self.projectors["PCA"], embeddings)
        else:
            xy = self._fit(projector, embeddings)
        self.positions = {self.method: xy}
        self.prompt_rows = None
        self.prompt_names, self.prompt_vectors = self._resolve_prompts(class_prompts)
        if self.default_aligner and self.prompt_rows is not None:  # rounds read (and guard) these prompts only
            self.aligner.set_params(guard=dict(concepts=[int(r) for r in self.prompt_rows]))
        self.predictions = self.predict(embeddings)

    def aligner_to_save(self):
        """The aligner a session file keeps: None for the default one before any round (nothing to keep)."""
        al = self.aligner
        return None if self.default_aligner and not al.history_ and not al.undone_ else al

    # ------------------------------------------------------------ projection
    @property
    def projector(self) -> Projector:
        """The fitted projector of the method on show."""
        return self.projectors[self.method]

    @staticmethod
    def _fit(projector, es, callback=None):
        return B.as_positions(projector.fit_transform(es, callback=callback), es.n, "positions")

    def finish_fit(self, callback=None) -> np.ndarray:
        """Fit the deferred projector (see ``defer_fit``), make it the method on show, return its positions."""
        method = self.pending
        xy = self._fit(self.projectors[method], self.embeddings, callback)
        self.positions[method] = xy
        self.method, self.pending = method, None
        return xy

    def project(self, method: str) -> np.ndarray:
        """Positions of ``method`` for the current embeddings: cached, placed by its fitted projector, or fitted."""
        if method in self.positions:
            return self.positions[method]
        proj = self.projectors.get(method)
        if proj is not None and proj.supports_transform and proj.is_fitted():
            xy = B.as_positions(proj.transform(self.embeddings.vectors), self.embeddings.n)
        else:
            proj = proj or make_projector(method)
            xy = self._fit(proj, self.embeddings)
            self.projectors[method] = proj
        self.positions[method] = xy
        return xy

    def add_layout(self, name: str, positions):
        self.positions[str(name)] = B.as_positions(positions, self.embeddings.n, f"layout {name!r}")

    def place(self, es, rows=None) -> np.ndarray:
        """Positions of new vectors ``es`` by the projector on show: ``transform`` (points move, not jump), or a
        refit where the method cannot place new points (MDS, DCM). ``rows``: the only rows whose vectors changed
        (a round's Delta); the others keep their places, so a round on a million rows places only what it moved."""
        proj = self.projector
        if proj.supports_transform and proj.is_fitted():
            xy = self.positions.get(self.method)
            if rows is None or xy is None or len(xy) != es.n or len(rows) > es.n // 2:
                return B.as_positions(proj.transform(es.vectors), es.n)
            xy = np.array(xy, np.float32, copy=True)
            xy[rows] = B.as_positions(proj.transform(es.vectors[rows]), len(rows)) if len(rows) else xy[rows]
            return xy
        return self._fit(proj, es)

    # ------------------------------------------------------------ text and prompts
    def encode_texts(self, texts, where: str) -> np.ndarray:
        if self.encoder is None:
            raise WidgetError(
                f"{where}: text needs an encoder to embed it; pass encoder=... to Chorus, "
                "or give vectors instead of strings"
            )
        v = np.asarray(self.encoder.encode(list(texts), "text"), dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.embeddings.dim:
            raise WidgetError(f"{where}: the encoder returned shape {v.shape}, expected (k, {self.embeddings.dim})")
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def _resolve_prompts(self, prompts):
        if prompts is None:
            return None, None
        if isinstance(prompts, dict):
            names = [str(k) for k in prompts]
            vals = list(prompts.values())
            if all(isinstance(v, str) for v in vals):
                return names, self.encode_texts(vals, "class_prompts")
            return names, np.asarray(vals, dtype=np.float32)
        prompts = list(prompts)
        if all(isinstance(p, str) for p in prompts):
            return prompts, self.encode_texts(prompts, "class_prompts")
        if prompts and all(isinstance(p, (int, np.integer)) for p in prompts):
            # rows of the set: their vectors are read at every prediction, so prompts follow alignment
            es = self.embeddings
            rows = es.check_indices(np.asarray(prompts, dtype=np.int64), "class_prompts")
            labels = es.labels
            names = [str(labels[r]) if labels is not None and labels[r] is not None else str(es.ids[r]) for r in rows]
            self.prompt_rows = rows
            return names, es.vectors[rows]
        arr = np.asarray(prompts, dtype=np.float32)
        return [str(i) for i in range(len(arr))], arr

    def predict(self, es, rows=None):
        """Zero-shot prediction (class prompt name) of every image row; None elsewhere or without prompts.
        ``rows``: the only rows whose vectors changed since ``self.predictions`` (a round's Delta): only those
        are read again, unless a prompt row is among them."""
        if self.prompt_vectors is None:
            return None
        pred, img = np.full(es.n, None, dtype=object), np.zeros(0, np.int64)
        if "image" in es.modalities:
            is_img, old = es.mask("image"), getattr(self, "predictions", None)
            moved = rows is not None and np.isin(self.prompt_rows if self.prompt_rows is not None else [], rows).any()
            fresh = rows is None or moved or old is None or len(old) != es.n
            rows = None if fresh else np.unique(np.asarray(rows, np.int64))  # only the images the round moved:
            pred, img = (pred, np.flatnonzero(is_img)) if fresh else (old.copy(), rows[is_img[rows]])
        if len(img):  # prompt rows: the readings kept with the state (the guard's, when it read these prompts)
            p, vec = self.prompt_rows, self.prompt_vectors
            read = readings(es.vectors, img, p) if p is not None else read_rows(es.vectors, img, None, vec)
            pred[img] = np.asarray(self.prompt_names, dtype=object)[read]
        return pred

    # ------------------------------------------------------------ colour
    def color_options(self) -> list:
        frame = self.embeddings.frame
        opts = [c for c in ("label",) if c in frame.columns]
        if self.predictions is not None:
            opts.append("prediction")
        opts.append("modality")
        for c in frame.columns:
            if c in ("id", "modality", "label", "item") or c in opts:
                continue
            try:
                if frame[c].nunique() <= 65536:
                    opts.append(str(c))
            except TypeError:  # unhashable cells (lists, dicts) cannot colour points
                continue
        return opts

    def codes_for(self, key: str):
        es = self.embeddings
        if key == "prediction":
            if self.predictions is None:
                raise WidgetError("no predictions: pass class_prompts (and an encoder for text prompts)")
            return categorise(self.predictions)
        if key == "modality":
            return categorise(es.modality)
        if key not in es.frame.columns:
            raise WidgetError(
                f"color_by={key!r} is not a column of embeddings.frame; choose one of {self.color_options()}"
            )
        return categorise(es.frame[key].to_numpy())

    # ------------------------------------------------------------ concepts
    def concept(self, c, where: str, named_sets: dict):
        """(vector or (k, d) set, display name) for a concept given as text, vector, indices or set name."""
        es = self.embeddings
        if isinstance(c, str):
            return self._text_concept(c.strip(), where, named_sets)
        arr = np.asarray(c)
        if arr.ndim == 1 and arr.dtype.kind in "iub":
            idx = B.as_indices(arr, es.n, f"concept {where}")
            if len(idx) == 0:
                raise WidgetError(f"concept {where}: empty index set")
            return es.vectors[idx], f"{len(idx)} points"
        if arr.ndim in (1, 2) and arr.shape[-1] == es.dim:
            return arr.astype(np.float32), "vector" if arr.ndim == 1 else f"{len(arr)} vectors"
        raise WidgetError(
            f"concept {where}: expected text, a ({es.dim},) vector, a (k, {es.dim}) set, "
            f"or row indices; got {type(c).__name__} with shape {getattr(arr, 'shape', None)}"
        )

    def _text_concept(self, name: str, where: str, named_sets: dict):
        es = self.embeddings
        if not name:
            raise WidgetError(f"concept {where}: empty text; type a concept, a set name or a caption")
        if name in named_sets:
            idx = named_sets[name]
            if len(idx) == 0:
                raise WidgetError(f"concept {where}: set {name!r} is empty")
            return es.vectors[idx], name
        items = es.items
        if items is not None and "text" in es.modalities:
            tidx = es.indices("text")
            hits = tidx[np.fromiter((isinstance(items[i], str) and items[i] == name for i in tidx), bool, len(tidx))]
            if len(hits):
                return es.vectors[hits], name
        if self.encoder is not None:
            return self.encode_texts([name], f"concept {where}")[0], name
        if es.labels is not None:
            hits = np.flatnonzero(es.labels.astype(str) == name)
            if len(hits):
                return es.vectors[hits], name
        raise WidgetError(
            f"concept {where}={name!r}: not a set name, text item or label, and no encoder is "
            "attached to embed free text; pass encoder=... or use vectors/indices"
        )

    def axis(self, a, b, y, named_sets: dict, current_y):
        """Concept-axis positions (docs/methods.md 3) and the axis titles."""
        va, na = self.concept(a, "a", named_sets)
        vb, nb = self.concept(b, "b", named_sets)
        if y is None:
            yv, ny = None, None
        elif isinstance(y, tuple) and len(y) == 2:
            (c, nc), (d, nd) = self.concept(y[0], "y[0]", named_sets), self.concept(y[1], "y[1]", named_sets)
            yv, ny = (c, d), f"{nd} \u2192 {nc}"
        else:
            arr = np.asarray(y) if not isinstance(y, str) else None
            if arr is not None and arr.ndim == 1 and arr.shape[0] == self.embeddings.n and arr.dtype.kind == "f":
                yv, ny = arr.astype(np.float32), "y"
            else:
                yv, ny = self.concept(y, "y", named_sets)
        xy = concept_axis(self.embeddings.vectors, va, vb, y=yv if yv is not None else current_y)
        return xy, {"a": na, "b": nb, "y": ny or f"{self.method} y"}

    # ------------------------------------------------------------ alignment
    def align(self, *constraints):
        """One round: ``aligner.step``, then place the new vectors. Returns (round, positions); on any failure
        the aligner is rolled back and this state is unchanged."""
        if self.aligner is None:
            raise WidgetError("align: no aligner attached; pass aligner=Aligner(mode=...) to Chorus")
        token = self.aligner.checkpoint()
        try:
            if len(self.aug_raw):
                constraints = [
                    as_extras(c, self.n_base, self.aug_raw, self.aug_modality, self.embeddings.items, self.aug_fixed)
                    for c in constraints
                ]
            rnd = self.aligner.step(*constraints)
            new_es = self._with_augmented(self.aligner.embeddings_)
            if new_es.n != self.embeddings.n:
                raise WidgetError(f"align: the aligner returned {new_es.n} rows for {self.embeddings.n} points")
            delta = None if len(self.aug_raw) else getattr(rnd, "delta", None)  # the rows the round changed
            xy = self.place(new_es, None if delta is None else delta.rows)
            pred = self.predict(new_es, None if delta is None else delta.rows)
        except BaseException:
            self.aligner.rollback(token)
            raise
        before_es, before_pred = self.embeddings, self.predictions
        self.embeddings, self.predictions = new_es, pred
        self.rounds = len(self.aligner.history_)
        self.positions = {self.method: xy}
        self._seen = self.aligner.embeddings_
        self.round_views = {k: v for k, v in self.round_views.items() if k < self.rounds}
        self.round_views[self.rounds] = round_view(
            before_es, new_es, before_pred, pred, rnd, self.prompt_names, self.rounds, delta=delta
        )
        return rnd, xy

    def _round_start(self):
        al = self.aligner
        if al is None or not al.history_:
            raise WidgetError("strength: no alignment round yet; align first (w.align(...) or the Align button)")
        before_es = self._with_augmented(al._states[-2])
        return al, before_es, self.predict(before_es)

    def preview_strength(self, alpha):
        """The last round at strength ``alpha``, nothing committed: (predictions, the report panel's view)."""
        from dataclasses import replace

        al, before_es, before_pred = self._round_start()
        es = self._with_augmented(al.embeddings_.with_vectors(al.preview_strength(alpha), normalize=False))
        pred = self.predict(es)
        rnd = al.history_[-1]
        rnd = replace(rnd, report={**rnd.report, "alpha": float(alpha), "alpha_set_by": "preview"})
        return pred, round_view(before_es, es, before_pred, pred, rnd, self.prompt_names, self.rounds)

    def set_strength(self, alpha):
        """Apply the last round at ``alpha`` (``Aligner.set_strength``), then place and predict. Returns positions."""
        al, before_es, before_pred = self._round_start()
        rnd = al.set_strength(alpha)
        xy = self._adopt(al.embeddings_)
        self.round_views[self.rounds] = round_view(
            before_es, self.embeddings, before_pred, self.predictions, rnd, self.prompt_names, self.rounds
        )
        return xy

    # ------------------------------------------------------------ augmentation
    def augment(self, images=(), texts=(), set_name: str = "augmented", names=None):
        """Encode image files and texts with the attached encoder and append them as rows labelled
        ``set_name``, placed by the projector on show (``transform``, no refit). Returns the new rows' indices;
        every check (encoder, files, placement) runs before anything changes."""
        from .augment import read_augmentation

        if self.encoder is None:
            raise WidgetError(
                "augment: no encoder is attached to embed new items; make the widget with "
                "Chorus(..., encoder=load_default().encoder) (or your own Encoder), then add them again"
            )
        proj = self.projector
        if not (proj.supports_transform and proj.is_fitted()):
            raise WidgetError(
                f"augment: the {self.method} map cannot place new points without refitting; switch to a method "
                "that can (w.set_method('MFM') or 'PCA') and add them again"
            )
        pil, texts, _ = read_augmentation(images, texts, names)
        es, d = self.embeddings, self.embeddings.dim
        parts, mods = [], []
        for items, mod in ((pil, "image"), (texts, "text")):
            if items:
                v = np.asarray(self.encoder.encode(items, mod), np.float32)
                if v.shape != (len(items), d):
                    raise WidgetError(f"augment: the encoder returned shape {v.shape}, expected ({len(items)}, {d})")
                parts.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
                mods += [mod] * len(items)
        raw, mods = np.concatenate(parts), np.asarray(mods, dtype=object)
        cur = self._current(raw, mods)
        k0 = len(self.aug_raw)
        ids = [f"{set_name}-{k0 + j}" for j in range(len(raw))]
        items = [None] * len(pil) + texts
        extra = EmbeddingSet(
            cur, modality=list(mods), ids=ids, labels=[str(set_name)] * len(raw), items=items, normalize=False
        )
        new_es = EmbeddingSet.concat([es, extra])
        if "space" not in es.frame.columns:
            new_es.frame = new_es.frame.drop(columns="space")
        xy_new = B.as_positions(proj.transform(cur), len(cur))
        xy = np.concatenate([self.positions[self.method], xy_new])
        self.embeddings, self.positions = new_es, {self.method: xy}
        self.aug_raw = np.concatenate([self.aug_raw, raw])
        self.aug_modality = np.concatenate([self.aug_modality, mods])
        self.aug_fixed = np.concatenate([self.aug_fixed, np.zeros(len(raw), bool)])
        self.predictions = self.predict(new_es)
        return np.arange(es.n, new_es.n, dtype=np.uint32), pil

    def _adopt_augmented(self, aligner):
        """Rows past the aligner's are augmented rows (a reopened session). Their saved vectors are original-space
        ones while the aligner has no rounds; after rounds they are not, so those rows stay where they are (rounds
        neither move them nor take them as extras) and a warning says so."""
        import warnings

        es, nb = self.embeddings, aligner.embeddings_.n
        fixed = bool(len(aligner.history_) or len(aligner.undone_))
        if fixed:
            warnings.warn(
                f"{es.n - nb} point(s) added with augment before alignment rounds keep their saved places: their "
                "original vectors are not in the session, so rounds neither move them nor take them as few-shot "
                "extras; add them again with w.augment for that",
                stacklevel=3,
            )
        self.n_base = nb
        self.aug_raw = np.asarray(es.vectors[nb:], np.float32)
        self.aug_modality = np.asarray(es.modality[nb:], dtype=object)
        self.aug_fixed = np.full(es.n - nb, fixed)

    def _current(self, raw, mods, fixed=None):
        """Original-space vectors ``raw`` mapped through the aligner's applied rounds (today's space); rows
        ``fixed`` stay as they are."""
        if self.aligner is None or not len(self.aligner.history_):
            return raw
        out = raw.copy()
        moving = np.ones(len(raw), bool) if fixed is None else ~fixed
        for m in dict.fromkeys(mods[moving]):
            sel = moving & (mods == m)
            out[sel] = self.aligner.transform_encoded(raw[sel], str(m))
        return out

    def _with_augmented(self, base_es):
        """The aligner's embeddings plus the augmented rows, mapped to the same point of the history."""
        if not len(self.aug_raw):
            return base_es
        vec = np.concatenate([base_es.vectors, self._current(self.aug_raw, self.aug_modality, self.aug_fixed)])
        return self.embeddings.with_vectors(vec, normalize=False)

    # ------------------------------------------------------------ history
    @property
    def future(self) -> list:
        """Rounds undone (from the widget or directly on the aligner) that can be redone, most recent last."""
        return [] if self.aligner is None else self.aligner.undone_

    def _check_history(self):
        if self.aligner is None:
            raise WidgetError("no aligner attached, so there are no rounds to undo or redo")

    def _adopt(self, es):
        """Show the aligner's current state: its embeddings (plus augmented rows), placed and predicted."""
        es = self._with_augmented(es)
        xy = self.place(es)
        pred = self.predict(es)
        self.embeddings, self.predictions = es, pred
        self.rounds = len(self.aligner.history_)
        self.positions = {self.method: xy}
        self._seen = self.aligner.embeddings_
        return xy

    def goto(self, k: int) -> np.ndarray | None:
        """Undo / redo rounds until ``k`` rounds are applied (bit-exact vectors of that point of the history),
        then place the points again. Returns the new positions, or None when nothing changed."""
        self._check_history()
        al = self.aligner
        applied = len(al.history_)
        k = int(k)
        if not 0 <= k <= applied + len(al.undone_):
            raise WidgetError(
                f"goto({k}): the history holds rounds 0..{applied + len(al.undone_)} (0: before any round)"
            )
        if k == applied and not self.moved():
            return None
        token = al.checkpoint()
        try:
            while len(al.history_) > k:
                al.undo()
            while len(al.history_) < k:
                al.redo()
            return self._adopt(al.embeddings_)
        except BaseException:
            al.rollback(token)
            raise

    def moved(self) -> bool:
        """Whether the aligner was stepped, undone or redone directly (from a cell) since this state showed it."""
        return self.aligner is not None and self.aligner.embeddings_ is not self._seen

    def sync(self) -> np.ndarray | None:
        """Follow what was done on the aligner directly (``w.aligner.undo()`` in a cell): the new positions, or
        None when it is where this state last showed it."""
        if not self.moved():
            return None
        return self._adopt(self.aligner.embeddings_)

    def history(self) -> dict:
        """History strip: one chip per round (applied, then undone ones that can be redone), and where we are."""
        if self.aligner is None:
            return {"chips": [], "current": 0}
        es = self.embeddings
        applied = list(self.aligner.history_)
        chips = [
            {"k": i + 1, "words": round_words(r.constraints, es), "identity": bool(r.is_identity), "applied": True}
            for i, r in enumerate(applied)
        ]
        for j, r in enumerate(reversed(self.future)):
            k = len(applied) + j + 1
            chips.append(
                {"k": k, "words": round_words(r.constraints, es), "identity": bool(r.is_identity), "applied": False}
            )
        return {"chips": chips, "current": len(applied)}

    # ------------------------------------------------------------ what the views show
    def default_labels(self, max_labels: int = 60) -> list:
        es = self.embeddings
        if "text" not in es.modalities:
            return []
        tidx = es.indices("text")
        if len(tidx) == 0 or len(tidx) > max_labels:
            return []
        items = es.items
        out = []
        for i in tidx:
            txt = (
                items[i]
                if items is not None and isinstance(items[i], str)
                else (es.labels[i] if es.labels is not None else None)
            )
            if txt:
                s = str(txt)
                out.append([int(i), s if len(s) <= 28 else s[:27] + "\u2026"])
        return out

    def status(self) -> str:
        parts = []
        if self.rounds:
            parts.append(f"alignment rounds: {self.rounds}")
        if self.predictions is not None:
            parts.append(f"{len(self.prompt_names)} classes")
        return " \u00b7 ".join(parts)

    def tooltip(self, index: int, thumbs: dict) -> dict:
        """Text, label, prediction and (for images with a readable item) a PNG thumbnail of row ``index``."""
        es = self.embeddings
        frame = es.frame  # single cells (.iat): the column properties copy all n rows
        info = {}
        mod = str(frame["modality"].iat[index])
        item = frame["item"].iat[index] if "item" in frame else None
        if mod != "image" and isinstance(item, str):  # texts show their text; image items are paths
            info["text"] = item if len(item) <= 300 else item[:299] + "\u2026"
        else:
            info["text"] = f"{mod} {frame['id'].iat[index]}"
        label = frame["label"].iat[index] if "label" in frame else None
        if label is not None and label == label:
            info["label"] = label
        if self.predictions is not None and self.predictions[index] is not None:
            info["prediction"] = self.predictions[index]
        missing = item is None or (isinstance(item, float) and item != item)  # pandas turns None into NaN
        if mod == "image":  # augmented images have no item, only the thumbnail made when they were added
            if index not in thumbs and not missing:
                try:
                    thumbs[index] = make_thumbnail(item, 96)
                except Exception:  # an unreadable item shows no thumbnail; the tooltip still works
                    thumbs[index] = None
            if thumbs.get(index) is not None:
                info["png"] = thumbs[index]
        return info
