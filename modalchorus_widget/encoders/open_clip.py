"""open_clip backend: any open_clip architecture with a pretrained tag, a local checkpoint file, a
``local-dir:`` folder (open_clip_config.json + weights), or random weights (speed tests only).

Why a wrapper: the widget needs one encoder interface (batched, tqdm, unit-length float32 numpy out) and,
on machines without network, an error that says what to do instead of a 50-second retry loop that
ends in a generic RuntimeError. torch and open_clip are imported lazily, on first use.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import EncoderError, InputTypeError, MissingFileError, OfflineWeightsError
from .base import Encoder, open_image

_CHECKPOINT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors", ".ckpt")


def _hint(model_name: str) -> str:
    return (
        "Pass a local checkpoint instead, e.g.\n"
        f"    OpenCLIPEncoder({model_name!r}, pretrained='/path/to/open_clip_pytorch_model.bin')\n"
        "or a folder holding open_clip_config.json and the weights:\n"
        "    OpenCLIPEncoder('local-dir:/path/to/model_folder')\n"
        "(copy the file from a machine with network, e.g. from the model's Hugging Face page), "
        "or use the embedded default model: modalchorus_widget.load_default()."
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Quick check (one TCP connect) that the Hugging Face hub can be reached."""
    import socket

    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def to_pil(item, i: int = 0):
    """An RGB PIL image from a path, PIL image or HxW / HxWx3 array (uint8 0..255, floats 0..1 or 0..255)."""
    from PIL import Image

    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise MissingFileError(f"encode_images: image {i} not found at '{path}'; check the path.")
        return open_image(path, i, "encode_images").convert("RGB")
    if isinstance(item, np.ndarray):
        a = item
        if a.dtype != np.uint8:
            a = np.asarray(a, dtype=np.float32)
            if not np.all(np.isfinite(a)):
                raise EncoderError(f"encode_images: image {i} contains NaN or inf values.")
            scale = 255.0 if a.size and float(a.max()) <= 1.0 else 1.0  # floats in 0..1, else 0..255
            a = np.clip(a * scale, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            return Image.fromarray(a, "L").convert("RGB")
        if a.ndim == 3 and a.shape[2] in (3, 4):
            return Image.fromarray(a[:, :, :3], "RGB")
        raise EncoderError(f"encode_images: image {i} has array shape {item.shape}; expected (H, W) or (H, W, 3).")
    if hasattr(item, "convert"):
        return item.convert("RGB")
    raise InputTypeError(f"encode_images: image {i} is a {type(item).__name__}; expected a path, PIL image or array.")


class OpenCLIPEncoder(Encoder):
    """Encode images and texts with an open_clip model.

    Parameters
    ----------
    model_name : str, default="ViT-B-32"
        A built-in architecture ("ViT-B-32", "RN50", ... see ``open_clip.list_models()``), or
        ``"local-dir:FOLDER"`` / a folder path holding ``open_clip_config.json`` and the weights.
    pretrained : str or None, default="openai"
        A pretrained tag ("openai", "laion2b_s34b_b79k", ...), a local checkpoint file path,
        or None for random weights (embeddings are meaningless; for speed measurements and tests).
    device : str or None, default="cpu"
        "cpu", "cuda", or None (cuda when available).
    precision : str, default="fp32"
        open_clip precision string ("fp32", "fp16", "bf16").
    cache_dir : str, optional
        Where open_clip caches downloads (its default when None).
    offline : bool, optional
        True = never try the network; None = detect (HF_HUB_OFFLINE, or a quick connect test).

    Examples
    --------
    The model loads on first use, so the weights must be in open_clip's cache or at a local path
    (this machine cannot download them; the encoding lines are not run here):

    >>> from modalchorus_widget.encoders import OpenCLIPEncoder
    >>> enc = OpenCLIPEncoder("ViT-B-32", pretrained="path/to/open_clip_pytorch_model.bin")
    >>> enc.encode_texts(["a photo of a dog"]).shape  # doctest: +SKIP
    (1, 512)
    """

    def __init__(
        self,
        model_name: str = "ViT-B-32",
        pretrained: str | None = "openai",
        device: str | None = "cpu",
        precision: str = "fp32",
        cache_dir: str | None = None,
        offline: bool | None = None,
    ):
        self.model_name = model_name
        self.pretrained = pretrained
        self.device = device
        self.precision = precision
        self.cache_dir = cache_dir
        self.offline = offline
        self._model = None

    # --- loading ----------------------------------------------------------------------------------
    def _arch_and_weights(self):
        """Resolve (open_clip model name, pretrained argument, preprocess overrides) without downloading,
        raising OfflineWeightsError when the weights cannot be had."""
        import open_clip
        from open_clip.pretrained import get_pretrained_cfg

        name = str(self.model_name)
        if not name.startswith(("local-dir:", "hf-hub:")) and Path(name).is_dir():
            name = f"local-dir:{name}"
        if name.startswith("local-dir:"):
            folder = Path(name[len("local-dir:") :])
            if not (folder / "open_clip_config.json").is_file():
                raise OfflineWeightsError(
                    f"open_clip model folder '{folder}' has no open_clip_config.json; a local-dir model needs "
                    "that config plus a weights file (open_clip_pytorch_model.bin or open_clip_model.safetensors)."
                )
            if not any(any(folder.glob(f"*{suf}")) for suf in (".safetensors", ".bin", ".pth")):
                raise OfflineWeightsError(
                    f"open_clip model folder '{folder}' has a config but no weights file "
                    "(open_clip_model.safetensors / open_clip_pytorch_model.bin / *.pth); put the checkpoint there."
                )
            return name, None, {}
        if name.startswith("hf-hub:"):
            if self._is_offline():
                raise OfflineWeightsError(
                    f"open_clip model {name!r} must be downloaded from the Hugging Face hub, but this machine is "
                    f"offline (the hub cannot be reached).\n{_hint(name)}"
                )
            return name, None, {}

        arch = name.replace("/", "-")
        if arch not in open_clip.list_models():
            raise EncoderError(
                f"open_clip has no architecture {arch!r}; choose one of open_clip.list_models() "
                f"(e.g. 'ViT-B-32', 'ViT-B-16', 'RN50') or pass 'local-dir:FOLDER'."
            )
        pre = self.pretrained
        if pre is None:
            warnings.warn(
                f"OpenCLIPEncoder({arch!r}, pretrained=None): random weights, embeddings carry no "
                "meaning (fine for speed measurements and tests).",
                stacklevel=3,
            )
            return arch, None, {}
        pre = str(pre)
        if Path(pre).is_file():
            return arch, pre, {}
        tag_cfg = get_pretrained_cfg(arch, pre)
        looks_like_path = os.sep in pre or "/" in pre or pre.endswith(_CHECKPOINT_SUFFIXES)
        if not tag_cfg:
            if looks_like_path:
                raise OfflineWeightsError(
                    f"open_clip model {arch!r}: checkpoint file '{pre}' does not exist. Check the path; "
                    f"it must be a file saved from an open_clip {arch} model (state dict).\n{_hint(arch)}"
                )
            tags = open_clip.list_pretrained_tags_by_model(arch)
            raise EncoderError(
                f"open_clip model {arch!r}: {pre!r} is neither a known pretrained tag ({', '.join(tags) or 'none'}) "
                "nor an existing checkpoint file."
            )
        preprocess = {k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in tag_cfg}
        cached = self._cached_file(tag_cfg)
        if cached is not None:
            return arch, cached, preprocess
        if self._is_offline():
            raise OfflineWeightsError(
                f"open_clip model {arch!r} with pretrained={pre!r}: the weights are not in the local cache and "
                f"this machine is offline (the download host cannot be reached), so they cannot be downloaded.\n"
                f"{_hint(arch)}"
            )
        return arch, pre, {}

    def _is_offline(self) -> bool:
        if self.offline is not None:
            return bool(self.offline)
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            return True
        return not _hub_reachable()

    def _cached_file(self, tag_cfg: dict) -> str | None:
        """Path of an already-downloaded checkpoint for a tag, or None."""
        if tag_cfg.get("file"):
            return tag_cfg["file"] if Path(tag_cfg["file"]).is_file() else None
        hub = tag_cfg.get("hf_hub", "")
        if hub:
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:  # pragma: no cover
                return None
            repo, filename = os.path.split(hub)
            for fn in ([filename] if filename else []) + ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]:
                hit = try_to_load_from_cache(repo, fn, cache_dir=self.cache_dir)
                if isinstance(hit, str) and Path(hit).is_file():
                    return hit
        url = tag_cfg.get("url", "")
        if url:
            target = Path(self.cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
            if target.is_file():
                return str(target)
        return None

    def _load(self):
        if self._model is None:
            import open_clip
            import torch

            name, pre, preprocess = self._arch_and_weights()
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            kwargs = {}
            if "mean" in preprocess:
                kwargs["image_mean"] = tuple(preprocess["mean"])
            if "std" in preprocess:
                kwargs["image_std"] = tuple(preprocess["std"])
            if "interpolation" in preprocess:
                kwargs["image_interpolation"] = preprocess["interpolation"]
            if "resize_mode" in preprocess:
                kwargs["image_resize_mode"] = preprocess["resize_mode"]
            try:
                model, _, preprocess_val = open_clip.create_model_and_transforms(
                    name,
                    pretrained=pre,
                    precision=self.precision,
                    device=device,
                    cache_dir=self.cache_dir,
                    pretrained_text=False,
                    **kwargs,
                )
            except RuntimeError as exc:
                if "download" in str(exc).lower():
                    raise OfflineWeightsError(
                        f"open_clip model {name!r} with pretrained={pre!r}: downloading the weights failed "
                        f"({exc}). The machine may be offline.\n{_hint(name)}"
                    ) from exc
                raise
            model.eval()
            self._model = model
            self._preprocess = preprocess_val
            self._tokenizer = open_clip.get_tokenizer(name)
            self._device = device
            self._torch = torch
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        proj = getattr(model, "text_projection", None)
        if proj is not None and hasattr(proj, "shape"):
            return int(proj.shape[-1])
        return int(model.visual.output_dim)

    # --- encoding ---------------------------------------------------------------------------------
    def encode_images(self, items, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Embed images (paths, PIL images, HxW[x3] arrays) -> (n, dim) unit float32, batched."""
        items = list(items)
        model = self._load()
        torch = self._torch
        out = np.empty((len(items), self.dim), np.float32)
        with torch.inference_mode():
            for s in self._batches(len(items), batch_size, progress, f"{self.model_name}: images"):
                x = torch.stack([self._preprocess(to_pil(items[i], i)) for i in range(s.start, s.stop)])
                z = model.encode_image(x.to(self._device), normalize=True)
                out[s] = z.float().cpu().numpy()
        return out

    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        """Embed strings -> (n, dim) unit float32, batched."""
        texts = self._check_texts(texts)
        model = self._load()
        torch = self._torch
        out = np.empty((len(texts), self.dim), np.float32)
        with torch.inference_mode():
            for s in self._batches(len(texts), batch_size, progress, f"{self.model_name}: texts"):
                tok = self._tokenizer(texts[s]).to(self._device)
                z = model.encode_text(tok, normalize=True)
                out[s] = z.float().cpu().numpy()
        return out

    def __repr__(self):
        return (
            f"OpenCLIPEncoder(model_name={self.model_name!r}, pretrained={self.pretrained!r}, device={self.device!r})"
        )
