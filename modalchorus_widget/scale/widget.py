"""The Chorus widget on a shard folder: a stratified sample drawn as points, every row as a density layer,
and a lasso that resolves to full-data rows.

``chorus_from_shards(folder, max_points=...)`` needs the positions shards (``project_shards(folder)``): the
sample is drawn at the positions every row has there, so points and density agree. The browser sends the
lasso's polygon (in map coordinates) along with the sample's selection; ``ShardChorus`` runs the streamed
point-in-polygon test over all positions shards (``lasso.lasso_rows``) and keeps the result in
``full_selection`` (a ``LassoResult``: row ids, or a .npy file past ``lasso_limit``). ``selected`` and the
named sets keep holding rows of the *sample* (``embeddings.frame['row']`` maps them to global rows).
"""

from __future__ import annotations

import logging

import numpy as np
import traitlets as t

from ..widget.chorus import Chorus
from ..widget.protocol import handles
from .density import density_grid, density_texture
from .lasso import DEFAULT_LIMIT, LassoResult, lasso_rows
from .project import load_projector
from .read import open_shards

__all__ = ["ShardChorus", "chorus_from_shards"]
_log = logging.getLogger("modalchorus_widget")


class ShardChorus(Chorus):
    """A ``Chorus`` over a sample of a shard folder, with the density of all rows and full-data lassos.

    ``chorus_from_shards(folder)`` builds it.

    Parameters
    ----------
    embeddings : EmbeddingSet
        The sample.
    shards : ShardedEmbeddings
        All rows.
    bins : int, default 256
        Density texture size.
    lasso_limit : int or None
        Rows a lasso keeps in memory (more spill to a file).
    **kwargs
        ``Chorus``'s.

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
    >>> w = scale.chorus_from_shards("emb", max_points=30)
    >>> isinstance(w, scale.ShardChorus), w.total_rows, w.embeddings.n
    (True, 80, 30)
    """

    density = t.Bytes(b"").tag(sync=True)  # uint8 (bins x bins) texture, row 0 = bottom
    density_shape = t.List(t.Int(), [0, 0]).tag(sync=True)
    density_extent = t.List(t.Float(), [0.0, 1.0, 0.0, 1.0]).tag(sync=True)  # x0, x1, y0, y1
    total_rows = t.Int(0).tag(sync=True)
    rows_notice = t.Unicode("").tag(sync=True)
    full_selected_count = t.Int(-1).tag(sync=True)

    def __init__(self, embeddings, *, shards, bins: int = 256, lasso_limit: int | None = DEFAULT_LIMIT, **kwargs):
        super().__init__(embeddings, **kwargs)
        self.shards = shards
        self.lasso_limit = lasso_limit
        self.full_selection: LassoResult | None = None
        counts, extent = density_grid(shards, bins)
        with self.hold_sync():
            self.density = density_texture(counts).tobytes()
            self.density_shape = [int(bins), int(bins)]
            self.density_extent = [float(v) for v in extent]
            self.total_rows = int(shards.n)
            self.rows_notice = (
                f"{self.n:,} points drawn stand for {shards.n:,} rows (a stratified sample; the shading is "
                "the density of all rows); a lasso also selects the full data"
            )
            self.sample_notice = self.rows_notice  # shown above the views by the existing notice

    def select_polygon(self, polygon) -> LassoResult:
        """Every row of the folder inside ``polygon`` (map coordinates): kept in ``full_selection``."""
        res = lasso_rows(self.shards, polygon, limit=self.lasso_limit)
        self.full_selection = res
        with self.hold_sync():
            self.full_selected_count = int(res.count)
            where = f" (ids in {res.path.name})" if res.path is not None else ""
            self.sample_notice = f"{self.rows_notice} \u00b7 lasso: {res.count:,} of {self.total_rows:,} rows{where}"
        return res

    @handles("lasso_polygon")
    def _on_lasso_polygon(self, content, _buffers):
        pts = np.asarray(content["points"], dtype=np.float64)
        if pts.ndim != 1 or pts.size < 6 or pts.size % 2 or not np.isfinite(pts).all():
            _log.warning("ignored a 'lasso_polygon' message: points must be 3 or more finite x, y pairs, flat")
            return
        self.select_polygon(pts.reshape(-1, 2))


def chorus_from_shards(
    folder, max_points: int = 50_000, seed: int = 0, bins: int = 256, lasso_limit=DEFAULT_LIMIT, **kwargs
) -> ShardChorus:
    """A ``ShardChorus`` over ``folder``: ``max_points`` rows sampled by modality, at their positions from
    ``project_shards`` (whose fitted MFM places aligned vectors), plus the density of every row.

    Parameters
    ----------
    folder : str or Path
        A folder ``project_shards`` has placed.
    max_points, seed : int, default 50000, 0
        The sample the widget holds.
    bins, lasso_limit, **kwargs
        ``ShardChorus``'s.

    Returns
    -------
    ShardChorus

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
    >>> scale.chorus_from_shards("emb", max_points=30).total_rows
    80
    """
    sh = open_shards(folder)
    rows = sh.sample(max_points, seed)
    es = sh.to_set(rows)
    positions = sh.take(rows, positions=True)
    kwargs.setdefault("color_by", "label" if es.labels is not None else "modality")
    return ShardChorus(
        es,
        shards=sh,
        bins=bins,
        lasso_limit=lasso_limit,
        projector=load_projector(sh.store),
        positions=positions,
        **kwargs,
    )
