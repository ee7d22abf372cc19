"""Figures of the shapes world (ground truth from the renderer): zero-shot, ARO-style binding, retrieval.

Shared by the training script (what goes into the model's JSON config), the case-study notebooks, the
``cases`` benchmark and the tests, so every figure is computed one way. Held-out sets are fixed: their
seeds are constants here (``TEST_SEED``) and never used for training or for choosing settings.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import confusion_matrix, per_class_accuracy, zero_shot_predict
from . import shapes as S

TEST_SEED = 1000  # held-out scenes (split="test")
N_TEST_SINGLE = 1600
N_TEST_PAIR = 800


def aro(image_vectors, true_vectors, negative_vectors) -> float:
    """Share of images whose true caption scores higher than its negative (swapped) one (ties count half)."""
    a = np.sum(image_vectors * true_vectors, axis=1)
    b = np.sum(image_vectors * negative_vectors, axis=1)
    return float(np.mean((a > b) + 0.5 * (a == b)))


def retrieval_r1(image_vectors, caption_vectors, caption_of_image) -> float:
    """Image -> caption recall@1 over a pool of distinct captions (``caption_of_image``: pool index per image)."""
    return float(np.mean(zero_shot_predict(image_vectors, caption_vectors) == np.asarray(caption_of_image)))


def pair_probe(scenes) -> dict:
    """For two-object scenes: canonical captions, their attribute- and relation-swapped negatives (the rows
    that have one) and a retrieval pool of the distinct canonical captions."""
    true = [s.caption(0) for s in scenes]
    att = [S.attribute_swap(s) for s in scenes]
    rel = [S.relation_swap(s) for s in scenes]
    pool = list(dict.fromkeys(true))
    return {
        "true": true,
        "attribute_rows": np.array([i for i, c in enumerate(att) if c is not None], np.int64),
        "attribute": [c for c in att if c is not None],
        "relation_rows": np.array([i for i, c in enumerate(rel) if c is not None], np.int64),
        "relation": [c for c in rel if c is not None],
        "pool": pool,
        "pool_index": np.array([pool.index(c) for c in true], np.int64),
    }


def pair_figures(img, enc_text, probe) -> dict:
    """ARO attribute / relation and retrieval R@1 of image vectors ``img`` with text vectors from
    ``enc_text(list_of_str)`` (e.g. an encoder's, or an aligner's transform after it)."""
    t_true = enc_text(probe["true"])
    ra, rr = probe["attribute_rows"], probe["relation_rows"]
    return {
        "aro_attribute": aro(img[ra], t_true[ra], enc_text(probe["attribute"])),
        "aro_relation": aro(img[rr], t_true[rr], enc_text(probe["relation"])),
        "retrieval_r1": retrieval_r1(img, enc_text(probe["pool"]), probe["pool_index"]),
    }


def world_report(encoder) -> dict:
    """Held-out figures of a shapes-world encoder (what the training script stores in the config)."""
    singles = S.sample_scenes(N_TEST_SINGLE, "single", "test", TEST_SEED)
    y = S.labels(singles)["combo1"]
    img = encoder.encode_images(S.render_all(singles))
    prompts = encoder.encode_texts(S.class_prompts())
    pred = zero_shot_predict(img, prompts)
    acc = per_class_accuracy(pred, y, len(S.COMBOS))
    names = S.class_names()
    cm = np.zeros((len(names), len(names)), np.int64)
    np.add.at(cm, (y, pred), 1)
    off = sorted(((int(cm[i, j]), i, j) for i in range(len(names)) for j in range(len(names)) if i != j), reverse=True)
    pairs = S.sample_scenes(N_TEST_PAIR, "pair", "test", TEST_SEED)
    probe = pair_probe(pairs)
    fig = pair_figures(encoder.encode_images(S.render_all(pairs)), encoder.encode_texts, probe)
    seen = [i for i, c in enumerate(S.COMBOS) if c not in S.UNSEEN_COMBOS]
    return {
        "zero_shot_accuracy": round(float(np.mean(pred == y)), 4),
        "zero_shot_accuracy_seen_combos": round(float(np.mean(acc[seen])), 4),
        "zero_shot_chance": round(1 / len(names), 4),
        "zero_shot_per_class": {names[i]: round(float(a), 4) for i, a in enumerate(acc)},
        "top_confusions": [f"{names[i]} -> {names[j]}: {c}" for c, i, j in off[:6]],
        "n_single": N_TEST_SINGLE,
        "aro_attribute": round(fig["aro_attribute"], 4),
        "aro_relation": round(fig["aro_relation"], 4),
        "retrieval_r1": round(fig["retrieval_r1"], 4),
        "n_pair": N_TEST_PAIR,
        "n_attribute": int(len(probe["attribute"])),
        "n_relation": int(len(probe["relation"])),
        "split": f"held-out: sample_scenes(..., split='test', seed={TEST_SEED}); pairs never seen together",
    }


# ------------------------------------------------------------------------------ load_default("shapes")
AUDIT_SEED = 11  # the training-split sample the widget shows (balanced over the combos seen in training)
N_AUDIT = 700
N_DEFAULT_TEST = 800


def seen_combos() -> list:
    """Indices into COMBOS of the colour/shape classes that occur in training."""
    return [i for i, c in enumerate(S.COMBOS) if c not in S.UNSEEN_COMBOS]


def shapes_default(device: str = "cpu") -> dict:
    """The fields of ``load_default("shapes")``'s ChorusData: single-object scenes embedded by the shipped
    shapes model, then the 16 class prompts ("a photo of a red circle", ...). Image rows: ``N_AUDIT`` scenes
    of the training split, balanced over the 14 seen classes (``train``), then ``N_DEFAULT_TEST`` held-out
    scenes uniform over all 16 (``test``). Labels are class names; ``meta`` has split, target, size, x, y."""
    import time

    import pandas as pd

    from ..data.embeddings import EmbeddingSet
    from .shapes_encoder import load_shapes_encoder

    t0 = time.perf_counter()
    enc = load_shapes_encoder(device)
    scenes = S.sample_scenes(N_AUDIT, "single", "train", AUDIT_SEED, combos=seen_combos())
    scenes += S.sample_scenes(N_DEFAULT_TEST, "single", "test", TEST_SEED)
    images = S.render_all(scenes)
    lab = S.labels(scenes)
    y = lab["combo1"]
    names = S.class_names()
    prompts = S.class_prompts()
    vec = np.concatenate([enc.encode_images(images), enc.encode_texts(prompts)])
    n, k = len(scenes), len(prompts)
    items = np.empty(n + k, dtype=object)
    for i in range(n):
        items[i] = images[i]
    items[n:] = prompts
    split = ["train"] * N_AUDIT + ["test"] * N_DEFAULT_TEST + ["prompt"] * k
    meta = pd.DataFrame(
        {
            "split": split,
            "target": list(y) + list(range(k)),
            "size": [S.SIZES[v] for v in lab["size1"]] + [""] * k,
            "x": list(lab["x1"]) + [np.nan] * k,
            "y": list(lab["y1"]) + [np.nan] * k,
        }
    )
    es = EmbeddingSet(
        vec,
        ["image"] * n + ["text"] * k,
        ids=[f"scene-{i}" for i in range(n)] + [f"prompt-{c}" for c in range(k)],
        labels=[names[c] for c in y] + list(names),
        items=items,
        meta=meta,
        space="default-shapes",
    )
    return {
        "name": "default-shapes",
        "embeddings": es,
        "class_names": names,
        "prompt_index": np.arange(n, n + k),
        "image_index": np.arange(n),
        "image_labels": y.astype(np.int64),
        "train": np.arange(N_AUDIT),
        "test": np.arange(N_AUDIT, n),
        "images": images,
        "captions": list(prompts),
        "encoder": enc,
        "info": {
            "source": "modalchorus_widget.worlds.shapes (procedural, rendered here)",
            "model": enc.config.get("description"),
            "split": f"train: sample_scenes({N_AUDIT}, 'single', 'train', {AUDIT_SEED}, combos=seen_combos()); "
            f"test: sample_scenes({N_DEFAULT_TEST}, 'single', 'test', {TEST_SEED})",
            "prompt_template": S.PROMPT_TEMPLATE,
            "seconds": round(time.perf_counter() - t0, 3),
        },
    }


# ------------------------------------------------------------------------------ compositional case
def _allowed_pair(scene) -> bool:
    a, b = scene.objects
    if a.combo == b.combo or (a.colour, a.shape) in S.UNSEEN_COMBOS or (b.colour, b.shape) in S.UNSEEN_COMBOS:
        return False
    return tuple(sorted((a.combo, b.combo))) not in S.heldout_pairs()


def with_twins(scenes) -> tuple:
    """Each two-object training scene followed by its *twins* that are also training scenes: the colours
    swapped between the objects (its caption is the scene's attribute-swapped caption) and the objects in
    each other's place (the relation-swapped caption). Returns (scenes, group): ``group[i]`` is the index
    of the base scene row i came from. A lasso around a scene and its twins is a hard-negative set."""
    from dataclasses import replace

    out, group = [], []
    for g, s in enumerate(scenes):
        a, b = s.objects
        cand = [s]
        if a.colour != b.colour and a.shape != b.shape:
            cand.append(S.Scene((replace(a, colour=b.colour), replace(b, colour=a.colour)), s.noise_seed + 1))
        cand.append(S.Scene((replace(b, x=a.x, y=a.y), replace(a, x=b.x, y=b.y)), s.noise_seed + 2))
        for k, c in enumerate(cand):
            if k == 0 or _allowed_pair(c):
                out.append(c)
                group.append(g)
    return out, np.asarray(group, np.int64)


# Aligner parameters of the compositional case, chosen by ``scripts/cases_cv.py compositional`` on the training
# split only (3 group folds): the largest mean ARO gain (attribute + relation) among the settings whose
# single-object zero-shot accuracy on training scenes fell by at most 0.01, ties broken by the smaller fall (see
# the README's case studies). The preservation's KL temperature decides: at the default 0.01 its softmax over the
# references is nearly one-hot, so it guards little but the nearest neighbour; at 0.1 it keeps the whole
# similarity profile of the single objects and the prompts while the paired pull reorders the two-object captions.
COMPOSITIONAL_SETTINGS = {
    "batch_size": 1024,
    "learning_rate": 1e-3,
    "hidden": 256,
    "preserve_l2": 0.3,
    "preserve_kl": 5.0,
    "kl_temperature": 0.1,
    "n_steps": 300,
    "patience": 6,
    # chosen and measured as a full-strength round (the bench's "tuned" row, docs/figures/cases.json). The guard's
    # "auto" reads this map's unselected two-object scenes against every caption without labels, and the round's
    # intended gains there look like regressions (alpha 0); the case's guard is the single objects read against the
    # class prompts, rows of the case: Aligner(**{**COMPOSITIONAL_SETTINGS, "guard": dict(on=case["context"],
    # concepts=prompt rows)}), as notebooks/case_compositional.ipynb does (alpha 0.2)
    "guard": None,
}
# Rounds of the same selection: with kl_temperature 0.1 a second round changed nothing in CV (the first one
# already stops satisfied); with the earlier 0.01 it raised the ARO gains but cost single objects 0.016-0.019.
COMPOSITIONAL_ROUNDS = 1
PAIR_SEED = 7  # the training-split two-object scenes the compositional case selects from
CONTEXT_SEED, N_CONTEXT = 6, 400  # training-split single-object scenes shown beside them (with the prompts)


def compositional_case(encoder, n_base: int = 250, n_test: int = N_TEST_PAIR) -> dict:
    """The compositional case's data: training-split two-object scenes with their twins (``with_twins``)
    and their canonical captions, then held-out scenes of pairs never seen together (images only: their
    captions and swapped captions are embedded and mapped through the aligner when measured, so the
    preservation term of a round never sees them), then context: ``N_CONTEXT`` training-split single-object
    scenes and the 16 class prompts, what else a user's map holds (unselected, so a round preserves them).

    Returns ``embeddings`` (rows: train images, train captions, test images, context), the row ranges
    (``train_images``, ``train_texts``, ``test_images``, ``context``), the scenes, the test
    ``probe`` (``pair_probe``) and the raw held-out image vectors ``test_vectors``. The selection a user
    lassos is ``SetSet(train_images, train_texts, paired=True)``: each image with its own caption, its
    twins' captions (its swapped negatives) in the same set."""
    import pandas as pd

    from ..data.embeddings import EmbeddingSet

    base = S.sample_scenes(n_base, "pair", "train", PAIR_SEED)
    train, group = with_twins(base)
    test = S.sample_scenes(n_test, "pair", "test", TEST_SEED)
    context = S.sample_scenes(N_CONTEXT, "single", "train", CONTEXT_SEED, combos=seen_combos())
    tr_img, te_img, cx_img = S.render_all(train), S.render_all(test), S.render_all(context)
    tr_cap, te_cap = [s.caption(0) for s in train], [s.caption(0) for s in test]
    prompts = list(S.class_prompts())
    iv = encoder.encode_images(np.concatenate([tr_img, te_img, cx_img]))
    tv = encoder.encode_texts(tr_cap + prompts)
    n, m, c, k = len(train), len(test), len(context), len(prompts)
    vec = np.concatenate([iv[:n], tv[:n], iv[n:], tv[n:]])
    items = np.empty(len(vec), dtype=object)
    for i, img in enumerate(list(tr_img) + [None] * n + list(te_img) + list(cx_img)):
        if img is not None:
            items[i] = img
    items[n : 2 * n] = tr_cap
    items[2 * n + m + c :] = prompts
    split = ["train"] * (2 * n) + ["test"] * m + ["train"] * c + ["prompt"] * k
    lab = ["train scene"] * n + ["train caption"] * n + ["held-out scene"] * m + ["single object"] * c
    lab += ["class prompt"] * k
    meta = pd.DataFrame({"split": split, "caption": tr_cap * 2 + te_cap + [x.caption(0) for x in context] + prompts})
    es = EmbeddingSet(
        vec,
        ["image"] * n + ["text"] * n + ["image"] * (m + c) + ["text"] * k,
        labels=lab,
        items=items,
        meta=meta,
        space="default-shapes",
    )
    return {
        "embeddings": es,
        "train_images": np.arange(n),
        "train_texts": np.arange(n, 2 * n),
        "test_images": np.arange(2 * n, 2 * n + m),
        "context": np.arange(2 * n + m, len(vec)),
        "train_scenes": train,
        "group": group,
        "test_scenes": test,
        "probe": pair_probe(test),
        "test_vectors": iv[n : n + m],
        **single_object_probe(encoder, S.sample_scenes(N_TEST_SINGLE, "single", "test", TEST_SEED)),
    }


def single_object_probe(encoder, scenes) -> dict:
    """Vectors and labels of single-object ``scenes`` and the class prompts, for the guard figure of
    ``compositional_figures`` (a fix for two-object captions must not break reading single objects)."""
    return {
        "single_vectors": encoder.encode_images(S.render_all(scenes)),
        "single_labels": S.labels(scenes)["combo1"],
        "prompt_vectors": encoder.encode_texts(S.class_prompts()),
    }


def compositional_figures(case, encoder, aligner=None) -> dict:
    """ARO attribute / relation and retrieval R@1 on the case's held-out scenes, and single-object zero-shot
    accuracy (``single_object_probe``), through ``aligner``'s rounds when given (captions embedded by
    ``encoder``, then mapped by ``aligner.transform``)."""
    if aligner is None:
        out = pair_figures(case["test_vectors"], encoder.encode_texts, case["probe"])
        single, prompts = case["single_vectors"], case["prompt_vectors"]
    else:
        img = aligner.transform(case["test_vectors"], "image")
        out = pair_figures(img, lambda t: aligner.transform(encoder.encode_texts(t), "text"), case["probe"])
        single = aligner.transform(case["single_vectors"], "image")
        prompts = aligner.transform(case["prompt_vectors"], "text")
    out["single_zero_shot"] = float(np.mean(zero_shot_predict(single, prompts) == case["single_labels"]))
    return out


# ------------------------------------------------------------------------------ zero-shot case
# Aligner parameters of the zero-shot case, chosen by ``scripts/cases_cv.py zero_shot --samples 80``: the bench's round
# read on 80 fresh training-distribution samples of the held-out size (50 images per class), the largest share of
# samples meeting both aims (target gain >= 0.10, no other class losing more than 0.01, i.e. no net loss of a single
# image); an independent pool (``--sample-seed 9000``) gives the estimate. Anchor mode: the round tunes only the two
# class prompts the lassos were pulled to (``alignment/anchors.py``), so only decisions involving them can change;
# 150 steps without early stopping, a sharp pull (``temperature`` 0.003), light L2 on the prompts, strong KL on every
# reference outside the round's scope; the lassos weighted by size, the confused class's ``ZERO_SHOT_KEEP_WEIGHT``
# times (``zero_shot_constraints``). Share meeting both aims: 0.75 (estimate 0.60); the previous settings 0.10 (0.11).
ZERO_SHOT_SETTINGS = {
    "mode": "anchors",
    "learning_rate": 1e-3,
    "n_steps": 150,
    "validation": 0.0,
    "temperature": 0.003,
    "preserve_l2": 1.0,
    "preserve_kl": 150.0,
    "kl_temperature": 0.03,
    "n_reference": 2048,
    "stop_when_satisfied": False,
}
ZERO_SHOT_KEEP_WEIGHT = 4.0


def zero_shot_case(data) -> dict:
    """The zero-shot case on ``load_default("shapes")``: the most frequent confusion on the training split
    (``target`` read as ``confused``), the training images of ``target`` read as ``confused`` (``wrong``), the
    whole training cluster of ``target`` (``cluster``: the lasso) and the training images of ``confused``
    (``keep``: a second lasso that keeps them in place)."""
    pred = data.predict()
    y, tr = data.image_labels, np.asarray(data.train)
    n = len(data.class_names)
    cm = confusion_matrix(pred[tr], y[tr], n)
    np.fill_diagonal(cm, 0)
    a, b = (int(v) for v in np.unravel_index(np.argmax(cm), cm.shape))
    return {
        "target": a,
        "confused": b,
        "n_confused_train": int(cm[a, b]),
        "wrong": tr[(y[tr] == a) & (pred[tr] == b)],
        "cluster": tr[y[tr] == a],
        "keep": tr[y[tr] == b],
        "predictions": pred,
    }


def zero_shot_constraints(data, case, keep_weight: float = ZERO_SHOT_KEEP_WEIGHT) -> list:
    """The round: the lassoed ``target`` cluster pulled to its class prompt, the lassoed ``confused`` images to
    theirs (two point-set pulls), weighted by size (``weigh_by_size``: each lassoed image counts the same), the
    second lasso ``keep_weight`` times as much (keeping the confused class in place weighs more than the fix)."""
    from ..alignment.constraints import PointSet, weigh_by_size

    return weigh_by_size(
        PointSet(int(data.prompt_index[case["target"]]), case["cluster"]),
        PointSet(int(data.prompt_index[case["confused"]]), case["keep"], weight=keep_weight),
    )


def zero_shot_figures(data, before, after) -> dict:
    """Held-out per-class accuracy before/after (prediction arrays over image rows) for ``zero_shot_case``."""
    y, te = data.image_labels, np.asarray(data.test)
    n = len(S.COMBOS)
    return {"before": per_class_accuracy(before[te], y[te], n), "after": per_class_accuracy(after[te], y[te], n)}
