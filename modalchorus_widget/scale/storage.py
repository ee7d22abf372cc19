"""Where a shard folder lives: a local path (or ``file://`` URL), or any fsspec URL (``s3://``, ``gs://``,
``memory://``, ...).

``open_store(folder)`` gives a ``Store``; its methods take paths relative to the folder
(``"img_emb/img_emb_0.npy"``). A local folder is memory-mapped and written atomically (temp file, fsync,
rename). A remote one is read shard by shard (an .npy header first, so the file's size is checked against
its header before any data is read) and written with one put per file, which object stores (s3, gs, az)
make visible whole; other fsspec filesystems get a temp name and a move. fsspec is imported only for URLs;
the package an URL needs (s3fs, gcsfs, ...) is imported by fsspec on first use, and when it is missing
``StorageUnavailableError`` names it.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..errors import DatasetError, InputError, StorageUnavailableError

__all__ = ["Store", "LocalStore", "RemoteStore", "open_store", "is_remote", "locate", "OBJECT_STORES"]

# protocols whose single PUT is atomic (readers see the whole object or none of it)
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})
_MAX_NPY_HEADER = 1 << 16


def _read_npy_header(f, where) -> tuple[tuple, np.dtype, bool, int]:
    """(shape, dtype, fortran_order, offset of the data) of an open .npy file, from its header alone."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f, max_header_size=_MAX_NPY_HEADER)
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"{where}: not a readable .npy array ({exc}); the shard is corrupt, encode it again."
        ) from exc
    if dtype.hasobject:
        raise DatasetError(f"{where}: holds Python objects, not numbers; refused (no pickle).")
    return tuple(shape), dtype, bool(fortran), f.tell()


class Store:
    """A folder of files, addressed by paths relative to it. ``local``: memory-mappable; ``shared``: other
    processes (Ray workers) see the same files."""

    local = True
    shared = True
    url = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __str__(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def npy_shape(self, rel: str) -> tuple[tuple, np.dtype]:
        """(shape, dtype) of an .npy file from its header alone (nothing else is read)."""
        with self.open(rel) as f:
            shape, dtype, _, _ = _read_npy_header(f, self.path(rel))
        return shape, dtype

    def parquet_rows(self, rel: str) -> int:
        import pyarrow.parquet as pq

        try:
            with self.open(rel) as f:
                return pq.read_metadata(f).num_rows
        except Exception as exc:
            raise DatasetError(
                f"{self.path(rel)}: unreadable parquet ({exc}); the shard is corrupt, encode it again."
            ) from exc

    def read_parquet(self, rel: str):
        import pandas as pd

        with self.open(rel) as f:
            return pd.read_parquet(f)

    def save_npy(self, rel: str, array: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        self.write_bytes(rel, buf.getbuffer())

    def save_parquet(self, rel: str, frame) -> None:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        self.write_bytes(rel, buf.getbuffer())


class LocalStore(Store):
    """A folder on this machine's filesystem (or a shared one mounted at the same path on every node)."""

    def __init__(self, root):
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, rel: str = "") -> Path:
        return self.root / rel if rel else self.root

    @property
    def name(self) -> str:
        return self.root.name

    def resolved(self) -> str:
        return str(self.root.resolve())

    def exists(self, rel: str = "") -> bool:
        return self.path(rel).exists()

    def isfile(self, rel: str) -> bool:
        return self.path(rel).is_file()

    def isdir(self, rel: str = "") -> bool:
        return self.path(rel).is_dir()

    def listdir(self, rel: str = "") -> list[str]:
        d = self.path(rel)
        return os.listdir(d) if d.is_dir() else []

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())

    def makedirs(self, rel: str = "") -> None:
        self.path(rel).mkdir(parents=True, exist_ok=True)

    def open(self, rel: str, mode: str = "rb"):
        return open(self.path(rel), mode)

    def size(self, rel: str) -> int:
        return self.path(rel).stat().st_size

    def read_bytes(self, rel: str, max_bytes: int | None = None) -> bytes:
        from ..safe_zip import read_regular_file

        return read_regular_file(self.path(rel), max_bytes=max_bytes)

    def write_bytes(self, rel: str, data) -> None:
        from ..io import atomic_write_bytes

        atomic_write_bytes(self.path(rel), data)

    def remove(self, rel: str) -> None:
        p = self.path(rel)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()

    def load_npy(self, rel: str) -> np.ndarray:
        """A read-only memory map of the .npy file (its pages leave resident memory when it is dropped)."""
        path = self.path(rel)
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"{path}: not a readable .npy array ({exc}); the shard is corrupt, encode it again."
            ) from exc

    def sibling(self, name: str) -> LocalStore:
        return LocalStore(self.root.parent / name)


class RemoteStore(Store):
    """A folder on an fsspec filesystem: ``fs`` (the filesystem), ``root`` (its path there, no protocol)."""

    local = False

    def __init__(self, fs, root: str):
        self.fs, self.root = fs, root.rstrip("/")
        self.protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.url = fs.unstrip_protocol(self.root)
        self.shared = self.protocol != "memory"  # fsspec's memory filesystem lives in this process only

    def _p(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def path(self, rel: str = "") -> str:
        return self.fs.unstrip_protocol(self._p(rel))

    def resolved(self) -> str:
        return self.url

    def exists(self, rel: str = "") -> bool:
        return self.fs.exists(self._p(rel))

    def isfile(self, rel: str) -> bool:
        return self.fs.isfile(self._p(rel))

    def isdir(self, rel: str = "") -> bool:
        return self.fs.isdir(self._p(rel))

    def listdir(self, rel: str = "") -> list[str]:
        try:
            entries = self.fs.ls(self._p(rel), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]

    def is_empty(self) -> bool:
        return not self.listdir()

    def makedirs(self, rel: str = "") -> None:
        self.fs.makedirs(self._p(rel), exist_ok=True)

    def open(self, rel: str, mode: str = "rb"):
        return self.fs.open(self._p(rel), mode)

    def size(self, rel: str) -> int:
        return int(self.fs.size(self._p(rel)))

    def read_bytes(self, rel: str, max_bytes: int | None = None) -> bytes:
        from ..errors import UntrustedFileError
        from ..safe_zip import MAX_BYTES

        limit = MAX_BYTES if max_bytes is None else int(max_bytes)
        size = self.fs.size(self._p(rel))
        if size is not None and size > limit:
            raise UntrustedFileError(f"{self.path(rel)}: refused: {size:,} bytes, over the {limit:,}-byte limit.")
        return self.fs.cat_file(self._p(rel))

    def write_bytes(self, rel: str, data) -> None:
        """One put (atomic on object stores); elsewhere a temp name in the same folder, then a move."""
        p = self._p(rel)
        parent = p.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if self.protocol in OBJECT_STORES:
            self.fs.pipe_file(p, bytes(data))
            return
        tmp = f"{parent}/.{p.rsplit('/', 1)[-1]}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.pipe_file(tmp, bytes(data))
            self.fs.mv(tmp, p)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def remove(self, rel: str) -> None:
        if self.fs.exists(self._p(rel)):
            self.fs.rm(self._p(rel), recursive=True)

    def load_npy(self, rel: str) -> np.ndarray:
        """The whole .npy file read into memory (read-only), after its header and size agree."""
        where = self.path(rel)
        with self.open(rel) as f:
            shape, dtype, fortran, offset = _read_npy_header(f, where)
            want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            size = self.fs.size(self._p(rel))
            if size is not None and size != offset + want:
                raise DatasetError(
                    f"{where}: {size:,} bytes, but its header says {offset + want:,} ({shape}, {dtype}); the shard "
                    "is truncated or corrupt, encode it again."
                )
            data = f.read(want)
        if len(data) != want:
            raise DatasetError(f"{where}: truncated ({len(data):,} of {want:,} data bytes); encode it again.")
        arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        arr.flags.writeable = False
        return arr

    def find(self, exts: tuple) -> list[str]:
        """URLs of every file under the folder whose name ends with one of ``exts``, sorted."""
        return [self.fs.unstrip_protocol(p) for p in sorted(self.fs.find(self.root)) if p.lower().endswith(exts)]

    def sibling(self, name: str) -> RemoteStore:
        head = self.root.rsplit("/", 1)[0] + "/" if "/" in self.root else ""
        return RemoteStore(self.fs, head + name)


def open_store(folder) -> Store:
    """A ``Store`` for a local path, a ``file://`` URL, or any other fsspec URL (``s3://bucket/emb``)."""
    if isinstance(folder, Store):
        return folder
    if isinstance(folder, os.PathLike) or "://" not in str(folder):
        return LocalStore(folder)
    url = str(folder)
    protocol = url.split("://", 1)[0].lower()
    if protocol in ("file", "local"):
        return LocalStore(url.split("://", 1)[1])
    try:
        import fsspec
        from fsspec.registry import known_implementations
    except ImportError as exc:
        raise StorageUnavailableError(
            f"{url}: fsspec URLs need the fsspec package; pip install modalchorus-widget[scale]."
        ) from exc
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        hint = known_implementations.get(protocol, {}).get("err", str(exc))
        raise StorageUnavailableError(
            f"{url}: the {protocol}:// filesystem is not installed ({hint}); install it (pip install s3fs for "
            "s3://, gcsfs for gs://, adlfs for az://), or use a local or mounted path."
        ) from exc
    except ValueError as exc:
        raise InputError(f"{url}: {exc}; use a local path or an fsspec URL such as s3://bucket/folder.") from exc
    if type(fs).__name__ == "LocalFileSystem":
        return LocalStore(root)
    return RemoteStore(fs, root)


def is_remote(path) -> bool:
    """True for an fsspec URL other than ``file://`` (a path or ``file://`` URL is local)."""
    text = str(path)
    return (
        not isinstance(path, os.PathLike) and "://" in text and text.split("://", 1)[0].lower() not in ("file", "local")
    )


def locate(path) -> tuple[Store, str]:
    """(the store of ``path``'s folder, ``path``'s name in it), for a local path or an URL."""
    if not is_remote(path):
        p = Path(str(path).split("://", 1)[1]) if "://" in str(path) else Path(path)
        return LocalStore(p.parent), p.name
    head, _, name = str(path).rstrip("/").rpartition("/")
    return open_store(head), name
