"""Shared fixtures: the real COCO-500 CLIP embeddings beside the project (skipped with a reason when absent)."""
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def coco500_dir() -> Path:
    env = os.environ.get("MODALCHORUS_COCO500")
    return Path(env) if env else REPO.parent / "shared" / "data" / "coco500-clip-vitb16"


@pytest.fixture(scope="session")
def coco_dir() -> Path:
    d = coco500_dir()
    if not (d / "clip_vitb16_img_txt.npy").exists():
        pytest.skip(f"COCO-500 CLIP embeddings not found at {d} (set MODALCHORUS_COCO500)")
    return d


@pytest.fixture(scope="session")
def coco_vectors(coco_dir):
    """(images, texts): two (500, 512) float32 arrays of real CLIP ViT-B/16 embeddings, row i paired."""
    x = np.load(coco_dir / "clip_vitb16_img_txt.npy")
    return x[0], x[1]
