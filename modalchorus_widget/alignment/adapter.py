"""Near-identity residual adapters, one per modality: g(e) = normalise(e + B(gelu(A e))) (CLIP-Adapter style).

B starts at zero, so a fresh adapter is exactly the identity and a round only moves what its loss asks
for. Weights travel as safetensors bytes (one blob per alignment round). torch is imported lazily.
"""

from __future__ import annotations

import json

import numpy as np


def _torch():
    import torch

    return torch


def make_adapters(modalities, dim: int, hidden: int = 64, seed: int = 0):
    """A ``torch.nn.ModuleDict`` {modality: bottleneck} of identity-initialised adapters."""
    torch = _torch()
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Linear(dim, hidden)
            self.up = nn.Linear(hidden, dim)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

        def forward(self, x):
            return torch.nn.functional.normalize(x + self.up(torch.nn.functional.gelu(self.down(x))), dim=-1)

    gen_state = torch.random.get_rng_state()
    try:  # deterministic init that does not disturb the caller's global RNG
        torch.manual_seed(seed)
        mods = nn.ModuleDict({m: Bottleneck() for m in sorted(modalities)})
    finally:
        torch.random.set_rng_state(gen_state)
    mods.dim, mods.hidden = dim, hidden
    return mods


def adapters_to_bytes(adapters) -> bytes:
    """safetensors bytes of all adapters (keys ``<modality>.down.weight`` ...) with dim/hidden in metadata."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().clone() for k, v in adapters.state_dict().items()}
    meta = {"dim": str(adapters.dim), "hidden": str(adapters.hidden), "modalities": json.dumps(sorted(adapters.keys()))}
    return save(tensors, metadata=meta)


def adapters_from_bytes(blob: bytes):
    """Inverse of :func:`adapters_to_bytes`."""
    from safetensors.torch import load

    tensors = load(blob)
    # metadata sits in the header: 8-byte little-endian length, then JSON
    n = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + n].decode()).get("__metadata__", {})
    mods = make_adapters(json.loads(meta["modalities"]), int(meta["dim"]), int(meta["hidden"]))
    mods.load_state_dict(tensors)
    return mods


def apply_adapter(adapters, vectors: np.ndarray, modality: str, batch_size: int = 65536, device="cpu") -> np.ndarray:
    """Run rows of one modality through its adapter (identity when the round has none for it), in blocks of
    ``batch_size`` rows, on ``device``; the same bits as :func:`adapt_rows` on any block (rows are independent)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if modality not in adapters:
        return vectors
    out = np.empty_like(vectors)
    w = adapter_weights(adapters[modality], device)
    for s in range(0, len(vectors), batch_size):
        adapt_rows(w, vectors[s : s + batch_size], out[s : s + batch_size])
    return out


def adapter_weights(g, device="cpu") -> tuple:
    """One adapter's weights for :func:`adapt_rows`: (down weight^T, down bias, [up weight^T; up bias]), on
    ``device`` (copies; the module stays where it is)."""
    torch = _torch()
    with torch.no_grad():
        wd = g.down.weight.detach().t().contiguous().to(device)
        bd = g.down.bias.detach().to(device)
        wu = torch.cat([g.up.weight.detach().t(), g.up.bias.detach()[None]]).contiguous().to(device)
    return wd, bd, wu


def adapt_rows(w: tuple, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """normalise(x + up(gelu(down(x)))) of a block of rows, written into ``out`` (float32, C-contiguous rows):
    two matrix products (the up-projection adds x and its bias in the same pass) and one in-place division,
    no (rows, d) temporaries on the CPU. Returns the rows' norms before normalising (float32, (rows,)): all
    finite exactly when every output value is."""
    import warnings

    torch = _torch()
    wd, bd, wu = w
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a read-only block: read, never written
        xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(wd.device)
        h = torch.nn.functional.gelu(torch.addmm(bd, xt, wd))
        h1 = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype, device=h.device)], 1)
        if wd.device.type == "cpu" and out.flags.c_contiguous:
            y = torch.addmm(xt, h1, wu, out=torch.from_numpy(out))
        else:
            y = torch.addmm(xt, h1, wu)
        norms = torch.linalg.vector_norm(y, dim=1, keepdim=True)
        y.div_(norms.clamp_min(1e-12))
        if y.data_ptr() != torch.from_numpy(out).data_ptr():
            out[...] = y.cpu().numpy()
        return norms[:, 0].cpu().numpy()
