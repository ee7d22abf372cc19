"""clip-retrieval's shard layout: file names, atomic per-shard writes, completeness markers, discovery.

``clip-retrieval inference`` writes, per output partition ``i`` of ``P``, row-aligned files

    img_emb/img_emb_{i}.npy      (rows, dim) image embeddings
    text_emb/text_emb_{i}.npy    (rows, dim) text embeddings of the same items, row for row
    metadata/metadata_{i}.parquet one row per item (``image_path``, ``caption``, ...)

with ``i`` zero-padded to ``int(log10(P)) + 1`` digits. We write exactly that (float32, plus an ``id``
column in the metadata), and next to it ``_modalchorus/``: a manifest (what wrote the folder: shard count,
rows per shard, dimension, encoder, source) and one marker per finished shard. A shard counts as complete
only when its marker exists; the marker is written last, after every file of the shard was renamed into
place, so a crash or a killed worker never leaves a half shard that a re-run would skip. Our positions
shards (``positions/img_pos_{i}.npy`` ...) follow the same naming. A folder is a local path or an fsspec
URL; every read and write goes through its ``storage.Store``.

Examples
--------
>>> from modalchorus_widget.scale import layout
>>> layout.shard_rel("image", 3, 12), layout.shard_rel("text", 3, 12, positions=True)
('img_emb/img_emb_03.npy', 'positions/text_pos_03.npy')
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DatasetError, MissingFileError
from .storage import Store, open_store

__all__ = [
    "KINDS",
    "digits_for",
    "shard_suffix",
    "shard_rel",
    "shard_path",
    "marker_path",
    "read_manifest",
    "write_manifest",
    "mark_done",
    "is_done",
    "Layout",
    "discover",
]

# modality -> (folder, file prefix) of its embedding shards (clip-retrieval's names)
KINDS = {"image": ("img_emb", "img_emb_"), "text": ("text_emb", "text_emb_")}
POSITIONS = {"image": ("positions", "img_pos_"), "text": ("positions", "text_pos_")}
META_DIR, META_PREFIX = "metadata", "metadata_"
STATE_DIR = "_modalchorus"
MANIFEST = "manifest.json"
FORMAT = "modalchorus-shards"
VERSION = 1


def digits_for(n_shards: int) -> int:
    """clip-retrieval's zero padding: ``int(log10(n_shards)) + 1`` digits."""
    return int(math.log10(max(1, int(n_shards)))) + 1


def shard_suffix(index: int, n_shards: int) -> str:
    return str(int(index)).zfill(digits_for(n_shards))


def rel_for(kind: str, suffix: str, positions: bool = False) -> str:
    """Path inside the folder of the ``kind`` shard (``"image"``, ``"text"`` or ``"metadata"``) ``suffix``."""
    if kind == "metadata":
        return f"{META_DIR}/{META_PREFIX}{suffix}.parquet"
    sub, prefix = (POSITIONS if positions else KINDS)[kind]
    return f"{sub}/{prefix}{suffix}.npy"


def shard_rel(kind: str, index: int, n_shards: int, positions: bool = False) -> str:
    return rel_for(kind, shard_suffix(index, n_shards), positions)


def shard_path(folder, kind: str, index: int, n_shards: int, positions: bool = False):
    """Path (local ``Path`` or URL) of shard ``index`` of ``kind`` (``"image"``, ``"text"`` or ``"metadata"``)."""
    return open_store(folder).path(shard_rel(kind, index, n_shards, positions))


def marker_rel(index: int, n_shards: int, what: str = "shards") -> str:
    return f"{STATE_DIR}/{what}/{shard_suffix(index, n_shards)}.json"


def marker_path(folder, index: int, n_shards: int, what: str = "shards"):
    return open_store(folder).path(marker_rel(index, n_shards, what))


def read_manifest(folder) -> dict | None:
    store = open_store(folder)
    rel = f"{STATE_DIR}/{MANIFEST}"
    if not store.isfile(rel):
        return None
    try:
        meta = json.loads(store.read_bytes(rel, max_bytes=1 << 24))
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"{store.path(rel)}: unreadable shard manifest ({exc}); delete the folder and encode again."
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DatasetError(f"{store.path(rel)}: not a modalchorus shard manifest of version {VERSION}.")
    return meta


def write_manifest(folder, **fields) -> dict:
    meta = {"format": FORMAT, "version": VERSION, **fields}
    open_store(folder).write_bytes(f"{STATE_DIR}/{MANIFEST}", json.dumps(meta, indent=1, sort_keys=True).encode())
    return meta


def mark_done(folder, index: int, n_shards: int, what: str = "shards", **info) -> None:
    open_store(folder).write_bytes(marker_rel(index, n_shards, what), json.dumps(info, sort_keys=True).encode())


def is_done(folder, index: int, n_shards: int, what: str = "shards") -> bool:
    return open_store(folder).isfile(marker_rel(index, n_shards, what))


def done_set(folder, n_shards: int, what: str = "shards") -> set:
    """Indices of the shards marked done, from one listing of the marker folder (one call on object stores)."""
    names = open_store(folder).listdir(f"{STATE_DIR}/{what}")
    found = {n[: -len(".json")] for n in names if n.endswith(".json")}
    return {i for i in range(n_shards) if shard_suffix(i, n_shards) in found}


@dataclass
class Layout:
    """The shards found in a folder: suffixes in order, and which kinds exist (``image``, ``text``)."""

    store: Store
    suffixes: list
    kinds: tuple
    manifest: dict | None = None
    rows: dict = field(default_factory=dict)  # kind -> [rows per shard]
    dims: set = field(default_factory=set)

    @property
    def n_shards(self) -> int:
        return len(self.suffixes)

    @property
    def folder(self):
        """The folder: a local ``Path``, or its URL."""
        return self.store.path()

    def rel(self, kind: str, k: int, positions: bool = False) -> str:
        return rel_for(kind, self.suffixes[k], positions)

    def path(self, kind: str, k: int, positions: bool = False):
        return self.store.path(self.rel(kind, k, positions))


def _suffixes(store: Store, sub: str, prefix: str, ext: str) -> list:
    pat = re.compile(rf"^{re.escape(prefix)}(\d+){re.escape(ext)}$")
    return sorted((m.group(1) for m in map(pat.match, store.listdir(sub)) if m), key=int)


def discover(folder) -> Layout:
    """Find and check the shards of ``folder`` (a path or fsspec URL; ours or written by clip-retrieval).

    Checks, reading headers only: the folder is a shard layout (``img_emb/`` and/or ``text_emb/``), every
    kind has the same shard numbers, row counts agree across image, text and metadata shards of each
    number, one dimension throughout; in one of our folders, every shard is marked complete.
    Raises ``DatasetError`` naming the file.
    """
    store = open_store(folder)
    if not store.isdir():
        raise MissingFileError(f"no shard folder at {store}; encode one with scale.encode_to_shards(source, folder).")
    manifest = read_manifest(store)
    if manifest is not None:
        n = int(manifest["n_shards"])
        done = done_set(store, n)
        todo = [i for i in range(n) if i not in done]
        if todo:
            raise DatasetError(
                f"{store}: {len(todo)} of {n} shards are not complete (first: shard {shard_suffix(todo[0], n)}; "
                f"no marker in {STATE_DIR}/shards/): the job that writes it was interrupted or is still running. "
                "Run the same encode_to_shards call again to finish it (finished shards are kept)."
            )
    found = {kind: _suffixes(store, sub, prefix, ".npy") for kind, (sub, prefix) in KINDS.items()}
    kinds = tuple(k for k, v in found.items() if v)
    if not kinds:
        raise DatasetError(
            f"{store} is not a shard layout: it has no img_emb/img_emb_<i>.npy or text_emb/text_emb_<i>.npy "
            "files (clip-retrieval's layout). Point at the folder clip-retrieval or scale.encode_to_shards wrote."
        )
    suffixes = found[kinds[0]]
    for kind in kinds[1:]:
        if found[kind] != suffixes:
            missing = sorted(set(suffixes) ^ set(found[kind]), key=int)
            raise DatasetError(
                f"{store}: image and text shards do not pair up (shard number(s) {missing[:5]} exist for only one "
                "of img_emb/ and text_emb/); every item needs both, row for row."
            )
    layout = Layout(store, suffixes, kinds, manifest)
    meta_sfx = set(_suffixes(store, META_DIR, META_PREFIX, ".parquet"))
    for k, sfx in enumerate(suffixes):
        counts = {}
        for kind in kinds:
            shape, dtype = store.npy_shape(layout.rel(kind, k))
            if len(shape) != 2 or not np.issubdtype(dtype, np.floating):
                raise DatasetError(
                    f"{layout.path(kind, k)}: shape {shape}, dtype {dtype}; expected (rows, dim) floats."
                )
            counts[kind] = shape[0]
            layout.dims.add(shape[1])
            layout.rows.setdefault(kind, []).append(shape[0])
        if sfx in meta_sfx:
            counts["metadata"] = store.parquet_rows(layout.rel("metadata", k))
        if len(set(counts.values())) > 1:
            files = ", ".join(f"{layout.rel(kind, k)}: {n} rows" for kind, n in counts.items())
            raise DatasetError(
                f"{store}: shard {sfx} has mismatched row counts ({files}); they must be row-aligned. "
                "Re-encode that shard."
            )
    if len(layout.dims) > 1:
        raise DatasetError(f"{store}: shards have different dimensions {sorted(layout.dims)}; one model per folder.")
    return layout
