"""`python -m benchmarks encode --data DIR --json FILE`: encoder speed and quality figures.

Writes {"default_zero_shot_acc", "encode_images_per_s", "encode_texts_per_s", "vitb32_images_per_s",
"vitb32_texts_per_s", "coco500_i2t_top1"} (plus context: device, threads, sizes, load times):
- the embedded default's zero-shot accuracy on its fixed held-out split (540 digits) and its encoding
  speed (images: all 1,797 digits; texts: captions never seen before, so the text cache does not help);
- the open_clip ViT-B-32 architecture with random weights (speed only: preprocessing + forward);
- image->text top-1 over the 500 COCO pairs as read by ``load_coco500(DIR)``.
Speeds are the best of ``--repeats`` timed runs after one warm-up run; the 1-minute load average at start
and end is recorded because shared CPUs make speeds vary several-fold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def _best_rate(fn, n_items: int, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_items / best


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks encode", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="COCO-500 folder (default: coco500_path())")
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vit-images", type=int, default=64, help="images for the ViT-B-32 speed run")
    ap.add_argument("--vit-texts", type=int, default=256, help="texts for the ViT-B-32 speed run")
    ap.add_argument("--skip-vit", action="store_true", help="leave the ViT-B-32 figures out (null)")
    args = ap.parse_args(argv)

    import torch

    from modalchorus_widget.data.datasets import coco500_path, load_coco500
    from modalchorus_widget.encoders.default import DefaultEncoder
    from modalchorus_widget.evaluation import recall_at_k
    from modalchorus_widget.worlds.defaults import load_default

    folder = args.data if args.data is not None else coco500_path()
    if not (folder / "clip_vitb16_img_txt.npy").is_file():
        if args.data is not None:
            print(
                f"--data {args.data}: not a COCO-500 folder (needs clip_vitb16_img_txt.npy and captions.json)",
                file=sys.stderr,
            )
            return 2
        folder = None
    torch.set_num_threads(args.threads)
    out: dict = {
        "device": args.device,
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg_1m_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }

    # --- the embedded default ---------------------------------------------------------------------
    t0 = time.perf_counter()
    data = load_default(device=args.device)
    out["default_load_s"] = round(time.perf_counter() - t0, 3)
    out["default_zero_shot_acc"] = round(data.zero_shot_accuracy(), 4)
    out["default_n_test"] = int(len(data.test))
    enc = data.encoder
    images = data.images
    out["encode_images_per_s"] = round(_best_rate(lambda: enc.encode_images(images), len(images), args.repeats), 1)

    if folder is not None:
        texts = [c["caption"] for c in json.loads((Path(folder) / "captions.json").read_text())]
    else:
        from modalchorus_widget.encoders.default import CAPTION_TEMPLATES, fill

        texts = [
            f"{fill(t, c)} number {i}" for i, (t, c) in enumerate((t, c) for t in CAPTION_TEMPLATES for c in range(10))
        ]
    out["encode_texts_n"] = len(texts)
    out["encode_texts_per_s"] = round(
        _best_rate(lambda: DefaultEncoder(device=args.device).encode_texts(texts), len(texts), args.repeats), 1
    )

    # --- open_clip ViT-B-32, random weights (speed only) --------------------------------------------
    if args.skip_vit:
        out["vitb32_images_per_s"] = out["vitb32_texts_per_s"] = None
    else:
        from modalchorus_widget.encoders.open_clip import OpenCLIPEncoder

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vit = OpenCLIPEncoder("ViT-B-32", pretrained=None, device=args.device)
            t0 = time.perf_counter()
            _ = vit.dim
        out["vitb32_build_s"] = round(time.perf_counter() - t0, 3)
        rng = np.random.default_rng(0)
        vimgs = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(args.vit_images)]
        vtexts = (texts * (args.vit_texts // len(texts) + 1))[: args.vit_texts]
        out["vitb32_images_per_s"] = round(
            _best_rate(lambda: vit.encode_images(vimgs, batch_size=32, progress=False), len(vimgs), args.repeats), 2
        )
        out["vitb32_texts_per_s"] = round(
            _best_rate(lambda: vit.encode_texts(vtexts, batch_size=128, progress=False), len(vtexts), args.repeats), 1
        )
        out["vitb32_n_images"], out["vitb32_n_texts"] = len(vimgs), len(vtexts)

    # --- COCO-500 ------------------------------------------------------------------------------------
    if folder is not None:
        coco = load_coco500(folder)
        v = coco.embeddings.vectors
        out["coco500_i2t_top1"] = round(recall_at_k(v[coco.pairs[:, 0]], v[coco.pairs[:, 1]], k=1), 4)
    else:
        print("COCO-500 data not found: coco500_i2t_top1 = null (pass --data DIR)", file=sys.stderr)
        out["coco500_i2t_top1"] = None

    out["loadavg_1m_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0
