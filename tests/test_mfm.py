"""MFM: determinism, transform of unseen vectors, the distilled layout, clear errors, files, quality on real CLIP."""

import numpy as np
import pytest

from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.errors import EmbeddingError, NotFittedError, ParameterError, ProjectionError
from modalchorus_widget.projection import metrics as M
from modalchorus_widget.projection.mfm import MFM

# small but real: a short layout, a short regression, a few fine-tuning steps
FAST = dict(n_layout_iter=100, n_rank_steps=10, n_distill_steps=150, n_steps=20)


@pytest.fixture(scope="module")
def small(coco_vectors):
    img, txt = coco_vectors
    return EmbeddingSet.from_pairs(img[:200], txt[:200])


@pytest.fixture(scope="module")
def fitted(small):
    return MFM(random_state=3, **FAST).fit(small)


def test_deterministic_under_random_state(small, fitted):
    a = fitted.embedding_
    b = MFM(random_state=3, **FAST).fit_transform(small)
    c = MFM(random_state=4, **FAST).fit_transform(small)
    assert a.shape == (400, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)  # bit-identical
    assert not np.allclose(a, c)


def test_params_stored_as_given_and_fit_returns_self(small):
    m = MFM(perplexity=12, cross_weight=2.0, random_state=1, **FAST)
    assert m.get_params()["perplexity"] == 12 and m.get_params()["cross_weight"] == 2.0
    assert m.fit(small) is m
    assert m.embedding_.shape == (400, 2) and m.modalities_ == ("image", "text")
    assert len(m.loss_curve_) == FAST["n_steps"] and np.isfinite(m.loss_curve_).all()
    assert MFM().n_steps is None and len(MFM(random_state=1, n_layout_iter=50).fit(small).loss_curve_) == 0
    # arrays plus modality names give the same map as the EmbeddingSet
    again = MFM(perplexity=12, cross_weight=2.0, random_state=1, **FAST).fit_transform(small.vectors, small.modality)
    np.testing.assert_array_equal(again, m.embedding_)


def test_progress_callback_reaches_one(small):
    seen = []
    MFM(random_state=0, **FAST).fit(small, callback=seen.append)
    assert seen[-1] == 1.0 and all(0 <= a <= b <= 1 for a, b in zip(seen, seen[1:]))


def test_transform_places_unseen_vectors(coco_vectors):
    img, txt = coco_vectors
    m = MFM(random_state=0, **FAST).fit(EmbeddingSet.from_pairs(img[:400], txt[:400]))
    # transform of training vectors reproduces the fitted embedding
    np.testing.assert_allclose(m.transform(np.concatenate([img[:400], txt[:400]])), m.embedding_, atol=1e-4)
    # held-out pairs: placed near their own cross-modal neighbours, far better than random (0.5)
    held = np.concatenate([img[400:], txt[400:]])
    low = m.transform(held)
    assert low.shape == (200, 2) and low.dtype == np.float32 and np.isfinite(low).all()
    tx, cx = M.intermodal_scores(held, low, M.modality_labels(100, 100), k=10)
    assert tx > 0.8 and cx > 0.8, (tx, cx)
    # held-out vectors land inside the fitted map, not off at infinity; scale does not matter (rows normalised)
    assert np.abs(low).max() < 2 * np.abs(m.embedding_).max()
    np.testing.assert_allclose(m.transform(3.0 * held[:5]), low[:5], atol=1e-4)


def test_distilled_network_matches_its_layout(small):
    """The network reproduces the non-parametric layout it was distilled from (n_steps=0: no fine-tuning)."""
    m = MFM(random_state=0, n_layout_iter=100, n_steps=0).fit(small)
    np.testing.assert_array_equal(m.layout_rows_, np.arange(400))
    Y = m.layout_
    rms = np.sqrt(((Y - Y.mean(0)) ** 2).sum(1).mean())
    assert np.sqrt(((m.embedding_ - Y) ** 2).sum(1).mean()) < 0.05 * rms
    high, mod = small.vectors, small.modality
    net = M.intermodal_scores(high, m.embedding_, mod, k=10)
    lay = M.intermodal_scores(high, Y, mod, k=10)
    assert net[0] > lay[0] - 0.005 and net[1] > lay[1] - 0.005, (net, lay)
    assert len(m.loss_curve_) == 0


@pytest.mark.slow
def test_a_small_change_of_the_vectors_moves_the_map_little(small):
    """An alignment round changes vectors by about 1 - cos = 0.005; the map must move them by a small share of
    its size, and the regression's input noise is what keeps it so (measured: median 0.014 of the map's RMS
    radius, 0.023 without the noise)."""
    X = small.vectors
    rng = np.random.default_rng(0)
    moved = X + 0.1 * rng.normal(size=X.shape).astype(np.float32) / np.sqrt(X.shape[1])
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    assert abs((1 - (X * moved).sum(1).mean()) - 0.005) < 0.001

    def median_move(m):
        Y = m.embedding_
        rms = np.sqrt(((Y - Y.mean(0)) ** 2).sum(1).mean())
        return float(np.median(np.linalg.norm(m.transform(moved) - Y, axis=1)) / rms)

    smooth = median_move(MFM(random_state=0).fit(small))
    rough = median_move(MFM(random_state=0, distill_noise=0.0).fit(small))
    assert smooth < 0.02 and smooth < 0.8 * rough, (smooth, rough)


def test_without_warm_start_training_improves(small):
    high, mod = small.vectors, small.modality
    start = M.intermodal_scores(high, MFM(random_state=0, warm_start=False, n_steps=1).fit_transform(small), mod, k=10)
    trained = M.intermodal_scores(
        high, MFM(random_state=0, warm_start=False, n_steps=150, learning_rate=1e-2).fit_transform(small), mod, k=10
    )
    assert trained[0] > start[0] + 0.05 and trained[1] > start[1] + 0.05


def test_large_set_uses_a_layout_sample(coco_vectors):
    """Above max_layout_points the layout is computed on a sample; fine-tuning then covers every point."""
    img, txt = coco_vectors
    es = EmbeddingSet.from_pairs(img[:300], txt[:300])
    params = dict(random_state=0, max_layout_points=200, n_layout_iter=100, n_distill_steps=150, n_steps=100)
    m = MFM(**params).fit(es)
    assert m.embedding_.shape == (600, 2) and np.isfinite(m.embedding_).all()
    np.testing.assert_array_equal(MFM(**params).fit_transform(es), m.embedding_)  # sample and all: deterministic
    tx, cx = M.intermodal_scores(es.vectors, m.embedding_, es.modality, k=10)
    assert tx > 0.85 and cx > 0.85, (tx, cx)


@pytest.mark.slow
def test_fit_cost_is_bounded_in_n(coco_vectors):
    """Above max_tune_points the fit reads bounded samples only: the rows whose neighbours are searched, the layout's,
    the rank term's and the fine-tuning's are as many at 40,000 points as at 20,000 (only transform sees all)."""
    img, txt = coco_vectors
    rng = np.random.default_rng(0)
    params = dict(random_state=0, max_layout_points=300, max_tune_points=1000, n_rank_steps=3, n_layout_iter=0)
    params.update(n_distill_steps=20, n_steps=5)
    rows = {}
    for n in (20_000, 40_000):
        X = np.concatenate([img[np.arange(n // 2) % 500], txt[np.arange(n // 2) % 500]])
        X = X + rng.normal(0.0, 0.01, X.shape).astype(np.float32)
        mod = M.modality_labels(n // 2, n // 2)
        m = MFM(**params).fit(X, mod)
        assert m.embedding_.shape == (n, 2) and np.isfinite(m.embedding_).all()
        rows[n] = {k: v for k, v in m.fit_profile_.items() if k.endswith("_rows")}
    assert rows[20_000] == rows[40_000] == {"knn_rows": 1300, "layout_rows": 300, "rank_rows": 300, "tune_rows": 1000}


def test_save_load_round_trip_is_bit_exact(fitted, small, tmp_path):
    path = fitted.save(tmp_path / "map.safetensors")
    back = MFM.load(path)
    assert back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.transform(small.vectors), fitted.transform(small.vectors))
    assert MFM.from_bytes(fitted.to_bytes()).to_bytes() == fitted.to_bytes()


def test_clear_errors(small):
    img = small.vectors[:200]
    txt = small.vectors[200:]
    mod = small.modality
    bad = small.vectors.copy()
    bad[7, 3] = np.nan
    with pytest.raises(EmbeddingError, match=r"MFM.fit: vectors contain NaN at rows \[7\]"):
        MFM(**FAST).fit(bad, mod)
    with pytest.raises(ProjectionError, match="fuses"):  # a single modality where fusion needs two
        MFM(**FAST).fit(img, modality=["image"] * len(img))
    with pytest.raises(ProjectionError, match="modality"):
        MFM(**FAST).fit(small.vectors)
    with pytest.raises(EmbeddingError, match="one name per row"):
        MFM(**FAST).fit(small.vectors, modality=["image"] * 10)
    with pytest.raises(ProjectionError, match="exactly two modalities"):
        MFM(**FAST).fit(
            np.concatenate([img[:10], txt[:10], img[10:20]]), ["image"] * 10 + ["text"] * 10 + ["audio"] * 10
        )
    with pytest.raises(ProjectionError, match="at least 3 points"):  # fewer points than a neighbourhood needs
        MFM(**FAST).fit(np.concatenate([img[:2], txt[:2]]), ["image"] * 2 + ["text"] * 2)
    for name, value in (
        ("perplexity", 0.5),
        ("n_steps", -1),
        ("n_rank_steps", 1.5),
        ("rank_continuity", -1.0),
        ("rank_intra", float("nan")),
        ("distill_noise", -0.1),
        ("hidden", ()),
        ("warm_start", "yes"),
    ):
        with pytest.raises(ParameterError, match=f"MFM: {name} must be"):
            MFM(**{**FAST, name: value}).fit(small)
    with pytest.raises(NotFittedError, match="not fitted"):
        MFM().transform(img)
    m = MFM(random_state=0, n_layout_iter=0, n_distill_steps=5, n_steps=0).fit(small)
    with pytest.raises(EmbeddingError, match="MFM.transform: vectors have dimension 100, expected 512"):
        m.transform(img[:, :100])
    with pytest.raises(EmbeddingError, match=r"shape \(n, d\)"):
        m.transform(img[0])
    bad_rows = img[:5].copy()
    bad_rows[2] = 0.0
    with pytest.raises(EmbeddingError, match=r"MFM.transform: vectors are zero at rows \[2\]"):
        m.transform(bad_rows)
    with pytest.raises(EmbeddingError, match="unknown modality"):  # one name broadcast, checked against the fit
        m.transform(img[:3], "audio")
    np.testing.assert_array_equal(m.transform(img[:3], "image"), m.transform(img[:3]))


def test_tiny_sets_fit(coco_vectors):
    """Perplexity and neighbourhood sizes shrink to what a tiny set allows (4 + 4 points)."""
    img, txt = coco_vectors
    m = MFM(random_state=0, **FAST).fit(EmbeddingSet.from_pairs(img[:4], txt[:4]))
    assert m.embedding_.shape == (8, 2) and np.isfinite(m.embedding_).all()


@pytest.mark.slow
def test_quality_on_coco500_with_the_defaults(coco_vectors):
    """The defaults on COCO-500: fused better than DCM-t-SNE (README, 3 seeds: Tx@5 0.961, Tx@10 0.946,
    Cx@10 0.935), each modality's own structure kept (Ti >= 0.90), and no 2-D modality gap."""
    img, txt = coco_vectors
    es = EmbeddingSet.from_pairs(img, txt)
    res = M.evaluate(es.vectors, MFM(random_state=0).fit_transform(es), es.modality)
    # measured (seed 0): Tx@5 0.966, Tx@10 0.960, Cx@10 0.951, Ti@10 0.914; a little room for other BLAS builds
    assert res["Tx@5"] > 0.962 and res["Tx@10"] > 0.955 and res["Cx@10"] > 0.945, res
    assert res["Ti@10"] >= 0.905, res
    assert res["gap_2d_rel"] < 0.1, res


def test_device_auto_falls_back_to_the_cpu_and_says_which_it_used(small, fitted):
    import torch

    gpu = torch.cuda.is_available()
    assert fitted.get_params()["device"] == "auto" and fitted.device_ == ("cuda" if gpu else "cpu")
    cpu = MFM(random_state=3, device="cpu", **FAST).fit(small)
    assert cpu.device_ == "cpu"
    if gpu:  # the same random draws (made on the CPU), other kernels: float tolerance
        np.testing.assert_allclose(fitted.embedding_, cpu.embedding_, atol=0.05 * np.abs(cpu.embedding_).max())
    else:
        np.testing.assert_array_equal(fitted.embedding_, cpu.embedding_)
    with pytest.raises(ParameterError, match="MFM: device must be"):
        MFM(**{**FAST, "device": "tpu"}).fit(small)
