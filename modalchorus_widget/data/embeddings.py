"""EmbeddingSet: rows of multi-modal embeddings with their modality, id, label, raw item and metadata.

Everything downstream (projection, widget, alignment, C-MCR) takes an EmbeddingSet, so it validates
once, here, and the rest of the code can trust its invariants: finite float32 rows of one dimension,
L2-normalised, unique ids, known modality names, metadata aligned row for row.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EmbeddingError, ImageDecodeError, MissingFileError, UntrustedFileError
from ..io import atomic_write_bytes
from .validation import MODALITIES, check_modality, check_vectors

FORMAT = "modalchorus-embeddings"
FORMAT_VERSION = 1


def _as_vectors(vectors, where: str = "EmbeddingSet") -> np.ndarray:
    """Finite float32 (n, d) rows (zero rows allowed: ``l2_normalize`` refuses them where a direction is needed)."""
    return check_vectors(vectors, where, allow_zero=True)


def l2_normalize(vectors: np.ndarray, where: str = "EmbeddingSet", tol: float = 1e-4) -> np.ndarray:
    """Unit-length rows (float32); zero rows are an error, since they have no direction.

    Works block by block, and returns a float32 input whose rows are already unit length (within
    ``tol``, as encoders return them) as it is: no second n x d copy (2 GB for 1M x 512).
    """
    return check_vectors(vectors, where, normalize=True, tol=tol)


def _check_utf8(values, name: str) -> None:
    """Strings must be encodable as UTF-8 (the widget and the saved files send them as UTF-8 JSON).

    Strings read with ``errors="surrogateescape"`` hold lone surrogates for undecodable bytes; they are
    found here, once, with one C-level encode of all strings joined (fast for a million rows).
    """
    strs = [v for v in values if isinstance(v, str)]
    if not strs:
        return
    try:
        "\n".join(strs).encode("utf-8")
    except UnicodeEncodeError:
        for i, v in enumerate(values):
            if isinstance(v, str):
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise EmbeddingError(
                        f"{name}: row {i} holds text that is not valid UTF-8 ({v[max(0, exc.start - 10) : exc.end + 10]!r}, "
                        f"undecodable byte(s) at position {exc.start}); decode the source with its real encoding "
                        "(e.g. open(..., encoding='latin-1')) or errors='replace'."
                    ) from None


def _per_row(value, n: int, name: str, default=None) -> np.ndarray | None:
    if value is None:
        return None if default is None else np.full(n, default, dtype=object)
    if isinstance(value, str):
        return np.full(n, value, dtype=object)
    arr = np.empty(len(value), dtype=object)
    arr[:] = list(value)
    if len(arr) != n:
        raise EmbeddingError(f"{name}: has {len(arr)} entries but there are {n} vectors; give one per row.")
    return arr


class EmbeddingSet:
    """Multi-modal embeddings, one row per item.

    Parameters
    ----------
    vectors : (n, d) array of floats; rows are L2-normalised unless ``normalize=False``. A float32 array
        whose rows are already unit length (what encoders return) is kept as a read-only view, not
        copied (a million 512-d rows would otherwise need 2 GB more); do not write into it afterwards.
    modality : one name for all rows or one per row (``"image"``, ``"text"``, ``"audio"``, ``"video"``).
    ids : unique id per row (default ``"<modality>-<i>"``).
    labels : optional class/category label per row.
    items : optional raw item per row: image path / PIL image / array for images, the string for texts.
    meta : optional DataFrame (or dict of columns) with n rows of free metadata.
    space : name of the embedding space (e.g. ``"clip"``), used when spaces are connected.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget import EmbeddingSet
    >>> rng = np.random.default_rng(0)
    >>> es = EmbeddingSet(rng.normal(size=(4, 8)), modality=["image", "image", "text", "text"],
    ...                   labels=["cat", "dog", "cat", "dog"])
    >>> es.n, es.modalities
    (4, ('image', 'text'))
    >>> es.frame[["modality", "label"]].iloc[2].tolist()
    ['text', 'cat']
    """

    def __init__(
        self,
        vectors,
        modality="image",
        ids=None,
        labels=None,
        items=None,
        meta=None,
        space: str = "clip",
        normalize: bool = True,
    ):
        vec = _as_vectors(vectors)
        n = vec.shape[0]
        if normalize:
            vec = l2_normalize(vec)
        mod = check_modality(modality, n, "EmbeddingSet")
        if ids is None:
            counters: dict[str, int] = {}
            ids = []
            for m in mod:
                ids.append(f"{m}-{counters.get(m, 0)}")
                counters[m] = counters.get(m, 0) + 1
        ids = _per_row(ids, n, "ids")
        ids_s = pd.Series(ids).astype(str)
        dup = ids_s[ids_s.duplicated()]
        if len(dup):
            raise EmbeddingError(f"ids: {len(dup)} duplicate id(s), e.g. {dup.iloc[:3].tolist()}; ids must be unique.")
        frame = pd.DataFrame({"id": ids_s.to_numpy(), "modality": mod.astype(str)})
        _check_utf8(ids, "ids")
        lab = _per_row(labels, n, "labels")
        if lab is not None:
            _check_utf8(lab, "labels")
        if lab is not None:  # object dtype: pandas >= 3 would infer strings and turn None into NaN
            frame["label"] = pd.Series(lab, dtype=object)
        it = _per_row(items, n, "items") if items is not None and not isinstance(items, str) else None
        if it is not None:
            _check_utf8(it, "items")
            frame["item"] = pd.Series(it, dtype=object)
        if meta is not None:
            meta = pd.DataFrame(meta)
            if len(meta) != n:
                raise EmbeddingError(f"meta: has {len(meta)} rows but there are {n} vectors; align it row for row.")
            clash = sorted(set(meta.columns) & set(frame.columns))
            if clash:
                raise EmbeddingError(f"meta: column(s) {clash} are reserved; rename them.")
            frame = pd.concat([frame, meta.reset_index(drop=True)], axis=1)
        vec = vec.view()  # read-only view: never flips the flag on the caller's own array
        vec.setflags(write=False)
        self._vectors = vec
        self.frame = frame
        self.space = str(space)
        self._thumbs: dict[int, list] = {}

    # ----------------------------------------------------------------- views
    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    @property
    def frame(self) -> pd.DataFrame:
        """One row per vector: ``id``, ``modality``, ``label``, ``item`` and the ``meta`` columns."""
        return self._frame

    @frame.setter
    def frame(self, frame: pd.DataFrame) -> None:
        self._frame, self._modality = frame, None

    @property
    def modality(self) -> np.ndarray:
        """Each row's modality (a read-only object array, converted from the frame once: a round at a million
        rows reads it a dozen times)."""
        if self._modality is None:
            m = np.asarray(self._frame["modality"].to_numpy(), dtype=object)
            m.flags.writeable = False
            self._modality = m
        return self._modality

    @property
    def labels(self) -> np.ndarray | None:
        return self.frame["label"].to_numpy() if "label" in self.frame else None

    @property
    def ids(self) -> np.ndarray:
        return self.frame["id"].to_numpy()

    @property
    def items(self) -> np.ndarray | None:
        return self.frame["item"].to_numpy() if "item" in self.frame else None

    @property
    def n(self) -> int:
        return self._vectors.shape[0]

    def __len__(self) -> int:
        return self.n

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    @property
    def modalities(self) -> tuple:
        return tuple(pd.unique(self.frame["modality"]))

    def mask(self, modality: str) -> np.ndarray:
        self._check_modality(modality)
        return (self.frame["modality"] == modality).to_numpy()

    def indices(self, modality: str) -> np.ndarray:
        return np.flatnonzero(self.mask(modality)).astype(np.uint32)

    def label_indices(self, label) -> np.ndarray:
        if "label" not in self.frame:
            raise EmbeddingError("this set has no labels; pass labels=... when creating it.")
        return np.flatnonzero((self.frame["label"] == label).to_numpy()).astype(np.uint32)

    def torch(self):
        """A torch tensor sharing memory with ``vectors`` (treat it as read-only)."""
        import warnings

        import torch

        with warnings.catch_warnings():  # torch warns on read-only arrays; we never write through it
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(self._vectors)

    def _check_modality(self, modality):
        if modality not in MODALITIES:
            raise EmbeddingError(f"unknown modality {modality!r}; use one of {list(MODALITIES)}.")

    def check_indices(self, idx, where: str = "indices") -> np.ndarray:
        """Validate row indices (int array or bool mask) and return them as int64."""
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (self.n,):
                raise EmbeddingError(f"{where}: boolean mask has shape {arr.shape}, expected ({self.n},).")
            return np.flatnonzero(arr)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if not np.issubdtype(arr.dtype, np.integer):
            raise EmbeddingError(f"{where}: expected integer row indices, got dtype {arr.dtype}.")
        arr = arr.astype(np.int64).ravel()
        if arr.min() < 0 or arr.max() >= self.n:
            raise EmbeddingError(f"{where}: indices must lie in [0, {self.n}); got min {arr.min()}, max {arr.max()}.")
        return arr

    # ------------------------------------------------------------- slicing
    def subset(self, idx) -> EmbeddingSet:
        rows = self.check_indices(idx, "subset")
        out = EmbeddingSet.__new__(EmbeddingSet)
        vec = self._vectors[rows].copy()
        vec.setflags(write=False)
        out._vectors = vec
        out.frame = self.frame.iloc[rows].reset_index(drop=True)
        out.space = self.space
        out._thumbs = {}
        return out

    def by_modality(self, modality: str) -> EmbeddingSet:
        return self.subset(self.mask(modality))

    def by_label(self, label) -> EmbeddingSet:
        return self.subset(self.label_indices(label))

    def with_vectors(self, vectors, normalize: bool = True, trusted: bool = False) -> EmbeddingSet:
        """The same rows with new vectors (e.g. after alignment); shape must match. ``trusted``: the caller made
        ``vectors``, a new float32 (n, d) array of finite unit rows that it hands over and never writes to again
        (an alignment round): taken as it is, without a check or a copy (2 GB and a pass over it at 1M x 512)."""
        if trusted and isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
            if vectors.shape != self._vectors.shape:
                raise EmbeddingError(f"with_vectors: shape {vectors.shape} does not match {self._vectors.shape}.")
            vec = vectors.view()
            vec.setflags(write=False)
            return self._sharing(vec)
        vec = _as_vectors(vectors, "EmbeddingSet.with_vectors")
        if vec.shape != self._vectors.shape:
            raise EmbeddingError(
                f"with_vectors: shape {vec.shape} does not match the set's {self._vectors.shape}; "
                "pass one new vector per row of the set, in the same order."
            )
        if normalize:
            vec = l2_normalize(vec, "EmbeddingSet.with_vectors")
        vec = vec.copy() if vec is vectors else vec
        vec.setflags(write=False)
        return self._sharing(vec)

    def _sharing(self, vec) -> EmbeddingSet:
        """A set with this one's rows and frame and the (checked, read-only) vectors ``vec``."""
        out = EmbeddingSet.__new__(EmbeddingSet)
        out._vectors = vec
        out.frame = self.frame
        out._modality = self._modality  # the same frame: its converted column too
        out.space = self.space
        out._thumbs = self._thumbs
        return out

    @classmethod
    def concat(cls, sets: Sequence[EmbeddingSet]) -> EmbeddingSet:
        """Rows of several sets of the same dimension, in order."""
        sets = list(sets)
        if not sets:
            raise EmbeddingError("concat: no sets given.")
        dims = {s.dim for s in sets}
        if len(dims) > 1:
            raise EmbeddingError(
                f"concat: sets have different dimensions {sorted(dims)}; project them to one space first."
            )
        frame = pd.concat(
            [s.frame.assign(space=s.space) if "space" not in s.frame else s.frame for s in sets], ignore_index=True
        )
        if frame["id"].duplicated().any():
            raise EmbeddingError("concat: ids collide between sets; give them distinct ids.")
        vec = np.concatenate([s.vectors for s in sets]).astype(np.float32)
        out = cls.__new__(cls)
        vec.setflags(write=False)
        out._vectors, out.frame, out.space, out._thumbs = vec, frame, sets[0].space, {}
        return out

    @classmethod
    def from_pairs(
        cls, images, texts, labels=None, text_labels=None, image_items=None, captions=None, space: str = "clip", **kw
    ) -> EmbeddingSet:
        """Images first, then texts (the layout MFM's ``fit_transform`` returns)."""
        images = _as_vectors(images, "EmbeddingSet.from_pairs(images)")
        texts = _as_vectors(texts, "EmbeddingSet.from_pairs(texts)")
        if images.shape[1] != texts.shape[1]:
            raise EmbeddingError(
                f"images have dimension {images.shape[1]} but texts {texts.shape[1]}; "
                "both must come from the same model's joint space."
            )
        ni, nt = len(images), len(texts)
        lab = None
        if labels is not None or text_labels is not None:
            li = _per_row(labels, ni, "labels") if labels is not None else np.full(ni, None, dtype=object)
            lt = (
                _per_row(text_labels, nt, "text_labels") if text_labels is not None else np.full(nt, None, dtype=object)
            )
            lab = np.concatenate([li, lt])
        items = None
        if image_items is not None or captions is not None:
            ii = (
                _per_row(image_items, ni, "image_items") if image_items is not None else np.full(ni, None, dtype=object)
            )
            tt = _per_row(captions, nt, "captions") if captions is not None else np.full(nt, None, dtype=object)
            items = np.concatenate([ii, tt])
        return cls(
            np.concatenate([images, texts]), ["image"] * ni + ["text"] * nt, labels=lab, items=items, space=space, **kw
        )

    # ------------------------------------------------------------ thumbnails
    def thumbnails(self, size: int = 64) -> list:
        """PNG bytes per image row (None for other rows or items that are missing); made once, cached."""
        if size in self._thumbs:
            return self._thumbs[size]
        items = self.items
        out = [None] * self.n
        if items is not None:
            for i in np.flatnonzero(self.mask("image")) if "image" in self.modalities else []:
                if items[i] is not None and not (isinstance(items[i], float) and np.isnan(items[i])):
                    out[i] = make_thumbnail(items[i], size)
        self._thumbs[size] = out
        return out

    # ----------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """Write ``vectors`` + metadata to one ``.npz`` file atomically (temp file + rename)."""
        path = Path(path)
        atomic_write_bytes(path, self.to_bytes())
        return path

    def to_bytes(self) -> bytes:
        """The ``.npz`` file content that ``save`` writes (vectors + a JSON header with the frame)."""
        frame = self.frame.copy()
        if "item" in frame:
            frame["item"] = [_item_to_json(x) for x in frame["item"]]
        # numeric metadata columns travel as arrays: JSON would round floats to 10 digits
        numeric = [
            c for c in frame.columns if c not in ("id", "modality", "label", "item") and frame[c].dtype.kind in "biuf"
        ]
        arrays = {f"meta_{i}": frame[c].to_numpy() for i, c in enumerate(numeric)}
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "space": self.space,
            "columns": list(frame.columns),
            "numeric": numeric,
            "frame": json.loads(frame.drop(columns=numeric).to_json(orient="split", index=False, default_handler=str)),
        }
        buf = io.BytesIO()
        try:
            text = json.dumps(header).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EmbeddingError(
                f"to_bytes: the metadata holds text that is not valid UTF-8 ({exc}); decode the "
                "source with its real encoding or errors='replace' before saving."
            ) from None
        np.savez(buf, vectors=self._vectors, header=np.frombuffer(text, dtype=np.uint8), **arrays)
        return buf.getvalue()

    @classmethod
    def load(cls, path) -> EmbeddingSet:
        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no embeddings file at {path}; save one with EmbeddingSet.save(path).")
        from ..safe_zip import read_regular_file

        return cls.from_bytes(read_regular_file(path), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "<bytes>") -> EmbeddingSet:
        """Inverse of ``to_bytes``; refuses other formats and unknown versions. The archive is read through
        ``safe_zip`` (sizes checked before inflating, no pickle): a hostile file raises ``UntrustedFileError``."""
        from ..safe_zip import MAX_JSON_BYTES, npz_from_bytes

        try:
            z = npz_from_bytes(data, str(path))
            vectors = z["vectors"]
            if z["header"].nbytes > MAX_JSON_BYTES:
                raise ValueError(f"header of {z['header'].nbytes:,} bytes")
            header = json.loads(z["header"].tobytes().decode())
            numeric = {c: z[f"meta_{i}"] for i, c in enumerate(header.get("numeric", []))}
        except UntrustedFileError:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"{path} is not a readable EmbeddingSet file ({exc}); it is corrupt or of another "
                "kind. Check the path, or save the set again with EmbeddingSet.save(path)."
            ) from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            got = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise EmbeddingError(f"{path}: not an EmbeddingSet file (format {got!r}); check the path.")
        if header.get("version") != FORMAT_VERSION:
            raise EmbeddingError(
                f"{path}: format version {header.get('version')} is not supported "
                f"(this version reads {FORMAT_VERSION}); upgrade modalchorus-widget."
            )
        _check_header(header, vectors, numeric, str(path))
        fr = header["frame"]
        frame = pd.DataFrame(fr["data"], columns=fr["columns"])
        for col in ("label", "item"):
            if col in frame:
                frame[col] = pd.Series([fr_row[fr["columns"].index(col)] for fr_row in fr["data"]], dtype=object)
        if numeric:
            for c, v in numeric.items():
                frame[c] = v
            frame = frame[header["columns"]]
        out = cls.__new__(cls)
        vectors = vectors.astype(np.float32, copy=False)
        vectors.setflags(write=False)
        out._vectors, out.frame, out.space, out._thumbs = vectors, frame, header["space"], {}
        return out

    def __repr__(self) -> str:
        counts = self.frame["modality"].value_counts().to_dict()
        parts = ", ".join(f"{k}={v}" for k, v in counts.items())
        return f"EmbeddingSet({parts}, dim={self.dim}, space={self.space!r})"


def _check_header(header, vectors, numeric, where):
    """The shapes and kinds a file claims, checked before a frame is built from them."""
    fr = header.get("frame") if isinstance(header, dict) else None
    ok = (
        isinstance(fr, dict)
        and isinstance(fr.get("columns"), list)
        and isinstance(fr.get("data"), list)
        and isinstance(header.get("columns"), list)
        and vectors.ndim == 2
        and vectors.dtype.kind == "f"
        and len(fr["data"]) == len(vectors)
        and all(isinstance(r, list) and len(r) == len(fr["columns"]) for r in fr["data"])
        and all(np.ndim(v) == 1 and len(v) == len(vectors) for v in numeric.values())
        and {"id", "modality"} <= set(fr["columns"])
    )
    if not ok:
        raise UntrustedFileError(
            f"{where}: refused: its header does not describe its vectors (rows, columns or kinds differ); the "
            "file is tampered or from another program. Save the set again with EmbeddingSet.save(path)."
        )


def _item_to_json(x):
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    if isinstance(x, os.PathLike):
        return str(x)
    return None  # arrays / PIL images are not persisted as items; thumbnails are made again from paths


def make_thumbnail(item, size: int = 64) -> bytes:
    """PNG bytes of an image item (path, PIL image, or HxW / HxWxC array), fitted into size x size.

    Raises ``ImageDecodeError`` (as the encoders do) with the item's name when it cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        if isinstance(item, (str, os.PathLike)):
            with Image.open(item) as im:
                im.load()
                img = im.copy()
        elif isinstance(item, Image.Image):
            img = item.copy()
        else:
            arr = np.asarray(item, dtype=np.float32)
            if arr.ndim not in (2, 3):
                raise EmbeddingError(f"image array has shape {arr.shape}; expected HxW or HxWxC.")
            lo, hi = float(arr.min()), float(arr.max())
            arr = (255 * (arr - lo) / (hi - lo if hi > lo else 1.0)).astype(np.uint8)
            img = Image.fromarray(arr)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            f"image {item!r} is too large to decode safely ({exc}); downscale it, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageDecodeError(f"cannot decode image {item!r}: {exc}. Check that the file is a valid image.") from exc
    img = img.convert("RGB")
    small = img.size[0] < size and img.size[1] < size
    if small:  # tiny images (e.g. 8x8 digits) are enlarged crisply
        scale = max(1, size // max(img.size))
        img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
    else:
        img.thumbnail((size, size))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
