"""Case study 3 of the shapes world: a generated attribute leaks from the training bias, and is aligned away.

"a red square" is drawn as a red circle: the generator's prior (``prior.py``) draws image embeddings of
the training distribution, where 97 % of red objects are circles, and the text "a red square" is not far
enough from red circles to outweigh that base rate. The user sees the generations land among the red
circles on the map, lassoes the training red squares and the red-square prompts (a set-set pull) and the
red circles next to the generations (pushed from each red-square prompt), aligns, and regenerates.

Prompts are split: the set (the map, the constraints) holds the paraphrases of ``MAP_TEMPLATES``; the
figures are measured once on the paraphrases of ``EVAL_TEMPLATES`` (never in the set) with a fixed seed.
Unseen classes (green triangle, yellow square) have no training scene in the pool, so they cannot be
generated at all; "other prompts" are the 13 other classes seen in training.
"""

from __future__ import annotations

import numpy as np

from .. import shapes as S
from .. import shapes_cases as C

TARGET = S.COMBOS.index(("red", "square"))
LEAKED = S.COMBOS.index(("red", "circle"))  # its shape is the leaked attribute
MAP_TEMPLATES = (1, 2, 3)
EVAL_TEMPLATES = (0, 4, 5)
EVAL_SEED = 2024  # the prior's draws of the measured generations
N_PER_TEXT = 8
# Aligner parameters, chosen by ``scripts/cases_cv.py generation`` (leave-one-map-template-out folds, training
# scenes only): among preserve_kl 5 (the default) / 10 / 20 / 40 and preserve_kl 20 with preserve_l2 30, the
# lowest leak after the round (0.667 -> 0.167) with the other prompts' accuracy no lower (0.966 -> 0.970).
# ``guard`` None: chosen and measured as a full-strength round, before the guard existed.
SETTINGS = {"preserve_kl": 20.0, "guard": None}


def prompt_texts(combo: int, templates=EVAL_TEMPLATES) -> list:
    """Paraphrases of one class from SINGLE_TEMPLATES (a template with {size} gives one text per size)."""
    colour, shape = S.COMBOS[combo]
    out = []
    for t in templates:
        tm = S.SINGLE_TEMPLATES[t]
        sizes = S.SIZES if "{size}" in tm else ("",)
        out += [tm.format(size=z, colour=colour, shape=shape) for z in sizes]
    return out


def generation_case(encoder, n_images: int = C.N_AUDIT, templates=MAP_TEMPLATES) -> dict:
    """The case's EmbeddingSet: ``n_images`` training-split scenes balanced over the seen classes (the rows of
    ``load_default("shapes")``'s training split), then every class's ``templates`` prompts. Returns the
    set, its row ranges, class labels and the lasso rows (training red squares, training red circles, the
    red-square prompts)."""
    import pandas as pd

    from ...data.embeddings import EmbeddingSet

    scenes = S.sample_scenes(n_images, "single", "train", C.AUDIT_SEED, combos=C.seen_combos())
    images = S.render_all(scenes)
    y = S.labels(scenes)["combo1"]
    texts, ty = [], []
    for c in range(len(S.COMBOS)):
        p = prompt_texts(c, templates)
        texts += p
        ty += [c] * len(p)
    ty = np.asarray(ty, np.int64)
    n, k = len(scenes), len(texts)
    items = np.empty(n + k, dtype=object)
    for i in range(n):
        items[i] = images[i]
    items[n:] = texts
    names = S.class_names()
    es = EmbeddingSet(
        np.concatenate([encoder.encode_images(images), encoder.encode_texts(texts)]),
        ["image"] * n + ["text"] * k,
        ids=[f"scene-{i}" for i in range(n)] + [f"prompt-{j}" for j in range(k)],
        labels=[names[c] for c in y] + [f"prompt: {names[c]}" for c in ty],
        items=items,
        meta=pd.DataFrame({"split": ["train"] * n + ["prompt"] * k, "target": np.concatenate([y, ty])}),
        space="default-shapes",
    )
    return {
        "embeddings": es,
        "image_rows": np.arange(n),
        "text_rows": np.arange(n, n + k),
        "image_labels": y,
        "text_labels": ty,
        "squares": np.flatnonzero(y == TARGET),
        "circles": np.flatnonzero(y == LEAKED),
        "prompt_rows": n + np.flatnonzero(ty == TARGET),
    }


def case_constraints(case, squares=None, circles=None) -> list:
    """The round: the lassoed red squares and the red-square prompts pulled together (set-set), and the
    lassoed red circles pushed from each red-square prompt (point-set)."""
    from ...alignment.constraints import PointSet, SetSet

    squares = case["squares"] if squares is None else squares
    circles = case["circles"] if circles is None else circles
    out = [SetSet(squares, case["prompt_rows"])]
    out += [PointSet(int(r), circles, direction="push") for r in case["prompt_rows"]]
    return out


def generation_figures(
    generator, oracle, encoder, aligner=None, seed: int = EVAL_SEED, n_per_text=N_PER_TEXT, templates=EVAL_TEMPLATES
):
    """Generate ``n_per_text`` images per ``templates`` prompt of every seen class (text embedded by
    ``encoder``, mapped by ``aligner``'s rounds when given, the generator's prior in the same space) and read
    them with ``oracle``. ``leak``: share of the target's generations read with the leaked shape;
    ``target_acc``: read as the target class; ``other_acc``: mean over the other seen classes of the share
    read as their own class. ``drawn_leak`` / ``drawn_other_acc``: the same, from the exact labels of the
    training scenes the prior drew (what the decoder was asked to draw, free of decoder and oracle errors)."""
    per_class, images, drawn = {}, {}, {}
    gen = generator.with_aligner(aligner)
    for c in C.seen_combos():
        texts = [t for t in prompt_texts(c, templates) for _ in range(n_per_text)]
        v = encoder.encode_texts(texts)
        if aligner is not None:
            v = aligner.transform(v, "text")
        images[c] = gen.generate(v, random_state=seed + c)
        per_class[c] = oracle.read(images[c])
        drawn[c] = gen.pool_labels_[gen.sample(v, random_state=seed + c)[1]]  # the same draws, exact labels
    names = S.class_names()
    others = [c for c in C.seen_combos() if c != TARGET]
    acc = {names[c]: float(np.mean(per_class[c]["combo"] == c)) for c in C.seen_combos()}
    return {
        "leak": float(np.mean(per_class[TARGET]["shape"] == S.SHAPES.index(S.COMBOS[LEAKED][1]))),
        "target_acc": acc[names[TARGET]],
        "other_acc": float(np.mean([acc[names[c]] for c in others])),
        "per_class": acc,
        # what the prior asked the decoder to draw (the renderer's labels of the drawn training scenes)
        "drawn_leak": float(np.mean([S.COMBOS[k][1] == S.COMBOS[LEAKED][1] for k in drawn[TARGET]])),
        "drawn_other_acc": float(np.mean([np.mean(drawn[c] == c) for c in others])),
        "n_per_class": int(len(images[TARGET])),
        "images": images,
    }
