"""Constraints: what a lasso selection turns into (docs/methods.md section 4).

``PointSet(anchor, members)`` says "these points belong to (pull) / should leave (push) this anchor";
``SetSet(a, b)`` says "these two sets should match (pull) / separate (push)". Both take row indices
straight from the widget (``w.sets[...]``, ``w.selected``; int arrays or boolean masks).

Constraints are light descriptions; :meth:`Constraint.resolve` turns one into arrays against a concrete
EmbeddingSet (and encoder, for text anchors and few-shot items) and is where every check happens, so
an ``Aligner`` can reject a bad constraint before it changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.embeddings import MODALITIES
from ..data.validation import check_rows, check_vectors
from ..errors import AlignmentError

DIRECTIONS = ("pull", "push")


# ---------------------------------------------------------------------------- helpers
def _check_direction(direction, where):
    if direction not in DIRECTIONS:
        raise AlignmentError(f"{where}: direction must be 'pull' or 'push', got {direction!r}.")
    return direction


def _as_index_array(idx, where):
    """Keep what the widget gives (list / int array / bool mask) as a numpy array; checked at resolve time."""
    if idx is None:
        raise AlignmentError(f"{where}: no set given; pass row indices (e.g. w.selected or w.sets['name']).")
    if isinstance(idx, (str, bytes)):
        raise AlignmentError(f"{where}: expected row indices, got the string {idx!r}.")
    arr = np.asarray(list(idx) if isinstance(idx, (set, frozenset)) else idx)
    if arr.dtype == object:
        raise AlignmentError(f"{where}: expected integer row indices or a boolean mask.")
    if arr.size and arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise AlignmentError(f"{where}: expected integer row indices or a boolean mask, got dtype {arr.dtype}.")
    return arr.ravel() if arr.dtype != bool else arr


def _rows(es, idx, where):
    return check_rows(idx, es.n, where)


def _normalise(v, where, dim=None):
    """Unit float32 rows, checked by the package's one vector validator (EmbeddingError)."""
    v = np.asarray(v)
    one = v.ndim == 1
    out = check_vectors(v, where, dim=dim, normalize="always", allow_1d=True)
    return out[0] if one else out


def encode(encoder, items, modality, where):
    """Embed raw items with the attached ``Encoder`` (``Encoder.encode(items, modality)``)."""
    if encoder is None:
        raise AlignmentError(
            f"{where}: {modality} items need an encoder to embed them; pass encoder=... to the "
            "Aligner (e.g. load_default().encoder), or give vectors instead."
        )
    items = list(items)
    try:
        out = encoder.encode(items, modality)
    except Exception as exc:
        raise AlignmentError(
            f"{where}: the encoder failed on the {modality} items ({type(exc).__name__}: {exc})."
        ) from exc
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float32)
    if out.ndim == 1:
        out = out[None]
    if out.shape[0] != len(items):
        raise AlignmentError(f"{where}: the encoder returned {out.shape[0]} vectors for {len(items)} items.")
    return out


# ---------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Extra:
    """Few-shot items tagged into a set: raw images, raw texts, or ready vectors (with their modality)."""

    images: tuple = ()
    texts: tuple = ()
    vectors: np.ndarray | None = None
    modality: str = "image"

    def resolve(self, encoder, dim, where):
        vecs, mods = [], []
        if self.images:
            vecs.append(encode(encoder, self.images, "image", where))
            mods += ["image"] * len(self.images)
        if self.texts:
            vecs.append(encode(encoder, self.texts, "text", where))
            mods += ["text"] * len(self.texts)
        if self.vectors is not None:
            vecs.append(np.asarray(self.vectors, dtype=np.float32))
            mods += [self.modality] * len(vecs[-1])
        if not vecs:
            return np.zeros((0, dim), np.float32), np.zeros(0, dtype=object)
        bad = [v.shape[1] for v in vecs if v.shape[1] != dim]
        if bad:
            raise AlignmentError(f"{where}: augmented vectors have dimension {bad[0]}, the set has {dim}.")
        out = np.concatenate(vecs)
        if out.shape[1] != dim:
            raise AlignmentError(f"{where}: augmented vectors have dimension {out.shape[1]}, the set has {dim}.")
        return _normalise(out, f"{where} (augmented vectors)"), np.array(mods, dtype=object)


def synthesize(concepts, weights, noise: float = 0.0, random_state=None) -> np.ndarray:
    """Synthetic embeddings as weighted combinations of concept embeddings, L2-normalised (few-shot extras).

    Parameters
    ----------
    concepts : array-like of shape (k, d)
        E.g. text embeddings of "a dog", "grass".
    weights : array-like of shape (m, k) or (k,)
        One row of weights per sample.
    noise : float, default=0.0
        Std of Gaussian noise per coordinate, to spread the samples.
    random_state : int, optional

    Returns
    -------
    ndarray of shape (m, d), float32

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.alignment import synthesize
    >>> synthesize(np.eye(3), [[1, 1, 0], [0, 0, 1]]).astype(float).round(3).tolist()
    [[0.707, 0.707, 0.0], [0.0, 0.0, 1.0]]
    """
    c = np.asarray(concepts, dtype=np.float32)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float32))
    if c.ndim != 2 or w.shape[1] != c.shape[0]:
        raise AlignmentError(
            f"synthesize: weights of shape {w.shape} do not match {c.shape[0] if c.ndim == 2 else '?'} "
            "concepts; give one weight per concept (per row)."
        )
    out = w @ c
    if noise:
        out = out + np.random.default_rng(random_state).normal(0.0, noise, out.shape).astype(np.float32)
    return _normalise(out, "synthesize")


# ---------------------------------------------------------------------------- resolved form
@dataclass
class Resolved:
    """A constraint turned into arrays on one EmbeddingSet; ``vectors`` are in the aligner's current space."""

    kind: str
    direction: str
    weight: float
    # point-set
    anchor: np.ndarray | None = None  # (d,) current-space vector
    anchor_modality: str | None = None
    anchor_row: int | None = None
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    members_extra: np.ndarray | None = None  # (k, d) current-space vectors
    members_extra_mod: np.ndarray | None = None
    # set-set
    a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    a_extra: np.ndarray | None = None
    a_extra_mod: np.ndarray | None = None
    b_extra: np.ndarray | None = None
    b_extra_mod: np.ndarray | None = None
    paired: bool = False

    def rows(self) -> np.ndarray:
        """All rows of the set this constraint touches (the 'selected' points)."""
        parts = [self.members, self.a, self.b]
        if self.anchor_row is not None:
            parts.append(np.array([self.anchor_row]))
        return np.unique(np.concatenate(parts)).astype(np.int64)


# ---------------------------------------------------------------------------- constraints
class Constraint:
    """Base: direction, weight, and few-shot extras; subclasses define ``resolve``."""

    kind = "constraint"

    def _set_common(self, direction, weight):
        self.direction = _check_direction(direction, type(self).__name__)
        if not np.isfinite(weight) or weight <= 0:
            raise AlignmentError(f"{type(self).__name__}: weight must be a positive number, got {weight!r}.")
        self.weight = float(weight)

    def augment(self, images=(), texts=(), vectors=None, modality="image", side="members"):
        """A copy of this constraint with few-shot items added to one of its sets.

        ``images``: image files / arrays / PIL images (embedded by the aligner's encoder); ``texts``: strings;
        ``vectors``: ready embeddings of ``modality`` (e.g. from :func:`synthesize`). ``side`` is
        ``"members"`` for a PointSet, ``"a"`` or ``"b"`` for a SetSet.
        """
        sides = self._sides()
        if side not in sides:
            raise AlignmentError(f"{type(self).__name__}.augment: side must be one of {sides}, got {side!r}.")
        if modality not in MODALITIES:
            raise AlignmentError(f"augment: unknown modality {modality!r}; use one of {list(MODALITIES)}.")
        if vectors is not None:
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.ndim == 1:
                vectors = vectors[None]
            if vectors.ndim != 2:
                raise AlignmentError(f"augment: vectors must be (n, d), got shape {vectors.shape}.")
        if isinstance(texts, str):
            texts = [texts]
        new = Extra(tuple(images), tuple(texts), vectors, modality)
        out = self._copy()
        old = out.extras.get(side)
        if old is not None:  # merge with what was tagged before
            vec = new.vectors
            if old.vectors is not None and vec is not None:
                if old.modality != modality:
                    raise AlignmentError(
                        "augment: augment one modality of vectors per call per side; "
                        f"{side!r} already has {old.modality} vectors."
                    )
                vec = np.concatenate([old.vectors, vec])
            elif old.vectors is not None:
                vec, modality = old.vectors, old.modality
            new = Extra(old.images + new.images, old.texts + new.texts, vec, modality)
        out.extras = {**out.extras, side: new}
        return out

    def _copy(self):
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        return out

    def n_points(self) -> int:
        """How many points the constraint holds: distinct rows of its sets plus few-shot extras."""
        n = sum(
            len(np.unique(_idx_list(getattr(self, side)))) for side in self._sides() if getattr(self, side) is not None
        )
        for ex in self.extras.values():
            n += len(ex.images) + len(ex.texts) + (0 if ex.vectors is None else len(ex.vectors))
        return int(n)

    def _resolve_extra(self, side, aligner, where):
        ex = self.extras.get(side)
        if ex is None:
            return None, None
        vec, mod = ex.resolve(aligner.encoder, aligner.embeddings_.dim, where)
        if len(vec) == 0:
            return None, None
        cur = np.empty_like(vec)
        for m in np.unique(mod):  # raw embeddings live in the original space: map them through past rounds
            sel = mod == m
            cur[sel] = aligner.transform_encoded(vec[sel], m)
        if not np.isfinite(cur).all():
            raise AlignmentError(f"{where}: augmented vectors became NaN after earlier rounds; re-encode them.")
        return cur, mod


class PointSet(Constraint):
    """Anchor + set: pull the set to the anchor (it becomes their best-matching concept) or push it away.

    Parameters
    ----------
    anchor : int, str or ndarray of shape (d,)
        A row index of the set, a text (embedded by the encoder, or matched exactly against the set's text
        items / labels when no encoder is attached), or a vector of the original space.
    members : array-like of int or bool
        Row indices (e.g. ``w.selected``, ``w.sets["name"]``) or a boolean mask.
    direction : {"pull", "push"}, default="pull"
        Pull: the anchor becomes the members' best-matching concept. Push: each member ends at least
        ``margin`` below its starting cosine to the anchor.
    weight : float, default=1.0
        Multiplies this constraint's loss (its mean over its own points); see ``weigh_by_size``.
    anchor_modality : str, optional
        The anchor's modality when it is a vector or a text (default "text").

    Examples
    --------
    >>> from modalchorus_widget import PointSet
    >>> c = PointSet(10, [0, 1, 2])
    >>> c.kind, c.direction, len(c.members)
    ('point-set', 'pull', 3)
    """

    kind = "point-set"

    def __init__(self, anchor, members, direction="pull", weight=1.0, anchor_modality=None):
        self._set_common(direction, weight)
        if isinstance(anchor, (bool, np.bool_)) or anchor is None:
            raise AlignmentError(f"PointSet: anchor must be a row index, a text or a vector, got {anchor!r}.")
        if isinstance(anchor, (list, tuple, np.ndarray)) and not isinstance(anchor, str):
            anchor = np.asarray(anchor, dtype=np.float32)
            if anchor.ndim == 0:
                anchor = int(anchor)
            elif anchor.ndim != 1:
                raise AlignmentError(f"PointSet: a vector anchor must be 1-D, got shape {anchor.shape}.")
        elif isinstance(anchor, (int, np.integer)):
            anchor = int(anchor)
        elif not isinstance(anchor, str):
            raise AlignmentError(
                f"PointSet: anchor must be a row index, a text or a vector, got {type(anchor).__name__}."
            )
        self.anchor = anchor
        self.anchor_modality = anchor_modality
        self.members = _as_index_array(members, "PointSet members")
        self.extras = {}

    def _sides(self):
        return ("members",)

    def describe(self) -> str:
        a = self.anchor if not isinstance(self.anchor, np.ndarray) else f"<vector d={self.anchor.size}>"
        n = int(self.members.sum()) if self.members.dtype == bool else self.members.size
        return f"PointSet({a!r}, {n} members, {self.direction})"

    __repr__ = describe

    def resolve(self, aligner) -> Resolved:
        es = aligner.embeddings_
        members = np.unique(_rows(es, self.members, "PointSet members"))
        extra, extra_mod = self._resolve_extra("members", aligner, "PointSet augmentation")
        if members.size == 0 and extra is None:
            raise AlignmentError("PointSet: the member set is empty; select some points (w.selected) first.")
        anchor_row = None
        a = self.anchor
        if isinstance(a, int):
            if not 0 <= a < es.n:
                raise AlignmentError(f"PointSet: unknown anchor row {a}; the set has rows 0..{es.n - 1}.")
            anchor_row, vec, mod = a, es.vectors[a], str(es.modality[a])
        elif isinstance(a, str):
            mod = self.anchor_modality or "text"
            anchor_row = _find_text(es, a, mod)
            if anchor_row is not None:
                vec = es.vectors[anchor_row]
            elif aligner.encoder is None:
                raise AlignmentError(
                    f"PointSet: unknown anchor {a!r}: no {mod} row of the set has that text or label, and no "
                    "encoder is attached to embed it. Pass encoder=... to the Aligner or use a row index."
                )
            else:
                raw = encode(aligner.encoder, [a], mod, f"PointSet anchor {a!r}")
                vec = aligner.transform_encoded(_normalise(raw, f"PointSet anchor {a!r}"), mod)[0]
        else:
            mod = self.anchor_modality or "text"
            vec = aligner.transform(_normalise(a[None], "PointSet anchor vector", dim=es.dim), mod)[0]
        if mod not in MODALITIES:
            raise AlignmentError(f"PointSet: unknown anchor modality {mod!r}; use one of {list(MODALITIES)}.")
        if anchor_row is not None:
            members = members[members != anchor_row]
            if members.size == 0 and extra is None:
                raise AlignmentError("PointSet: the member set holds only the anchor itself; select other points.")
        return Resolved(
            self.kind,
            self.direction,
            self.weight,
            anchor=np.array(vec, dtype=np.float32, copy=True),
            anchor_modality=mod,
            anchor_row=anchor_row,
            members=members,
            members_extra=extra,
            members_extra_mod=extra_mod,
        )

    def to_dict(self) -> dict:
        a = self.anchor.tolist() if isinstance(self.anchor, np.ndarray) else self.anchor
        return {
            "kind": self.kind,
            "anchor": a,
            "anchor_is_vector": isinstance(self.anchor, np.ndarray),
            "anchor_modality": self.anchor_modality,
            "members": _idx_list(self.members),
            "direction": self.direction,
            "weight": self.weight,
            "extras": _extras_dict(self.extras),
        }


class SetSet(Constraint):
    """Two sets: pull (match their distributions) or push (separate them).

    Parameters
    ----------
    a : array-like of int or bool
        Row indices (or a mask) of the first set.
    b : array-like of int or bool, optional
        The second set. None splits ``a`` by modality (a lasso around images *and* texts: pull them
        together); it then needs exactly two modalities.
    direction : {"pull", "push"}, default="pull"
        Pull matches the two sets' distributions; push separates them.
    paired : bool, default=False
        Row i of ``a`` goes with row i of ``b`` (e.g. images and their captions): adds a contrastive term
        over the pairs.
    weight : float, default=1.0
        Multiplies this constraint's loss.

    Examples
    --------
    >>> from modalchorus_widget import SetSet
    >>> c = SetSet(range(0, 300), range(500, 800), paired=True)   # COCO-500: 300 images with their captions
    >>> c.kind, c.paired, len(c.a), len(c.b)
    ('set-set', True, 300, 300)
    """

    kind = "set-set"

    def __init__(self, a, b=None, direction="pull", paired=False, weight=1.0):
        self._set_common(direction, weight)
        self.a = _as_index_array(a, "SetSet a")
        self.b = None if b is None else _as_index_array(b, "SetSet b")
        self.paired = bool(paired)
        if self.paired and self.b is None:
            raise AlignmentError("SetSet: paired=True needs both a and b (row i of a pairs with row i of b).")
        self.extras = {}

    def _sides(self):
        return ("a", "b")

    def describe(self) -> str:
        na = int(self.a.sum()) if self.a.dtype == bool else self.a.size
        nb = "split by modality" if self.b is None else (int(self.b.sum()) if self.b.dtype == bool else self.b.size)
        return f"SetSet({na} vs {nb}, {self.direction}{', paired' if self.paired else ''})"

    __repr__ = describe

    def resolve(self, aligner) -> Resolved:
        es = aligner.embeddings_
        a = _rows(es, self.a, "SetSet a")
        if self.b is None:
            a = np.unique(a)
            if a.size == 0:
                raise AlignmentError("SetSet: the set is empty; select some points (w.selected) first.")
            mods = es.modality[a]
            present = list(dict.fromkeys(mods))
            if len(present) != 2:
                raise AlignmentError(
                    f"SetSet with one set splits it by modality and needs exactly two modalities, but the set is "
                    f"all {present[0]!r}"
                    + ("" if len(present) == 1 else f" (got {present})")
                    + ". Select points of both modalities, or pass a second set b."
                )
            b = a[mods == present[1]]
            a = a[mods == present[0]]
        else:
            b = _rows(es, self.b, "SetSet b")
            if not self.paired:
                a, b = np.unique(a), np.unique(b)
        a_extra, a_mod = self._resolve_extra("a", aligner, "SetSet augmentation of a")
        b_extra, b_mod = self._resolve_extra("b", aligner, "SetSet augmentation of b")
        for name, rows, ex in (("a", a, a_extra), ("b", b, b_extra)):
            if rows.size == 0 and ex is None:
                raise AlignmentError(f"SetSet: set {name} is empty; select some points for it.")
        if self.paired:
            if a.size != b.size:
                raise AlignmentError(f"SetSet: paired=True needs sets of equal length, got {a.size} and {b.size}.")
            if a_extra is not None or b_extra is not None:
                raise AlignmentError("SetSet: few-shot augmentation is not supported with paired=True.")
        elif np.intersect1d(a, b).size:
            raise AlignmentError(
                f"SetSet: sets a and b share {np.intersect1d(a, b).size} row(s); a point cannot be on both sides."
            )
        return Resolved(
            self.kind,
            self.direction,
            self.weight,
            a=a,
            b=b,
            a_extra=a_extra,
            a_extra_mod=a_mod,
            b_extra=b_extra,
            b_extra_mod=b_mod,
            paired=self.paired,
        )

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "a": _idx_list(self.a),
            "b": None if self.b is None else _idx_list(self.b),
            "direction": self.direction,
            "paired": self.paired,
            "weight": self.weight,
            "extras": _extras_dict(self.extras),
        }


def weigh_by_size(*constraints) -> list:
    """Copies of ``constraints`` weighted by how many points each holds, so every selected point counts the same.

    Unweighted, each constraint counts the same: a lasso of 40 red squares would weigh as much as one of 60 red
    circles beside it. Weights given by hand multiply on top.

    Parameters
    ----------
    *constraints : PointSet or SetSet
        One or more constraints (unpack a list with ``*``).

    Returns
    -------
    list of constraints
        Copies whose weights are their own times n_i / mean(n).

    Raises
    ------
    AlignmentError
        No constraints, something that is not a constraint, or an empty one.

    Examples
    --------
    >>> from modalchorus_widget import PointSet, weigh_by_size
    >>> a, b = weigh_by_size(PointSet(0, range(1, 41)), PointSet(1, range(41, 101), weight=2.0))
    >>> round(a.weight, 2), round(b.weight, 2)
    (0.8, 2.4)
    """
    if not constraints:
        raise AlignmentError("weigh_by_size: give one or more constraints.")
    bad = [type(c).__name__ for c in constraints if not isinstance(c, Constraint)]
    if bad:
        raise AlignmentError(
            f"weigh_by_size: got a {bad[0]}, not a constraint; pass the constraints as arguments, "
            "weigh_by_size(PointSet(...), PointSet(...))"
            + (", or unpack a list with *." if bad[0] in ("list", "tuple") else ".")
        )
    sizes = np.array([c.n_points() for c in constraints], np.float64)
    if (sizes == 0).any():
        raise AlignmentError(
            f"weigh_by_size: constraint {int(np.argmin(sizes))} is empty (it holds no points); select some points "
            "(w.selected or w.sets[...]) first."
        )
    out = []
    for c, n in zip(constraints, sizes / sizes.mean()):
        w = c._copy()
        w.weight = float(c.weight * n)
        out.append(w)
    return out


def _find_text(es, text, modality):
    """Row of ``modality`` whose item text or label equals ``text`` (first match), else None."""
    if modality not in es.modalities:
        return None
    mask = es.mask(modality)
    for col in ("item", "label"):
        if col in es.frame:
            hit = np.flatnonzero(mask & (es.frame[col].astype(str).to_numpy() == text))
            if hit.size:
                return int(hit[0])
    return None


def _idx_list(arr):
    arr = np.asarray(arr)
    return np.flatnonzero(arr).tolist() if arr.dtype == bool else arr.astype(np.int64).tolist()


def _extras_dict(extras):
    out = {}
    for side, ex in extras.items():
        out[side] = {
            "n_images": len(ex.images),
            "texts": list(ex.texts),
            "modality": ex.modality,
            "vectors": None if ex.vectors is None else ex.vectors.tolist(),
        }
    return out


def constraint_from_dict(d: dict) -> Constraint:
    """Rebuild a constraint saved with ``to_dict`` (raw few-shot images are not kept, only their count)."""
    if d["kind"] == "point-set":
        anchor = np.asarray(d["anchor"], np.float32) if d.get("anchor_is_vector") else d["anchor"]
        c = PointSet(anchor, np.asarray(d["members"], np.int64), d["direction"], d["weight"], d.get("anchor_modality"))
    elif d["kind"] == "set-set":
        b = None if d["b"] is None else np.asarray(d["b"], np.int64)
        c = SetSet(np.asarray(d["a"], np.int64), b, d["direction"], d.get("paired", False), d["weight"])
    else:
        raise AlignmentError(f"unknown constraint kind {d['kind']!r} in a saved history.")
    for side, ex in (d.get("extras") or {}).items():
        vec = None if ex["vectors"] is None else np.asarray(ex["vectors"], np.float32)
        c.extras[side] = Extra((), tuple(ex["texts"]), vec, ex["modality"])
    return c
