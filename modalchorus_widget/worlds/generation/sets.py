"""Generated images as their own set on the map: encoded by the model, labelled, tagged by prompt.

Why: a user sees where generations land (among red circles, say) next to the real scenes and the prompts,
and can lasso them like any other point.
"""

from __future__ import annotations

import numpy as np

from ...data.embeddings import EmbeddingSet
from ...errors import InputTypeError
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


def add_generations(target, images, encoder, prompts="", name: str = "generated") -> EmbeddingSet:
    """``target`` (an ``EmbeddingSet``) with the generated images appended: its rows, then the generations
    embedded by ``encoder`` (``generations_set``). To put generations on a widget's map, hand them to the
    widget itself: ``w.augment(images=images, set_name=name)`` (arrays of uint8 RGB images are accepted)."""
    if not isinstance(target, EmbeddingSet):
        raise InputTypeError(
            f"add_generations: target must be an EmbeddingSet, got {type(target).__name__}; to add generations to "
            "a widget, call w.augment(images=images, set_name=name) on it."
        )
    if encoder is None:
        raise InputTypeError("add_generations: pass encoder= to embed the generations.")
    extra = generations_set(images, encoder, prompts, name, target.space)
    out = EmbeddingSet.concat([target, extra])
    if "space" not in target.frame.columns:  # concat adds one; keep the target's columns
        out.frame = out.frame.drop(columns="space")
    return out
