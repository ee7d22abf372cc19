"""`python -m benchmarks cases --json FILE`: the shapes world's case studies, measured.

1. world: the shipped shapes model's held-out single-object zero-shot accuracy (balanced over all 16
   colour/shape classes; ``shapes_cases.world_report``).
2. zero_shot: ``load_default("shapes")``; the most frequent confusion on the training split (red squares
   read as red circles: red objects are 97 % circles in training); one round of two point-set pulls from
   lasso-style selections on the training split (the red-square cluster to its class prompt, the images of
   the class they were confused with to theirs; ``shapes_cases.ZERO_SHOT_SETTINGS``); held-out per-class
   accuracy before and after. ``scripts/cases_cv.py`` runs the same protocol on training folds.
3. compositional: training-split two-object scenes with their twins (colours swapped, objects swapped) and
   their captions -> one paired set-set pull round (``shapes_cases.COMPOSITIONAL_SETTINGS``); ARO-style
   attribute-binding and relation-order accuracy and caption retrieval R@1 on held-out scenes made of pairs
   never seen together in training, and single-object zero-shot accuracy on held-out scenes (the guard:
   the map also holds single-object scenes and the class prompts, which the round must leave working).
Only held-out rows are evaluated; the aligner sees training rows only.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def zero_shot_round(data, case, params=None) -> tuple:
    """The zero-shot case's round (``shapes_cases.zero_shot_constraints``): (the fitted Aligner, seconds).
    ``params`` override ``shapes_cases.ZERO_SHOT_SETTINGS``; its key ``keep_weight``, ``ZERO_SHOT_KEEP_WEIGHT``."""
    from modalchorus_widget import Aligner
    from modalchorus_widget.worlds import shapes_cases as C

    params = dict(params or {})
    keep_weight = params.pop("keep_weight", C.ZERO_SHOT_KEEP_WEIGHT)
    al = Aligner(encoder=data.encoder, **{**C.ZERO_SHOT_SETTINGS, **params}).fit(data.embeddings)
    t0 = time.perf_counter()
    al.step(*C.zero_shot_constraints(data, case, keep_weight))
    return al, time.perf_counter() - t0


def run_zero_shot(data=None, params=None) -> dict:
    """The zero-shot case on ``data`` (default ``load_default("shapes")``): lasso-style selections on
    ``data.train``, figures on ``data.test``; ``params`` as ``zero_shot_round``'s."""
    from modalchorus_widget import load_default
    from modalchorus_widget.worlds import shapes_cases as C

    data = load_default("shapes") if data is None else data
    case = C.zero_shot_case(data)
    a, b = case["target"], case["confused"]
    al, round_s = zero_shot_round(data, case, params)
    after = data.predict(al.embeddings_)
    fig = C.zero_shot_figures(data, case["predictions"], after)
    others = [c for c in range(len(data.class_names)) if c != a]
    drop = fig["before"][others] - fig["after"][others]
    te = np.asarray(data.test)
    y = data.image_labels
    # information beside the strict key: classes none of whose rows were lassoed (the confused class was)
    free = [i for i, c in enumerate(others) if c != b]
    return {
        "target": data.class_names[a],
        "confused_with": data.class_names[b],
        "zero_shot_target_before": round(float(fig["before"][a]), 4),
        "zero_shot_target_after": round(float(fig["after"][a]), 4),
        "zero_shot_untouched_max_drop": round(float(np.nanmax(drop)), 4),
        "zero_shot_untouched_max_drop_class": data.class_names[others[int(np.nanargmax(drop))]],
        "zero_shot_confused_class_drop": round(float(drop[others.index(b)]), 4),
        "zero_shot_unselected_max_drop": round(float(np.nanmax(drop[free])), 4),
        "zero_shot_overall_before": round(float(np.mean(case["predictions"][te] == y[te])), 4),
        "zero_shot_overall_after": round(float(np.mean(after[te] == y[te])), 4),
        "selected": int(len(case["cluster"]) + len(case["keep"])),
        "selected_confused": int(len(case["wrong"])),
        "n_test": int(len(te)),
        "untouched_changed": int(np.sum((after[te] != case["predictions"][te]) & (y[te] != a))),
        "round_s": round(round_s, 3),
    }


def run_compositional(n_base: int = 250) -> dict:
    from modalchorus_widget import Aligner, SetSet
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc = load_shapes_encoder()
    case = C.compositional_case(enc, n_base=n_base)
    before = C.compositional_figures(case, enc)
    al = Aligner(encoder=enc, **C.COMPOSITIONAL_SETTINGS).fit(case["embeddings"])
    t0 = time.perf_counter()
    rnd = al.step(SetSet(case["train_images"], case["train_texts"], paired=True))
    round_s = time.perf_counter() - t0
    after = C.compositional_figures(case, enc, al)
    return {
        **{f"{k}_before": round(v, 4) for k, v in before.items()},
        **{f"{k}_after": round(v, 4) for k, v in after.items()},
        "selected": int(len(case["train_images"]) + len(case["train_texts"])),
        "n_test": int(len(case["test_scenes"])),
        "n_attribute": int(len(case["probe"]["attribute"])),
        "n_relation": int(len(case["probe"]["relation"])),
        "steps": int(rnd.report.get("steps", -1)),
        "settings": dict(C.COMPOSITIONAL_SETTINGS),
        "round_s": round(round_s, 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="cases.json", help="output file")
    ap.add_argument("--n-base", type=int, default=250, help="training two-object scenes (before twins)")
    ap.add_argument("--png", default=None, help="picture of the generation round's before / after (optional)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    t0 = time.perf_counter()
    world = C.world_report(load_shapes_encoder())
    zs = run_zero_shot()
    comp = run_compositional(args.n_base)
    from .cases_generation import run_generation

    gen = run_generation(args.png)
    out = {
        "world_zero_shot_acc": world["zero_shot_accuracy"],
        "world_aro_attribute": world["aro_attribute"],
        "world_aro_relation": world["aro_relation"],
        "aro_attribute_before": comp["aro_attribute_before"],
        "aro_attribute_after": comp["aro_attribute_after"],
        "aro_relation_before": comp["aro_relation_before"],
        "aro_relation_after": comp["aro_relation_after"],
        "retrieval_r1_before": comp["retrieval_r1_before"],
        "retrieval_r1_after": comp["retrieval_r1_after"],
        "single_zero_shot_before": comp["single_zero_shot_before"],
        "single_zero_shot_after": comp["single_zero_shot_after"],
        "zero_shot_target_before": zs["zero_shot_target_before"],
        "zero_shot_target_after": zs["zero_shot_target_after"],
        "zero_shot_untouched_max_drop": zs["zero_shot_untouched_max_drop"],
        **{k: gen[k] for k in ("gen_leak_before", "gen_leak_after", "oracle_acc")},
        **{k: gen[k] for k in ("gen_other_prompts_acc_before", "gen_other_prompts_acc_after")},
        "selected": {"zero_shot": zs["selected"], "compositional": comp["selected"], "generation": gen["selected"]},
        "round_s": {"zero_shot": zs["round_s"], "compositional": comp["round_s"], "generation": gen["round_s"]},
        "zero_shot": zs,
        "compositional": comp,
        "generation": gen,
        "world": world,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(
        json.dumps(
            {k: v for k, v in out.items() if k not in ("zero_shot", "compositional", "generation", "world")}, indent=1
        )
    )
    return 0
