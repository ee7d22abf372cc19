"""A lasso over every row of a shard folder: streamed, vectorised point-in-polygon over positions shards.

``lasso_rows(folder, polygon)`` reads the positions shards (memory-mapped, one block at a time) and returns
the global row numbers of the points inside ``polygon`` (even-odd rule, as the browser's lasso), sorted.
Past ``limit`` rows the ids are written to a ``.npy`` file instead of being returned.

The test is exact and costs O(n log n + n * c) per block (c: how many polygon edges a horizontal line
through a point crosses, usually 2 to 4), whatever the number of polygon vertices: the candidate points
(inside the polygon's bounding box) are sorted by y once, so each edge touches only the points in its
y-band, found by binary search.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .read import ShardedEmbeddings, open_shards

__all__ = ["points_in_polygon", "lasso_rows", "LassoResult", "DEFAULT_LIMIT"]

DEFAULT_LIMIT = 5_000_000
_BLOCK = 1 << 20


def _check_polygon(polygon) -> np.ndarray:
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim == 1 and poly.size % 2 == 0:
        poly = poly.reshape(-1, 2)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3 or not np.isfinite(poly).all():
        raise InputError(f"polygon must be 3 or more finite (x, y) vertices; got shape {np.shape(polygon)}.")
    return poly


def points_in_polygon(x, y, polygon) -> np.ndarray:
    """Which points (x[i], y[i]) lie inside ``polygon`` (even-odd rule).

    Parameters
    ----------
    x, y : array-like of shape (n,)
        The points' coordinates.
    polygon : array-like of shape (m, 2)
        The lasso's vertices, in order (m >= 3).

    Returns
    -------
    ndarray of bool, shape (n,)

    Examples
    --------
    >>> from modalchorus_widget.scale import points_in_polygon
    >>> points_in_polygon([0.5, 2.0], [0.5, 0.5], [(0, 0), (1, 0), (1, 1), (0, 1)]).tolist()
    [True, False]
    """
    poly = _check_polygon(polygon)
    x = np.asarray(x)
    y = np.asarray(y)
    mask = np.zeros(len(x), bool)
    (x0, y0), (x1, y1) = poly.min(0), poly.max(0)
    cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y < y1))
    if not len(cand):
        return mask
    ys, xs = y[cand].astype(np.float64), x[cand].astype(np.float64)
    order = np.argsort(ys, kind="stable")
    ys, xs = ys[order], xs[order]
    inside = np.zeros(len(cand), bool)
    xi, yi = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(xi, -1), np.roll(yi, -1)
    lo = np.searchsorted(ys, np.minimum(yi, yj), "left")
    hi = np.searchsorted(ys, np.maximum(yi, yj), "left")  # points with min <= y < max: the edge straddles them
    for e in np.flatnonzero(hi > lo):
        a, b = lo[e], hi[e]
        xint = (xj[e] - xi[e]) * (ys[a:b] - yi[e]) / (yj[e] - yi[e]) + xi[e]
        inside[a:b] ^= xs[a:b] < xint
    mask[cand[order[inside]]] = True
    return mask


@dataclass
class LassoResult:
    """Rows inside a lasso: ``rows`` (sorted int64 global rows) or, past the limit, ``path`` of a .npy file.

    Parameters
    ----------
    count : int
        How many rows are inside.
    rows : ndarray of int64, optional
        The rows, when at most the limit.
    path : Path, optional
        A .npy file of the rows, past the limit.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.scale import LassoResult
    >>> LassoResult(count=2, rows=np.array([3, 7])).load().tolist()
    [3, 7]
    """

    count: int
    rows: np.ndarray | None = None
    path: Path | None = None

    def load(self) -> np.ndarray:
        """The rows, from memory or (memory-mapped) from the file."""
        return self.rows if self.rows is not None else np.load(self.path, mmap_mode="r")


def lasso_rows(folder, polygon, limit: int | None = DEFAULT_LIMIT, out=None, modality=None) -> LassoResult:
    """Global rows of ``folder`` whose positions lie inside ``polygon``; see the module docstring.

    ``modality``: only rows of that modality. ``out``: the local .npy path used when more than ``limit`` rows
    are inside (default: ``lasso_<n>.npy`` in the folder's ``positions/``; for a remote folder, in this
    machine's temporary folder: the ids are this session's, the shared storage is left as it is).

    Parameters
    ----------
    folder : str, Path or ShardedEmbeddings
        A folder ``project_shards`` has placed.
    polygon : array-like
        (k, 2) vertices, in map coordinates.
    limit : int or None
    out : str or Path, optional
    modality : str, optional

    Returns
    -------
    LassoResult
        ``count`` and ``rows`` (or ``path``, the .npy they were spilled to).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from PIL import Image
    >>> from modalchorus_widget import scale
    >>> from modalchorus_widget.encoders import FunctionEncoder
    >>> for i in range(40):
    ...     Image.new("RGB", (4, 4), (i, 0, 0)).save(f"{i}.png")
    >>> pd.DataFrame({"image_path": [f"{i}.png" for i in range(40)], "caption": [f"a photo {i}" for i in range(40)]}).to_csv("items.csv")
    >>> f = lambda xs: np.random.default_rng(len(xs)).normal(size=(len(xs), 8))  # a stand-in encoder
    >>> rep = scale.encode_to_shards("items.csv", "emb", FunctionEncoder(images=f, texts=f, dim=8), shard_size=20, engine="local")
    >>> from modalchorus_widget import MFM
    >>> mfm = MFM(n_layout_iter=20, n_distill_steps=20, n_steps=0, n_rank_steps=0)
    >>> job = scale.project_shards("emb", mfm, engine="local")
    >>> scale.lasso_rows("emb", [(-1e3, -1e3), (1e3, -1e3), (1e3, 1e3), (-1e3, 1e3)], modality="text").count
    40
    """
    poly = _check_polygon(polygon)
    sh = folder if isinstance(folder, ShardedEmbeddings) else open_shards(folder)
    here = sh.store.path("positions") if sh.store.local else Path(tempfile.gettempdir())
    spill, count, parts = None, 0, []
    try:
        for kind, _, start, pos in sh.iter_blocks(positions=True):
            if modality is not None and kind != modality:
                continue
            for s in range(0, len(pos), _BLOCK):
                block = pos[s : s + _BLOCK]
                hits = np.flatnonzero(points_in_polygon(block[:, 0], block[:, 1], poly)).astype(np.int64) + (start + s)
                count += len(hits)
                if spill is None and limit is not None and count > limit:
                    fd, tmp = tempfile.mkstemp(prefix=".lasso-", suffix=".i64", dir=here)
                    spill = (os.fdopen(fd, "wb"), tmp)
                    for p in parts:
                        spill[0].write(p.tobytes())
                    parts = []
                if spill is not None:
                    spill[0].write(hits.tobytes())
                elif len(hits):
                    parts.append(hits)
        if spill is None:
            return LassoResult(count, np.concatenate(parts) if parts else np.zeros(0, np.int64))
        spill[0].close()
        path = Path(out) if out is not None else here / f"lasso_{count}.npy"
        tmp_npy = path.with_name(f".{path.name}.tmp")
        with open(tmp_npy, "wb") as f, open(spill[1], "rb") as raw:
            np.lib.format.write_array_header_1_0(
                f,
                {"descr": np.lib.format.dtype_to_descr(np.dtype(np.int64)), "fortran_order": False, "shape": (count,)},
            )
            shutil.copyfileobj(raw, f, 1 << 22)
        os.replace(tmp_npy, path)
        return LassoResult(count, None, path)
    finally:
        if spill is not None:
            spill[0].close()
            if os.path.exists(spill[1]):
                os.unlink(spill[1])
