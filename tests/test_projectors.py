"""Projector registry: one interface for MFM, PCA, t-SNE, UMAP, MDS and DCM."""
import numpy as np
import pytest

from modalchorus_widget import metrics as M
from modalchorus_widget.projectors import PROJECTORS, ProjectorInputError, fused_distances, make_projector


@pytest.fixture(scope="module")
def pairs(coco_vectors):
    img, txt = coco_vectors
    return img[:120], txt[:120]


def test_registry_names():
    assert set(PROJECTORS) == {"MFM", "PCA", "t-SNE", "UMAP", "MDS", "DCM"}
    with pytest.raises(KeyError, match="unknown projection 'tsne'"):
        make_projector("tsne")


def test_pca_images_first_and_transform(pairs):
    from sklearn.decomposition import PCA

    img, txt = pairs
    p = make_projector("PCA")
    low = p.fit_transform(img, txt)
    assert low.shape == (240, 2) and low.dtype == np.float32
    ref = PCA(2).fit_transform(np.concatenate([img, txt]))
    np.testing.assert_allclose(np.abs(low), np.abs(ref), atol=2e-3)  # same up to axis sign
    np.testing.assert_allclose(p.transform(txt), low[120:], atol=1e-5)


def test_fused_distances_blocks(pairs):
    img, txt = pairs
    D = fused_distances(img, txt)
    n = 120
    np.testing.assert_allclose(D, D.T)
    assert np.all(np.diag(D) == 0)
    for blk, diag in ((D[:n, :n], True), (D[n:, n:], True), (D[:n, n:], False)):
        vals = blk[~np.eye(n, dtype=bool)] if diag else blk.ravel()
        assert vals.min() == pytest.approx(0.0) and vals.max() == pytest.approx(1.0)
    # the raw modality gap is gone: mean cross-modal distance is no longer above every within-modal one
    assert D[:n, n:].mean() < max(D[:n, :n].mean(), D[n:, n:].mean()) + 0.3


def test_mds_and_dcm_no_transform_and_dcm_fuses(pairs):
    img, txt = pairs
    high = np.concatenate([img, txt])
    mod = M.modality_labels(120, 120)
    res = {}
    for name in ("MDS", "DCM"):
        p = make_projector(name, random_state=0, max_iter=100)
        low = p.fit_transform(img, txt)
        assert low.shape == (240, 2) and np.isfinite(low).all()
        assert not p.supports_transform
        with pytest.raises(NotImplementedError, match=name):
            p.transform(img)
        res[name] = M.evaluate(high, low, mod, ks=(10,))
    # DCM removes the gap, so it beats plain MDS on inter-modal trustworthiness and shrinks the 2-D gap
    assert res["DCM"]["Tx@10"] > res["MDS"]["Tx@10"]
    assert res["DCM"]["gap_2d_rel"] < res["MDS"]["gap_2d_rel"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["t-SNE", "UMAP", "MFM"])
def test_methods_with_transform(pairs, name):
    img, txt = pairs
    params = {"n_steps": 60} if name == "MFM" else {}
    p = make_projector(name, random_state=0, **params)
    low = p.fit_transform(img, txt)
    assert low.shape == (240, 2) and low.dtype == np.float32 and np.isfinite(low).all()
    assert p.supports_transform
    new = p.transform(img[:10])
    assert new.shape == (10, 2) and np.isfinite(new).all()
    # standard trustworthiness of any of these on real CLIP is far above random
    assert M.trustworthiness(np.concatenate([img, txt]), low, k=10) > 0.8


def test_bad_input(pairs):
    img, txt = pairs
    p = make_projector("PCA")
    with pytest.raises(ProjectorInputError, match="dimension"):
        p.fit_transform(img, txt[:, :100])
    bad = img.copy()
    bad[5, 0] = np.inf
    with pytest.raises(ProjectorInputError, match="row 5"):
        p.fit_transform(bad, txt)
    with pytest.raises(RuntimeError, match="not fitted"):
        make_projector("UMAP").transform(img)
    p.fit_transform(img, txt)
    with pytest.raises(ProjectorInputError, match="fitted on 512-d"):
        p.transform(img[:, :64])
