"""Past one machine: encode, read, project, align and explore millions of items in clip-retrieval's shard
layout, on Ray Data (``pip install modalchorus-widget[scale]``) or in this process (``engine="local"``).

- ``encode_to_shards(source, folder, encoder)``: raw items (table, image folder, webdataset tars) -> shards
- ``load_embeddings(folder, max_points=None)`` / ``open_shards(folder)``: memory-mapped shards
- ``project_shards(folder)``: MFM fitted on a sample, positions shards for every row
- ``align_shards(folder, aligner)``: a saved alignment applied to every shard, into a new folder
- ``lasso_rows(folder, polygon)``, ``density_grid(folder)``: full-data lasso and density
- ``chorus_from_shards(folder)``: the widget on a sample, with the density of all rows
- ``cluster.start()`` / ``cluster.start(address=...)``: a local Ray, or a cluster

Folders are local paths or fsspec URLs (``s3://bucket/emb``, ``gs://``, ``memory://``, ``file://``; ``storage``).

Ray is imported only by the functions that run on it.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "encode_to_shards": "encode",
    "EncodeReport": "encode",
    "TableSource": "sources",
    "ImageFolder": "sources",
    "WebDataset": "sources",
    "open_source": "sources",
    "load_embeddings": "read",
    "open_shards": "read",
    "ShardedEmbeddings": "read",
    "project_shards": "project",
    "align_shards": "project",
    "load_projector": "project",
    "lasso_rows": "lasso",
    "points_in_polygon": "lasso",
    "LassoResult": "lasso",
    "density_grid": "density",
    "density_texture": "density",
    "chorus_from_shards": "widget",
    "ShardChorus": "widget",
    "start": "cluster",
    "stop": "cluster",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, modules=("cluster", "layout"))
