"""One Projector interface for MFM and every baseline: fit(EmbeddingSet | X, modality) -> xy, transform."""

import numpy as np
import pytest

from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.errors import EmbeddingError, NotFittedError, ParameterError, ProjectionError
from modalchorus_widget.projection import metrics as M
from modalchorus_widget.projection.base import EstimatorProjector, Projector
from modalchorus_widget.projection.baselines import fused_distances
from modalchorus_widget.projection.registry import PROJECTORS, make_projector


@pytest.fixture(scope="module")
def pairs(coco_vectors):
    img, txt = coco_vectors
    return img[:120], txt[:120]


@pytest.fixture(scope="module")
def es(pairs):
    return EmbeddingSet.from_pairs(*pairs)


def test_registry_names():
    assert list(PROJECTORS) == ["MFM", "PCA", "t-SNE", "UMAP", "MDS", "DCM", "DCM-t-SNE", "DCM-UMAP"]
    for name in PROJECTORS:
        p = make_projector(name)
        assert isinstance(p, Projector) and p.name == name
    assert type(make_projector("tsne")) is type(make_projector("t-SNE"))  # case and dashes do not matter
    with pytest.raises(ProjectionError, match="unknown projection 'tsne2'"):
        make_projector("tsne2")
    with pytest.raises(ProjectionError, match="no parameter"):
        make_projector("PCA", perplexity=3)


def test_estimator_convention():
    """scikit-learn's clone/get_params work on every projector (BaseEstimator, params stored as given)."""
    from sklearn.base import clone

    for name in PROJECTORS:
        p = make_projector(name, random_state=7)
        q = clone(p)
        assert q.get_params() == p.get_params() and q is not p


def test_pca_rows_in_order_and_transform(es, pairs):
    from sklearn.decomposition import PCA

    img, txt = pairs
    p = make_projector("PCA")
    low = p.fit_transform(es)
    assert low.shape == (240, 2) and low.dtype == np.float32
    ref = PCA(2).fit_transform(np.concatenate([img, txt]))
    np.testing.assert_allclose(np.abs(low), np.abs(ref), atol=2e-3)  # same up to axis sign
    np.testing.assert_allclose(p.transform(txt), low[120:], atol=1e-5)
    # arrays with modality names give the same map as the EmbeddingSet
    np.testing.assert_allclose(make_projector("PCA").fit_transform(es.vectors, es.modality), low, atol=1e-6)


def test_pca_on_a_sample_above_max_fit_points(es):
    """Above max_fit_points the components come from a sample: on COCO-500 pairs a 120-row sample of 240 rows
    gives the full fit's map to within a few hundredths (per-axis correlation > 0.99), and transform agrees."""
    full = make_projector("PCA").fit_transform(es)
    p = make_projector("PCA", max_fit_points=120)
    low = p.fit_transform(es)
    assert low.shape == full.shape and np.isfinite(low).all()
    for k in range(2):
        assert abs(np.corrcoef(low[:, k], full[:, k])[0, 1]) > 0.99
    np.testing.assert_allclose(p.transform(es.vectors), low, atol=1e-5)


def test_estimator_projector_wraps_sklearn(es):
    from sklearn.decomposition import PCA

    p = EstimatorProjector(PCA(2, random_state=0))
    low = p.fit_transform(es)
    assert low.shape == (240, 2) and p.supports_transform
    np.testing.assert_allclose(p.transform(es.vectors[:5]), low[:5], atol=1e-5)


def test_fused_distances_blocks(es):
    n = 120
    for how in ("minmax", "rank"):
        D = fused_distances(es.vectors, es.modality, how)
        np.testing.assert_allclose(D, D.T)
        assert np.all(np.diag(D) == 0)
        for blk, diag in ((D[:n, :n], True), (D[n:, n:], True), (D[:n, n:], False)):
            vals = blk[~np.eye(n, dtype=bool)] if diag else blk.ravel()
            assert vals.min() == pytest.approx(0.0) and vals.max() == pytest.approx(1.0)
        # the raw modality gap is gone: mean cross-modal distance is no longer above every within-modal one
        assert D[:n, n:].mean() < max(D[:n, :n].mean(), D[n:, n:].mean()) + 0.3
    with pytest.raises(ProjectionError, match="two modalities"):
        fused_distances(es.vectors, np.array(["image"] * es.n))


def test_mds_and_dcm_no_transform_and_dcm_fuses(es):
    res = {}
    for name in ("MDS", "DCM"):
        p = make_projector(name, random_state=0, max_iter=100)
        low = p.fit_transform(es)
        assert low.shape == (240, 2) and np.isfinite(low).all()
        assert not p.supports_transform
        with pytest.raises(ProjectionError, match=f"{name} cannot place new points"):
            p.transform(es.vectors)
        res[name] = M.evaluate(es.vectors, low, es.modality, ks=(10,))
    # DCM removes the gap, so it beats plain MDS on inter-modal trustworthiness and shrinks the 2-D gap
    assert res["DCM"]["Tx@10"] > res["MDS"]["Tx@10"]
    assert res["DCM"]["gap_2d_rel"] < res["MDS"]["gap_2d_rel"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["t-SNE", "UMAP", "MFM"])
def test_methods_with_transform(es, name):
    params = {"n_steps": 60} if name == "MFM" else {}
    p = make_projector(name, random_state=0, **params)
    low = p.fit_transform(es)
    assert low.shape == (240, 2) and low.dtype == np.float32 and np.isfinite(low).all()
    assert p.supports_transform
    new = p.transform(es.vectors[:10])
    assert new.shape == (10, 2) and np.isfinite(new).all()
    # within each modality the structure is kept far above random on real CLIP
    assert min(M.intramodal_trustworthiness(es.vectors, low, es.modality, k=10).values()) > 0.8


def test_fusing_projectors_need_two_modalities(pairs):
    img, _ = pairs
    for name in ("MFM", "DCM", "DCM-t-SNE", "DCM-UMAP"):
        with pytest.raises(ProjectionError, match="fuses"):
            make_projector(name).fit_transform(img, np.array(["image"] * len(img)))
        with pytest.raises(ProjectionError, match="modality"):
            make_projector(name).fit_transform(img)


def test_bad_input(es, pairs):
    img, txt = pairs
    p = make_projector("PCA")
    bad = es.vectors.copy()
    bad[5, 0] = np.inf
    with pytest.raises(EmbeddingError, match=r"PCA.fit: vectors contain inf at rows \[5\]"):
        p.fit_transform(bad, es.modality)
    with pytest.raises(EmbeddingError, match="one name per row"):
        p.fit_transform(es.vectors, es.modality[:-1])
    with pytest.raises(ParameterError, match="PCA: random_state must be"):
        make_projector("PCA", random_state=-1).fit_transform(es)
    with pytest.raises(NotFittedError, match="not fitted"):
        make_projector("UMAP").transform(img)
    p.fit_transform(es)
    with pytest.raises(EmbeddingError, match="PCA.transform: vectors have dimension 64, expected 512"):
        p.transform(img[:, :64])
    with pytest.raises(EmbeddingError, match=r"unknown modality name\(s\) \['audio'\]"):
        p.transform(img, "audio")  # one name broadcast to every row, checked against the fitted modalities
    np.testing.assert_array_equal(p.transform(img, "image"), p.transform(img))
