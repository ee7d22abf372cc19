"""The projection benchmark runs on any folder of paired embeddings (d = 768 here, 100 pairs: the smallest size
it is specified for) and writes the keys it promises."""

import json

import numpy as np
import pytest

from benchmarks import projection as bench


@pytest.mark.slow
def test_bench_on_a_768_d_folder_of_100_pairs(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(100, 768)).astype(np.float32)
    txt = img + 0.8 * rng.normal(size=img.shape).astype(np.float32)  # each caption near its image
    np.save(tmp_path / "clip_vitb16_img_txt.npy", np.stack([img, txt]))
    out = tmp_path / "p.json"
    rc = bench.main(["--data", str(tmp_path), "--seeds", "1", "--methods", "MFM,DCM-t-SNE", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["data"]["dim"] == 768 and res["data"]["n_images"] == 100
    for method in ("MFM", "DCM-t-SNE"):
        for key in ("Tx@5", "Tx@10", "Tx@20", "Cx@10", "Ti@10", "Ti_image@10", "Ti_text@10", "Ci@10"):
            assert 0.0 <= res[method][key] <= 1.0, (method, key)
    # Gaussian vectors have no neighbourhoods beyond each pair, so k = 10 is mostly noise (measured 0.75 / 0.78);
    # random placement scores 0.5
    assert res["MFM"]["Tx@10"] > 0.65 and res["MFM"]["Cx@10"] > 0.65, res["MFM"]
