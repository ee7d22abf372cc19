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
    """normalise(x + up(gelu(down(x)))) of a block of rows, written into ``out`` (float32, C-contiguous rows).
    Returns the rows' norms before normalising (float32, (rows,)): all finite exactly when every output value is.

    On the CPU this is :func:`forward_numpy`, the one implementation ``Patch.apply`` runs too, so a patch applied
    to the vectors it was made on gives the session's vectors bit for bit. On a GPU: two matrix products in torch
    (the up-projection adds x and its bias in the same pass) and one in-place division (equal to the CPU's to
    float32 rounding)."""
    import warnings

    wd, bd, wu = w
    if getattr(wd, "device", None) is None or wd.device.type == "cpu":
        return forward_numpy(tuple(np.asarray(t) for t in w), x, out)
    torch = _torch()
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


# ------------------------------------------------------------------------------------------ numpy forward
CHUNK = 1024  # rows per pass of forward_numpy, counted from the first row: the same rows meet the same products
_f = np.float32
# gelu(h) = h Phi(h), Phi(h) = 1 - erfc(h / sqrt 2) / 2 for h >= 0 (and erfc(|h| / sqrt 2) / 2 below), with
# erfc(z) = t P(t) exp(-z^2), t = 1 / (1 + p z) (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): the formula torch's
# vectorised CPU erf uses; here 3e-7 from float64's gelu at most, as close as torch's float32 gelu (1e-6)
_P = _f(0.3275911 / np.sqrt(2.0))
_A = tuple(_f(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
_SMALL = 2**21  # a chunk is padded with zero rows to at least _SMALL / (its products' n k) rows (at most CHUNK)
_pool: dict = {}


def numpy_weights(down_w, down_b, up_w, up_b) -> tuple:
    """An adapter's weights for :func:`forward_numpy` from its four tensors (numpy arrays): (down weight^T, down
    bias, [up weight^T; up bias]), float32, C-contiguous: the same values :func:`adapter_weights` gives."""
    wd = np.ascontiguousarray(np.asarray(down_w, _f).T)
    wu = np.ascontiguousarray(np.concatenate([np.asarray(up_w, _f).T, np.asarray(up_b, _f)[None]]))
    return wd, np.ascontiguousarray(down_b, _f), wu


def forward_numpy(w: tuple, x: np.ndarray, out: np.ndarray, threads: int | None = None) -> np.ndarray:
    """normalise(x + up(gelu(down(x)))) of rows ``x`` into ``out`` with numpy alone: the CPU path of a session's
    rounds and of ``Patch.apply``, one implementation, so a patch reproduces the session bit for bit.

    Rows go in chunks of ``CHUNK`` from the first; every step is per row (BLAS products, element-wise numpy, one
    einsum per row for the norms), so a row's bits do not depend on the chunk, the thread or the thread count
    (``tests/test_patch.py``). Chunks run on ``threads`` Python threads (default: 2 where there are 2 cores),
    each with a one-thread BLAS (no spinning BLAS threads on a busy machine). Returns the norms before
    normalising (float32)."""
    import os

    x = np.asarray(x, np.float32)
    norms = np.empty(len(x), np.float32)
    starts = range(0, len(x), CHUNK)
    n = min(2, os.cpu_count() or 1) if threads is None else int(threads)
    if n <= 1 or len(starts) <= 1:
        for s in starts:
            _chunk(w, x, out, norms, s)
        return norms
    from threadpoolctl import threadpool_limits

    pool = _pool.get(n)
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor

        pool = _pool.setdefault(n, ThreadPoolExecutor(n, thread_name_prefix="adapter"))
    with threadpool_limits(1, user_api="blas"):
        for f in [pool.submit(_chunk, w, x, out, norms, s) for s in starts]:
            f.result()
    return norms


def _gelu(h: np.ndarray) -> np.ndarray:
    """gelu of a float32 array (a new array; see ``_P``)."""
    t = np.abs(h)
    t *= _P
    t += _f(1)
    np.reciprocal(t, out=t)
    r = t * _A[0]
    for a in _A[1:]:
        r += a
        r *= t
    q = np.square(h)
    q *= _f(-0.5)
    np.exp(q, out=q)
    r *= q  # erfc(|h| / sqrt 2)
    r *= h
    r *= _f(0.5)
    np.subtract(h, r, out=r, where=h >= 0)
    return r


def _chunk(w, x, out, norms, s) -> None:
    wd, bd, wu = w
    xc = np.ascontiguousarray(x[s : s + CHUNK])
    oc, m = out[s : s + CHUNK], min(CHUNK, len(x) - s)
    least = min(CHUNK, -(-_SMALL // min(wd.size, wu.size)))
    if m < least:  # BLAS takes other kernels for small products (OpenBLAS: m n k <= 1e6; gemv at one row)
        xc = np.concatenate([xc, np.zeros((least - m, xc.shape[1]), np.float32)])
    h = np.matmul(xc, wd)
    h += bd
    h1 = np.empty((len(xc), h.shape[1] + 1), np.float32)
    h1[:, :-1] = _gelu(h)
    h1[:, -1] = 1  # the up-projection's bias rides on a column of ones
    y = oc if oc.flags.c_contiguous and len(xc) == m else np.empty_like(xc)
    np.matmul(h1, wu, out=y)
    y += xc
    nc = np.sqrt(np.einsum("ij,ij->i", y, y))  # per row, the same bits at any offset or alignment
    y /= np.maximum(nc, _f(1e-12))[:, None]
    if y is not oc:
        oc[...] = y[:m]
    norms[s : s + m] = nc[:m]
