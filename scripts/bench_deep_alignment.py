"""Deep-mode alignment figures (README, section Alignment): offline, on this machine's CPU.

    python scripts/bench_deep_alignment.py [--vit N] [--json out.json]

1. The embedded default model, the zero-shot protocol of ``bench alignment`` with a user's own prompt for
   class 1 ("a stick"): the aligner sees the training images + the 10 prompts, one round pulls the
   training images of the most confused class to their prompt. Fast mode maps the held-out images through
   its adapters; deep mode tunes the image tower's last layer, and the held-out images are encoded again
   by the tuned encoder. Held-out accuracies, constraint loss, seconds.
2. Speed of one deep round on a tiny open_clip model (random weights, 2 blocks per tower, 40 + 40 rows).
3. ``--vit N``: speed of one deep round (10 steps) on the open_clip ViT-B-32 architecture with random
   weights (no download; the figures say nothing about quality) on N images + N texts.

Threads: torch uses 1 thread outside the rounds; a round picks 1 or 2 (``fit._n_threads``, 1 when the
machine is busy). Wall and CPU seconds and the load average are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - t, 3), round(time.process_time() - c, 3)


def default_protocol(prompt_override=None):
    """Protocol 1 of ``bench alignment`` (one implementation) in fast and in deep mode."""
    from benchmarks.alignment import USER_PROMPT, zero_shot
    from modalchorus_widget.worlds.defaults import load_default

    prompt_override = {1: USER_PROMPT} if prompt_override is None else prompt_override
    d = load_default()
    out = {"prompt_override": {str(c): t for c, t in prompt_override.items()}}
    for mode in ("fast", "deep"):
        (res, wall, cpu) = _timed(lambda: zero_shot(data=d, prompt_override=prompt_override, mode=mode))
        out[mode] = {**res, "protocol_wall_s": wall, "protocol_cpu_s": cpu}
    return out


def _clip_round(cfg_or_name, n, steps, images=None):
    import open_clip
    import torch

    from modalchorus_widget.alignment import Aligner, PointSet
    from modalchorus_widget.data.embeddings import EmbeddingSet
    from modalchorus_widget.encoders import OpenCLIPEncoder

    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(cfg_or_name, dict):
            torch.manual_seed(0)
            model = open_clip.model.CLIP(**cfg_or_name)
            folder = Path(tmp)
            (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg_or_name, "preprocess_cfg": {}}))
            torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
            enc = OpenCLIPEncoder(str(folder), pretrained=None)
            size = cfg_or_name["vision_cfg"]["image_size"]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                enc = OpenCLIPEncoder(cfg_or_name, pretrained=None)
                enc._load()
            size = 224
        rng = np.random.default_rng(0)
        imgs = [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]
        words = [
            "dog",
            "cat",
            "red",
            "blue",
            "car",
            "tree",
            "house",
            "sky",
            "sea",
            "bird",
            "fish",
            "green",
            "small",
            "big",
            "old",
            "new",
        ]
        texts = [" ".join(rng.choice(words, 4)) for _ in range(n)]
        (zi, zt), enc_wall, _ = _timed(lambda: (enc.encode_images(imgs), enc.encode_texts(texts)))
        es = EmbeddingSet.from_pairs(zi, zt, captions=texts)
        al = Aligner(encoder=enc, mode="deep", n_steps=steps, validation=0.0, learning_rate=1e-3).fit(
            es, images=imgs, texts=texts
        )
        anchor = n + int(np.argsort((zi @ zt.T).mean(0))[n // 2])  # a caption of median similarity to the images
        # images whose best caption is not the anchor, the closest to it first: something to fix
        best = np.argmax(zi @ zt.T, axis=1) + n
        order = np.argsort(-(zi @ es.vectors[anchor]))
        members = np.array([i for i in order if best[i] != anchor][: max(2, n // 5)])
        rnd, wall, cpu = _timed(lambda: al.step(PointSet(anchor, members)))
        r = rnd.report
        return {
            "rows": int(es.n),
            "n_selected": int(len(members)),
            "steps": steps,
            "round_wall_s": wall,
            "round_cpu_s": cpu,
            "encode_all_rows_wall_s": enc_wall,
            **{
                k: r[k]
                for k in (
                    "tuned_parameters",
                    "cached_rows",
                    "seconds_cache",
                    "seconds_train",
                    "seconds_reencode",
                    "constraint_loss_before",
                    "constraint_loss_after",
                )
            },
            "anchor_cos": [r["constraints"][0]["before"]["anchor_cos"], r["constraints"][0]["after"]["anchor_cos"]],
            "anchor_top1": [r["constraints"][0]["before"]["anchor_top1"], r["constraints"][0]["after"]["anchor_top1"]],
            "last_block_shortcut": {m: t._shortcut_ok for m, t in al._tuner.towers.items()},
        }


TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vit", type=int, default=0, help="also time a ViT-B-32 (random weights) round on N + N rows")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    out = {"load_average_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    out["default_user_prompt"] = default_protocol()
    print(json.dumps({"default_user_prompt": out["default_user_prompt"]}, indent=1), flush=True)
    out["tiny_open_clip"] = _clip_round(TINY_CFG, 40, 60)
    print(json.dumps({"tiny_open_clip": out["tiny_open_clip"]}, indent=1), flush=True)
    if args.vit:
        out["vit_b_32_random"] = _clip_round("ViT-B-32", args.vit, 10)
        print(json.dumps({"vit_b_32_random": out["vit_b_32_random"]}, indent=1), flush=True)
    out["load_average_end"] = os.getloadavg()[0]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
