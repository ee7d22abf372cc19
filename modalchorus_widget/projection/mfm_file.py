"""MFM's file format: one safetensors blob holding the network weights, the fitted arrays and, in its
metadata, the estimator's parameters. No pickle; parameters are checked against the estimator's own."""

from __future__ import annotations

import json

import numpy as np

from ..errors import SessionError

FORMAT = "modalchorus-mfm"
VERSION = 1


def _jsonable(x):
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def mfm_to_bytes(mfm) -> bytes:
    from safetensors.numpy import save

    tensors = {f"network.{k}": v.detach().cpu().numpy() for k, v in mfm.network_.state_dict().items()}
    for name in mfm._ARRAYS:
        tensors[name] = np.ascontiguousarray(np.asarray(getattr(mfm, name), dtype=np.float32)).reshape(-1)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "params": {k: _jsonable(v) for k, v in mfm.get_params().items()},
        "n_features_in_": int(mfm.n_features_in_),
        "modalities_": [str(m) for m in mfm.modalities_],
        "shapes": {name: list(np.shape(getattr(mfm, name))) for name in mfm._ARRAYS},
    }
    return save(tensors, metadata={"modalchorus": json.dumps(meta)})


def mfm_from_bytes(cls, data: bytes, where: str = "<bytes>"):
    """Rebuild a fitted ``cls`` (MFM) from ``mfm_to_bytes`` output; SessionError for anything else."""
    import torch
    from safetensors.numpy import load

    from ..errors import UntrustedFileError
    from ..safe_zip import check_params, safetensors_header

    try:
        header = safetensors_header(data, where)
        meta = json.loads(header["__metadata__"]["modalchorus"])
        tensors = load(bytes(data))
    except UntrustedFileError:
        raise
    except Exception as exc:  # any parse failure means: not one of our files
        raise SessionError(
            f"{where}: not a readable MFM file ({type(exc).__name__}: {exc}); write one with MFM.save(path)."
        ) from exc
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise SessionError(
            f"{where}: not an MFM file of version {VERSION} (format {meta.get('format')!r}, "
            f"version {meta.get('version')!r})."
        )
    known = cls().get_params()
    params = check_params(meta.get("params") or {}, known, where, "MFM")
    # layer sizes come from the file: each must be a size its own tensors have (no huge network is built)
    sizes = {int(d) for k, v in tensors.items() if k.startswith("network.") for d in np.shape(v)}
    hidden = params.get("hidden", ())
    claimed = list(hidden) if isinstance(hidden, (list, tuple)) else [hidden]
    dim = meta.get("n_features_in_")
    bad_dim = isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= 2**20
    if bad_dim or any(isinstance(h, bool) or not isinstance(h, int) or h not in sizes for h in claimed):
        raise UntrustedFileError(
            f"{where}: refused: its layer sizes {claimed} do not match the weights it holds; the file is tampered "
            "or from another version. Refit and save again."
        )
    for k, v in params.items():
        if isinstance(known[k], tuple) and isinstance(v, list):
            params[k] = tuple(v)
    mfm = cls(**params)
    dim = int(meta["n_features_in_"])
    try:
        for name in cls._ARRAYS:
            setattr(mfm, name, tensors[name].reshape(meta["shapes"][name]))
        net = mfm._build(dim)
        net.load_state_dict(
            {k[len("network.") :]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith("network.")}
        )
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise SessionError(f"{where}: MFM weights do not match its parameters ({exc}).") from exc
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    mfm.network_ = net
    mfm.n_features_in_ = dim
    mfm.modalities_ = tuple(meta["modalities_"])
    return mfm
