"""Density of every row of a shard folder on the map: a 2-D histogram made here, sent as one small texture.

``density_grid(folder, bins)`` streams over the positions shards (memory-mapped) twice: once for the extent,
once to count points per cell (``np.bincount`` of the cell index: O(n), no n x bins temporaries).
``density_texture(counts)`` makes the uint8 (bins x bins) image the front-end draws under the sample:
log-scaled, so a cell of one point is still visible beside the densest one.
"""

from __future__ import annotations

import numpy as np

from .read import ShardedEmbeddings, open_shards

__all__ = ["density_grid", "density_texture", "positions_extent"]

_BLOCK = 1 << 20


def positions_extent(sh: ShardedEmbeddings, pad: float = 0.02) -> tuple:
    """(x0, x1, y0, y1) of all positions shards, padded by ``pad`` of each side's length."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for _, _, _, pos in sh.iter_blocks(positions=True):
        for s in range(0, len(pos), _BLOCK):
            b = np.asarray(pos[s : s + _BLOCK])
            lo, hi = np.minimum(lo, b.min(0)), np.maximum(hi, b.max(0))
    span = np.maximum(hi - lo, 1e-9)
    lo, hi = lo - pad * span, hi + pad * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def density_grid(folder, bins: int = 256, extent=None) -> tuple[np.ndarray, tuple]:
    """How many points of a shard folder fall in each cell of a grid over the map.

    Parameters
    ----------
    folder : str, Path, fsspec URL or ShardedEmbeddings
        A folder with positions (``project_shards``).
    bins : int, default=256
        Cells per side.
    extent : tuple of 4 floats, optional
        (x0, x1, y0, y1); default: the positions' own.

    Returns
    -------
    counts : ndarray of uint32, shape (bins, bins)
        Row = y cell (bottom first), column = x cell.
    extent : tuple of 4 floats

    Examples
    --------
    >>> from modalchorus_widget.scale import density_grid, density_texture
    >>> counts, extent = density_grid("emb/", bins=128)  # doctest: +SKIP
    >>> image = density_texture(counts)  # doctest: +SKIP
    """
    sh = folder if isinstance(folder, ShardedEmbeddings) else open_shards(folder)
    bins = int(bins)
    x0, x1, y0, y1 = positions_extent(sh) if extent is None else tuple(float(v) for v in extent)
    counts = np.zeros(bins * bins, np.int64)
    sx, sy = bins / (x1 - x0), bins / (y1 - y0)
    for _, _, _, pos in sh.iter_blocks(positions=True):
        for s in range(0, len(pos), _BLOCK):
            b = np.asarray(pos[s : s + _BLOCK], np.float64)
            ix = np.floor((b[:, 0] - x0) * sx).astype(np.int64)
            iy = np.floor((b[:, 1] - y0) * sy).astype(np.int64)
            ok = (ix >= 0) & (ix < bins) & (iy >= 0) & (iy < bins)
            counts += np.bincount(iy[ok] * bins + ix[ok], minlength=bins * bins)
    return counts.reshape(bins, bins).astype(np.uint32), (x0, x1, y0, y1)


def density_texture(counts: np.ndarray) -> np.ndarray:
    """A uint8 image of ``counts``: 0 for empty cells, log-scaled 1..255 otherwise.

    Parameters
    ----------
    counts : array-like of shape (h, w)

    Returns
    -------
    ndarray of uint8, shape (h, w)

    Examples
    --------
    >>> from modalchorus_widget.scale import density_texture
    >>> density_texture([[0, 1], [10, 100]]).tolist()
    [[0, 39], [133, 255]]
    """
    c = np.asarray(counts, np.float64)
    top = c.max() if c.size else 0.0
    if top <= 0:
        return np.zeros(c.shape, np.uint8)
    t = np.log1p(c) / np.log1p(top)
    return np.where(c > 0, np.clip(np.round(1 + 254 * t), 1, 255), 0).astype(np.uint8)
