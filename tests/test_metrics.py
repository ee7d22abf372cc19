"""Metric definitions (docs/methods.md section 2) on hand-computed cases and against a direct loop."""

import numpy as np
import pytest

from modalchorus_widget.errors import EmbeddingError
from modalchorus_widget.errors import ProjectionError as MetricInputError
from modalchorus_widget.projection import metrics as M


def _circle(angles):
    """Unit vectors on a circle: cosine distance is monotone in the angle difference (< pi)."""
    a = np.asarray(angles, dtype=float)
    return np.stack([np.cos(a), np.sin(a)], 1)


def _line(positions):
    p = np.asarray(positions, dtype=float)
    return np.stack([p, np.zeros_like(p)], 1)


IMG = [0.0, 1.5, 1.6]
TXT = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
MOD = M.modality_labels(3, 6)


def test_perfect_projection_scores_one():
    high = _circle(IMG + TXT)
    low = _line(IMG + TXT)  # same order of distances as on the circle
    tx, cx = M.intermodal_scores(high, low, MOD, k=1)
    assert tx == pytest.approx(1.0) and cx == pytest.approx(1.0)
    assert M.trustworthiness(high, low, k=2) == pytest.approx(1.0)
    assert M.continuity(high, low, k=2) == pytest.approx(1.0)


def test_known_swap_lowers_by_exact_amount():
    # Swap the 2-D places of texts at 0.1 and 0.3. Image query 0.0 (k=1): its 2-D nearest text is
    # the one at high-D rank 3 -> penalty 3 - 1 = 2; its true nearest sits at 2-D rank 3 -> 2.
    # The other two images keep their nearest text (0.6). n=3, m=6, k=1:
    # T_x(image->text) = 1 - 2 / (3 * 1 * (12 - 3 - 1)) * 2 = 1 - 1/6.
    high = _circle(IMG + TXT)
    pos = IMG + [0.3, 0.2, 0.1, 0.4, 0.5, 0.6]
    low = _line(pos)
    tx, cx, per = M.intermodal_scores(high, low, MOD, k=1, per_direction=True)
    assert per[("image", "text")][0] == pytest.approx(1 - 1 / 6)
    assert per[("image", "text")][1] == pytest.approx(1 - 1 / 6)
    # text -> image: every text's true nearest image is 0.0; in 2-D text at 0.3 (moved from 0.1) still
    # has 0.0 nearest, all texts have 0.0 nearest in both -> 1.0.
    assert per[("text", "image")] == pytest.approx((1.0, 1.0))
    assert tx == pytest.approx((1 - 1 / 6 + 1) / 2)
    assert cx == pytest.approx((1 - 1 / 6 + 1) / 2)


def _reference(high, low, mod, k):
    """Direct loop over the formula, no vectorisation."""
    high = high / np.linalg.norm(high, axis=1, keepdims=True)
    res = []
    for a in dict.fromkeys(mod):
        for b in dict.fromkeys(mod):
            if a == b:
                continue
            Q = np.where(mod == a)[0]
            C = np.where(mod == b)[0]
            n, m = len(Q), len(C)
            ts = cs = 0.0
            for i in Q:
                dh = np.array([1 - high[i] @ high[j] for j in C])
                dl = np.array([np.sum((low[i] - low[j]) ** 2) for j in C])
                rh = np.argsort(np.argsort(dh, kind="stable"), kind="stable") + 1
                rl = np.argsort(np.argsort(dl, kind="stable"), kind="stable") + 1
                for jj in range(m):
                    if rl[jj] <= k and rh[jj] > k:
                        ts += rh[jj] - k
                    if rh[jj] <= k and rl[jj] > k:
                        cs += rl[jj] - k
            z = 2 / (n * k * (2 * m - 3 * k - 1))
            res.append((1 - z * ts, 1 - z * cs))
    return tuple(np.mean(res, 0))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_direct_loop_on_random_data(k):
    rng = np.random.default_rng(0)
    high = rng.normal(size=(44, 8))
    low = rng.normal(size=(44, 2))
    mod = np.array(["image"] * 15 + ["text"] * 17 + ["audio"] * 12, dtype=object)
    got = M.intermodal_scores(high, low, mod, k=k)
    assert got == pytest.approx(_reference(high, low, mod, k))


def test_random_placement_near_half():
    rng = np.random.default_rng(1)
    high = rng.normal(size=(600, 16))
    low = rng.normal(size=(600, 2))
    tx, cx = M.intermodal_scores(high, low, M.modality_labels(300, 300), k=10)
    assert 0.4 < tx < 0.6 and 0.4 < cx < 0.6


def test_gap_figures():
    pts = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    mod = M.modality_labels(2, 2)
    assert M.modality_gap(pts, mod) == pytest.approx(4.0)
    spread = np.sqrt(np.mean([1 + 4] * 4))
    assert M.modality_gap(pts, mod, relative=True) == pytest.approx(4.0 / spread)


def test_bad_input_errors():
    rng = np.random.default_rng(2)
    high = rng.normal(size=(20, 5))
    low = rng.normal(size=(20, 2))
    mod = M.modality_labels(10, 10)
    bad = high.copy()
    bad[3, 1] = np.nan
    with pytest.raises(EmbeddingError, match=r"quality metric \(high\): vectors contain NaN at rows \[3\]"):
        M.intermodal_scores(bad, low, mod)
    with pytest.raises(MetricInputError, match="rows"):
        M.intermodal_scores(high, low[:-1], mod, k=2)
    with pytest.raises(MetricInputError, match="k=10 is too large"):
        M.intermodal_scores(high, low, mod, k=10)
    with pytest.raises(MetricInputError, match="one name per row"):
        M.intermodal_scores(high, low, mod[:-1], k=2)
    with pytest.raises(MetricInputError, match="two modalities"):
        M.intermodal_scores(high, low, np.array(["image"] * 20), k=2)
    with pytest.raises(MetricInputError, match="half"):
        M.trustworthiness(high, low, k=10)


def _coco_dir():
    from modalchorus_widget.data.datasets import coco500_path

    return coco500_path()


def test_pca_reference_figures_on_coco500():
    path = _coco_dir() / "clip_vitb16_img_txt.npy"
    from sklearn.decomposition import PCA

    X = np.load(path)
    high = np.concatenate([X[0], X[1]])
    low = PCA(2).fit_transform(high)
    res = M.evaluate(high, low, M.modality_labels(500, 500))
    # PROVENANCE.md reference for PCA: T_x 0.485, C_x 0.643, standard T 0.859
    assert res["Tx@10"] == pytest.approx(0.485, abs=0.002)
    assert res["Cx@10"] == pytest.approx(0.643, abs=0.002)
    assert res["T@10"] == pytest.approx(0.859, abs=0.002)
    assert res["gap_high"] == pytest.approx(0.85, abs=0.01)


# --- intra-modal T_i / C_i (docs/methods.md 2), k = 1, m = 6 per modality: 2 / (m k (2m - 3k - 1)) = 1 / 24
IMG6 = [0.0, 0.1, 0.3, 0.6, 1.0, 1.5]
TXT6 = [3.0, 3.1, 3.3, 3.6, 4.0, 4.5]
MOD6 = M.modality_labels(6, 6)


def test_intramodal_perfect_projection_scores_one():
    high = _circle(IMG6 + TXT6)
    low = _line(IMG6 + TXT6)
    scores = M.intramodal_scores(high, low, MOD6, k=1)
    assert scores["image"] == pytest.approx((1.0, 1.0)) and scores["text"] == pytest.approx((1.0, 1.0))
    # the other modality does not enter: moving all texts far away changes nothing
    far = low.copy()
    far[6:, 0] += 100.0
    assert M.intramodal_scores(high, far, MOD6, k=1) == scores


def test_intramodal_known_swap_lowers_by_exact_amount():
    # Swap the 2-D places of images 0 (angle 0.0) and 5 (angle 1.5); k = 1.
    # T_i: 2-D nearest neighbours that are not the true one, with their high-D rank r:
    #   image 0 (now at 1.5): 2-D nearest is image 4; from angle 0.0 image 4 has rank 4 -> 4 - 1 = 3
    #   image 1 (0.1): 2-D nearest is image 5 (now at 0.0); from 0.1 image 5 has rank 5 -> 4
    #   image 5 (now at 0.0): 2-D nearest is image 1; from 1.5 image 1 has rank 4 -> 3
    #   images 2, 3, 4 keep their true nearest (1, 2, 3). Sum 10: T_i = 1 - 10 / 24 = 7 / 12.
    # C_i: true nearest neighbours lost in 2-D, with their 2-D rank: image 0's true nearest 1 has 2-D rank 4
    #   (-> 3), image 1's true nearest 0 has rank 5 (-> 4), image 5's true nearest 4 has rank 4 (-> 3): 7 / 12.
    high = _circle(IMG6 + TXT6)
    pos = [1.5] + IMG6[1:5] + [0.0] + TXT6
    scores = M.intramodal_scores(high, _line(pos), MOD6, k=1)
    assert scores["image"] == pytest.approx((7 / 12, 7 / 12))
    assert scores["text"] == pytest.approx((1.0, 1.0))
    assert M.intramodal_trustworthiness(high, _line(pos), MOD6, k=1) == pytest.approx({"image": 7 / 12, "text": 1.0})
    assert M.intramodal_continuity(high, _line(pos), MOD6, k=1) == pytest.approx({"image": 7 / 12, "text": 1.0})


def test_intramodal_matches_sklearn_per_modality():
    from sklearn.manifold import trustworthiness

    rng = np.random.default_rng(3)
    high = rng.normal(size=(70, 6))
    low = rng.normal(size=(70, 2))
    mod = M.modality_labels(40, 30)
    got = M.intramodal_trustworthiness(high, low, mod, k=5)
    unit = high / np.linalg.norm(high, axis=1, keepdims=True)
    for name, rows in (("image", slice(0, 40)), ("text", slice(40, 70))):
        ref = trustworthiness(unit[rows], low[rows], n_neighbors=5, metric="cosine")
        assert got[name] == pytest.approx(ref)


def test_evaluate_reports_intramodal_keys():
    high = _circle(IMG6 + TXT6)
    pos = [1.5] + IMG6[1:5] + [0.0] + TXT6
    res = M.evaluate(high, _line(pos), MOD6, ks=(1,), standard_k=1)
    assert res["Ti_image@1"] == pytest.approx(7 / 12) and res["Ti_text@1"] == pytest.approx(1.0)
    assert res["Ti@1"] == pytest.approx(7 / 12) and res["Ci@1"] == pytest.approx(7 / 12)


def test_intramodal_bad_input():
    high = _circle(IMG6 + TXT6)
    low = _line(IMG6 + TXT6)
    with pytest.raises(MetricInputError, match="k=3 must be smaller than half the 6 'image' points"):
        M.intramodal_scores(high, low, MOD6, k=3)
    bad = high.copy()
    bad[2, 0] = np.nan
    with pytest.raises(EmbeddingError, match=r"quality metric \(high\): vectors contain NaN at rows \[2\]"):
        M.intramodal_scores(bad, low, MOD6, k=1)
    with pytest.raises(MetricInputError, match="one name per row"):
        M.intramodal_scores(high, low, MOD6[:-1], k=1)


@pytest.mark.slow  # a t-SNE / UMAP fit of 1,000 points each: in `make test`, not the fast tier
@pytest.mark.parametrize("name", ["DCM-t-SNE", "DCM-UMAP"])
def test_fused_baselines_reproduce_on_coco500(name):
    """The fused baselines of docs/methods.md reach Tx@10 >= 0.93 on COCO-500 (README: 0.947 / 0.940)."""
    from modalchorus_widget.data.datasets import load_coco500
    from modalchorus_widget.projection.registry import make_projector

    es = load_coco500().embeddings
    res = M.evaluate(es.vectors, make_projector(name, random_state=0).fit_transform(es), es.modality, ks=(10,))
    assert res["Tx@10"] >= 0.93 and res["Cx@10"] >= 0.92, res
    assert res["Ti@10"] >= 0.88, res
