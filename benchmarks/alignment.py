"""`python -m benchmarks alignment --json FILE`: the measured effect of alignment.

1. zero_shot: embedded default model; the most confused (true, predicted) class pair on the training
   split; its misclassified training images are the set (what a lasso around them gives); one point-set
   pull round toward the true class prompt; per-class / overall held-out accuracy before and after.
2. retrieval: COCO-500 real CLIP; 300 training pairs -> one paired set-set pull round; image->text and
   text->image recall@1/5 on the other 200, against modality-gap shift, orthogonal Procrustes and
   CLIP-Adapter fitted on the same 300 pairs. ``--seeds`` repeats it on more random splits (means reported).
3. round_s: wall seconds of one default fast-mode round on 10,000 embeddings (plus its CPU seconds); it
   stops once the pull holds, so ``round_s_all_steps`` times the same round with every step run.
Only held-out rows are evaluated; the aligner sees training rows only.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.evaluation import confusion_matrix, per_class_accuracy, recall_at_k, zero_shot_predict

USER_PROMPT = "a stick"


def _coco(path=None):
    from pathlib import Path

    from modalchorus_widget.data import datasets

    folder = Path(path) if path else datasets.coco500_path()
    if not (Path(folder) / "clip_vitb16_img_txt.npy").exists():
        raise FileNotFoundError(f"COCO-500 embeddings not found in {folder}; pass --coco PATH.")
    return np.load(Path(folder) / "clip_vitb16_img_txt.npy")


def _recalls(img, txt):
    return {
        "i2t_r1": recall_at_k(img, txt, 1),
        "i2t_r5": recall_at_k(img, txt, 5),
        "t2i_r1": recall_at_k(txt, img, 1),
        "t2i_r5": recall_at_k(txt, img, 5),
    }


def retrieval(data, seed=0, n_train=300, params=None):
    """One split: align on n_train pairs, evaluate on the rest. Returns figures (fractions)."""
    from modalchorus_widget.alignment import Aligner, SetSet
    from modalchorus_widget.alignment.baselines import BASELINES

    x, y = data[0], data[1]
    perm = np.random.default_rng(seed).permutation(len(x))
    tr, te = perm[:n_train], perm[n_train:]
    es = EmbeddingSet.from_pairs(x[tr], y[tr])
    al = Aligner(random_state=seed, **params or {}).fit(es)
    rnd = al.step(SetSet(np.arange(n_train), np.arange(n_train, 2 * n_train), paired=True))
    before = _recalls(x[te], y[te])
    after = _recalls(al.transform(x[te], "image"), al.transform(y[te], "text"))
    out = {f"{k}_before": v for k, v in before.items()}
    out.update({f"{k}_after": v for k, v in after.items()})
    out["round_s"] = rnd.seconds
    out["steps"] = rnd.report["steps"]
    out["baselines"] = {}
    for name, fit in BASELINES.items():
        kw = {"random_state": seed} if name == "clip_adapter" else {}
        f = fit(x[tr], y[tr], **kw)
        xi, yt = f(x[te], y[te])
        out["baselines"][name] = _recalls(xi, yt)
    return out


def zero_shot(params=None, prompt_override=None, data=None, mode="fast"):
    """Protocol 1 on the embedded default (load_default); ``prompt_override`` {class index: text} swaps in a
    user's own wording for some class prompts (embedded by the default encoder) before the protocol runs.
    ``mode="deep"`` tunes a private copy of the default encoder's image tower (last layer) on the training
    images instead of fitting adapters; the held-out images are then encoded again by the tuned encoder."""
    from modalchorus_widget.alignment import Aligner, PointSet
    from modalchorus_widget.worlds.defaults import load_default

    d = load_default() if data is None else data
    es = d.embeddings
    if prompt_override:
        vec = np.array(es.vectors, copy=True)
        for c, text in prompt_override.items():
            vec[d.prompt_index[c]] = d.encoder.encode_texts([text])[0]
        es = es.with_vectors(vec)
    k = len(d.class_names)
    pos = np.searchsorted(d.image_index, d.train)
    y_tr, y_te = d.image_labels[pos], d.image_labels[np.searchsorted(d.image_index, d.test)]
    rows = np.concatenate([d.train, d.prompt_index])  # the aligner sees training images + prompts only
    sub = es.subset(rows)
    n_tr = len(d.train)
    prompt_rows = np.arange(n_tr, n_tr + k)
    pred_tr = zero_shot_predict(sub.vectors[:n_tr], sub.vectors[prompt_rows])
    cm = confusion_matrix(pred_tr, y_tr, k)
    np.fill_diagonal(cm, 0)
    a, b = np.unravel_index(int(np.argmax(cm)), cm.shape)  # true a, predicted b
    members = np.flatnonzero((y_tr == a) & (pred_tr == b))
    if mode == "deep":
        from modalchorus_widget.encoders import DefaultEncoder

        enc = DefaultEncoder()  # a private instance: deep mode tunes it in place
        al = Aligner(encoder=enc, mode="deep", **params or {}).fit(sub, images=d.images[d.train])
    else:
        al = Aligner(encoder=d.encoder, **params or {}).fit(sub)
    t0 = time.perf_counter()
    rnd = al.step(PointSet(int(prompt_rows[a]), members))
    seconds = time.perf_counter() - t0
    test_vec = es.vectors[d.test]
    p0 = zero_shot_predict(test_vec, sub.vectors[prompt_rows])
    after = enc.encode_images(d.images[d.test]) if mode == "deep" else al.transform(test_vec, "image")
    p1 = zero_shot_predict(after, al.embeddings_.vectors[prompt_rows])
    acc0, acc1 = per_class_accuracy(p0, y_te, k), per_class_accuracy(p1, y_te, k)
    untouched = np.array([c not in (a, b) for c in range(k)])
    in_untouched = untouched[y_te]
    return {
        "target_class": str(d.class_names[a]),
        "confused_with": str(d.class_names[b]),
        "n_selected": int(len(members)),
        "train_confusions": int(cm[a, b]),
        "target_acc_before": float(acc0[a]),
        "target_acc_after": float(acc1[a]),
        "overall_acc_before": float(np.mean(p0 == y_te)),
        "overall_acc_after": float(np.mean(p1 == y_te)),
        "per_class_before": {str(c): float(v) for c, v in zip(d.class_names, acc0)},
        "per_class_after": {str(c): float(v) for c, v in zip(d.class_names, acc1)},
        "untouched_changed": int(np.sum((p0 != p1) & in_untouched)),
        "untouched_max_drop": float(np.max((acc0 - acc1)[untouched])),
        "round_s": round(seconds, 4),
        "steps": rnd.report["steps"],
        "mode": mode,
        "moved_unselected_mean": rnd.report.get("moved_unselected_mean"),
        "ceiling_note": "target_acc_before is the room left: +10 points is reachable only if it is <= 0.9",
        **{
            k: rnd.report[k]
            for k in (
                "constraint_loss_before",
                "constraint_loss_after",
                "tuned_parameters",
                "seconds_cache",
                "seconds_train",
                "seconds_reencode",
            )
            if k in rnd.report
        },
    }


def speed(data, n=10_000, members=200, params=None):
    """One default round on n embeddings (COCO-500 rows repeated with small noise, half images, half texts)."""
    from modalchorus_widget.alignment import Aligner, PointSet

    rng = np.random.default_rng(0)
    reps = int(np.ceil(n / (2 * data.shape[1])))
    img = np.concatenate([data[0]] * reps)[: n // 2]
    txt = np.concatenate([data[1]] * reps)[: n - n // 2]
    img = img + rng.normal(0, 0.01, img.shape).astype(np.float32)
    txt = txt + rng.normal(0, 0.01, txt.shape).astype(np.float32)
    es = EmbeddingSet.from_pairs(img, txt)
    anchor = len(img) + 3
    sel = np.argsort(-(es.vectors[: len(img)] @ es.vectors[anchor]))[:members]
    out = {}
    # the default round stops once the constraint holds; the second one runs every step (the worst case)
    for key, extra in (("", {}), ("_all_steps", {"stop_when_satisfied": False})):
        al = Aligner(**{**(params or {}), **extra}).fit(es)
        c0, t0 = time.process_time(), time.perf_counter()
        rnd = al.step(PointSet(anchor, sel))
        out.update(
            {
                f"round_s{key}": round(time.perf_counter() - t0, 3),
                f"round_cpu_s{key}": round(time.process_time() - c0, 3),
                f"steps{key}": rnd.report["steps"],
            }
        )
    return {
        **out,
        "n": es.n,
        "members": members,
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks alignment", description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--coco", help="folder of the COCO-500 embeddings (default: the shared data)")
    ap.add_argument("--seeds", type=int, default=1, help="retrieval: number of random splits (first one is reported)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["zero_shot", "retrieval", "speed"])
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    data = _coco(args.coco)
    out = {}
    if "retrieval" not in args.skip:
        runs = [retrieval(data, seed=s) for s in range(args.seeds)]
        out["retrieval"] = runs[0]
        if args.seeds > 1:
            keys = [k for k in runs[0] if k.endswith(("_before", "_after"))]
            out["retrieval_mean_over_seeds"] = {k: float(np.mean([r[k] for r in runs])) for k in keys}
            out["retrieval_mean_over_seeds"]["baselines"] = {
                b: {k: float(np.mean([r["baselines"][b][k] for r in runs])) for k in runs[0]["baselines"][b]}
                for b in runs[0]["baselines"]
            }
            out["retrieval_mean_over_seeds"]["seeds"] = args.seeds
        print(json.dumps({"retrieval": out["retrieval"]}, indent=1))
    if "zero_shot" not in args.skip:
        from modalchorus_widget.worlds.defaults import load_default

        d = load_default()
        out["zero_shot"] = zero_shot(data=d)
        print(json.dumps({"zero_shot": out["zero_shot"]}, indent=1))
        # the default prompts leave almost no room (>= 94.5 % per class held out); a user's own wording
        # for one class ("a stick" for 1) leaves real confusion for the same protocol to fix
        out["zero_shot_user_prompt"] = zero_shot(data=d, prompt_override={1: USER_PROMPT})
        out["zero_shot_user_prompt"]["prompt_override"] = {"1": USER_PROMPT}
        print(json.dumps({"zero_shot_user_prompt": out["zero_shot_user_prompt"]}, indent=1))
        # the same with deep mode: the image tower's last layer is tuned instead of an adapter
        out["zero_shot_user_prompt_deep"] = zero_shot(data=d, prompt_override={1: USER_PROMPT}, mode="deep")
        print(json.dumps({"zero_shot_user_prompt_deep": out["zero_shot_user_prompt_deep"]}, indent=1))
    if "speed" not in args.skip:
        out["speed"] = speed(data)
        out["round_s"] = out["speed"]["round_s"]
        print(json.dumps({"speed": out["speed"]}, indent=1))
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0
