"""Browsing a Chorus session from the widget: gallery pages of a selection and search.

Plain functions over a ``ChorusState`` (no traitlets): the widget calls them when the browser asks and sends
the answer back, thumbnails as binary buffers.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModalChorusError, WidgetError
from ..projection.concept_axis import axis_coordinate

__all__ = ["gallery_page", "search", "GALLERY_PAGE"]

GALLERY_PAGE = 24
_TEXT_LIMIT = 160


def _text_of(frame, row: int, mod: str) -> str:
    item = frame["item"].iat[row] if "item" in frame else None
    if isinstance(item, str) and mod != "image":
        return item if len(item) <= _TEXT_LIMIT else item[: _TEXT_LIMIT - 1] + "\u2026"
    return f"{mod} {frame['id'].iat[row]}"


def _modality_of(state, rows: np.ndarray) -> np.ndarray:
    # the rows' cells only: EmbeddingSet.modality copies the whole column (34 ms at a million rows)
    return state.embeddings.frame["modality"].iloc[rows].to_numpy().astype(str)


def _order(state, rows: np.ndarray) -> np.ndarray:
    """Images first, then the other modalities, each in row order (the gallery's order)."""
    mod = _modality_of(state, rows)
    return np.concatenate([rows[mod == "image"], rows[mod != "image"]]) if len(rows) else rows


def gallery_page(state, rows, page: int, tooltip, size: int = GALLERY_PAGE, to_shown=None):
    """(message, buffers) for page ``page`` of the selection ``rows`` (full-data rows): per item its row, the
    drawn index (``to_shown``), modality, text, label, prediction and a PNG thumbnail index into buffers.
    ``tooltip(row)``: the widget's tooltip of a row (its ``png`` is the thumbnail)."""
    frame = state.embeddings.frame
    rows = _order(state, np.asarray(rows, np.int64))
    total = int(len(rows))
    pages = max(1, -(-total // size))
    page = min(max(int(page), 0), pages - 1)
    chunk = rows[page * size : (page + 1) * size]
    shown = to_shown(chunk) if to_shown is not None else chunk
    mods, counts = np.unique(_modality_of(state, rows), return_counts=True) if total else ([], [])
    chunk_mod = _modality_of(state, chunk)
    items, buffers = [], []
    for row, sh, mod in zip(chunk.tolist(), np.asarray(shown).tolist(), chunk_mod.tolist()):
        info = dict(tooltip(row))
        png = info.pop("png", None)
        item = {
            "row": int(row),
            "index": int(sh),
            "modality": mod,
            "text": _text_of(frame, row, mod),
            "label": None if info.get("label") is None else str(info["label"]),
            "prediction": None if info.get("prediction") is None else str(info["prediction"]),
            "png": -1,
        }
        if png is not None:
            item["png"] = len(buffers)
            buffers.append(png)
        items.append(item)
    msg = {
        "type": "gallery",
        "page": page,
        "pages": pages,
        "total": total,
        "counts": {str(m): int(c) for m, c in zip(mods, counts)},
        "items": items,
    }
    return msg, buffers


def _substring_rows(state, query: str, limit: int) -> np.ndarray:
    """Rows whose label or text item contains ``query`` (case-insensitive), at most ``limit``."""
    import pandas as pd

    es = state.embeddings
    q = query.lower()
    hits = []
    cache = state.__dict__.setdefault("_search_cache", {})
    if es.labels is not None:
        if "labels" not in cache:
            codes, uniques = pd.factorize(pd.Series(es.labels).astype(str).str.lower())
            cache["labels"] = (codes, np.asarray(uniques, dtype=object))
        codes, uniques = cache["labels"]
        good = np.flatnonzero([q in u for u in uniques])
        if len(good):
            hits.append(np.flatnonzero(np.isin(codes, good)))
    if es.items is not None and "text" in es.modalities:
        if "texts" not in cache:
            tidx = es.indices("text").astype(np.int64)
            cache["texts"] = (tidx, pd.Series(es.items[tidx]).astype(str).str.lower())
        tidx, low = cache["texts"]
        m = low.str.contains(q, regex=False).to_numpy()
        hits.append(tidx[m])
    if not hits:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(hits))[:limit]


def search(state, query: str, k: int = 8, named_sets=None, axis_spec=None, limit: int = 5000):
    """What a search for ``query`` finds: rows matching it as a substring of a label or text, and, with an
    encoder attached, the ``k`` nearest rows of each modality to its embedding, plus where the query itself
    lands in the projection (``query_xy``, when the projector can place new points) and on the concept axis."""
    query = str(query or "").strip()
    if not query:
        raise WidgetError("search: type some text to look for (a label, a caption word, or a concept)")
    es = state.embeddings
    out = {"query": query, "matches": _substring_rows(state, query, limit), "nearest": {}}
    if state.encoder is None:
        return out
    qv = state.encode_texts([query], "search")[0]
    if state.aligner is not None and len(state.aligner.history_):  # the query goes where aligned texts went
        qv = np.asarray(state.aligner.transform_encoded(qv, "text"), np.float32)
    sims = es.vectors @ qv
    near = []
    for m in es.modalities:
        rows = es.indices(m).astype(np.int64)
        if not len(rows):
            continue
        kk = min(k, len(rows))
        s = sims[rows]
        top = np.argpartition(-s, kk - 1)[:kk]
        top = top[np.argsort(-s[top], kind="stable")]
        out["nearest"][str(m)] = rows[top]
        near.append(rows[top])
    out["nearest_all"] = np.concatenate(near) if near else np.zeros(0, np.int64)
    proj = state.projector
    if proj.supports_transform and proj.is_fitted():
        xy = np.asarray(proj.transform(qv[None]), np.float32).reshape(-1, 2)[0]
        out["query_xy"] = [float(xy[0]), float(xy[1])]
    if axis_spec is not None:
        try:
            va, _ = state.concept(axis_spec["a"], "a", named_sets or {})
            vb, _ = state.concept(axis_spec["b"], "b", named_sets or {})
            x = float(axis_coordinate(qv[None], va, vb)[0])
            y = out.get("query_xy", [0.0, 0.0])[1] if axis_spec.get("y") is None else 0.0
            out["axis_xy"] = [x, float(y)]
        except ModalChorusError:  # a concept that no longer resolves: no axis marker
            pass
    return out
