"""The alignment benchmark's retrieval protocol (COCO-500, 300 train / 200 held-out pairs) meets its target."""
import numpy as np
import pytest

from modalchorus_widget.bench import alignment as bench


@pytest.mark.slow
def test_retrieval_beats_unaligned_and_baselines_on_heldout_recall(coco_dir):
    data = np.load(coco_dir / "clip_vitb16_img_txt.npy")
    r = bench.retrieval(data, seed=0)
    for d in ("i2t", "t2i"):
        assert r[f"{d}_r1_after"] > r[f"{d}_r1_before"]
        for name, b in r["baselines"].items():
            assert r[f"{d}_r1_after"] > b[f"{d}_r1"], (name, d)
    assert set(r["baselines"]) == {"modality_gap_shift", "procrustes", "clip_adapter"}
