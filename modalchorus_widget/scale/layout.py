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
shards (``positions/img_pos_{i}.npy`` ...) follow the same naming.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.io import atomic_write_bytes
from ..errors import DatasetError, MissingFileError

__all__ = [
    "KINDS",
    "digits_for",
    "shard_suffix",
    "shard_path",
    "marker_path",
    "atomic_save_npy",
    "atomic_save_parquet",
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
_MAX_NPY_HEADER = 1 << 16


def digits_for(n_shards: int) -> int:
    """clip-retrieval's zero padding: ``int(log10(n_shards)) + 1`` digits."""
    return int(math.log10(max(1, int(n_shards)))) + 1


def shard_suffix(index: int, n_shards: int) -> str:
    return str(int(index)).zfill(digits_for(n_shards))


def shard_path(folder, kind: str, index: int, n_shards: int, positions: bool = False) -> Path:
    """Path of shard ``index`` of ``kind`` (``"image"``, ``"text"`` or ``"metadata"``)."""
    folder, s = Path(folder), shard_suffix(index, n_shards)
    if kind == "metadata":
        return folder / META_DIR / f"{META_PREFIX}{s}.parquet"
    sub, prefix = (POSITIONS if positions else KINDS)[kind]
    return folder / sub / f"{prefix}{s}.npy"


def marker_path(folder, index: int, n_shards: int, what: str = "shards") -> Path:
    return Path(folder) / STATE_DIR / what / f"{shard_suffix(index, n_shards)}.json"


def atomic_save_npy(path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getbuffer())


def atomic_save_parquet(path, frame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getbuffer())


def read_manifest(folder) -> dict | None:
    path = Path(folder) / STATE_DIR / MANIFEST
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable shard manifest ({exc}); delete the folder and encode again.") from exc
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DatasetError(f"{path}: not a modalchorus shard manifest of version {VERSION}.")
    return meta


def write_manifest(folder, **fields) -> dict:
    meta = {"format": FORMAT, "version": VERSION, **fields}
    atomic_write_bytes(Path(folder) / STATE_DIR / MANIFEST, json.dumps(meta, indent=1, sort_keys=True).encode())
    return meta


def mark_done(folder, index: int, n_shards: int, what: str = "shards", **info) -> None:
    atomic_write_bytes(marker_path(folder, index, n_shards, what), json.dumps(info, sort_keys=True).encode())


def is_done(folder, index: int, n_shards: int, what: str = "shards") -> bool:
    return marker_path(folder, index, n_shards, what).is_file()


def npy_shape(path) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of a .npy file from its header alone (nothing else is read)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f, max_header_size=_MAX_NPY_HEADER)
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"{path}: not a readable .npy array ({exc}); the shard is corrupt, encode it again."
        ) from exc
    return tuple(shape), dtype


@dataclass
class Layout:
    """The shards found in a folder: suffixes in order, and which kinds exist (``image``, ``text``)."""

    folder: Path
    suffixes: list
    kinds: tuple
    manifest: dict | None = None
    rows: dict = field(default_factory=dict)  # kind -> [rows per shard]
    dims: set = field(default_factory=set)

    @property
    def n_shards(self) -> int:
        return len(self.suffixes)

    def path(self, kind: str, k: int, positions: bool = False) -> Path:
        if kind == "metadata":
            return self.folder / META_DIR / f"{META_PREFIX}{self.suffixes[k]}.parquet"
        sub, prefix = (POSITIONS if positions else KINDS)[kind]
        return self.folder / sub / f"{prefix}{self.suffixes[k]}.npy"


def _suffixes(folder: Path, sub: str, prefix: str, ext: str) -> list:
    d = folder / sub
    if not d.is_dir():
        return []
    pat = re.compile(rf"^{re.escape(prefix)}(\d+){re.escape(ext)}$")
    return sorted((m.group(1) for m in map(pat.match, os.listdir(d)) if m), key=int)


def discover(folder) -> Layout:
    """Find and check the shards of ``folder`` (ours or written by clip-retrieval).

    Checks, reading headers only: the folder is a shard layout (``img_emb/`` and/or ``text_emb/``), every
    kind has the same shard numbers, row counts agree across image, text and metadata shards of each
    number, one dimension throughout; in one of our folders, every shard is marked complete.
    Raises ``DatasetError`` naming the file.
    """
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"no shard folder at {folder}; encode one with scale.encode_to_shards(source, folder).")
    manifest = read_manifest(folder)
    if manifest is not None:
        n = int(manifest["n_shards"])
        todo = [i for i in range(n) if not is_done(folder, i, n)]
        if todo:
            raise DatasetError(
                f"{folder}: {len(todo)} of {n} shards are not complete (first: shard {shard_suffix(todo[0], n)}; "
                f"no marker in {STATE_DIR}/shards/): the job that writes it was interrupted or is still running. "
                "Run the same encode_to_shards call again to finish it (finished shards are kept)."
            )
    found = {kind: _suffixes(folder, sub, prefix, ".npy") for kind, (sub, prefix) in KINDS.items()}
    kinds = tuple(k for k, v in found.items() if v)
    if not kinds:
        raise DatasetError(
            f"{folder} is not a shard layout: it has no img_emb/img_emb_<i>.npy or text_emb/text_emb_<i>.npy "
            "files (clip-retrieval's layout). Point at the folder clip-retrieval or scale.encode_to_shards wrote."
        )
    suffixes = found[kinds[0]]
    for kind in kinds[1:]:
        if found[kind] != suffixes:
            missing = sorted(set(suffixes) ^ set(found[kind]), key=int)
            raise DatasetError(
                f"{folder}: image and text shards do not pair up (shard number(s) {missing[:5]} exist for only one "
                "of img_emb/ and text_emb/); every item needs both, row for row."
            )
    layout = Layout(folder, suffixes, kinds, manifest)
    meta_sfx = set(_suffixes(folder, META_DIR, META_PREFIX, ".parquet"))
    for k, sfx in enumerate(suffixes):
        counts = {}
        for kind in kinds:
            shape, dtype = npy_shape(layout.path(kind, k))
            if len(shape) != 2 or not np.issubdtype(dtype, np.floating):
                raise DatasetError(
                    f"{layout.path(kind, k)}: shape {shape}, dtype {dtype}; expected (rows, dim) floats."
                )
            counts[kind] = shape[0]
            layout.dims.add(shape[1])
            layout.rows.setdefault(kind, []).append(shape[0])
        if sfx in meta_sfx:
            path = layout.path("metadata", k)
            try:
                counts["metadata"] = pq.read_metadata(path).num_rows
            except Exception as exc:
                raise DatasetError(
                    f"{path}: unreadable parquet ({exc}); the shard is corrupt, encode it again."
                ) from exc
        if len(set(counts.values())) > 1:
            files = ", ".join(f"{layout.path(kind, k).relative_to(folder)}: {n} rows" for kind, n in counts.items())
            raise DatasetError(
                f"{folder}: shard {sfx} has mismatched row counts ({files}); they must be row-aligned. "
                "Re-encode that shard."
            )
    if len(layout.dims) > 1:
        raise DatasetError(f"{folder}: shards have different dimensions {sorted(layout.dims)}; one model per folder.")
    return layout
