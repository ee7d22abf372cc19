"""The ``guard=`` parameter of ``Aligner`` checked (``guard.py`` runs it): tolerance, rows watched, labels, pairs,
the alpha grid, a labelled guard set, concepts, and the rules' settings (``min_count``, ``keep_selected``,
``pick``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import AlignmentError

__all__ = ["ALPHAS", "DEFAULT_TOLERANCE", "GuardSpec", "check_alpha", "check_guard", "guard_ok", "guard_to_json"]

DEFAULT_TOLERANCE = 0.01
ALPHAS = tuple(round(x, 4) for x in np.linspace(0.0, 1.0, 21))
PICKS = ("largest", "best_target")


@dataclass
class GuardSpec:
    """A checked ``guard=`` parameter."""

    tolerance: float = DEFAULT_TOLERANCE
    on: np.ndarray | None = None  # rows watched (None: every unselected row)
    labels: np.ndarray | None = None  # per-row labels overriding the set's
    pairs: tuple | None = None  # (rows_a, rows_b) of pairs whose recall@1 is watched
    alphas: tuple = ALPHAS
    set: object = None  # a labelled EmbeddingSet outside the aligned one (mapped through the round, then read)
    concepts: np.ndarray | None = None  # rows read as concepts (None: every text row)
    min_count: int | None = None  # a reading's smallest denominator, unlabelled rule (None: ceil(1 / tolerance))
    keep_selected: bool = True  # a constraint's rows that satisfied it before count as watched too
    pick: str = "best_target"  # among alphas within the tolerance: the best target (ties: larger), or "largest"

    def floor(self) -> int:
        """The smallest number of rows a reading's share is taken over (``min_count``; not for labelled classes)."""
        if self.min_count is not None:
            return int(self.min_count)
        return int(np.ceil(1.0 / self.tolerance - 1e-9)) if 0 < self.tolerance < np.inf else 1

    def reading(self, alphas) -> GuardSpec:
        """This spec to read a state at ``alphas`` whatever the regression: the last alpha itself is picked (the
        best target of them could be another) and each reading keeps this spec's floor (no floor at tolerance
        infinity)."""
        return replace(self, tolerance=float("inf"), alphas=tuple(alphas), pick="largest", min_count=self.floor())

    def choose(self, ok, target) -> int:
        """The index picked among ``ok`` (alphas within the tolerance; 0 when none is): the largest, or with
        ``pick="best_target"`` the one whose target is highest, the larger on a tie (the largest where the target
        cannot be read)."""
        if not ok:
            return 0
        if self.pick == "best_target" and all(target[i] is not None for i in ok):
            return max(ok, key=lambda i: (target[i], i))
        return max(ok)


def check_guard(guard, n: int | None = None) -> GuardSpec | None:
    """``guard`` ("auto", None or a dict with ``tolerance``, ``on``, ``labels``, ``pairs``) as a GuardSpec."""
    if guard is None:
        return None
    if _is_set(guard):
        guard = {"set": guard}
    if isinstance(guard, str):
        if guard != "auto":
            raise AlignmentError(
                f"Aligner: guard must be 'auto', None or a dict(tolerance=..., on=rows), got {guard!r}."
            )
        return GuardSpec()
    if isinstance(guard, GuardSpec):
        return guard
    if not isinstance(guard, dict):
        raise AlignmentError(
            f"Aligner: guard must be 'auto', None or a dict(tolerance=..., on=rows), got {type(guard).__name__}."
        )
    unknown = set(guard) - {
        "tolerance",
        "on",
        "labels",
        "pairs",
        "alphas",
        "set",
        "concepts",
        "min_count",
        "keep_selected",
        "pick",
    }
    if unknown:
        raise AlignmentError(
            f"Aligner: unknown guard key(s) {sorted(unknown)}; use tolerance, on, labels, pairs, alphas, set, "
            "concepts, min_count, keep_selected or pick."
        )
    tol = guard.get("tolerance", DEFAULT_TOLERANCE)
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol >= 0):
        raise AlignmentError(f"Aligner: guard tolerance must be a non-negative number (0.01 = one point), got {tol!r}.")
    spec = GuardSpec(tolerance=float(tol))
    if guard.get("on") is not None:
        on = np.asarray(guard["on"])
        if on.dtype == bool:
            on = np.flatnonzero(on)
        if on.ndim != 1 or (on.size and (not np.issubdtype(on.dtype, np.integer) or on.min() < 0)):
            raise AlignmentError("Aligner: guard on= must be row indices (or a boolean mask) of the set.")
        if n is not None and on.size and on.max() >= n:
            raise AlignmentError(f"Aligner: guard on= names row {int(on.max())}, but the set has {n} rows.")
        spec.on = np.unique(on.astype(np.int64))
    if guard.get("labels") is not None:
        lab = np.asarray(guard["labels"], dtype=object)
        if n is not None and lab.shape != (n,):
            raise AlignmentError(f"Aligner: guard labels= needs one label per row ({n}), got shape {lab.shape}.")
        spec.labels = lab
    if guard.get("pairs") is not None:
        pa, pb = (np.asarray(x, np.int64) for x in guard["pairs"])
        if pa.shape != pb.shape or pa.ndim != 1:
            raise AlignmentError("Aligner: guard pairs= must be two equally long lists of rows (row a[i] pairs b[i]).")
        spec.pairs = (pa, pb)
    if guard.get("min_count") is not None:
        mc = guard["min_count"]
        if isinstance(mc, bool) or not isinstance(mc, (int, np.integer)) or mc < 1:
            raise AlignmentError(f"Aligner: guard min_count must be a whole number >= 1 (rows), got {mc!r}.")
        spec.min_count = int(mc)
    if guard.get("keep_selected") is not None:
        if not isinstance(guard["keep_selected"], (bool, np.bool_)):
            raise AlignmentError(f"Aligner: guard keep_selected must be True or False, got {guard['keep_selected']!r}.")
        spec.keep_selected = bool(guard["keep_selected"])
    if guard.get("pick") is not None:
        if guard["pick"] not in PICKS:
            raise AlignmentError(f"Aligner: guard pick must be one of {list(PICKS)}, got {guard['pick']!r}.")
        spec.pick = str(guard["pick"])
    if guard.get("concepts") is not None:
        spec.concepts = np.unique(np.asarray(guard["concepts"], np.int64))
    if guard.get("set") is not None:
        gs = guard["set"]
        if not _is_set(gs) or gs.labels is None:
            raise AlignmentError(
                "Aligner: guard set= must be a labelled EmbeddingSet (rows of the same space, with labels that "
                "name the set's concepts, e.g. held-out images labelled with their class)."
            )
        spec.set = gs
    if guard.get("alphas") is not None:
        al = sorted({float(a) for a in guard["alphas"]} | {0.0, 1.0})
        if min(al) < 0 or max(al) > 1:
            raise AlignmentError("Aligner: guard alphas must lie in [0, 1].")
        spec.alphas = tuple(al)
    return spec


def _is_set(x) -> bool:
    from ..data.embeddings import EmbeddingSet

    return isinstance(x, EmbeddingSet)


def guard_to_json(guard):
    """The ``guard`` parameter as JSON (for Aligner files; a guard set is not stored: its tolerance is)."""
    if guard is None or isinstance(guard, str):
        return guard
    if _is_set(guard):
        return {}
    out = {}
    for k, v in dict(guard).items():
        if k == "set":
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, tuple):
            v = [np.asarray(x).tolist() for x in v]
        out[k] = v
    return out


def check_alpha(alpha, where="a round") -> float:
    """A strength from a caller or a file: a number in [0, 1]."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0.0 <= float(alpha) <= 1.0:
        raise AlignmentError(f"{where}: a round's strength alpha must be a number in [0, 1], got {alpha!r}.")
    return float(alpha)


def guard_ok(guard) -> bool:
    """True when ``guard`` is a valid ``Aligner(guard=...)`` value (for the parameter check)."""
    check_guard(guard)
    return True
