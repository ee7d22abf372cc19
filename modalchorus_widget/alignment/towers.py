"""The encoder towers that deep-mode alignment can tune (see ``deep``): the embedded models' CNN image
towers (digits and shapes) and open_clip's ViT towers, each exposing its last block's parameters and a cached forward."""

from __future__ import annotations

import contextlib

import numpy as np

from ..errors import AlignmentError

_CACHE_BATCH = 64


def _torch():
    import torch

    return torch


# ---------------------------------------------------------------------------- towers
class _Tower:
    """One tunable tower: which parameters are tuned, how to encode raw items with and without grad."""

    modality: str
    names: list  # qualified names (keys of the safetensors blobs)
    params: list  # the nn.Parameters, same order
    root: object  # the nn.Module whose parameters must all stay frozen except ``params``

    def encode(self, items, progress=None) -> np.ndarray:
        """Re-encode raw items with the encoder's own batched, no-grad path (tqdm when many batches)."""
        raise NotImplementedError

    def prepare(self, items, progress=None):
        """(z0 (k, d) float32 numpy, cache) for raw items, no grad; ``cache`` feeds :meth:`forward`."""
        raise NotImplementedError

    def forward(self, cache, idx):
        """Unit embeddings (torch, CPU, with grad through the tuned parameters) of cached items ``idx``."""
        raise NotImplementedError


class _LiTImageTower(_Tower):
    """Image tower of an embedded LiT-style model (``encoders.lit.LiTEncoder``): tune its last Linear layer."""

    def __init__(self, encoder):
        self.encoder, self.modality = encoder, "image"
        tower = encoder.load_tower()
        self.root = tower
        last = len(tower) - 1
        self.head = tower[last]
        self.names = [f"image_tower.{last}.{n}" for n, _ in self.head.named_parameters()]
        self.params = [p for _, p in self.head.named_parameters()]
        self.device = encoder.device

    def encode(self, items, progress=None):
        return self.encoder.encode_images(items, progress=progress)

    def prepare(self, items, progress=None):
        torch = _torch()
        arr = self.encoder.images_to_array(items)
        tower = self.root
        with torch.no_grad():
            x = self.encoder.tower_input(arr, torch).to(self.device)
            feats = (
                torch.cat([tower[:-1](x[s : s + 1024]) for s in range(0, len(x), 1024)])
                if len(x)
                else torch.zeros((0, self.head.in_features), device=self.device)
            )
            z0 = torch.nn.functional.normalize(self.head(feats), dim=-1)
        return z0.float().cpu().numpy(), feats

    def forward(self, cache, idx):
        torch = _torch()
        z = self.head(cache[torch.as_tensor(idx, device=cache.device)])
        return torch.nn.functional.normalize(z, dim=-1).float().cpu()


class _OpenCLIPTower(_Tower):
    """Image or text tower of an open_clip model whose blocks live in ``<tower>.transformer.resblocks``."""

    use_shortcut = True  # class switch (tests force the full-forward path with it)

    def __init__(self, encoder, modality):
        self.encoder, self.modality = encoder, modality
        model = encoder._load()
        self.model = model
        if modality == "image":
            root = model.visual
        elif hasattr(model, "text"):  # CustomTextCLIP
            root = model.text
        else:
            root = model
        tr = getattr(root, "transformer", None)
        blocks = getattr(tr, "resblocks", None)
        where = "image tower (model.visual)" if modality == "image" else "text tower"
        if blocks is None or len(blocks) == 0:
            raise AlignmentError(
                f"Aligner(mode='deep'): the {where} of this open_clip model ({type(root).__name__}) has no "
                "transformer.resblocks stack, so its last block cannot be tuned; deep mode supports open_clip ViT "
                "towers (e.g. ViT-B-32) and the embedded default model. Use mode='fast', or "
                f"towers={('text',) if modality == 'image' else ('image',)!r} to tune the other tower only."
            )
        self.transformer, self.block = tr, blocks[-1]
        self.root = root if modality == "image" else model  # text: token embedding etc. live on the CLIP
        prefix = {id(m): n for n, m in model.named_modules()}[id(self.block)]
        self.names = [f"{prefix}.{n}" for n, _ in self.block.named_parameters()]
        self.params = [p for _, p in self.block.named_parameters()]
        self._shortcut_ok = None

    def encode(self, items, progress=None):
        if self.modality == "image":
            return self.encoder.encode_images(items, progress=progress)
        return self.encoder.encode_texts(items, progress=progress)

    # --- inputs -----------------------------------------------------------------------------------
    def _inputs(self, items, offset=0):
        torch = _torch()
        enc = self.encoder
        if self.modality == "image":
            from ..encoders.open_clip import to_pil

            return torch.stack([enc._preprocess(to_pil(it, offset + i)) for i, it in enumerate(items)]).to(enc._device)
        texts = enc._check_texts(items)
        return enc._tokenizer(texts).to(enc._device)

    def _full(self, x):
        if self.modality == "image":
            return self.model.encode_image(x, normalize=True)
        return self.model.encode_text(x, normalize=True)

    @contextlib.contextmanager
    def _only_last_block(self, block_input):
        """Run the tower with the earlier blocks taken out and ``block_input`` fed to the last one."""
        import torch.nn as nn

        tr, block = self.transformer, self.block
        original = tr.resblocks
        hook = block.register_forward_pre_hook(lambda mod, args: (block_input,) + tuple(args[1:]))
        tr.resblocks = nn.ModuleList([block])
        try:
            yield
        finally:
            tr.resblocks = original
            hook.remove()

    def _shortcut(self, block_input, x):
        """Embeddings from cached last-block inputs; ``x`` only has to have the right shape (images) or be
        the real tokens (texts: pooling reads the end-of-text position from them)."""
        with self._only_last_block(block_input):
            return self._full(x)

    def prepare(self, items, progress=None):
        torch = _torch()
        items = list(items)
        z0, acts, xs = [], [], []
        for s in _progress(range(0, len(items), _CACHE_BATCH), progress, f"deep: caching {self.modality}s"):
            x = self._inputs(items[s : s + _CACHE_BATCH], s)
            seen = {}

            def grab(mod, args):
                seen["x"] = args[0].detach()

            h = self.block.register_forward_pre_hook(grab)
            try:
                with torch.no_grad():
                    z = self._full(x)
            finally:
                h.remove()
            if self._shortcut_ok is None:
                ok = False
                if self.use_shortcut:
                    dummy = self._dummy(x)
                    if self.modality == "image":
                        dummy = dummy.expand((len(x),) + tuple(dummy.shape[1:]))
                    with torch.no_grad():  # the same call as forward() makes, on this first batch
                        zs = self._shortcut(seen["x"], dummy)
                    ok = bool(zs.shape == z.shape and torch.allclose(zs, z, atol=1e-5, rtol=1e-4))
                self._shortcut_ok = ok
            z0.append(z.float().cpu().numpy())
            acts.append(seen["x"] if self._shortcut_ok else None)
            xs.append(self._dummy(x) if self._shortcut_ok else x)
        d = self.encoder.dim
        cache = {"acts": acts, "xs": xs, "batch": _CACHE_BATCH}
        return (np.concatenate(z0) if z0 else np.zeros((0, d), np.float32)), cache

    def _dummy(self, x):
        if self.modality == "image":
            return x[:1].new_zeros((1,) + tuple(x.shape[1:]))  # broadcast below to the batch size
        return x

    def forward(self, cache, idx):
        torch = _torch()
        idx = np.asarray(idx, dtype=np.int64)
        b = cache["batch"]
        which, pos = idx // b, idx % b
        out = [None] * len(idx)
        for k in np.unique(which):
            sel = np.flatnonzero(which == k)
            p = torch.as_tensor(pos[sel])
            x = cache["xs"][k]
            if self._shortcut_ok:
                acts = cache["acts"][k]
                # batch-first blocks take (N, L, D); LND blocks (N on dim 1) are indexed there
                bf = getattr(self.transformer, "batch_first", True)
                a = acts[p.to(acts.device)] if bf else acts[:, p.to(acts.device)]
                xin = x.expand((len(sel),) + tuple(x.shape[1:])) if self.modality == "image" else x[p.to(x.device)]
                z = self._shortcut(a, xin)
            else:
                z = self._full(x[p.to(x.device)])
            for j, i in enumerate(sel):
                out[i] = z[j]
        return torch.stack(out).float().cpu()


# ---------------------------------------------------------------------------- the tuner


def _progress(batches, progress, desc):
    """tqdm over batch starts when asked, or by default when there are more than four batches."""
    if progress is False or (progress is None and len(batches) <= 4):
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, desc=desc, unit="batch", leave=False, mininterval=1.0)
