"""One validator: the same bad vectors give the same error class and message shape at every entry point, naming
where it happened; parameters are checked declaratively (``_parameter_constraints``)."""

import numpy as np
import pytest

from modalchorus_widget import CMCR, MFM, Aligner, EmbeddingSet, PointSet
from modalchorus_widget.errors import EmbeddingError, ParameterError
from modalchorus_widget.projection import metrics as M
from modalchorus_widget.projection.registry import make_projector


@pytest.fixture(scope="module")
def small(coco_vectors):
    img, txt = coco_vectors
    return EmbeddingSet.from_pairs(img[:30], txt[:30])


def test_same_nan_same_error_everywhere(small):
    bad = small.vectors.copy()
    bad[[3, 17], 5] = np.nan
    aligner = Aligner().fit(small)
    calls = {
        "EmbeddingSet": lambda: EmbeddingSet(bad, small.modality),
        "MFM.fit": lambda: MFM().fit(bad, small.modality),
        "PCA.fit": lambda: make_projector("PCA").fit(bad, small.modality),
        "Aligner.transform": lambda: aligner.transform(bad, small.modality),
        "CMCR.fit: space1": lambda: CMCR().fit({"text": bad[:30], "image": bad[30:]}, {"text": bad[:30]}),
        r"quality metric \(high\)": lambda: M.trustworthiness(bad, np.zeros((len(bad), 2)), k=3),
        "PointSet anchor vector": lambda: aligner.step(PointSet(bad[3], [0, 1])),
    }
    for where, call in calls.items():
        with pytest.raises(EmbeddingError, match=rf"^{where}.*: vectors contain NaN at rows \[(3|0)"):
            call()


def test_other_faults_one_shape(small):
    fitted = make_projector("PCA").fit(small)
    for call, match in (
        (lambda: fitted.transform(small.vectors[:, :7]), r"^PCA.transform: vectors have dimension 7, expected 512"),
        (lambda: fitted.transform(np.zeros((2, 512))), r"^PCA.transform: vectors are zero at rows \[0, 1\]"),
        (lambda: Aligner().fit(small).transform(np.ones(3)), r"^Aligner.transform: vectors have dimension 3"),
        (lambda: EmbeddingSet(np.array([["a", "b"]])), r"^EmbeddingSet: vectors have dtype <U1, not numbers"),
    ):
        with pytest.raises(EmbeddingError, match=match):
            call()


def test_parameters_are_checked_declaratively(small):
    for est, name, value in (
        (MFM(perplexity=0.5), "perplexity", "a number > 1"),
        (CMCR(projector="transformer"), "projector", "one of 'linear', 'mlp'"),
        (Aligner(validation=1.0), "validation", "one of 'auto' or a number >= 0 and < 1"),
        (make_projector("UMAP", n_neighbors=1), "n_neighbors", "an integer >= 2"),
    ):
        with pytest.raises(ParameterError, match=f"{name} must be {value}"):
            est.fit(small) if not isinstance(est, CMCR) else est.fit(small, small)
        assert name in type(est)._parameter_constraints


def test_always_normalised_blockwise_equals_one_pass(coco_vectors):
    """normalize="always" divides each row by its float32 norm block by block: the same bits as one pass over all
    rows (what the projectors, the Aligner and C-MCR compute with), across block boundaries."""
    from modalchorus_widget.data import validation as V

    img, txt = coco_vectors
    x = np.concatenate([img, txt] * 10) * np.float32(1.7)  # 10,000 rows: more than one block
    assert len(x) > V._SMALL
    got = V.check_vectors(x, "demo", normalize="always")
    assert np.array_equal(got, x / np.linalg.norm(x, axis=1, keepdims=True))
    with pytest.raises(EmbeddingError, match=r"demo: vectors contain inf at rows \[9999\]"):
        bad = x.copy()
        bad[-1, 3] = np.inf
        V.check_vectors(bad, "demo")
