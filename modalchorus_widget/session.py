"""A whole working session in one versioned file: embeddings, positions, sets, projector, alignment history.

``write_session(path, ...)`` writes a zip archive atomically (temp file + rename, so a crash mid-save leaves
the previous file loadable); ``read_session(path)`` returns the same pieces. ``Chorus.save`` / ``Chorus.load``
are the user-facing calls. Members: ``manifest.json`` (format, version, view state), ``embeddings.npz``
(EmbeddingSet), ``state.npz`` (positions, selection, named sets), ``projector.safetensors`` (a fitted MFM,
in MFM's own file format) and ``aligner.bin`` (the Aligner's own file, with its history). Nothing is pickled.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .alignment import Aligner
from .data.embeddings import EmbeddingSet
from .data.io import atomic_write_bytes
from .errors import MissingFileError, SessionError
from .projection.registry import PROJECTORS, make_projector

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
) -> Path:
    """Write one session file to ``path`` atomically; see the module docstring for its members."""
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
    """The manifest of a session file; raises SessionError for anything that is not a readable session."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no session file at {path}; save one with Chorus.save(path).")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise SessionError(
            f"{path} is not a readable modalchorus session ({exc}); it is corrupt or of "
            "another kind. Check the path, or save the session again with Chorus.save(path)."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SessionError(f"{path}: not a modalchorus session (format {manifest.get('format')!r}).")
    if manifest.get("version") not in _READS:
        raise SessionError(
            f"{path}: session format version {manifest.get('version')} is not supported; "
            f"this modalchorus-widget reads versions {list(_READS)}. Upgrade the package to open it."
        )
    return manifest


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
        from .projection.mfm import MFM

        return MFM.from_bytes(z.read(spec["file"]), f"{path}:{spec['file']}")
    return make_projector(spec["name"], **(spec.get("params") or {}))


def read_session(path, encoder=None, images=None, texts=None) -> dict:
    """The pieces of the session at ``path``: embeddings, positions, selected, sets, method, color_by,
    class_prompts, rounds, projector (fitted MFM, an unfitted projector of the method, or None), aligner."""
    path = Path(path)
    manifest = read_manifest(path)
    try:
        with zipfile.ZipFile(path) as z:
            es = EmbeddingSet.from_bytes(z.read("embeddings.npz"), f"{path}:embeddings.npz")
            with np.load(io.BytesIO(z.read("state.npz")), allow_pickle=False) as s:
                state = {k: s[k] for k in s.files}
            projector = _projector(manifest, z, path)
            aligner = None
            if manifest.get("aligner"):
                with tempfile.TemporaryDirectory() as tmp:
                    f = Path(tmp) / "aligner.bin"
                    f.write_bytes(z.read("aligner.bin"))
                    aligner = Aligner.load(f, encoder=encoder, images=images, texts=texts)
            sets = {name: state[f"set_{i}"] for i, name in enumerate(manifest["set_names"])}
    except (KeyError, zipfile.BadZipFile) as exc:
        raise SessionError(
            f"{path}: session file is incomplete or corrupt ({exc}); save it again with "
            "Chorus.save(path) (an interrupted save never replaces a good file)."
        ) from exc
    return {
        "embeddings": es,
        "positions": state["positions"],
        "selected": state["selected"],
        "sets": sets,
        "method": manifest["method"],
        "color_by": manifest["color_by"],
        "class_prompts": manifest.get("class_prompts"),
        "rounds": int(manifest.get("rounds") or 0),
        "projector": projector if projector is not None else _by_name(manifest["method"]),
        "aligner": aligner,
    }


def _by_name(method):
    return method if method in PROJECTORS else None
