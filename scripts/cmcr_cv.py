"""Check C-MCR's defaults on the COCO training split only (inner cross-validation).

The bench (``bench cmcr``) trains on 350 caption pairs and reports retrieval on 150 held-out pairs; settings
must not be picked by those figures. Here the 350 training rows are split into K folds; each fold's CLIP
images are the retrieval gallery for its MiniLM captions, and C-MCR trains on the other rows exactly as the
bench does (their caption pairs + their images, shuffled, as the unpaired memory).

    python scripts/cmcr_cv.py [--folds 5] [--seeds 1] [--grid '[{"lam": 0.1}, {"projector": "mlp"}]']
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--grid", default="[{}]", help="JSON list of CMCR parameter dicts (each on top of the defaults)")
    ap.add_argument("--data", default=None, help="COCO-500 folder (default: the shared data)")
    args = ap.parse_args()
    from benchmarks.cmcr import SPLIT_SEED, coco_spaces, coco_split, load_coco
    from modalchorus_widget.cmcr import CMCR

    images, texts, minilm = load_coco(args.data)
    train, _ = coco_split(len(images))  # the held-out 150 rows are never touched here
    fold = np.random.default_rng(SPLIT_SEED + 2).permutation(len(train)) % args.folds
    for params in json.loads(args.grid):
        runs = []
        for f in range(args.folds):
            tr, va = train[fold != f], train[fold == f]
            s1, s2 = coco_spaces(images, texts, minilm, tr)
            for seed in range(args.seeds):
                cm = CMCR(random_state=seed, **params).fit(s1, s2)
                runs.append(cm.score(minilm[va], images[va], query_space=2, key_space=1))
        print(
            json.dumps(
                {
                    "params": params,
                    "folds": args.folds,
                    "seeds": args.seeds,
                    **{k: round(float(np.mean([r[k] for r in runs])), 4) for k in ("r1", "r5")},
                    "r1_std_over_folds": round(float(np.std([r["r1"] for r in runs])), 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
