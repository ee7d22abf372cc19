"""Generated images as their own set on the map: encoded by the model, labelled, tagged by prompt.

Why: a user sees where generations land (among red circles, say) next to the real scenes and the prompts,
and can lasso them like any other point.
"""

from __future__ import annotations

import numpy as np

from ..data.embeddings import EmbeddingSet
from ..errors import InputTypeError
from .base import check_images


def generations_set(images, encoder, prompts, name: str = "generated", space: str | None = None) -> EmbeddingSet:
    """An EmbeddingSet of generated images (uint8 (n, H, W, 3)) embedded by ``encoder``; label ``name``,
    items the images, ``meta`` column ``prompt`` (one text per image, or one for all)."""
    import pandas as pd

    a = check_images(images, len(np.asarray(images)), "generations_set")
    prompts = [prompts] * len(a) if isinstance(prompts, str) else list(prompts)
    if len(prompts) != len(a):
        raise InputTypeError(f"generations_set: {len(prompts)} prompts for {len(a)} images; give one per image.")
    vec = encoder.encode(a, "image")
    items = np.empty(len(a), dtype=object)
    for i in range(len(a)):
        items[i] = a[i]
    return EmbeddingSet(
        vec,
        "image",
        ids=[f"{name}-{i}" for i in range(len(a))],
        labels=[name] * len(a),
        items=items,
        meta=pd.DataFrame({"prompt": prompts}),
        space=space or getattr(encoder, "name", "clip"),
    )


def add_generations(target, images, encoder=None, prompts="", name: str = "generated"):
    """Add generated images to ``target``: an ``EmbeddingSet`` (returns the longer set: its rows, then the
    generations) or a ``Chorus`` (encoded by its encoder, placed by its projector, tagged into the named set
    ``name``, in chunks of the widget's per-call limit; returns the new rows' indices)."""
    from ..widget.chorus import Chorus

    if isinstance(target, Chorus):
        from PIL import Image

        from ..widget.augment import MAX_FILES

        a = check_images(images, len(np.asarray(images)), "add_generations")
        rows = [
            target.augment(images=[Image.fromarray(im) for im in a[s : s + MAX_FILES]], set_name=name)
            for s in range(0, len(a), MAX_FILES)  # the widget takes at most MAX_FILES per call
        ]
        return np.concatenate(rows) if rows else np.zeros(0, np.int64)
    if isinstance(target, EmbeddingSet):
        if encoder is None:
            raise InputTypeError("add_generations: pass encoder= to embed the generations for an EmbeddingSet.")
        extra = generations_set(images, encoder, prompts, name, target.space)
        out = EmbeddingSet.concat([target, extra])
        if "space" not in target.frame.columns:  # concat adds one; keep the target's columns
            out.frame = out.frame.drop(columns="space")
        return out
    raise InputTypeError(f"add_generations: target must be an EmbeddingSet or a Chorus, got {type(target).__name__}.")
