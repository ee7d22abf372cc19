"""A whole working session in one versioned file: embeddings, positions, sets, projector, alignment history.

``save_session(chorus, path)`` writes a zip archive atomically (temp file + rename, so a crash mid-save
leaves the previous file loadable); ``load_session(path)`` rebuilds a ``Chorus`` showing the same state.
Members: ``manifest.json`` (format, version, view state), ``embeddings.npz`` (EmbeddingSet),
``state.npz`` (positions, selection, named sets), ``projector.safetensors`` (a fitted MFM) and
``aligner.bin`` (the Aligner's own file, with its history). Nothing is pickled.
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .embeddings import EmbeddingSet, atomic_write_bytes

FORMAT = "modalchorus-session"
VERSION = 1


class SessionError(ValueError):
    """A session file cannot be read (not a session, corrupt, or an unknown format version)."""


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


# ------------------------------------------------------------------ projector
def _mfm_to_bytes(mfm) -> tuple[dict, bytes]:
    from safetensors.numpy import save

    tensors = {f"network.{k}": v.detach().cpu().numpy() for k, v in mfm.network_.state_dict().items()}
    for name in ("mean_", "scale_", "center_"):
        tensors[name] = np.ascontiguousarray(np.asarray(getattr(mfm, name), dtype=np.float32))
    params = {k: _jsonable(v) for k, v in vars(mfm).items() if not k.endswith("_") and not k.startswith("_")}
    meta = {"class": "MFM", "params": params, "n_features_in_": int(mfm.n_features_in_),
            "modalities_": list(mfm.modalities_),
            "shapes": {name: list(np.shape(getattr(mfm, name))) for name in ("mean_", "scale_", "center_")}}
    return meta, save(tensors)


def _mfm_from_bytes(meta: dict, data: bytes):
    import torch
    from safetensors.numpy import load

    from .mfm import MFM

    params = dict(meta["params"])
    if "hidden" in params:
        params["hidden"] = tuple(params["hidden"])
    mfm = MFM(**params)
    tensors = load(data)
    net = mfm._build(int(meta["n_features_in_"]))
    net.load_state_dict({k[len("network."):]: torch.from_numpy(v.copy()) for k, v in tensors.items()
                         if k.startswith("network.")})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    mfm.network_ = net
    shapes = meta.get("shapes", {})
    for name in ("mean_", "scale_", "center_"):  # safetensors stores a 0-d scale as shape (1,)
        v = tensors[name]
        setattr(mfm, name, v.reshape(shapes[name]) if name in shapes else v)
    mfm.n_features_in_ = int(meta["n_features_in_"])
    mfm.modalities_ = tuple(meta["modalities_"])
    return mfm


# ------------------------------------------------------------------ save / load
def save_session(chorus, path) -> Path:
    """Write everything needed to re-create ``chorus`` to ``path`` (one file), atomically."""
    path = Path(path)
    es = chorus.embeddings
    state = {"positions": np.asarray(chorus.positions, np.float32),
             "selected": np.asarray(chorus.selected, np.uint32)}
    set_names = list(chorus.sets.names)
    for i, name in enumerate(set_names):
        state[f"set_{i}"] = np.asarray(chorus.sets[name], np.uint32)
    manifest = {
        "format": FORMAT, "version": VERSION,
        "method": chorus.method, "color_by": chorus.color_by, "set_names": set_names,
        "class_prompts": _jsonable(chorus.class_prompts),
        "n": es.n, "dim": es.dim, "rounds": int(getattr(chorus, "_rounds", 0)),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("embeddings.npz", es.to_bytes())
        sbuf = io.BytesIO()
        np.savez(sbuf, **state)
        z.writestr("state.npz", sbuf.getvalue())
        proj = chorus.projector
        if proj is not None and hasattr(proj, "network_"):
            meta, data = _mfm_to_bytes(proj)
            manifest["projector"] = meta
            z.writestr("projector.safetensors", data)
        if chorus.aligner is not None:
            with tempfile.TemporaryDirectory() as tmp:
                f = Path(tmp) / "aligner.bin"
                chorus.aligner.save(f)
                z.writestr("aligner.bin", f.read_bytes())
            manifest["aligner"] = True
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_manifest(path) -> dict:
    """The manifest of a session file; raises SessionError for anything that is not a readable session."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no session file at {path}; save one with save_session(widget, path).")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise SessionError(f"{path} is not a readable modalchorus session ({exc}); it is corrupt or of "
                           "another kind. Check the path, or save the session again with save_session(widget, path).") from exc
    if manifest.get("format") != FORMAT:
        raise SessionError(f"{path}: not a modalchorus session (format {manifest.get('format')!r}).")
    if manifest.get("version") != VERSION:
        raise SessionError(f"{path}: session format version {manifest.get('version')} is not supported; "
                           f"this modalchorus-widget reads version {VERSION}. Upgrade the package to open it.")
    return manifest


def load_session(path, encoder=None, images=None, texts=None, **chorus_kwargs):
    """Re-create the Chorus saved at ``path``. Pass ``encoder`` to embed free-text concepts again
    (encoders are code + weights, not session state). A session whose aligner ran in deep mode also needs
    the raw ``images`` / ``texts`` again unless the set's items hold them (see ``Aligner.load``)."""
    from .widget import Chorus

    path = Path(path)
    manifest = read_manifest(path)
    try:
        with zipfile.ZipFile(path) as z:
            es = EmbeddingSet.from_bytes(z.read("embeddings.npz"), f"{path}:embeddings.npz")
            with np.load(io.BytesIO(z.read("state.npz")), allow_pickle=False) as s:
                state = {k: s[k] for k in s.files}
            projector = None
            if "projector" in manifest:
                projector = _mfm_from_bytes(manifest["projector"], z.read("projector.safetensors"))
            aligner = None
            if manifest.get("aligner"):
                from .alignment import Aligner

                with tempfile.TemporaryDirectory() as tmp:
                    f = Path(tmp) / "aligner.bin"
                    f.write_bytes(z.read("aligner.bin"))
                    aligner = Aligner.load(f, encoder=encoder, images=images, texts=texts)
                if encoder is not None and hasattr(aligner, "encoder"):
                    aligner.encoder = encoder
    except (KeyError, zipfile.BadZipFile) as exc:
        raise SessionError(f"{path}: session file is incomplete or corrupt ({exc}); save it again with "
                           "save_session(widget, path) (an interrupted save never replaces a good file).") from exc
    w = Chorus(es, projector=projector, positions=state["positions"], color_by=manifest["color_by"],
               encoder=encoder, aligner=aligner, class_prompts=manifest.get("class_prompts"),
               method=manifest["method"], **chorus_kwargs)
    for i, name in enumerate(manifest["set_names"]):
        w.sets[name] = state[f"set_{i}"]
    w.selected = state["selected"]
    if manifest.get("rounds"):  # the status line counts alignment rounds done in the session
        w._rounds = int(manifest["rounds"])
        w._refresh_status()
    return w
