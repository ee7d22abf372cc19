"""The embedded defaults: loaders that need a model (they build an encoder and embed the items).

``load_default("digits")`` embeds scikit-learn's digits with the shipped digits model;
``load_default("shapes")`` embeds the procedural shapes world with its own model (``shapes_cases``). Both
return a ``ChorusData`` (``data.datasets``), the same bundle as the model-free ``load_coco500``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..data.datasets import ChorusData
from ..data.embeddings import EmbeddingSet
from ..errors import DatasetError


def load_default(name: str = "digits", device: str = "cpu") -> ChorusData:
    """An embedded default: ``"digits"`` (below) or ``"shapes"``, the procedural scene world with its own
    model (``shapes_cases.shapes_default``: single-object scenes, 16 colour/shape class prompts).

    ``"digits"``: scikit-learn's 1,797 8x8 handwritten digits embedded by the shipped
    image-text model (``modalchorus_widget/weights/default_digits.*``), then one class prompt per digit
    (e.g. "a photo of the digit 3"; the form chosen at training time). Labels are the class names
    "0".."9" for both images and prompts; ``meta`` has ``split`` (train/test/prompt) and ``target``.

    The held-out split is fixed: stratified 30 % test, ``random_state=0`` (540 test images), the split
    the model was trained on; ``zero_shot_accuracy()`` reports on it. Works offline; text is embedded by
    the frozen all-MiniLM-L6-v2 tower, so ``encoder.encode_texts(["a digit that looks like a one"])``
    lands in the same space.

    Parameters
    ----------
    name : {"digits", "shapes"}, default="digits"
        Which embedded world.
    device : str, default="cpu"
        Where its encoder runs.

    Returns
    -------
    ChorusData
        ``embeddings`` (images, then one class prompt per class), ``encoder``, ``class_names``,
        ``prompt_index`` (the prompts' rows), ``train`` / ``test`` (image rows), and ``predict`` /
        ``zero_shot_accuracy`` to read a zero-shot classifier from (aligned) embeddings.

    Examples
    --------
    >>> from modalchorus_widget import load_default
    >>> data = load_default("digits")
    >>> len(data.class_names), len(data.test)
    (10, 540)
    >>> round(data.zero_shot_accuracy(), 3)
    0.989
    """
    if name == "shapes":
        from .shapes_cases import shapes_default

        return ChorusData(**shapes_default(device=device))
    if name != "digits":
        raise DatasetError(f"load_default: unknown default {name!r}; use 'digits' (the default) or 'shapes'.")
    from sklearn.datasets import load_digits

    from ..encoders.default import digits_split, load_default_encoder

    t0 = time.perf_counter()
    digits = load_digits()
    images = digits.images.astype(np.float32)
    y = digits.target.astype(np.int64)
    encoder = load_default_encoder(device)
    class_names = encoder.class_names
    prompts = encoder.class_prompts()
    img = encoder.encode_images(images)
    t_img = time.perf_counter() - t0
    txt = encoder.encode_texts(prompts)
    train, test = digits_split(y)
    n, k = len(images), len(prompts)
    split = np.full(n, "train", dtype=object)
    split[test] = "test"
    labels = [class_names[c] for c in y] + list(class_names)
    ids = [f"digit-{i}" for i in range(n)] + [f"prompt-{c}" for c in class_names]
    items = np.empty(n + k, dtype=object)
    for i in range(n):
        items[i] = images[i]
    items[n:] = prompts
    meta = pd.DataFrame({"split": list(split) + ["prompt"] * k, "target": list(y) + list(range(k))})
    es = EmbeddingSet(
        np.concatenate([img, txt]),
        ["image"] * n + ["text"] * k,
        ids=ids,
        labels=labels,
        items=items,
        meta=meta,
        space="default-digits",
    )
    return ChorusData(
        name="default-digits",
        embeddings=es,
        class_names=tuple(class_names),
        prompt_index=np.arange(n, n + k),
        image_index=np.arange(n),
        image_labels=y,
        train=train,
        test=test,
        images=images,
        captions=list(prompts),
        encoder=encoder,
        info={
            "source": "sklearn.datasets.load_digits",
            "model": encoder.config.get("description"),
            "split": encoder.config.get("split"),
            "prompt_template": encoder.prompt_template,
            "seconds": round(time.perf_counter() - t0, 3),
            "seconds_images": round(t_img, 3),
        },
    )
