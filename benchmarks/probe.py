"""`python -m benchmarks probe`: does ``find_suspects`` find the faults of worlds where they are known?

Worlds (ground truth; METHODS section 6):

* ``shapes``: ``load_default("shapes")`` with its 16 class prompts. True slices: each seen class with
  held-out zero-shot accuracy < 0.8 on the map's scenes, and each unseen combination (green triangle, yellow
  square); a slice's rows are the class's misread image rows (renderer labels).
* ``digits_user_prompt``: ``load_default("digits")`` with class 1's prompt replaced by the user's "a stick"
  (embedded by the default encoder). True slice: class 1's misread images.
* ``coco_planted``: COCO-500 (real CLIP ViT-B/16) with planted faults, per seed (``plant_coco``): 5 slices of
  15-30 pairs of one topic (coarse caption label) whose image vectors are rotated part-way (a fraction drawn
  in [0.45, 0.6] of the angle) towards the mean of another topic's captions (a distinct topic per slice; the direction carried across
  the modality gap: that mean minus all captions' mean plus all images' mean); a hub: one caption moved a
  fraction 0.1 of the way towards the mean of the images. True slices: the planted pairs' image rows
  (their reading is what is wrong), and the images the hub claims that it did not before.

Scale: ``probe_s_100k`` on 100,000 rows noised from the shapes world's images plus its 16 prompts;
``probe_s_1m`` on 1,000,000 such rows, with its peak RSS measured in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

COCO_SEEDS = (0, 1, 2)
N_SLICES, SLICE_MIN, SLICE_MAX = 5, 15, 30
ROTATE_RANGE = (0.45, 0.6)
HUB_SHIFT = 0.1


def _misread_slices(pred, y, image_rows, classes) -> tuple:
    wrong = pred != y
    slices = [image_rows[(y == c) & wrong] for c in classes]
    return [s for s in slices if len(s)], image_rows[wrong]


def world_shapes() -> dict:
    """The shapes default, its prompts, and its true slices."""
    from modalchorus_widget import load_default
    from modalchorus_widget.worlds.shapes import COMBOS, UNSEEN_COMBOS

    d = load_default("shapes")
    pred, y = d.predict(), d.image_labels
    te = np.searchsorted(d.image_index, d.test)
    failing = []
    for c, combo in enumerate(COMBOS):
        held = y[te] == c
        acc = float(np.mean(pred[te][held] == c)) if held.any() else 0.0
        if combo in UNSEEN_COMBOS or acc < 0.8:
            failing.append(c)
    slices, bad = _misread_slices(pred, y, d.image_index, failing)
    return {
        "embeddings": d.embeddings,
        "class_prompts": d.prompt_index,
        "encoder": d.encoder,
        "true_slices": slices,
        "bad_rows": bad,
        "classes": [d.class_names[c] for c in failing],
    }


def world_digits_user_prompt(prompt: str = "a stick", cls: int = 1) -> dict:
    """The digits default with one class prompt in the user's own words."""
    from modalchorus_widget import load_default
    from modalchorus_widget.evaluation import zero_shot_predict

    d = load_default("digits")
    es = d.embeddings
    vec = np.array(es.vectors, copy=True)
    vec[d.prompt_index[cls]] = d.encoder.encode_texts([prompt])[0]
    es = es.with_vectors(vec)
    es.frame = es.frame.copy()
    es.frame.loc[int(d.prompt_index[cls]), "item"] = prompt
    pred = zero_shot_predict(vec[d.image_index], vec[d.prompt_index])
    slices, bad = _misread_slices(pred, d.image_labels, d.image_index, [cls])
    return {
        "embeddings": es,
        "class_prompts": d.prompt_index,
        "encoder": d.encoder,
        "true_slices": slices,
        "bad_rows": bad,
        "classes": [d.class_names[cls]],
    }


def _rotate(x, target, t):
    """Each row of x turned a fraction t of the way (along the great circle) towards ``target``."""
    target = target / np.linalg.norm(target)
    cos = np.clip(x @ target, -1.0, 1.0)
    theta = np.arccos(cos)
    u = target[None, :] - cos[:, None] * x
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    out = np.cos(t * theta)[:, None] * x + np.sin(t * theta)[:, None] * u
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def plant_coco(seed: int) -> dict:
    """COCO-500 with the planted faults of ``seed`` (see the module docstring)."""
    from modalchorus_widget import load_coco500

    d = load_coco500()
    es = d.embeddings
    rng = np.random.default_rng(seed)
    n = len(d.image_index)
    vec = np.array(es.vectors, copy=True)
    lab = np.asarray(es.labels[:n])
    topics = sorted(t for t in set(lab) if t != "other")
    sources = [t for t in topics if np.sum(lab == t) >= SLICE_MIN]
    src = rng.choice(sources, size=min(N_SLICES, len(sources)), replace=False)
    used = np.zeros(n, bool)
    slices, plan = [], []
    targets: list = []
    for a in src:  # each slice towards its own topic: five distinct faults
        b = rng.choice([t for t in topics if t != a and t not in targets and np.sum(lab == t) >= 5])
        targets.append(b)
        members = np.flatnonzero((lab == a) & ~used)
        m = int(min(rng.integers(SLICE_MIN, SLICE_MAX + 1), len(members)))
        rows = np.sort(rng.choice(members, size=m, replace=False))
        used[rows] = True
        t = float(rng.uniform(*ROTATE_RANGE))
        # the topic's caption direction carried across the modality gap (minus the captions' mean, plus the
        # images'): the images read as that topic without drifting into the gap, closer to every caption
        target = vec[n:][lab == b].mean(0) - vec[n:].mean(0) + vec[:n].mean(0)
        vec[rows] = _rotate(vec[rows], target, t)
        slices.append(rows)
        plan.append({"from": str(a), "towards": str(b), "pairs": m, "fraction": round(t, 3)})
    before = np.argmax(np.asarray(es.vectors[:n]) @ np.asarray(es.vectors[n:]).T, axis=1)
    hub = int(rng.choice(np.flatnonzero(~used)))
    vec[n + hub] = _rotate(vec[n + hub][None], vec[:n].mean(0), HUB_SHIFT)[0]
    after = np.argmax(vec[:n] @ vec[n:].T, axis=1)
    claimed = np.flatnonzero((after == hub) & (before != hub))
    slices.append(claimed)
    plan.append({"hub_caption": int(n + hub), "shift": HUB_SHIFT, "claims": int(np.sum(after == hub))})
    return {
        "embeddings": es.with_vectors(vec),
        "class_prompts": None,
        "encoder": None,
        "true_slices": slices,
        "bad_rows": np.concatenate(slices),
        "plan": plan,
    }


WORLDS = {"shapes": world_shapes, "digits_user_prompt": world_digits_user_prompt}


def measure(world: dict, **params) -> dict:
    """recall@5, precision@5 and seconds of ``find_suspects`` on one world."""
    from modalchorus_widget.probe import find_suspects, slice_scores

    t0 = time.perf_counter()
    sus = find_suspects(world["embeddings"], class_prompts=world["class_prompts"], random_state=0, **params)
    seconds = time.perf_counter() - t0
    sc = slice_scores(sus, world["true_slices"], world["bad_rows"])
    return {
        "recall_at_5": sc["recall_at_k"],
        "precision_at_5": sc["precision_at_k"],
        "probe_s": round(seconds, 3),
        "n_true_slices": len(world["true_slices"]),
        "true_slice_sizes": [int(len(s)) for s in world["true_slices"]],
        "matched": sc["matched"],
        "n_suspects": sc["n_suspects"],
        "top5": [f"{k} | {nm} | {sz} | {s}" for k, nm, sz, s in sus[["kind", "name", "size", "score"]].head(5).values],
    }


def coco_planted(seeds=COCO_SEEDS, **params) -> dict:
    per = {}
    for s in seeds:
        w = plant_coco(s)
        per[str(s)] = {**measure(w, **params), "plan": w["plan"]}
    keys = ("recall_at_5", "precision_at_5", "probe_s")
    return {**{k: round(float(np.mean([per[s][k] for s in per])), 4) for k in keys}, "per_seed": per}


def scale_set(n: int, seed: int = 0):
    """``n`` rows noised from the shapes world's image vectors (noise 0.2, ``benchmarks.projection.noisy_copies``),
    then its 16 class prompts; returns the set and the prompt rows."""
    from modalchorus_widget import EmbeddingSet, load_default

    from .projection import noisy_copies

    d = load_default("shapes")
    v = np.asarray(d.embeddings.vectors)
    rng = np.random.default_rng(seed)
    x = np.empty((n + len(d.prompt_index), v.shape[1]), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        x[s : s + m] = noisy_copies(v[d.image_index][(np.arange(s, s + m)) % len(d.image_index)], m, 0.2, rng)
    x[n:] = v[d.prompt_index]
    mod = np.array(["image", "text"])[np.r_[np.zeros(n, np.int64), np.ones(len(d.prompt_index), np.int64)]]
    es = EmbeddingSet(x, mod, ids=np.arange(len(x)).astype(str), normalize=False)
    return es, np.arange(n, n + len(d.prompt_index))


def scale_run(n: int) -> dict:
    """Build the set, then time ``find_suspects`` on it (this process's peak RSS included)."""
    import resource

    import modalchorus_widget.alignment  # noqa: F401  (imported by any session that fixes; not the probe's time)
    from modalchorus_widget.probe import find_suspects

    es, prompts = scale_set(n)
    t0, c0 = time.perf_counter(), time.process_time()
    sus = find_suspects(es, class_prompts=prompts, random_state=0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    return {
        "probe_s": round(seconds, 3),
        "probe_cpu_s": round(cpu, 3),
        "peak_rss_gb": round(rss, 3),
        "n_suspects": int(len(sus)),
        "load": os.getloadavg()[0],
    }


def _in_subprocess(n: int) -> dict:
    code = f"import json; from benchmarks.probe import scale_run; print(json.dumps(scale_run({n})))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks probe", description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--skip", nargs="*", default=[], help="parts to skip: worlds, coco, scale, 1m")
    args = ap.parse_args(argv)
    out: dict = {"load_at_start": os.getloadavg()[0]}
    if "worlds" not in args.skip:
        for name, make in WORLDS.items():
            out[name] = measure(make())
            print(json.dumps({name: out[name]}, indent=1))
    if "coco" not in args.skip:
        out["coco_planted"] = coco_planted()
        print(json.dumps({"coco_planted": out["coco_planted"]}, indent=1))
    if "scale" not in args.skip:
        r = _in_subprocess(100_000)
        out["probe_s_100k"], out["probe_peak_rss_gb_100k"] = r["probe_s"], r["peak_rss_gb"]
        out["probe_cpu_s_100k"], out["load_100k"] = r["probe_cpu_s"], r["load"]
        if "1m" not in args.skip:
            r = _in_subprocess(1_000_000)
            out["probe_s_1m"], out["probe_peak_rss_gb_1m"] = r["probe_s"], r["peak_rss_gb"]
            out["probe_cpu_s_1m"], out["load_1m"] = r["probe_cpu_s"], r["load"]
        print(json.dumps({k: v for k, v in out.items() if k.startswith("probe_")}, indent=1))
    out["load_at_end"] = os.getloadavg()[0]
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0
