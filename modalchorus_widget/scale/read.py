"""Read a shard folder (ours, or one clip-retrieval wrote) without loading it into memory.

``open_shards(folder)`` gives a ``ShardedEmbeddings``: every shard memory-mapped (``np.load(mmap_mode="r")``;
in a remote folder, an fsspec URL such as ``s3://bucket/emb``, each shard is read whole when it is used),
one global row order (all image rows, shard by shard, then all text rows: ``EmbeddingSet.from_pairs``'s
order), and ways to take rows, sample them or stream over them. ``load_embeddings(folder)`` turns it into
an ``EmbeddingSet``: a stratified sample of ``max_points`` rows, or all rows, whose vectors are then a
memory map too (a single float32 shard is mapped as it is; several shards, or clip-retrieval's float16,
are copied once, shard by shard, into one unlinked temporary file that is mapped). The set's ``row``
column holds each row's global row number, so a sample maps back to the full data.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd

from ..data.embeddings import EmbeddingSet
from ..errors import MissingFileError
from . import layout as L

__all__ = ["ShardedEmbeddings", "open_shards", "load_embeddings"]

_CODES = {"image": 0, "text": 1}


class ShardedEmbeddings:
    """Memory-mapped shards of one folder, in one global row order (images first, then texts).

    Parameters
    ----------
    folder : str or Path
        A shard folder (local path or fsspec URL); ``open_shards(folder)`` is the same.

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
    >>> sh = scale.open_shards("emb")
    >>> sh.n, sh.kinds, sh.to_set([0, 39]).modality.tolist()
    (80, ('image', 'text'), ['image', 'image'])
    """

    def __init__(self, folder):
        self.layout = L.discover(folder)
        self.store = self.layout.store
        self.folder = self.layout.folder  # a local Path, or the folder's URL
        self.kinds = self.layout.kinds
        self._maps: dict = {}
        self.blocks = []  # (kind, shard k, global start, rows)
        start = 0
        for kind in self.kinds:
            for k, rows in enumerate(self.layout.rows[kind]):
                self.blocks.append((kind, k, start, rows))
                start += rows
        self.n = start
        self.dim = next(iter(self.layout.dims))
        self._meta = None

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"ShardedEmbeddings({self.folder}, n={self.n:,}, dim={self.dim}, shards={self.layout.n_shards}, kinds={self.kinds})"

    @property
    def n_shards(self) -> int:
        return self.layout.n_shards

    def array(self, kind: str, k: int, positions: bool = False, cache: bool = True) -> np.ndarray:
        """Shard ``k`` of ``kind`` as a read-only memory map (positions shards with ``positions=True``; a
        remote shard is read into memory). ``cache=False``: not kept here (a map's pages leave resident
        memory when it is dropped); remote shards are never kept."""
        key = (kind, k, positions)
        if key in self._maps:
            return self._maps[key]
        rel = self.layout.rel(kind, k, positions)
        if positions and not self.store.isfile(rel):
            raise MissingFileError(
                f"{self.store.path(rel)}: no positions shard; run scale.project_shards({str(self.folder)!r}) first."
            )
        arr = self.store.load_npy(rel)
        if cache and self.store.local:
            self._maps[key] = arr
        return arr

    def modality_codes(self) -> np.ndarray:
        """uint8 per global row: 0 image, 1 text."""
        out = np.empty(self.n, np.uint8)
        for kind, _, s, rows in self.blocks:
            out[s : s + rows] = _CODES[kind]
        return out

    def iter_blocks(self, positions: bool = False):
        """Yield ``(kind, k, global_start, memmap)`` for every shard, in global row order.

        Each shard is mapped afresh and unmapped once the caller moves on, so streaming over every shard
        leaves no pages of the earlier ones in this process's resident memory."""
        for kind, k, s, _ in self.blocks:
            cached = self._maps.get((kind, k, positions))
            if cached is not None:
                yield kind, k, s, cached
                continue
            arr = self.array(kind, k, positions, cache=False)
            yield kind, k, s, arr
            del arr

    def _locate(self, rows: np.ndarray):
        starts = np.array([b[2] for b in self.blocks], np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        return which, rows - starts[which]

    def take(self, rows, positions: bool = False) -> np.ndarray:
        """float32 vectors (or positions) of global ``rows``, in the order given, gathered shard by shard."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        width = 2 if positions else self.dim
        out = np.empty((len(rows), width), np.float32)
        if not len(rows):
            return out
        which, local = self._locate(rows)
        for b in np.unique(which):
            sel = np.flatnonzero(which == b)
            kind, k, _, _ = self.blocks[b]
            order = np.argsort(local[sel], kind="stable")  # ascending reads from the map
            arr = self.array(kind, k, positions, cache=False)
            out[sel[order]] = arr[local[sel][order]]
            del arr  # unmapped now: a sample over every shard does not keep every shard's pages resident
        return out

    def shard_metadata(self, k: int) -> pd.DataFrame:
        """Shard ``k``'s metadata (``id`` made when the file has none; an index-only frame without a file)."""
        rel = self.layout.rel("metadata", k)
        rows = self.layout.rows[self.kinds[0]][k]
        df = self.store.read_parquet(rel) if self.store.isfile(rel) else pd.DataFrame(index=range(rows))
        if "id" not in df:
            sfx = self.layout.suffixes[k]
            df.insert(
                0, "id", df["image_path"].astype(str) if "image_path" in df else [f"{sfx}:{i}" for i in range(rows)]
            )
        return df

    def metadata(self) -> pd.DataFrame:
        """One frame of all shards' metadata (one row per item), kept once read."""
        if self._meta is None:
            self._meta = pd.concat([self.shard_metadata(k) for k in range(self.n_shards)], ignore_index=True)
        return self._meta

    def _items_meta(self, item: np.ndarray) -> pd.DataFrame:
        """Metadata rows of items ``item`` (in that order), read shard by shard: only the shards they are in,
        one at a time, so a sample never holds the whole metadata table."""
        if self._meta is not None:
            return self._meta.iloc[item].reset_index(drop=True)
        starts = np.concatenate([[0], np.cumsum(self.layout.rows[self.kinds[0]])]).astype(np.int64)
        shard = np.searchsorted(starts, item, side="right") - 1
        pieces, where = [], []
        for k in np.unique(shard):
            sel = np.flatnonzero(shard == k)
            pieces.append(self.shard_metadata(int(k)).iloc[item[sel] - starts[k]])
            where.append(sel)
        if not pieces:
            return self.shard_metadata(0).iloc[:0].reset_index(drop=True)
        df = pd.concat(pieces, ignore_index=True)
        return df.iloc[np.argsort(np.concatenate(where), kind="stable")].reset_index(drop=True)

    def frame(self, rows) -> pd.DataFrame:
        """Metadata of global ``rows`` with ``row``, ``modality`` and a per-row unique ``key``."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        n_items = int(sum(self.layout.rows[self.kinds[0]]))
        item = rows % n_items
        kinds = np.asarray(self.kinds, dtype=object)[rows // n_items]
        df = self._items_meta(item)
        df.insert(0, "row", rows)
        df.insert(1, "modality", kinds)
        df.insert(2, "key", [f"{m}:{i}" for m, i in zip(kinds, df["id"].astype(str))])
        return df

    def sample(self, max_points: int, random_state: int = 0) -> np.ndarray:
        """Sorted global rows of a deterministic sample stratified by modality (all rows when n <= max_points)."""
        from ..data.sampling import stratified_sample

        return stratified_sample(self.modality_codes(), int(max_points), random_state=random_state)

    def all_vectors(self) -> np.ndarray:
        """All rows as one float32 (n, dim) memory map (see the module docstring)."""
        blocks = list(self.iter_blocks())
        if len(blocks) == 1 and blocks[0][3].dtype == np.float32:
            return blocks[0][3]
        fd, tmp = tempfile.mkstemp(prefix="modalchorus-shards-", suffix=".f32")
        os.close(fd)
        try:
            out = np.memmap(tmp, dtype=np.float32, mode="w+", shape=(self.n, self.dim))
        finally:
            os.unlink(tmp)  # the mapping keeps the file alive; it is gone when the map is
        for _, _, s, arr in blocks:
            for a in range(0, len(arr), 65536):
                out[s + a : s + min(a + 65536, len(arr))] = arr[a : a + 65536]
        return out

    def to_set(self, rows=None) -> EmbeddingSet:
        """An EmbeddingSet of global ``rows`` (all when None); ``meta['row']`` holds their global rows."""
        if rows is None:
            rows = np.arange(self.n, dtype=np.int64)
            vec = self.all_vectors()
        else:
            rows = np.asarray(rows, np.int64)
            vec = self.take(rows)
        df = self.frame(rows)
        items = None
        if "image_path" in df or "caption" in df:
            items = np.empty(len(df), dtype=object)
            for m, col in (("image", "image_path"), ("text", "caption")):
                if col in df:
                    sel = (df["modality"] == m).to_numpy()
                    items[sel] = df.loc[sel, col].to_numpy()
        labels = df["label"].to_numpy() if "label" in df else None
        meta = df.drop(columns=[c for c in ("modality", "key", "label") if c in df])
        meta = meta.rename(columns={"id": "item_id", "item": "item_value"})
        return EmbeddingSet(
            vec, modality=df["modality"].to_numpy(), ids=df["key"].to_numpy(), labels=labels, items=items, meta=meta
        )


def open_shards(folder) -> ShardedEmbeddings:
    """The shards of ``folder`` (a path or fsspec URL), memory-mapped where local (only headers are read now).

    Parameters
    ----------
    folder : str or Path
        A folder in clip-retrieval's layout (``img_emb/``, ``text_emb/``, ``metadata/``), local or an fsspec URL.

    Returns
    -------
    ShardedEmbeddings

    Examples
    --------
    >>> from modalchorus_widget import scale
    >>> sh = scale.open_shards("emb/")  # doctest: +SKIP
    >>> sh.n  # doctest: +SKIP
    1000000
    """
    return ShardedEmbeddings(folder)


def load_embeddings(folder, max_points: int | None = None, random_state: int = 0) -> EmbeddingSet:
    """An ``EmbeddingSet`` of a shard folder: all rows (memory-mapped), or a stratified sample.

    Parameters
    ----------
    folder : str, Path or ShardedEmbeddings
        A shard folder (local or an fsspec URL).
    max_points : int, optional
        At most this many rows, a sample stratified by modality; default: every row.
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    EmbeddingSet
        ``frame["row"]`` is each row's global row number in the folder.

    Examples
    --------
    >>> from modalchorus_widget import scale
    >>> es = scale.load_embeddings("emb/", max_points=50_000)  # doctest: +SKIP
    """
    sh = folder if isinstance(folder, ShardedEmbeddings) else open_shards(folder)
    if max_points is not None and sh.n > max_points:
        return sh.to_set(sh.sample(max_points, random_state))
    return sh.to_set()
