"""A whole working session in one versioned file: embeddings, positions, sets, projector, alignment history.

``write_session(path, ...)`` writes a zip archive atomically (temp file + rename, so a crash mid-save leaves
the previous file loadable); ``read_session(path)`` returns the same pieces. ``Chorus.save`` / ``Chorus.load``
are the user-facing calls. Members: ``manifest.json`` (format, version, view state), ``embeddings.npz``
(EmbeddingSet), ``state.npz`` (positions, selection, named sets), ``projector.safetensors`` (a fitted MFM,
in MFM's own file format), ``aligner.bin`` (the Aligner's own file, with its history) and ``thumbs.npz``
(PNG thumbnails of image rows, so that a session opened elsewhere never reads the image paths it names).
Nothing is pickled. A session file may come from someone else: ``read_session`` reads it through
``data/safe_zip.py`` (sizes checked before inflating, member names, manifest and parameters checked) and
raises ``UntrustedFileError`` for anything hostile.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..alignment import Aligner
from ..data.embeddings import EmbeddingSet
from ..errors import MissingFileError, ModalChorusError, SessionError, UntrustedFileError
from ..io import atomic_write_bytes
from ..projection.registry import PROJECTORS, make_projector
from ..safe_zip import SafeZip, check_params, npz_from_bytes

__all__ = ["write_session", "read_session", "read_manifest", "FORMAT", "VERSION"]

FORMAT = "modalchorus-session"
VERSION = 2
_READS = (1, 2)


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


def write_session(
    path,
    *,
    embeddings,
    positions,
    selected,
    sets: dict,
    method: str,
    color_by: str,
    class_prompts=None,
    rounds: int = 0,
    projector=None,
    aligner=None,
    thumbnails=None,
) -> Path:
    """Write one session file to ``path`` atomically; see the module docstring for its members.
    ``thumbnails``: {row: PNG bytes} stored with it (what a tooltip of the reopened session shows)."""
    path = Path(path)
    state = {"positions": np.asarray(positions, np.float32), "selected": np.asarray(selected, np.uint32)}
    set_names = list(sets)
    for i, name in enumerate(set_names):
        state[f"set_{i}"] = np.asarray(sets[name], np.uint32)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "method": method,
        "color_by": color_by,
        "set_names": set_names,
        "class_prompts": _jsonable(class_prompts),
        "n": embeddings.n,
        "dim": embeddings.dim,
        "rounds": int(rounds),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("embeddings.npz", embeddings.to_bytes())
        sbuf = io.BytesIO()
        np.savez(sbuf, **state)
        z.writestr("state.npz", sbuf.getvalue())
        if projector is not None:
            manifest["projector"] = {"name": projector.name}
            if projector.persistable and projector.is_fitted():
                z.writestr("projector.safetensors", projector.to_bytes())
                manifest["projector"]["file"] = "projector.safetensors"
            else:
                manifest["projector"]["params"] = _jsonable(projector.get_params())
                warnings.warn(
                    f"session {path.name}: the {projector.name} map itself is not stored (only MFM's "
                    "is); positions are kept, and it is fitted again if an alignment round needs it.",
                    stacklevel=3,
                )
        if thumbnails:
            rows = np.asarray(sorted(thumbnails), np.uint32)
            blobs = [bytes(thumbnails[int(r)]) for r in rows]
            offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.uint64)
            tbuf = io.BytesIO()
            np.savez(tbuf, rows=rows, offsets=offsets, data=np.frombuffer(b"".join(blobs), np.uint8))
            z.writestr("thumbs.npz", tbuf.getvalue())
            manifest["thumbnails"] = "thumbs.npz"
        if aligner is not None:
            with tempfile.TemporaryDirectory() as tmp:
                f = Path(tmp) / "aligner.bin"
                aligner.save(f)
                z.writestr("aligner.bin", f.read_bytes())
            manifest["aligner"] = True
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_manifest(path) -> dict:
    """The manifest of a session file; raises SessionError for anything that is not a readable session
    (``UntrustedFileError`` for a hostile one)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no session file at {path}; save one with Chorus.save(path).")
    with _open(path) as z:
        return _manifest(z, path)


def _open(path) -> SafeZip:
    try:
        return SafeZip(path, str(path))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SessionError(
            f"{path} is not a readable modalchorus session ({exc}); it is corrupt or of "
            "another kind. Check the path, or save the session again with Chorus.save(path)."
        ) from exc


def _manifest(z: SafeZip, path) -> dict:
    try:
        manifest = z.read_json("manifest.json")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SessionError(
            f"{path} is not a readable modalchorus session ({exc}); it is corrupt or of "
            "another kind. Check the path, or save the session again with Chorus.save(path)."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise SessionError(f"{path}: not a modalchorus session (format {got!r}); check the path.")
    if manifest.get("version") not in _READS:
        raise SessionError(
            f"{path}: session format version {manifest.get('version')} is not supported; "
            f"this modalchorus-widget reads versions {list(_READS)}. Upgrade the package to open it."
        )
    return manifest


_KINDS = {"method": str, "color_by": str, "set_names": list, "n": int, "dim": int, "rounds": int}


def _check_manifest(manifest, path) -> None:
    """The manifest's fields are of the kinds this version writes (a hand-edited one is refused)."""
    for key, kind in _KINDS.items():
        v = manifest.get(key, 0 if kind is int else None)
        if not isinstance(v, kind) or isinstance(v, bool) or (kind is int and v < 0):
            raise UntrustedFileError(
                f"{path}: refused: manifest field {key!r} is {type(v).__name__} {str(v)[:60]!r}, not a "
                f"{kind.__name__}; the file was edited or is from another program. Save the session again."
            )
    if not all(isinstance(n, str) and n.strip() for n in manifest["set_names"]) or len(
        set(manifest["set_names"])
    ) != len(manifest["set_names"]):
        raise UntrustedFileError(f"{path}: refused: its set names are not distinct non-empty texts; save it again.")
    for key in ("projector",):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise UntrustedFileError(f"{path}: refused: manifest field {key!r} is not a mapping; save it again.")


def _projector(manifest, z, path):
    spec = manifest.get("projector")
    if manifest["version"] == 1:  # version 1 stored the old MFM's weights, which this MFM cannot use
        if spec:
            warnings.warn(
                f"{path.name}: a version-1 session; its MFM map is from an older MFM and is fitted "
                "again if an alignment round needs it (positions are kept).",
                stacklevel=3,
            )
        return make_projector("MFM") if spec else None
    if not spec:
        return None
    if spec.get("file"):
        from ..projection.mfm import MFM

        return MFM.from_bytes(z.read(str(spec["file"])), f"{path}:{spec['file']}")
    name = spec.get("name")
    if name not in PROJECTORS:
        raise UntrustedFileError(
            f"{path}: refused: unknown projection method {str(name)[:60]!r} (this version knows "
            f"{list(PROJECTORS)}); save the session again, or upgrade modalchorus-widget."
        )
    known = make_projector(name).get_params()
    return make_projector(name, **check_params(spec.get("params") or {}, known, str(path), name))


def read_session(path, encoder=None, images=None, texts=None) -> dict:
    """The pieces of the session at ``path``: embeddings, positions, selected, sets, method, color_by,
    class_prompts, rounds, projector (fitted MFM, an unfitted projector of the method, or None), aligner,
    thumbnails ({row: PNG bytes} stored in it)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no session file at {path}; save one with Chorus.save(path).")
    try:
        with _open(path) as z:
            manifest = _manifest(z, path)
            _check_manifest(manifest, path)
            es = EmbeddingSet.from_bytes(z.read("embeddings.npz"), f"{path}:embeddings.npz")
            state = npz_from_bytes(z.read("state.npz"), f"{path}:state.npz")
            projector = _projector(manifest, z, path)
            aligner = None
            if manifest.get("aligner"):
                aligner = Aligner._from_archive(
                    z.read("aligner.bin"), f"{path}:aligner.bin", encoder=encoder, images=images, texts=texts
                )
            thumbs = _thumbnails(z, manifest, path, es.n)
            sets = {name: state[f"set_{i}"] for i, name in enumerate(manifest["set_names"])}
            positions, selected = state["positions"], state["selected"]
    except (KeyError, zipfile.BadZipFile, ValueError) as exc:
        if isinstance(exc, ModalChorusError):  # already says what is wrong (e.g. a deep aligner needs its encoder)
            raise
        raise SessionError(
            f"{path}: session file is incomplete or corrupt ({exc}); save it again with "
            "Chorus.save(path) (an interrupted save never replaces a good file)."
        ) from exc
    if es.n != manifest["n"] or positions.shape != (es.n, 2):
        raise UntrustedFileError(
            f"{path}: refused: it claims {manifest['n']} points, its embeddings hold {es.n} and its positions "
            f"{positions.shape}; the file was edited. Save the session again."
        )
    return {
        "embeddings": es,
        "positions": positions,
        "selected": selected,
        "sets": sets,
        "method": manifest["method"],
        "color_by": manifest["color_by"],
        "class_prompts": manifest.get("class_prompts"),
        "rounds": int(manifest.get("rounds") or 0),
        "projector": projector if projector is not None else _by_name(manifest["method"]),
        "aligner": aligner,
        "thumbnails": thumbs,
    }


def _thumbnails(z, manifest, path, n) -> dict:
    if not manifest.get("thumbnails"):
        return {}
    t = npz_from_bytes(z.read("thumbs.npz"), f"{path}:thumbs.npz")
    rows, offsets, data = t["rows"], t["offsets"].astype(np.int64), t["data"]
    ok = (
        rows.ndim == 1
        and offsets.shape == (len(rows) + 1,)
        and data.dtype == np.uint8
        and (len(rows) == 0 or (rows.max() < n and offsets[0] == 0 and offsets[-1] == data.size))
        and bool(np.all(np.diff(offsets) >= 0))
    )
    if not ok:
        raise UntrustedFileError(f"{path}: refused: its thumbnails table is inconsistent; save the session again.")
    return {int(r): data[offsets[k] : offsets[k + 1]].tobytes() for k, r in enumerate(rows)}


def _by_name(method):
    return method if method in PROJECTORS else None
