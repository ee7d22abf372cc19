"""Shared fixtures: the real COCO-500 CLIP embeddings (shipped in the package), the 16 real COCO images
(only in ../shared beside the repository; tests that need them skip with that reason), and a tiny open_clip
model with random weights saved as a local folder (no download possible offline)."""

import json
from pathlib import Path

import numpy as np
import pytest

from modalchorus_widget.data.datasets import coco500_path

REPO = Path(__file__).resolve().parents[1]
SHARED_COCO = REPO.parent / "shared" / "data" / "coco500-clip-vitb16"


@pytest.fixture(scope="session")
def coco_dir() -> Path:
    """The package's COCO-500 folder (embeddings + captions; no images)."""
    return coco500_path()


@pytest.fixture(scope="session")
def coco_images() -> Path:
    """The 16 real COCO-500 images, which may not ship in the package: they exist only in ../shared."""
    d = SHARED_COCO / "images"
    if not d.is_dir():
        pytest.skip(f"the 16 real COCO-500 images are not here ({d}); they live only in ../shared beside the repo")
    return d


@pytest.fixture(scope="session")
def coco_vectors(coco_dir):
    """(images, texts): two (500, 512) float32 arrays of real CLIP ViT-B/16 embeddings, row i paired."""
    x = np.load(coco_dir / "clip_vitb16_img_txt.npy")
    return x[0], x[1]


def tiny_clip_cfg(layers: int) -> dict:
    """An open_clip CLIP config small enough to run in well under a second on CPU."""
    return {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": layers, "width": 64, "head_width": 32, "patch_size": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": layers},
    }


def save_tiny_clip(folder: Path, layers: int):
    """Random-weight tiny CLIP (seed 0) saved as an open_clip local-dir folder (config + checkpoint)."""
    import open_clip
    import torch

    cfg = tiny_clip_cfg(layers)
    torch.manual_seed(0)
    model = open_clip.model.CLIP(**cfg)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return model


@pytest.fixture(scope="session")
def tiny_clip():
    """The tiny open_clip helpers as a fixture (test modules cannot import from conftest: tests/e2e has its own)."""
    from types import SimpleNamespace

    return SimpleNamespace(cfg=tiny_clip_cfg, save=save_tiny_clip)
