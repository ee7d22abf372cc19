"""`python -m benchmarks fixes --json FILE`: fixes that hold with default settings and the guard (issue 30).

Five cases, each a map a user has, the selections they lasso, and held-out figures the round never sees:

- ``zero_shot``: the shapes world's zero-shot case (red squares read as red circles); held out: per-class
  accuracy of ``data.test``; guard: fresh labelled training-distribution scenes (``GUARD_SEED``);
- ``compositional``: two-object scenes and their captions, one paired set-set pull; held out: ARO attribute and
  relation (the target) and single-object per-class accuracy (outside); guard: fresh labelled single objects
  read against the map's class prompts;
- ``generation``: "a red square" generated as a red circle; held out: the oracle's reading of generations of
  held-out paraphrases (the target class, and each other seen class); guard: the map's other scenes read
  against its prompts;
- ``coco_retrieval``: COCO-500 CLIP, 300 pairs selected (the map), 200 held out; target: mean image->text and
  text->image recall@1; outside: recall@5 both ways; the map has no unselected row, so no guard applies;
- ``digits_stick``: the embedded digits model with the user's prompt "a stick" for class 1; the misclassified
  training images of the most confused pair pulled to their prompt; held out: ``data.test`` per class; guard:
  the map's unselected labelled training images.

Methods: ``default`` / ``default_guarded`` (``Aligner(mode=the case's mode)`` with default settings, guard None /
the case's guard), ``tuned`` (the case's settings, where a case has them), ``tip_adapter``, ``taskres``,
``clip_adapter`` (``alignment/baselines.py``, on the same selections, alpha, and beta for Tip-Adapter, by the same
guard rows and tolerance through ``baselines.choose_alpha``), ``linear_probe_upper`` (logistic regression on every
labelled image of the map; classification cases only). Keys per case and method: ``target_gain``,
``worst_other_drop``, ``overall_change``, ``changed_outside`` (held-out rows outside the target whose reading
changed), ``alpha``, ``round_s``. ``frontier`` per case (``fixes_frontier``): the default and the tuned round read
held out at each strength, and the best held-out gain any strength reaches within the tolerance. ``speed_10k``: one
guarded default round on 10,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from modalchorus_widget.alignment.baselines import choose_alpha
from modalchorus_widget.alignment.guard import ALPHAS, DEFAULT_TOLERANCE, GuardSpec

GUARD_SEED = 4242  # fresh training-distribution scenes the guard reads (never the held-out seed)
N_GUARD_PER_CLASS = 100
BETAS = (1.0, 5.5, 20.0)
METHODS = ("default", "default_guarded", "tuned", "tip_adapter", "taskres", "clip_adapter", "linear_probe_upper")


def _unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _mix(b, a, alpha):
    from modalchorus_widget.alignment.guard import mix_vectors

    return mix_vectors(_unit(b), _unit(a), alpha)


class Reader:
    """How a method reads vectors of the original space: image map, text map, and a score bonus (a cache)."""

    def __init__(self, img=None, txt=None, bonus=None, classify=None):
        self.img, self.txt, self.bonus, self.classify = img, txt, bonus, classify
        self.history_ = [None]  # for the generator's with_aligner

    def scores(self, x, t):
        xi = self.img(x) if self.img else _unit(x)
        tt = self.txt(t) if self.txt else _unit(t)
        s = xi @ tt.T
        return s + self.bonus(x, t) if self.bonus else s

    def transform(self, v, modality):
        f = self.img if modality == "image" else self.txt
        return f(v) if f else _unit(v)


def aligner_reader(al):
    return Reader(img=lambda v: al.transform(v, "image"), txt=lambda v: al.transform(v, "text"))


# ------------------------------------------------------------------------------------------ cases
def _guard_singles(encoder, seed=GUARD_SEED):
    from modalchorus_widget import EmbeddingSet
    from modalchorus_widget.worlds import shapes as S
    from modalchorus_widget.worlds import shapes_cases as C

    combos = C.seen_combos()
    sc = S.sample_scenes(N_GUARD_PER_CLASS * len(combos), "single", "train", seed, combos=combos)
    names = S.class_names()
    lab = [names[c] for c in S.labels(sc)["combo1"]]
    v = encoder.encode_images(S.render_all(sc))
    return EmbeddingSet(v, ["image"] * len(v), labels=lab, ids=[f"g{i}" for i in range(len(v))])


def _classification_eval(x_test, y_test, prompts, target):
    """Figures of a zero-shot classifier on held-out images: per class accuracy, overall, predictions."""
    k = len(prompts)

    def evaluate(reader):
        pred = np.argmax(reader.classify(x_test) if reader.classify else reader.scores(x_test, prompts), axis=1)
        acc = np.array([np.mean(pred[y_test == c] == c) if (y_test == c).any() else np.nan for c in range(k)])
        return {
            "target": float(acc[target]),
            "others": {str(c): float(acc[c]) for c in range(k) if c != target and np.isfinite(acc[c])},
            "overall": float(np.mean(pred == y_test)),
            "reading": pred,
            "outside": y_test != target,
        }

    return evaluate


def case_zero_shot():
    from modalchorus_widget import load_default
    from modalchorus_widget.alignment.constraints import PointSet
    from modalchorus_widget.worlds import shapes_cases as C

    data = load_default("shapes")
    case = C.zero_shot_case(data)
    a, b = case["target"], case["confused"]
    es, prompts = data.embeddings, data.prompt_index
    cons = [PointSet(int(prompts[a]), case["cluster"]), PointSet(int(prompts[b]), case["keep"])]
    gset = _guard_singles(data.encoder)
    pos_test = np.searchsorted(data.image_index, data.test)
    y = data.image_labels
    sel = np.concatenate([case["cluster"], case["keep"]])
    sel_y = np.concatenate([np.full(len(case["cluster"]), a), np.full(len(case["keep"]), b)])
    return {
        "name": "zero_shot",
        "es": es,
        "encoder": data.encoder,
        "mode": C.ZERO_SHOT_SETTINGS["mode"],
        "constraints": cons,
        "tuned": (C.ZERO_SHOT_SETTINGS, C.zero_shot_constraints(data, case)),
        "guard": {"set": gset, "concepts": prompts},
        "guard_rows": (gset.vectors, gset.labels, es.vectors[prompts], es.labels[prompts]),
        "selection": (es.vectors[sel], sel_y, es.vectors[prompts]),
        "concept_rows": prompts,
        "probe": (es.vectors[data.train], y[np.searchsorted(data.image_index, data.train)]),
        "evaluate": _classification_eval(es.vectors[data.test], y[pos_test], es.vectors[prompts], a),
    }


def case_digits_stick():
    from modalchorus_widget import load_default
    from modalchorus_widget.alignment.constraints import PointSet
    from modalchorus_widget.evaluation import confusion_matrix, zero_shot_predict

    d = load_default()
    es = d.embeddings
    vec = np.array(es.vectors, copy=True)
    vec[d.prompt_index[1]] = d.encoder.encode_texts(["a stick"])[0]
    es = es.with_vectors(vec)
    k = len(d.class_names)
    y_tr = d.image_labels[np.searchsorted(d.image_index, d.train)]
    y_te = d.image_labels[np.searchsorted(d.image_index, d.test)]
    sub = es.subset(np.concatenate([d.train, d.prompt_index]))  # the map: training images and the prompts
    n_tr = len(d.train)
    prompt_rows = np.arange(n_tr, n_tr + k)
    pred_tr = zero_shot_predict(sub.vectors[:n_tr], sub.vectors[prompt_rows])
    cm = confusion_matrix(pred_tr, y_tr, k)
    np.fill_diagonal(cm, 0)
    a, b = np.unravel_index(int(np.argmax(cm)), cm.shape)
    members = np.flatnonzero((y_tr == a) & (pred_tr == b))
    watched = np.setdiff1d(np.arange(n_tr), members)
    return {
        "name": "digits_stick",
        "es": sub,
        "encoder": d.encoder,
        "mode": "fast",
        "constraints": [PointSet(int(prompt_rows[a]), members)],
        "tuned": None,
        "guard": "auto",  # the map's own labels: its unselected training images
        "guard_rows": (sub.vectors[watched], sub.labels[watched], sub.vectors[prompt_rows], sub.labels[prompt_rows]),
        "selection": (sub.vectors[members], np.full(len(members), a), sub.vectors[prompt_rows]),
        "concept_rows": prompt_rows,
        "probe": (sub.vectors[:n_tr], y_tr),
        "evaluate": _classification_eval(es.vectors[d.test], y_te, sub.vectors[prompt_rows], int(a)),
    }


def case_compositional():
    from modalchorus_widget.alignment.constraints import SetSet
    from modalchorus_widget.worlds import shapes as S
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc = load_shapes_encoder()
    case = C.compositional_case(enc)
    es = case["embeddings"]
    prompts = np.flatnonzero(np.asarray(es.labels) == "class prompt")
    names = S.class_names()
    gset = _guard_singles(enc)
    relabel = np.full(es.n, None, dtype=object)
    relabel[prompts] = names
    probe, single_y = case["probe"], case["single_labels"]
    tr_i, tr_t = case["train_images"], case["train_texts"]
    texts = {"true": enc.encode_texts(probe["true"]), "attribute": enc.encode_texts(probe["attribute"])}
    texts["relation"], texts["pool"] = enc.encode_texts(probe["relation"]), enc.encode_texts(probe["pool"])
    x_te, x_single, p_vec = case["test_vectors"], case["single_vectors"], case["prompt_vectors"]

    def evaluate(reader):
        def aro(rows, neg):
            xi, tt, tn = x_te[rows], texts["true"][rows], texts[neg]
            s_true, s_neg = np.diag(reader.scores(xi, tt)), np.diag(reader.scores(xi, tn))
            return float(np.mean((s_true > s_neg) + 0.5 * (s_true == s_neg)))

        att, rel = aro(probe["attribute_rows"], "attribute"), aro(probe["relation_rows"], "relation")
        pred = np.argmax(reader.scores(x_single, p_vec), axis=1)
        acc = {str(c): float(np.mean(pred[single_y == c] == c)) for c in np.unique(single_y)}
        r1 = float(np.mean(np.argmax(reader.scores(x_te, texts["pool"]), axis=1) == probe["pool_index"]))
        return {
            "target": (att + rel) / 2,
            "others": acc,
            "overall": float(np.mean(pred == single_y)),
            "reading": pred,
            "outside": np.ones(len(pred), bool),
            "extra": {"aro_attribute": att, "aro_relation": rel, "retrieval_r1": r1},
        }

    return {
        "name": "compositional",
        "es": es,
        "encoder": enc,
        "mode": "fast",
        "constraints": [SetSet(tr_i, tr_t, paired=True)],
        "tuned": (C.COMPOSITIONAL_SETTINGS, [SetSet(tr_i, tr_t, paired=True)]),
        "guard": {"set": gset, "concepts": prompts, "labels": relabel},
        "guard_rows": (gset.vectors, gset.labels, es.vectors[prompts], np.asarray(names, object)),
        "selection": (es.vectors[tr_i], np.arange(len(tr_i)), es.vectors[tr_t]),
        "concept_rows": tr_t,
        "probe": None,
        "evaluate": evaluate,
    }


def case_generation():
    from modalchorus_widget.worlds import shapes as S
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.generation import ShapesOracle, load_shapes_generator
    from modalchorus_widget.worlds.generation import case as G
    from modalchorus_widget.worlds.generation.sets import add_generations
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc = load_shapes_encoder()
    gen, oracle = load_shapes_generator(), ShapesOracle()
    case = G.generation_case(enc)
    before = G.generation_figures(gen, oracle, enc)
    prompts = [t for t in G.prompt_texts(G.TARGET) for _ in range(G.N_PER_TEXT)]
    es = add_generations(case["embeddings"], before["images"][G.TARGET], enc, prompts, "generated: a red square")
    names = S.class_names()
    text_rows = case["text_rows"]
    relabel = np.full(es.n, None, dtype=object)
    relabel[case["image_rows"]] = [names[c] for c in case["image_labels"]]
    relabel[text_rows] = [names[c] for c in case["text_labels"]]
    sel = np.concatenate([case["squares"], case["circles"], case["prompt_rows"]])
    watched = np.setdiff1d(case["image_rows"], sel)
    seen = list(C.seen_combos())

    def evaluate(reader):
        fig = G.generation_figures(gen, oracle, enc, reader)
        reading = np.concatenate([oracle.read(fig["images"][c])["combo"] for c in seen if c != G.TARGET])
        others = {k: v for k, v in fig["per_class"].items() if k != names[G.TARGET]}
        return {
            "target": fig["target_acc"],
            "others": others,
            "overall": float(np.mean(list(fig["per_class"].values()))),
            "reading": reading,
            "outside": np.ones(len(reading), bool),
            "extra": {"leak": fig["leak"]},
        }

    first = int(np.flatnonzero(text_rows == case["prompt_rows"][0])[0])
    return {
        "name": "generation",
        "es": es,
        "encoder": enc,
        "mode": "fast",
        "constraints": G.case_constraints(case),
        "tuned": (G.SETTINGS, G.case_constraints(case)),
        "guard": {"on": watched, "concepts": text_rows, "labels": relabel},
        "guard_rows": (es.vectors[watched], relabel[watched], es.vectors[text_rows], relabel[text_rows]),
        "selection": (es.vectors[case["squares"]], np.full(len(case["squares"]), first), es.vectors[text_rows]),
        "concept_rows": text_rows,
        "probe": None,
        "evaluate": evaluate,
    }


def case_coco(path=None):
    from modalchorus_widget import EmbeddingSet
    from modalchorus_widget.alignment.constraints import SetSet

    from .alignment import _coco

    data = _coco(path)
    x, y = data[0], data[1]
    perm = np.random.default_rng(0).permutation(len(x))
    tr, te = perm[:300], perm[300:]
    es = EmbeddingSet.from_pairs(x[tr], y[tr])

    def evaluate(reader):
        s = reader.scores(x[te], y[te])
        eye = np.arange(len(te))
        rank_i2t = np.argsort(-s, axis=1)
        rank_t2i = np.argsort(-s.T, axis=1)
        r = {
            "i2t_r1": float(np.mean(rank_i2t[:, 0] == eye)),
            "t2i_r1": float(np.mean(rank_t2i[:, 0] == eye)),
            "i2t_r5": float(np.mean((rank_i2t[:, :5] == eye[:, None]).any(1))),
            "t2i_r5": float(np.mean((rank_t2i[:, :5] == eye[:, None]).any(1))),
        }
        return {
            "target": (r["i2t_r1"] + r["t2i_r1"]) / 2,
            "others": {"i2t_r5": r["i2t_r5"], "t2i_r5": r["t2i_r5"]},
            "overall": float(np.mean(list(r.values()))),
            "reading": rank_i2t[:, 0],
            "outside": np.ones(len(te), bool),
            "extra": r,
        }

    return {
        "name": "coco_retrieval",
        "es": es,
        "encoder": None,
        "mode": "fast",
        "constraints": [SetSet(np.arange(300), np.arange(300, 600), paired=True)],
        "tuned": None,
        "guard": "auto",  # the map holds the 300 selected pairs only: nothing unselected to watch
        "guard_rows": None,
        "selection": (x[tr], np.arange(300), y[tr]),
        "concept_rows": np.arange(300, 600),
        "probe": None,
        "evaluate": evaluate,
    }


# ------------------------------------------------------------------------------------------ methods
def _ours(case, params, cons, guard):
    from modalchorus_widget import Aligner

    al = Aligner(**{"mode": case["mode"], **params, "encoder": case["encoder"], "guard": guard}).fit(case["es"])
    t0 = time.perf_counter()
    rnd = al.step(*cons)
    return aligner_reader(al), rnd.alpha, time.perf_counter() - t0


def _guarded(case, scorer, make, grid=ALPHAS):
    """alpha by the case's guard rows (the labels rule of the built-in guard and its default pick: of the alphas
    within the tolerance, the one whose selection target is best); the same pick over the grid where the case has
    no guard rows. ``scorer(xg, cv)`` gives a function alpha -> scores of the guard rows against the concepts;
    ``make(alpha)`` the method's reader at alpha."""
    target = lambda a: _selection_target(case, make(a))  # noqa: E731
    gr = case["guard_rows"]
    if gr is None:
        return float(grid[GuardSpec().choose(list(range(len(grid))), [target(a) for a in grid])])
    xg, yg, cv, cl = gr
    alpha, _ = choose_alpha(scorer(xg, cv), yg, cl, DEFAULT_TOLERANCE, grid, target_at=target)
    return alpha


def _tip(case):
    from modalchorus_widget.alignment.baselines import TipAdapter

    keys, idx, values = case["selection"]
    t0 = time.perf_counter()
    best = None
    for beta in BETAS:
        tip = TipAdapter(keys, values[idx], beta)

        def make(a, tip=tip):
            return Reader(bonus=lambda x, t: tip.scores(x, t, a) - _unit(x) @ _unit(t).T)

        def scorer(xg, cv, tip=tip):
            zs, cache = tip.scores(xg, cv, 0.0), tip.scores(xg, cv, 1.0) - tip.scores(xg, cv, 0.0)
            return lambda a: zs + a * cache

        alpha = _guarded(case, scorer, make)
        target = _selection_target(case, make(alpha))
        if best is None or target > best[0] + 1e-12:
            best = (target, alpha, make(alpha))
    return best[2], best[1], time.perf_counter() - t0


def _selection_target(case, reader):
    """Share of the selected rows read as their target value (what a user can check without held-out data)."""
    keys, idx, values = case["selection"]
    return float(np.mean(np.argmax(reader.scores(keys, values), axis=1) == idx))


def _taskres(case):
    from modalchorus_widget.alignment.baselines import taskres

    keys, idx, values = case["selection"]
    t0 = time.perf_counter()
    tuned = taskres(keys, idx, values)
    base = _unit(values)

    def make(a):
        new = _mix(base, tuned, a)

        def txt(t):
            t = _unit(t)
            out = np.array(t, copy=True)
            hit = np.argmax(t @ base.T, axis=1)
            same = (t * base[hit]).sum(1) > 1 - 1e-6  # a tuned prompt's vector maps to its tuned vector
            out[same] = new[hit[same]]
            return out

        return Reader(txt=txt)

    alpha = _guarded(case, lambda xg, cv: lambda a: make(a).scores(xg, cv), make)
    return make(alpha), alpha, time.perf_counter() - t0


def _clip_adapter(case):
    from modalchorus_widget.alignment.baselines import clip_adapter

    keys, idx, values = case["selection"]
    t0 = time.perf_counter()
    f = clip_adapter(keys, values[idx])

    def make(a):
        return Reader(img=lambda x: _mix(x, f(x, x[:1])[0], a))

    def scorer(xg, cv):
        fx = f(xg, xg[:1])[0]
        return lambda a: _mix(xg, fx, a) @ _unit(cv).T

    alpha = _guarded(case, scorer, make)
    return make(alpha), alpha, time.perf_counter() - t0


def _probe(case):
    from modalchorus_widget.alignment.baselines import linear_probe

    t0 = time.perf_counter()
    clf = linear_probe(*case["probe"])
    k = len(case["concept_rows"])

    def classify(x):
        p = np.full((len(x), k), -np.inf)
        p[:, clf.classes_] = clf.predict_log_proba(_unit(x))
        return p

    return Reader(classify=classify), None, time.perf_counter() - t0


def figures(before, after, alpha, seconds) -> dict:
    others = [k for k in before["others"] if k in after["others"]]
    drops = [before["others"][k] - after["others"][k] for k in others]
    changed = None
    if before.get("reading") is not None and after.get("reading") is not None:
        moved = before["reading"] != after["reading"]
        out = before.get("outside")
        changed = int(np.sum(moved & out) if out is not None else np.sum(moved))
    row = {
        "target_gain": round(after["target"] - before["target"], 4),
        "worst_other_drop": round(max(drops), 4) if drops else None,
        "overall_change": round(after["overall"] - before["overall"], 4),
        "changed_outside": changed,
        "alpha": None if alpha is None else round(float(alpha), 4),
        "round_s": round(seconds, 3),
    }
    if "extra" in after:
        row["figures"] = {k: round(v, 4) for k, v in after["extra"].items()}
    return row


def run_case(case, methods=METHODS, frontier=True) -> dict:
    from .fixes_frontier import case_frontiers

    ev = case["evaluate"]
    before = ev(Reader())
    out = {
        "_before": {
            "target": round(before["target"], 4),
            **{k: round(v, 4) for k, v in before.get("extra", {}).items()},
        }
    }
    for m in methods:
        if m == "default":
            reader, alpha, s = _ours(case, {}, case["constraints"], None)
        elif m == "default_guarded":
            reader, alpha, s = _ours(case, {}, case["constraints"], case["guard"])
        elif m == "tuned":
            if case["tuned"] is None:
                out[m] = None
                continue
            reader, alpha, s = _ours(case, case["tuned"][0], case["tuned"][1], None)
        elif m == "tip_adapter":
            if case["name"] == "generation":  # a cache of scores: it maps no text, so it cannot steer a generator
                out[m] = {
                    "target_gain": 0.0,
                    "note": "not applicable: Tip-Adapter changes scores, not the text vectors",
                }
                continue
            reader, alpha, s = _tip(case)
        elif m == "taskres":
            reader, alpha, s = _taskres(case)
        elif m == "clip_adapter":
            reader, alpha, s = _clip_adapter(case)
        elif m == "linear_probe_upper":
            if case["probe"] is None:
                out[m] = None
                continue
            reader, alpha, s = _probe(case)
        out[m] = figures(before, ev(reader), alpha, s)
        print(case["name"], m, json.dumps(out[m]), flush=True)
    if frontier:
        out["frontier"] = case_frontiers(case, before)
        best = {k: v["best_within_tolerance"] for k, v in out["frontier"].items()}
        print(case["name"], "frontier", json.dumps(best), flush=True)
    return out


def speed(path=None, n=10_000):
    """One default round with the guard on 10,000 rows (COCO-500 rows repeated with noise, as ``alignment``'s)."""
    from modalchorus_widget import Aligner, EmbeddingSet
    from modalchorus_widget.alignment.constraints import PointSet

    from .alignment import _coco

    data = _coco(path)
    rng = np.random.default_rng(0)
    reps = int(np.ceil(n / (2 * data.shape[1])))
    img = np.concatenate([data[0]] * reps)[: n // 2]
    txt = np.concatenate([data[1]] * reps)[: n - n // 2]
    img = img + rng.normal(0, 0.01, img.shape).astype(np.float32)
    txt = txt + rng.normal(0, 0.01, txt.shape).astype(np.float32)
    es = EmbeddingSet.from_pairs(img, txt)
    anchor = len(img) + 3
    sel = np.argsort(-(es.vectors[: len(img)] @ es.vectors[anchor]))[:200]
    out = {}
    for key, guard in (("", "auto"), ("_unguarded", None)):
        al = Aligner(guard=guard).fit(es)
        t0 = time.perf_counter()
        rnd = al.step(PointSet(anchor, sel))
        out[f"round_s{key}"] = round(time.perf_counter() - t0, 3)
        out[f"alpha{key}"] = rnd.alpha
    return {**out, "n": es.n, "load_avg_1min": round(os.getloadavg()[0], 2)}


CASES = {
    "zero_shot": case_zero_shot,
    "compositional": case_compositional,
    "generation": case_generation,
    "coco_retrieval": case_coco,
    "digits_stick": case_digits_stick,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks fixes", description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="fixes.json", help="output file")
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-frontier", action="store_true", help="do not read the rounds across strengths held out")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    out = {}
    for name in args.cases:
        out[name] = run_case(CASES[name](), args.methods, not args.skip_frontier)
    if not args.skip_speed:
        out["speed_10k"] = speed()
        print(json.dumps({"speed_10k": out["speed_10k"]}))
    out["load_average"] = round(os.getloadavg()[0], 2)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    return 0
