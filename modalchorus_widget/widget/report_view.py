"""What the widget draws after an alignment round, as small JSON-able dicts (no per-point arrays).

``round_view`` turns one round (vectors and predictions before / after) into the figures the report panel
draws as pictures: per-class zero-shot accuracy of the images the round did not select, with the selected
ones' overall accuracy beside it (paired bars), recall@1/5 of the set's true pairs, a
histogram of how far selected vs unselected rows moved, and how many predictions changed outside the
selection. ``constraint_words`` says what a round asked for in words (one history chip per round).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..alignment.constraints import PointSet, SetSet
from ..evaluation import accuracy, per_class_accuracy, recall_at_k

__all__ = ["round_view", "constraint_words", "round_words", "constraint_rows", "class_accuracy_view", "guard_view"]

_MAX_PAIR_QUERIES = 1000  # recall@k over at most this many true pairs (a sample above), against every key
_MAX_PAIR_KEYS = 200_000
_HIST_BINS = 12


def _r(x) -> float:
    return round(float(x), 4)


def _as_rows(idx, n: int) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.dtype == bool:
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.astype(np.int64).ravel()
    return arr[(arr >= 0) & (arr < n)]


def constraint_rows(constraints, n: int) -> np.ndarray:
    """The rows of the set the constraints touch (members, both sides of a set-set, anchor rows)."""
    parts = [np.zeros(0, np.int64)]
    for c in constraints:
        if isinstance(c, PointSet):
            parts.append(_as_rows(c.members, n))
            if isinstance(c.anchor, int):
                parts.append(np.array([c.anchor], np.int64))
        elif isinstance(c, SetSet):
            parts.append(_as_rows(c.a, n))
            if c.b is not None:
                parts.append(_as_rows(c.b, n))
    return np.unique(np.concatenate(parts))


def _count_words(rows, es) -> str:
    if len(rows) == 0:
        return "0 points"
    mods, counts = np.unique(es.modality[rows], return_counts=True)
    return " + ".join(f"{c} {m}{'' if c == 1 else 's'}" for m, c in zip(mods, counts))


def _short(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _row_name(row: int, es) -> str:
    f = es.frame  # one row's cells (not whole columns: a million rows)
    item = f["item"].iat[row] if "item" in f else None
    label = f["label"].iat[row] if "label" in f else None
    if isinstance(item, str) and str(es.modality[row]) != "image":
        return f"'{_short(item)}'"
    if label is not None and not pd.isna(label):
        return f"{es.modality[row]} {row} ({label})"
    return f"{es.modality[row]} {row}"


def constraint_words(c, es) -> str:
    """One constraint in words, e.g. ``pull 11 images -> 'a photo of the digit 1'``."""
    if isinstance(c, PointSet):
        rows = _as_rows(c.members, es.n)
        a = c.anchor
        if isinstance(a, int) and 0 <= a < es.n:
            rows = rows[rows != a]
            anchor = _row_name(a, es)
        elif isinstance(a, str):
            anchor = f"'{_short(a)}'"
        else:
            anchor = "a vector"
        verb = "pull" if c.direction == "pull" else "push"
        arrow = "->" if c.direction == "pull" else "away from"
        return f"{verb} {_count_words(rows, es)} {arrow} {anchor}"
    if isinstance(c, SetSet):
        a = _as_rows(c.a, es.n)
        verb = "pull together" if c.direction == "pull" else "push apart"
        if c.b is None:
            return f"{verb} {_count_words(a, es)}"
        b = _as_rows(c.b, es.n)
        paired = " (paired)" if c.paired else ""
        return f"{verb} {_count_words(a, es)} and {_count_words(b, es)}{paired}"
    return type(c).__name__


def round_words(constraints, es) -> str:
    return "; ".join(constraint_words(c, es) for c in constraints) or "(no constraints)"


def _class_codes(values, code: dict, none: bool = True) -> np.ndarray:
    """Each value's class index in ``code`` (by its str), -1 for others; None is -1 when ``none``, else read as
    the str "None" (a prediction). One dictionary look-up per distinct value, not per row."""
    f, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=none)
    lut = np.array([code.get(str(u), -1) for u in uniq] + [-1], np.int64)
    return lut[f]


def class_accuracy_view(labels, pred_before, pred_after, rows, classes):
    """Per-class zero-shot accuracy of ``rows`` whose label is a class name, before and after a round (class
    names in ``pred_before`` / ``pred_after``): {classes, n, before, after, overall_before, overall_after}, the
    classes without such a row left out; None when no row has a class label."""
    if labels is None or pred_before is None or pred_after is None or len(rows) == 0:
        return None
    return _accuracy_of_codes(*_codes(labels, pred_before, pred_after, rows, classes), np.ones(len(rows), bool))


def _codes(labels, pred_before, pred_after, rows, classes):
    """(class names, label code, code before, code after) of ``rows``: each array factorised once."""
    names = [str(c) for c in classes]
    code = {c: i for i, c in enumerate(names)}
    truth = _class_codes(np.asarray(labels, dtype=object)[rows], code)
    before, after = (
        _class_codes(np.asarray(p, dtype=object)[rows], code, none=False) for p in (pred_before, pred_after)
    )
    return names, truth, before, after


def _accuracy_of_codes(names, truth, before, after, which):
    """:func:`class_accuracy_view` of the rows ``which`` (a mask) of :func:`_codes`' arrays."""
    known = which & (truth >= 0)
    if not known.any():
        return None
    truth, before, after = truth[known], before[known], after[known]
    n = np.bincount(truth, minlength=len(names))
    acc_b, acc_a = per_class_accuracy(before, truth, len(names)), per_class_accuracy(after, truth, len(names))
    shown = np.flatnonzero(n)
    return {
        "classes": [names[c] for c in shown],
        "n": [int(n[c]) for c in shown],
        "before": [_r(acc_b[c]) for c in shown],
        "after": [_r(acc_a[c]) for c in shown],
        "overall_before": _r(accuracy(before, truth)),
        "overall_after": _r(accuracy(after, truth)),
    }


def _pairs(es):
    """(image rows, text rows) of true pairs: rows sharing a value of the frame's ``pair`` column."""
    frame = es.frame
    if "pair" not in frame.columns or not {"image", "text"} <= set(es.modalities):
        return None
    import pandas as pd

    pair = frame["pair"]
    img = pd.Series(np.flatnonzero(es.mask("image")), index=pair.to_numpy()[es.mask("image")])
    txt = pd.Series(np.flatnonzero(es.mask("text")), index=pair.to_numpy()[es.mask("text")])
    img = img[~img.index.duplicated()]
    txt = txt[~txt.index.duplicated()]
    common = img.index.intersection(txt.index)
    if len(common) < 2 or len(common) > _MAX_PAIR_KEYS:
        return None
    return img[common].to_numpy(), txt[common].to_numpy()


def _recall(before, after, pairs, seed: int = 0) -> dict | None:
    if pairs is None:
        return None
    ii, tt = pairs
    q = np.arange(len(ii))
    if len(q) > _MAX_PAIR_QUERIES:
        q = np.sort(np.random.default_rng(seed).choice(len(ii), _MAX_PAIR_QUERIES, replace=False))
    out = {"n_pairs": int(len(ii)), "n_queries": int(len(q))}
    for name, vecs in (("before", before), ("after", after)):
        img, txt = vecs[ii], vecs[tt]
        for k in (1, 5):
            out[f"i2t_r{k}_{name}"] = _r(recall_at_k(img[q], txt, k, truth=q))
            out[f"t2i_r{k}_{name}"] = _r(recall_at_k(txt[q], img, k, truth=q))
    return out


def _moved_histogram(moved, selected_mask) -> dict:
    hi = float(np.quantile(moved, 0.999)) if len(moved) else 0.0
    hi = max(hi, float(moved[selected_mask].max()) if selected_mask.any() else 0.0, 1e-6)
    edges = np.linspace(0.0, hi, _HIST_BINS + 1)
    clipped = np.clip(moved, 0.0, hi)
    sel, _ = np.histogram(clipped[selected_mask], edges)
    uns, _ = np.histogram(clipped[~selected_mask], edges)
    return {
        "edges": [_r(e) for e in edges],
        "selected": sel.astype(int).tolist(),
        "unselected": uns.astype(int).tolist(),
        "selected_mean": _r(moved[selected_mask].mean()) if selected_mask.any() else 0.0,
        "unselected_mean": _r(moved[~selected_mask].mean()) if (~selected_mask).any() else 0.0,
    }


def round_view(es_before, es_after, pred_before, pred_after, rnd, classes, index: int, delta=None) -> dict:
    """The figures of round ``index`` (1-based) for the report panel; see the module docstring. ``delta``
    (``alignment.rounds.Delta``): the rows the round changed and how far, read instead of both states' rows."""
    before, after = es_before.vectors, es_after.vectors
    n = es_after.n
    selected = constraint_rows(rnd.constraints, n)
    mask = np.zeros(n, bool)
    mask[selected] = True
    if delta is not None:
        moved = delta.moved_all(n).astype(np.float64)
    else:
        moved = np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", before, after))
    report = dict(rnd.report or {})
    view = {
        "round": int(index),
        "words": round_words(rnd.constraints, es_after),
        "steps": int(report.get("steps", 0)),
        "stopped": report.get("stopped"),
        "seconds": _r(report.get("seconds", rnd.seconds)),
        "n_selected": int(len(selected)),
        "moved": _moved_histogram(moved, mask),
    }
    if rnd.mode == "anchors":  # only the anchor rows moved: name them, with how far
        rows = delta.rows if delta is not None else np.flatnonzero(np.any(before != after, axis=1))
        view["tuned"] = [{"row": int(r), "name": _row_name(int(r), es_after), "moved": _r(moved[r])} for r in rows]
    if report.get("note"):
        view["note"] = str(report["note"])
    img = np.flatnonzero(es_after.mask("image")) if "image" in es_after.modalities else np.zeros(0, np.int64)
    if pred_before is not None and pred_after is not None and len(img):
        changed = np.asarray(pred_before, dtype=object)[img] != np.asarray(pred_after, dtype=object)[img]
        view["changed_unselected"] = int((changed & ~mask[img]).sum())
        view["changed_selected"] = int((changed & mask[img]).sum())
        view["n_unselected_images"] = int((~mask[img]).sum())
    elif "predictions_changed_unselected" in report:
        view["changed_unselected"] = int(report["predictions_changed_unselected"])
        view["changed_selected"] = int(report.get("predictions_changed_selected", 0))
    labels = es_after.labels
    if classes is not None and labels is not None and pred_before is not None and pred_after is not None and len(img):
        # the images the round did not select: what it did to the rest (on the quickstart, the held-out red
        # squares); every image when the selection holds them all
        codes, chosen = _codes(labels, pred_before, pred_after, img, classes), mask[img]
        acc = _accuracy_of_codes(*codes, ~chosen)
        if acc is None:
            acc = _accuracy_of_codes(*codes, np.ones(len(img), bool))
            if acc is not None:
                acc["rows"] = "all"
        else:
            acc["rows"] = "unselected"
            sel = _accuracy_of_codes(*codes, chosen)
            if sel is not None:
                acc["selected_before"], acc["selected_after"] = sel["overall_before"], sel["overall_after"]
                acc["n_selected"] = int(sum(sel["n"]))
        if acc is not None:
            view["zero_shot"] = acc
    view.update(guard_view(report, pred_before, pred_after, img[~mask[img]]))
    rec = _recall(before, after, _pairs(es_after))
    if rec is not None:
        view["recall"] = rec
    view["constraints"] = [
        {"words": constraint_words(c, es_after), "before": _figs(f.get("before")), "after": _figs(f.get("after"))}
        for c, f in zip(rnd.constraints, report.get("constraints", []))
    ]
    return view


def _figs(d) -> dict:
    return {str(k): _r(v) for k, v in (d or {}).items() if isinstance(v, (int, float, np.number))}


_MAX_GROUPS, _MAX_GROUP_ROWS = 40, 500


def guard_view(report, pred_before, pred_after, rows) -> dict:
    """The round's strength (``alpha``), the guard's curve (target and worst regression at each alpha tried,
    the tolerance), and the "changed outside" groups: the unselected image ``rows`` whose reading (zero-shot
    prediction) changed, grouped (from -> to), largest first, each with its rows (at most ``_MAX_GROUP_ROWS``)."""
    out = {"alpha": _r(report.get("alpha", 1.0))}
    g = report.get("guard")
    if g:
        out["guard"] = {"curve": g.get("curve"), "tolerance": g.get("tolerance"), "on": g.get("on")}
        if report.get("alpha_set_by"):
            out["guard"]["set_by"] = report["alpha_set_by"]
    if pred_before is None or pred_after is None or len(rows) == 0:
        return out
    b, a = np.asarray(pred_before, dtype=object)[rows], np.asarray(pred_after, dtype=object)[rows]
    moved = b != a
    groups = {}
    for r, f, t in zip(rows[moved], b[moved], a[moved]):
        groups.setdefault((str(f), str(t)), []).append(int(r))
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out["changed_outside"] = {
        "total": int(moved.sum()),
        "groups": [
            {"from": f, "to": t, "count": len(rs), "rows": rs[:_MAX_GROUP_ROWS]} for (f, t), rs in ordered[:_MAX_GROUPS]
        ],
    }
    return out
