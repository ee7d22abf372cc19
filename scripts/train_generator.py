"""Train the shapes world's tiny generator decoder and its attribute oracle; write them to
modalchorus_widget/weights/{generator,oracle}_shapes.*.

    python scripts/train_generator.py [--n-decoder N] [--n-oracle N] [--epochs N] [--seed S] [--out DIR]

1. Decoder (worlds/generation/decoder.py), unCLIP-style: single-object scenes of the *training* split, balanced
   over the 14 colour/shape classes seen in training, are embedded by the shipped shapes model. Its pixel
   network learns to draw each scene from the scene's exact code (MSE, object pixels weighted up); then its
   head learns the code from the scene's image embedding (cross-entropy per attribute, MSE on the centre),
   the input perturbed by Gaussian noise of norm ``decoder.NOISE`` (what the prior adds when it samples).
2. Oracle (worlds/generation/oracle.py): a small CNN reading colour, shape and centre, trained on clean renders
   uniform over all 16 classes and on the decoder's reconstructions of the decoder's training scenes
   (generated style), with the renderer's exact labels.
3. Held-out figures into the oracle's JSON config: its accuracy (colour and shape both right) on clean
   renders of the held-out split and on decoder reconstructions of held-out scenes of the seen classes, and
   a small prefix of that sample (``check``) that the tests recompute.

Deterministic under ``--seed`` (fixed seeds, 2 CPU threads, deterministic torch algorithms). CPU, minutes.
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

from modalchorus_widget.worlds import shapes as S  # noqa: E402
from modalchorus_widget.worlds import shapes_cases as C  # noqa: E402
from modalchorus_widget.worlds.generation import decoder as D  # noqa: E402
from modalchorus_widget.worlds.generation import oracle as O  # noqa: E402
from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder  # noqa: E402

DECODER_SEED = 21  # training-split scenes the decoder reconstructs
ORACLE_SEED = 22  # held-out-distribution renders (uniform over 16 classes) the oracle learns from
CHECK_N = 300  # prefix of the held-out evaluation the tests recompute
OBJECT_WEIGHT = 10.0
CENTRE_WEIGHT = 10.0  # the centre's MSE (in fractions of the side) against the attributes' cross-entropies


def _fit(net, params, batches, n_epochs, lr, log):
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    n_batches = sum(1 for _ in batches(0))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=n_epochs * n_batches, pct_start=0.15)
    t0 = time.perf_counter()
    net.train()
    for epoch in range(n_epochs):
        tot, n = 0.0, 0
        for loss, k in batches(epoch):
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot, n = tot + float(loss.detach()) * k, n + k
        print(f"{log} epoch {epoch + 1}/{n_epochs}: loss {tot / n:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    net.eval()
    return time.perf_counter() - t0


def _train_decoder(args, decoder, E, Y, labels, weight, gen, dpath):
    """Fit the decoder's pixel network on exact codes, then its head on noisy unit embeddings (the pixel
    network frozen); write its weights; returns the seconds."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    dim = E.shape[1]
    from modalchorus_widget.worlds.generation._scene_decoder import exact_codes, split_code

    lab = [torch.from_numpy(np.asarray(labels[k], np.int64)) for k in ("colour1", "shape1", "size1")]
    centre = torch.from_numpy(np.stack([labels["x1"], labels["y1"]], 1) / S.IMAGE_SIZE).float()
    code = exact_codes(*lab, centre)

    def pixel_batches(epoch):
        perm = torch.randperm(len(E), generator=gen)
        for s in range(0, len(E), args.batch_size):
            b = perm[s : s + args.batch_size]
            yield (weight[b] * (decoder.render(code[b]) - Y[b]) ** 2).mean(), len(b)

    def head_batches(epoch):
        perm = torch.randperm(len(E), generator=gen)
        for s in range(0, len(E), args.batch_size):
            b = perm[s : s + args.batch_size]
            noise = torch.randn(len(b), dim, generator=gen) * (D.NOISE / np.sqrt(dim))
            *logits, xy = split_code(decoder.head(F.normalize(E[b] + noise, dim=-1)))
            loss = sum(F.cross_entropy(o, y[b]) for o, y in zip(logits, lab))
            yield loss + CENTRE_WEIGHT * F.mse_loss(xy, centre[b]), len(b)

    dec_s = _fit(decoder, decoder.pixels.parameters(), pixel_batches, args.epochs, args.lr, "pixels")
    dec_s += _fit(decoder, decoder.head.parameters(), head_batches, args.head_epochs, args.lr, "head")
    dpath.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in decoder.state_dict().items()}, str(dpath), metadata={"format": "pt"})
    return dec_s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-decoder", type=int, default=3000)
    ap.add_argument("--n-oracle", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=30, help="epochs of the decoder's pixel network")
    ap.add_argument("--head-epochs", type=int, default=30, help="epochs of the decoder's head")
    ap.add_argument("--oracle-epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3, help="decoder peak learning rate")
    ap.add_argument("--oracle-lr", type=float, default=2e-3)
    ap.add_argument("--oracle-only", action="store_true", help="keep the decoder in --out, retrain the oracle")
    ap.add_argument("--width", type=int, default=128, help="the decoder's pixel network width")
    ap.add_argument("--hidden", type=int, default=256, help="the decoder's head width")
    ap.add_argument("--oracle-width", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=D.DECODER_FILE.parent)
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    enc = load_shapes_encoder()
    t0 = time.perf_counter()

    # ------------------------------------------------------------------ decoder
    dpath = args.out / D.DECODER_FILE.name
    dec_scenes = S.sample_scenes(args.n_decoder, "single", "train", DECODER_SEED, combos=C.seen_combos())
    dec_img = S.render_all(dec_scenes)
    Y = torch.from_numpy(dec_img.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    E = torch.from_numpy(enc.encode_images(dec_img))
    dim = E.shape[1]
    # object pixels weigh OBJECT_WEIGHT times the background: they are a tenth of the image and all that matters
    weight = 1.0 + (OBJECT_WEIGHT - 1.0) * ((Y - Y.median()).abs().amax(1, keepdim=True) > 0.15).float()
    decoder = D.build_decoder(dim, args.hidden, args.width)
    if args.oracle_only:
        dec_s = json.loads(dpath.with_suffix(".json").read_text())["train"]["seconds"]
    else:
        dec_s = _train_decoder(args, decoder, E, Y, S.labels(dec_scenes), weight, gen, dpath)

    dec_cfg = {
        "name": "modalchorus-shapes-decoder",
        "description": "unCLIP-style decoder: shapes-model image embedding (384-d) -> scene code (colour, shape, "
        "size, centre) -> 32x32 RGB scene, trained on training-split single-object scenes (balanced over the 14 "
        "seen classes).",
        "dim": int(dim),
        "hidden": args.hidden,
        "width": args.width,
        "noise": D.NOISE,
        "train": {
            "scenes": f"sample_scenes({args.n_decoder}, 'single', 'train', {DECODER_SEED}, combos=seen_combos())",
            "epochs": {"pixels": args.epochs, "head": args.head_epochs},
            "batch_size": args.batch_size,
            "lr": args.lr,
            "loss": f"pixels: MSE in 0..1 from exact codes, object pixels weighted {OBJECT_WEIGHT:g}x; head: "
            f"cross-entropy per attribute + {CENTRE_WEIGHT:g} x MSE of the centre",
            "seed": args.seed,
            "seconds": round(dec_s, 1),
        },
    }
    (args.out / dpath.with_suffix(".json").name).write_text(json.dumps(dec_cfg, indent=1) + "\n")
    shipped = D.ShapesDecoder(weights=dpath)
    rng = np.random.default_rng(args.seed)
    recon = shipped.decode(D.perturb(E.numpy(), D.NOISE, rng))
    recon_mse = float(np.mean((recon.astype(np.float32) - dec_img) ** 2) / 255.0**2)
    print(f"decoder: train reconstruction MSE {recon_mse:.4f}", flush=True)

    # ------------------------------------------------------------------ oracle
    or_scenes = S.sample_scenes(args.n_oracle, "single", "test", ORACLE_SEED)
    imgs = np.concatenate([S.render_all(or_scenes), recon])
    lab = [S.labels(or_scenes), S.labels(dec_scenes)]
    X = torch.from_numpy(imgs.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    yc = torch.from_numpy(np.concatenate([v["colour1"] for v in lab]))
    ys = torch.from_numpy(np.concatenate([v["shape1"] for v in lab]))
    yp = torch.from_numpy(np.stack([np.concatenate([v[k] for v in lab]) for k in ("x1", "y1")], 1) / S.IMAGE_SIZE)
    torch.manual_seed(args.seed + 1)  # the oracle's own seeds: the same with or without --oracle-only
    gen = torch.Generator().manual_seed(args.seed + 1)
    oracle = O.build_oracle(args.oracle_width)
    nc = len(S.COLOURS)

    def or_batches(epoch):
        perm = torch.randperm(len(X), generator=gen)
        for s in range(0, len(X), args.batch_size):
            b = perm[s : s + args.batch_size]
            out = oracle(X[b])
            loss = (
                F.cross_entropy(out[:, :nc], yc[b])
                + F.cross_entropy(out[:, nc : nc + len(S.SHAPES)], ys[b])
                + F.mse_loss(out[:, -2:], yp[b].float())
            )
            yield loss, len(b)

    or_s = _fit(oracle, oracle.parameters(), or_batches, args.oracle_epochs, args.oracle_lr, "oracle")
    opath = args.out / O.ORACLE_FILE.name
    save_file({k: v.contiguous() for k, v in oracle.state_dict().items()}, str(opath), metadata={"format": "pt"})
    or_cfg = {
        "name": "modalchorus-shapes-oracle",
        "description": "attribute reader of single-object shapes scenes: colour (4), shape (4), centre (x, y).",
        "width": args.oracle_width,
        "train": {
            "scenes": f"sample_scenes({args.n_oracle}, 'single', 'test', {ORACLE_SEED}) rendered, plus the "
            "decoder's reconstructions of its training scenes",
            "epochs": args.oracle_epochs,
            "batch_size": args.batch_size,
            "lr": args.oracle_lr,
            "seed": args.seed,
            "seconds": round(or_s, 1),
        },
    }
    (args.out / opath.with_suffix(".json").name).write_text(json.dumps(or_cfg, indent=1) + "\n")

    # ------------------------------------------------------------------ held-out figures
    from modalchorus_widget.worlds.generation.shapes import oracle_held_out

    held = oracle_held_out(O.ShapesOracle(weights=opath), shipped, enc, check_n=CHECK_N)
    or_cfg["held_out"] = held
    or_cfg["decoder_train_mse"] = round(recon_mse, 5)
    (args.out / opath.with_suffix(".json").name).write_text(json.dumps(or_cfg, indent=1) + "\n")
    print(json.dumps(held, indent=1))
    mb = (dpath.stat().st_size + opath.stat().st_size) / 1e6
    print(f"done in {time.perf_counter() - t0:.0f} s; wrote {dpath.name}, {opath.name} ({mb:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
