"""Sources of raw items to encode: a parquet/CSV table, a folder of images, webdataset tar shards.

A source cuts itself into output shards (``plan(shard_size)``: one small JSON-able task per shard, in a
fixed order, so a re-run gives the same shards) and reads one shard's items (``read(task)``), decoding
images here so that a missing or broken file is reported with the file and row it came from.

- ``TableSource``: parquet or CSV file(s) (or a folder of them) with an image column (a path, relative
  paths resolved against the table's folder, or encoded image bytes as img2dataset's parquet output has)
  and/or a caption column; an ``id`` column is kept, else ids are the global row numbers.
- ``ImageFolder``: every image under a folder (sorted); ``name.txt`` beside ``name.jpg`` is its caption
  (clip-retrieval's ``files`` input); ids are the paths relative to the folder, without extension.
- ``WebDataset``: tar shards as img2dataset writes them (``key.jpg`` + ``key.txt`` + ``key.json``); one
  output shard per tar, ids are the sample keys.

Tables and tars may also be fsspec URLs (``s3://bucket/parquet/``, a file or a folder of them), read through
fsspec (``storage.py``); image paths in a remote table are URLs, or paths relative to the table's folder.
An image folder is read from this machine's filesystem.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ImageDecodeError, InputError, InputTypeError, MissingFileError
from .storage import is_remote, locate, open_store

__all__ = ["Source", "Items", "TableSource", "ImageFolder", "WebDataset", "open_source", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_MAX_IMAGE_BYTES = 256 << 20  # one remote image file


def _suffix(path) -> str:
    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    return name[name.rfind(".") :].lower() if "." in name else ""


def _open(path):
    """A binary file object of a local path or an fsspec URL."""
    if not is_remote(path):
        return open(path, "rb")
    store, name = locate(path)
    return store.open(name)


def _size(path) -> int:
    if not is_remote(path):
        return Path(path).stat().st_size
    store, name = locate(path)
    return store.size(name)


def _ident(path) -> str:
    return str(path) if is_remote(path) else str(Path(path).resolve())


@dataclass
class Items:
    """One shard's raw items: ids, decoded images and/or captions, and metadata, all row-aligned."""

    ids: list
    meta: pd.DataFrame
    images: list | None = None
    captions: list | None = None

    def __len__(self) -> int:
        return len(self.ids)


def decode_image(value, where: str):
    """A PIL image from a path or encoded bytes; MissingFileError / ImageDecodeError naming ``where``."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(value, dict) and "bytes" in value:  # Hugging Face / img2dataset struct columns
        value = value["bytes"] if value["bytes"] is not None else value.get("path")
    if isinstance(value, str) and is_remote(value):
        store, name = locate(value)
        if not store.isfile(name):
            raise MissingFileError(f"{where}: image file '{value}' does not exist; fix the path or drop the row.")
        value = store.read_bytes(name, max_bytes=_MAX_IMAGE_BYTES)
    if isinstance(value, (str, os.PathLike)) and not Path(value).is_file():
        raise MissingFileError(f"{where}: image file '{value}' does not exist; fix the path or drop the row.")
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            with Image.open(io.BytesIO(bytes(value))) as im:
                im.load()
                return im.copy()
        if isinstance(value, (str, os.PathLike)):
            with Image.open(value) as im:
                im.load()
                return im.copy()
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"{where}: image is too large to decode safely ({exc}); downscale it.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            f"{where}: image cannot be decoded ({type(exc).__name__}: {exc}); check that it is a complete "
            "PNG/JPEG image, or drop the row."
        ) from exc
    raise InputTypeError(f"{where}: image value is a {type(value).__name__}; expected a path or encoded bytes.")


def _fingerprint(parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Source(ABC):
    """Raw items cut into shards. ``modalities``: which of ``"image"``, ``"text"`` each item has."""

    modalities: tuple = ()

    @abstractmethod
    def plan(self, shard_size: int) -> list[dict]:
        """One JSON-able task per output shard, in order (the same on every call for the same input)."""

    @abstractmethod
    def read(self, task: dict) -> Items:
        """Read and decode the items of one task."""

    @abstractmethod
    def fingerprint(self) -> str:
        """Identifies the input (files, sizes): a re-run into the same folder must be over the same input."""


def _files(path, exts) -> list:
    """Local ``Path`` objects, or URLs for fsspec URLs: the files given, and those under folders given."""
    paths = list(path) if isinstance(path, (list, tuple)) else [path]
    out = []
    for p in paths:
        if is_remote(p):
            store = open_store(p)
            if store.isdir():
                out += store.find(tuple(exts))
            elif store.exists():
                out.append(store.url)
            else:
                raise MissingFileError(f"no file or folder at {p}; check the URL.")
            continue
        p = Path(str(p).split("://", 1)[1]) if "://" in str(p) else Path(p)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in exts and q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise MissingFileError(f"no file or folder at {p}; check the path.")
    if not out:
        raise DatasetError(f"no {'/'.join(exts)} files in {path}.")
    return out


class TableSource(Source):
    """Items from parquet/CSV table(s): ``image_column`` (path or bytes) and/or ``caption_column``.

    Parameters
    ----------
    path : str, Path or list
        A .parquet/.csv file, a folder of them, or a list (local paths or fsspec URLs).
    image_column, caption_column, id_column : str
        Image paths (relative to the table) or bytes; captions; ids.

    Raises
    ------
    DatasetError
        A table with neither column.

    Examples
    --------
    >>> import pandas as pd
    >>> from modalchorus_widget.scale import TableSource
    >>> pd.DataFrame({"id": ["a", "b"], "caption": ["a cat", "a dog"]}).to_csv("items.csv", index=False)
    >>> src = TableSource("items.csv")
    >>> src.modalities, src.counts()
    (('text',), [2])
    """

    def __init__(self, path, image_column="image_path", caption_column="caption", id_column="id"):
        self.files = _files(path, (".parquet", ".csv"))
        self.image_column, self.caption_column, self.id_column = image_column, caption_column, id_column
        self._counts = None
        cols = self._columns(self.files[0])
        self.modalities = tuple(
            m for m, c in (("image", image_column), ("text", caption_column)) if c is not None and c in cols
        )
        if not self.modalities:
            raise DatasetError(
                f"{self.files[0]}: has neither an image column {image_column!r} nor a caption column "
                f"{caption_column!r} (columns: {sorted(cols)[:12]}); pass image_column= / caption_column=."
            )

    @staticmethod
    def _columns(path) -> list:
        with _open(path) as f:
            if _suffix(path) == ".parquet":
                import pyarrow.parquet as pq

                return list(pq.read_schema(f).names)
            return list(pd.read_csv(f, nrows=0).columns)

    def counts(self) -> list[int]:
        if self._counts is None:
            import pyarrow.parquet as pq

            def rows(path) -> int:
                with _open(path) as f:
                    return (
                        pq.read_metadata(f).num_rows
                        if _suffix(path) == ".parquet"
                        else len(pd.read_csv(f, usecols=[0]))
                    )

            self._counts = [rows(f) for f in self.files]
        return self._counts

    def fingerprint(self) -> str:
        return _fingerprint(["table", [(_ident(f), _size(f)) for f in self.files], self.counts()])

    def plan(self, shard_size: int) -> list[dict]:
        counts = self.counts()
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        total = int(starts[-1])
        tasks = []
        for s in range(0, total, shard_size):
            e = min(s + shard_size, total)
            segs = []
            for f in range(len(counts)):
                a, b = max(s, starts[f]), min(e, starts[f + 1])
                if a < b:
                    segs.append([f, int(a - starts[f]), int(b - starts[f])])
            tasks.append({"start": s, "segments": segs})
        return tasks

    def _read_rows(self, path, a: int, b: int) -> pd.DataFrame:
        with _open(path) as f:
            if _suffix(path) == ".csv":
                return pd.read_csv(f, skiprows=range(1, a + 1), nrows=b - a)
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(f)
            groups, first, row = [], None, 0
            for g in range(pf.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                if row + n > a and row < b:
                    groups.append(g)
                    first = row if first is None else first
                row += n
            return pf.read_row_groups(groups).slice(a - first, b - a).to_pandas()

    def _resolve(self, f: int, value: str) -> str:
        """An image path of table ``f``: as it is when absolute (or an URL), else relative to the table."""
        table = self.files[f]
        if value.lower().startswith("file://"):
            return value[len("file://") :]
        if "://" in value:
            return value
        if is_remote(table):
            if value.startswith("/"):  # a path on the table's own filesystem
                return locate(table)[0].fs.unstrip_protocol(value)
            return f"{str(table).rsplit('/', 1)[0]}/{value}"
        return value if os.path.isabs(value) else str(Path(table).parent / value)

    def read(self, task: dict) -> Items:
        parts, where = [], []
        for f, a, b in task["segments"]:
            df = self._read_rows(self.files[f], a, b).reset_index(drop=True)
            parts.append(df)
            where += [(f, a + i) for i in range(len(df))]
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        start = int(task["start"])
        ids = (
            df[self.id_column].astype(str).tolist()
            if self.id_column in df
            else [str(start + i) for i in range(len(df))]
        )
        meta = pd.DataFrame({"id": ids})
        images = captions = None
        if "image" in self.modalities:
            col = df[self.image_column]
            images = []
            for i, v in enumerate(col):
                f, r = where[i]
                if isinstance(v, str):
                    v = self._resolve(f, v)
                images.append(decode_image(v, f"{self.files[f]} row {r} (item {start + i})"))
            if col.map(lambda v: isinstance(v, str)).all():
                meta["image_path"] = col.astype(str).to_numpy()
        if "text" in self.modalities:
            captions = df[self.caption_column].fillna("").astype(str).tolist()
            meta["caption"] = captions
        skip = {self.image_column, self.caption_column, self.id_column}
        for c in df.columns:
            if c not in skip and c not in meta and df[c].map(lambda v: not isinstance(v, (bytes, dict))).all():
                meta[c] = df[c].to_numpy()
        return Items(ids, meta, images, captions)


class ImageFolder(Source):
    """Every image under ``folder``; ``name.txt`` beside an image is its caption (when any .txt exists).

    Parameters
    ----------
    folder : str or Path
        A local folder.

    Examples
    --------
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from modalchorus_widget.scale import ImageFolder
    >>> Path("imgs").mkdir()
    >>> Image.new("RGB", (4, 4)).save("imgs/cat.png")
    >>> _ = Path("imgs/cat.txt").write_text("a black cat")
    >>> ImageFolder("imgs").modalities
    ('image', 'text')
    """

    def __init__(self, folder):
        if is_remote(folder):
            raise InputError(
                f"{folder}: an image folder is read from this machine's filesystem; for images in remote storage, "
                "list them in a parquet/CSV table (an image_path column of URLs) or pack them as webdataset tars."
            )
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MissingFileError(f"no image folder at {self.folder}; check the path.")
        self.files = sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.files:
            raise DatasetError(f"{self.folder}: no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        has_txt = any(True for _ in self.folder.rglob("*.txt"))
        self.modalities = ("image", "text") if has_txt else ("image",)

    def fingerprint(self) -> str:
        return _fingerprint(["folder", str(self.folder.resolve()), len(self.files), str(self.files[-1])])

    def plan(self, shard_size: int) -> list[dict]:
        return [
            {"start": s, "stop": min(s + shard_size, len(self.files))} for s in range(0, len(self.files), shard_size)
        ]

    def read(self, task: dict) -> Items:
        files = self.files[task["start"] : task["stop"]]
        ids = [str(p.relative_to(self.folder).with_suffix("")) for p in files]
        images = [decode_image(p, f"{p} (item {task['start'] + i})") for i, p in enumerate(files)]
        meta = pd.DataFrame({"id": ids, "image_path": [str(p) for p in files]})
        captions = None
        if "text" in self.modalities:
            captions = []
            for p in files:
                txt = p.with_suffix(".txt")
                if not txt.is_file():
                    raise MissingFileError(f"{p}: no caption file {txt.name} beside it (other images have one).")
                captions.append(txt.read_text(encoding="utf-8", errors="replace").strip())
            meta["caption"] = captions
        return Items(ids, meta, images, captions)


class WebDataset(Source):
    """webdataset tar shards (img2dataset's output): one output shard per tar, ids = sample keys.

    Parameters
    ----------
    tars : str, Path or list
        A .tar file, a folder of them, or a list (local paths or fsspec URLs).

    Raises
    ------
    DatasetError
        An empty tar.

    Examples
    --------
    >>> import io, tarfile
    >>> from PIL import Image
    >>> from modalchorus_widget.scale import WebDataset
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (4, 4)).save(png, format="PNG")
    >>> with tarfile.open("00000.tar", "w") as tar:
    ...     for name, data in (("0001.png", png.getvalue()), ("0001.txt", b"a black square")):
    ...         info = tarfile.TarInfo(name)
    ...         info.size = len(data)
    ...         tar.addfile(info, io.BytesIO(data))
    >>> WebDataset("00000.tar").modalities
    ('image', 'text')
    """

    def __init__(self, tars):
        self.files = _files(tars, (".tar",))
        first = self._samples(self.files[0], limit=1)
        if not first:
            raise DatasetError(f"{self.files[0]}: empty tar, no samples.")
        kinds = set(first[0][1])
        self.modalities = tuple(
            m for m, ok in (("image", kinds & set(IMAGE_EXTENSIONS)), ("text", ".txt" in kinds)) if ok
        )
        if not self.modalities:
            raise DatasetError(f"{self.files[0]}: samples have neither an image nor a .txt caption ({sorted(kinds)}).")

    @staticmethod
    def _samples(path, limit=None) -> list:
        out, index = [], {}
        try:
            with _open(path) as raw, tarfile.open(fileobj=raw, mode="r:*") as tar:
                for m in tar:
                    if not m.isfile():
                        continue
                    name = m.name.rsplit("/", 1)[-1]
                    key, dot, ext = name.partition(".")
                    if not dot:
                        continue
                    if key not in index:
                        if limit is not None and len(out) >= limit:
                            break
                        index[key] = len(out)
                        out.append((key, {}))
                    out[index[key]][1]["." + ext.lower()] = tar.extractfile(m).read()
        except (tarfile.TarError, OSError) as exc:
            raise DatasetError(f"{path}: not a readable tar file ({exc}).") from exc
        return out

    def fingerprint(self) -> str:
        return _fingerprint(["wds", [(_ident(f), _size(f)) for f in self.files]])

    def plan(self, shard_size: int) -> list[dict]:
        return [{"tar": i} for i in range(len(self.files))]

    def read(self, task: dict) -> Items:
        path = self.files[task["tar"]]
        samples = self._samples(path)
        ids, images, captions, extra = [], [], [], []
        for key, parts in samples:
            ids.append(key)
            if "image" in self.modalities:
                ext = next((e for e in IMAGE_EXTENSIONS if e in parts), None)
                if ext is None:
                    raise DatasetError(f"{path}: sample {key!r} has no image ({sorted(parts)}).")
                images.append(decode_image(parts[ext], f"{path} sample {key!r}"))
            if "text" in self.modalities:
                if ".txt" not in parts:
                    raise DatasetError(f"{path}: sample {key!r} has no .txt caption.")
                captions.append(parts[".txt"].decode("utf-8", errors="replace"))
            extra.append(json.loads(parts[".json"]) if ".json" in parts else {})
        meta = pd.DataFrame({"id": ids})
        if captions and "text" in self.modalities:
            meta["caption"] = captions
        if any(extra):
            more = pd.json_normalize(extra)
            meta = meta.join(more.drop(columns=[c for c in more.columns if c in meta], errors="ignore"))
        return Items(ids, meta, images if "image" in self.modalities else None, captions or None)


def open_source(source) -> Source:
    """A ``Source`` as is, or one guessed from a path: a .parquet/.csv file or a folder of them -> table;
    .tar files -> webdataset; a folder of images -> image folder.

    Parameters
    ----------
    source : Source, str, Path or list
        A local path or an fsspec URL (or a list of them).

    Returns
    -------
    Source
        A ``TableSource``, ``WebDataset`` or ``ImageFolder``.

    Raises
    ------
    MissingFileError, DatasetError
        Nothing there, or nothing of a known kind.

    Examples
    --------
    >>> import pandas as pd
    >>> from modalchorus_widget.scale import open_source
    >>> pd.DataFrame({"caption": ["a cat"]}).to_csv("items.csv", index=False)
    >>> type(open_source("items.csv")).__name__
    'TableSource'
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, (list, tuple)):
        return WebDataset(source) if _suffix(source[0]) == ".tar" else TableSource(source)
    if is_remote(source):
        kind = _suffix(source)
        if kind in (".parquet", ".csv"):
            return TableSource(source)
        if kind == ".tar":
            return WebDataset(source)
        store = open_store(source)
        if store.find((".tar",)):
            return WebDataset(source)
        if store.find((".parquet", ".csv")):
            return TableSource(source)
        raise DatasetError(f"{source}: no .parquet, .csv or .tar files there; remote images go in a table or tars.")
    p = Path(source)
    if p.is_file():
        if p.suffix.lower() in (".parquet", ".csv"):
            return TableSource(p)
        if p.suffix.lower() == ".tar":
            return WebDataset(p)
        raise DatasetError(f"{p}: unknown source file type {p.suffix!r}; use .parquet, .csv or .tar.")
    if p.is_dir():
        names = [q.suffix.lower() for q in p.iterdir()]
        if ".tar" in names:
            return WebDataset(p)
        if ".parquet" in names or ".csv" in names:
            return TableSource(p)
        return ImageFolder(p)
    raise MissingFileError(f"no source at {p}; pass a table, a folder of images or webdataset tars.")
