"""The patch: a session's rounds out of the notebook, as one small file (safetensors with a JSON header).

``aligner.export_patch(path)`` and ``Round.export(path)`` write it; ``modalchorus_widget.Patch.load(path)`` reads
it with numpy alone (and scipy's erf; no torch), so serving code can run it:

- ``patch.apply(vectors, modality)``: fast mode: each round's adapter at its strength alpha; anchor mode: on the
  set the patch was made on (same shape), the tuned anchor rows at their alpha, any other vectors as they are.
  On the vectors it was made on it gives the session's vectors bit for bit: a session's fast rounds run the same
  numpy forward on the CPU (``adapter.forward_numpy``, in the same chunks of rows); after rounds on a GPU, or
  with another BLAS, equal to float32 rounding;
- ``patch.classifier(class_names)``: the concept (text) rows after every round, looked up by label: a zero-shot
  classifier's weights (anchor mode tunes exactly these);
- ``patch.encoder_state_dict()``: deep mode: the tuned encoder tensors (numpy arrays by name).

The file is a safetensors blob: 8 bytes of header length, a JSON header whose ``__metadata__["patch"]`` holds
the chain of rounds (mode, alpha, tensor names, constraints as row ids and set names, the figures) and the
provenance (package version, shape and sha256 of the vectors it was made on), then the raw tensors (float32 /
int64, little-endian). A file from elsewhere is untrusted: ``Patch.load`` checks the size (``MAX_PATCH_BYTES``)
before reading, the header length against the file, every tensor's dtype, shape and offsets against the bytes
that hold it, and refuses anything else (a pickle, a zip, a lying header) with ``UntrustedFileError``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import AlignmentError, UntrustedFileError

__all__ = ["Patch", "MAX_PATCH_BYTES", "FORMAT"]

FORMAT = "modalchorus-patch"
FORMAT_VERSION = 1
MAX_PATCH_BYTES = 512 * 2**20  # a patch holds adapters and a few vectors: far below this
MAX_HEADER_BYTES = 16 * 2**20
_DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
_NAMES = {v: k for k, v in _DTYPES.items()}


# ------------------------------------------------------------------------------------------ file format
def to_bytes(tensors: dict, meta: dict) -> bytes:
    """safetensors bytes of ``tensors`` (name -> float32 / int64 array), ``meta`` stored as JSON in the header."""
    header, offset, parts = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in _NAMES:
            raise AlignmentError(f"patch: tensor {name!r} has dtype {a.dtype}; patches hold float32 and int64.")
        b = a.astype(dt.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[dt], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        parts.append(b)
        offset += len(b)
    header["__metadata__"] = {"patch": json.dumps(meta, sort_keys=True, default=_json)}
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + b"".join(parts)


def from_bytes(data: bytes, where: str) -> tuple:
    """(tensors, meta) of a patch blob, every claim of its header checked against the bytes first."""
    if len(data) > MAX_PATCH_BYTES:
        raise UntrustedFileError(
            f"{where}: refused: {len(data):,} bytes is more than the {MAX_PATCH_BYTES:,}-byte limit of a patch; if "
            "you trust the file, raise modalchorus_widget.alignment.patch.MAX_PATCH_BYTES and load it again."
        )
    # a safetensors file opens with its header's length (8 bytes, little-endian) and then "{": a length whose low
    # byte is 0x80 is no pickle
    safetensors = len(data) > 8 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") <= len(data) - 8
    if not safetensors and (data[:1] == b"\x80" or data[:2] == b"PK"):
        what = "a zip archive" if data[:2] == b"PK" else "a pickle"
        raise UntrustedFileError(
            f"{where}: refused: this is {what}, not a patch (patches are safetensors and are never unpickled); "
            "export the patch again with aligner.export_patch(path)."
        )
    if len(data) < 8:
        raise UntrustedFileError(f"{where}: refused: {len(data)} bytes is too short for a patch file.")
    n = int.from_bytes(data[:8], "little")
    if n > min(len(data) - 8, MAX_HEADER_BYTES):
        raise UntrustedFileError(
            f"{where}: refused: its header claims {n:,} bytes but the file holds {len(data) - 8:,} after it "
            "(truncated or tampered); export the patch again."
        )
    try:
        header = json.loads(data[8 : 8 + n])
        meta = json.loads(header.pop("__metadata__")["patch"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UntrustedFileError(f"{where}: refused: not a modalchorus patch header ({exc}).") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise UntrustedFileError(
            f"{where}: refused: not a modalchorus patch of version {FORMAT_VERSION}; export it again, or upgrade."
        )
    body = memoryview(data)[8 + n :]
    tensors, spans = {}, []
    for name, t in header.items():
        if not isinstance(t, dict) or set(t) != {"dtype", "shape", "data_offsets"}:
            raise UntrustedFileError(f"{where}: refused: tensor {name!r} has a malformed entry.")
        dt, shape, (s, e) = _DTYPES.get(t["dtype"]), t["shape"], t["data_offsets"]
        if dt is None or not all(isinstance(x, int) and x >= 0 for x in [*shape, s, e]):
            raise UntrustedFileError(
                f"{where}: refused: tensor {name!r} has dtype {t['dtype']!r} / shape {shape} / offsets {t['data_offsets']}."
            )
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if e > len(body) or s > e or (e - s) != count * dt.itemsize:
            raise UntrustedFileError(
                f"{where}: refused: tensor {name!r} claims shape {shape} ({count * dt.itemsize:,} bytes) at "
                f"[{s:,}, {e:,}) but the file holds {len(body):,} bytes of tensors; the header lies."
            )
        spans.append((s, e))
        tensors[name] = np.frombuffer(body[s:e], dtype=dt).reshape(shape).copy()
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise UntrustedFileError(f"{where}: refused: tensors overlap in the file; the header lies.")
    return tensors, meta


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in a patch")


def vectors_hash(vectors) -> str:
    """sha256 of float32 C-order vectors (the provenance of a patch)."""
    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


# ------------------------------------------------------------------------------------------ numpy maths
def adapter_forward(t: dict, prefix: str, v: np.ndarray) -> np.ndarray:
    """normalise(v + up(gelu(down(v)))) of one fast-mode adapter, in numpy: ``adapter.forward_numpy``, the very
    code a session's rounds run on the CPU, so the same rows give the same bits."""
    from .adapter import forward_numpy, numpy_weights

    w = numpy_weights(*(t[f"{prefix}.{k}"] for k in ("down.weight", "down.bias", "up.weight", "up.bias")))
    v = np.ascontiguousarray(v, np.float32)
    out = np.empty_like(v)
    forward_numpy(w, v, out)
    return out


def _mix(b, a, alpha):
    alpha = float(alpha)
    if alpha == 0.0:
        return np.array(b, np.float32, copy=True)
    if alpha == 1.0:
        return np.array(a, np.float32, copy=True)
    m = np.float32(1.0 - alpha) * np.asarray(b, np.float32) + np.float32(alpha) * np.asarray(a, np.float32)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


# ------------------------------------------------------------------------------------------ the patch
class Patch:
    """A chain of alignment rounds read from a patch file (numpy only). Use :meth:`load`.

    Attributes
    ----------
    mode : str
        ``"fast"``, ``"anchors"`` or ``"deep"``.
    rounds : list of dict
        Per round: ``index``, ``alpha``, ``constraints`` (row ids, set names), ``figures``.
    provenance : dict
        ``package_version``, ``shape`` and ``sha256`` of the vectors it was made on.

    Parameters
    ----------
    tensors : dict
        Name -> numpy array: the rounds' weights.
    meta : dict
        ``mode``, ``rounds`` and ``provenance``, as above.

    Examples
    --------
    >>> from modalchorus_widget import Aligner, Patch, PointSet, load_coco500
    >>> es = load_coco500().embeddings
    >>> al = Aligner(n_steps=5).fit(es)
    >>> _ = al.step(PointSet(int((es.modality == "text").nonzero()[0][0]), [0, 1, 2]))
    >>> patch = Patch.load(al.export_patch("fix.mcpatch"))
    >>> patch.mode, len(patch.rounds), patch.apply(es.vectors[:3], "image").shape
    ('fast', 1, (3, 512))
    """

    def __init__(self, tensors: dict, meta: dict):
        self.tensors, self.meta = tensors, meta
        self.mode = meta["mode"]
        self.rounds = meta["rounds"]
        self.provenance = meta["provenance"]

    @classmethod
    def load(cls, path) -> Patch:
        """Read a patch file; ``UntrustedFileError`` for anything that is not one (see the module doc).

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Patch

        Raises
        ------
        MissingFileError
            No file at ``path``.
        UntrustedFileError
            Oversized, pickled, zipped, or a header that does not match the bytes.
        """
        from ..errors import MissingFileError
        from ..safe_zip import read_regular_file

        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no patch file at {path}; write one with aligner.export_patch(path).")
        data = read_regular_file(path, str(path), max_bytes=MAX_PATCH_BYTES)
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "<patch bytes>") -> Patch:
        """A patch from its bytes (checked as :meth:`load` does)."""
        tensors, meta = from_bytes(bytes(data), where)
        for key in ("mode", "rounds", "provenance"):
            if key not in meta:
                raise UntrustedFileError(f"{where}: refused: the patch header has no {key!r}; export it again.")
        for r in meta["rounds"]:
            a = r.get("alpha")
            if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a <= 1:
                raise UntrustedFileError(f"{where}: refused: a round's alpha {a!r} is not in [0, 1].")
            for name in r.get("tensors", []):
                if name not in tensors:
                    raise UntrustedFileError(
                        f"{where}: refused: round {r.get('index')} names a missing tensor {name!r}."
                    )
        return cls(tensors, meta)

    def to_bytes(self) -> bytes:
        """The file's bytes (``Patch.from_bytes(p.to_bytes())`` round-trips bit for bit)."""
        return to_bytes(self.tensors, self.meta)

    def save(self, path) -> Path:
        """Write the patch (atomically)."""
        from ..io import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, self.to_bytes())
        return path

    def apply(self, vectors, modality="image") -> np.ndarray:
        """Vectors of the original space through every round at its strength (numpy only).

        Parameters
        ----------
        vectors : array-like (n, d)
            Unit vectors of the space the patch was made on (rows are normalised first).
        modality : str or sequence of str
            One name for every row, or one per row (fast mode: each modality has its own adapter).

        Returns
        -------
        numpy.ndarray
            float32 (n, d).

        Raises
        ------
        AlignmentError
            Vectors of another dimension, or not finite.
        """
        v = np.asarray(vectors, dtype=np.float32)
        d = self.provenance["shape"][1]
        if v.ndim != 2 or v.shape[1] != d or not np.isfinite(v).all():
            raise AlignmentError(f"Patch.apply: expected finite (n, {d}) vectors, got shape {v.shape}.")
        v = np.array(v, np.float32, copy=True)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        if not np.allclose(norms, 1.0, atol=1e-4):
            v = (v / np.maximum(norms, 1e-12)).astype(np.float32)
        mods = np.asarray([modality] * len(v) if isinstance(modality, str) else modality)
        if self.mode == "fast":
            for r in self.rounds:
                for m in r.get("modalities", []):
                    rows = mods == m
                    if rows.any():
                        p = f"r{r['index']}.{m}"
                        v[rows] = _mix(v[rows], adapter_forward(self.tensors, p, v[rows]), r["alpha"])
        elif self.mode == "anchors" and tuple(v.shape) == tuple(self.provenance["shape"]):
            for r in self.rounds:
                rows, new = self.tensors[f"r{r['index']}.rows"], self.tensors[f"r{r['index']}.vectors"]
                ch = rows[(v[rows] != new).any(axis=1)]
                full = np.array(v, copy=True)
                full[rows] = new
                if len(ch):
                    v[ch] = _mix(v[ch], full[ch], r["alpha"])
        return v

    def classifier(self, class_names) -> np.ndarray:
        """The concept rows after every round, for ``class_names`` (looked up by label): zero-shot weights (k, d).

        Raises
        ------
        AlignmentError
            A name the patch has no concept row for.
        """
        labels = list(self.meta.get("concepts", {}).get("labels", []))
        vec = self.tensors.get("concepts.vectors")
        out = []
        for name in class_names:
            if vec is None or name not in labels:
                raise AlignmentError(
                    f"Patch.classifier: no concept row labelled {name!r} in this patch (it has {labels[:8]}...); "
                    "pass the labels of the set's text rows."
                )
            out.append(vec[labels.index(name)])
        return np.stack(out).astype(np.float32)

    def encoder_state_dict(self) -> dict:
        """Deep mode: the tuned encoder tensors by name (numpy arrays); load them into the encoder's model.

        Raises
        ------
        AlignmentError
            A fast- or anchor-mode patch (there the encoder is untouched).
        """
        if self.mode != "deep":
            raise AlignmentError(f"Patch.encoder_state_dict: a {self.mode}-mode patch leaves the encoder as it is.")
        return {k[len("encoder.") :]: v for k, v in self.tensors.items() if k.startswith("encoder.")}

    def __repr__(self) -> str:
        return f"Patch(mode={self.mode!r}, rounds={len(self.rounds)}, made_on={tuple(self.provenance['shape'])})"


# ------------------------------------------------------------------------------------------ writing
def build_patch(mode: str, rounds: list, original, final, encoder_tensors=None) -> Patch:
    """A Patch of ``rounds`` (Round objects, in order) made on EmbeddingSet ``original`` and ending at ``final``.

    Called by ``Aligner.export_patch`` / ``Round.export``; needs safetensors (and torch for fast / deep rounds'
    weights), which the session has."""
    from importlib.metadata import PackageNotFoundError, version

    tensors, entries = {}, []
    for r in rounds:
        entry = {
            "index": int(r.index),
            "alpha": float(r.alpha),
            "constraints": [c.to_dict() for c in r.constraints],
            "figures": {k: v for k, v in r.report.items() if not isinstance(v, (list, dict)) or k == "guard"},
            "tensors": [],
        }
        if mode == "fast" and not r.is_identity:
            t = _load_st(r.weights)
            mods = sorted({k.split(".")[0] for k in t})
            entry["modalities"] = mods
            for k, v in sorted(
                t.items()
            ):  # safetensors' own order is a hash map's: sort, so exports are the same bytes
                tensors[f"r{r.index}.{k}"] = v
                entry["tensors"].append(f"r{r.index}.{k}")
        elif mode == "anchors" and not r.is_identity:
            t = _load_st(r.weights)
            tensors[f"r{r.index}.rows"], tensors[f"r{r.index}.vectors"] = t["rows"], t["vectors"]
            entry["tensors"] += [f"r{r.index}.rows", f"r{r.index}.vectors"]
        entries.append(entry)
    if encoder_tensors:
        for k, v in encoder_tensors.items():
            tensors[f"encoder.{k}"] = np.asarray(v, np.float32)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "mode": mode, "rounds": entries}
    try:
        pkg = version("modalchorus-widget")
    except PackageNotFoundError:  # a source tree without metadata
        pkg = "unknown"
    meta["provenance"] = {
        "package_version": pkg,
        "shape": [int(x) for x in original.vectors.shape],
        "sha256": vectors_hash(original.vectors),
        "space": getattr(original, "space", None),
    }
    if "text" in original.modalities:
        rows = np.flatnonzero(final.mask("text"))
        lab = final.labels
        names = [str(lab[i]) if lab is not None and lab[i] is not None else str(final.ids[i]) for i in rows]
        tensors["concepts.vectors"] = np.asarray(final.vectors[rows], np.float32)
        meta["concepts"] = {"labels": names, "rows": [int(i) for i in rows]}
    return Patch(tensors, json.loads(json.dumps(meta, sort_keys=True, default=_json)))


def _load_st(blob: bytes) -> dict:
    from safetensors.numpy import load

    return {k: np.ascontiguousarray(v) for k, v in sorted(load(blob).items())}
