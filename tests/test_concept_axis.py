"""Concept axis (docs/methods.md 3) on real CLIP embeddings and exact small cases."""

import numpy as np
import pytest

from modalchorus_widget.errors import ProjectionError as ConceptAxisError
from modalchorus_widget.projection.concept_axis import axis_coordinate, concept_axis, concept_vector


def test_exact_small_case():
    v = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], np.float32)
    a, b = np.array([1, 0, 0.0]), np.array([0, 1, 0.0])
    x = axis_coordinate(v, a, b)
    np.testing.assert_allclose(x, [1, -1, 0, 0], atol=1e-6)
    xy = concept_axis(v, a, b, y=np.array([0, 0, 1.0]))
    np.testing.assert_allclose(xy[:, 1], [0, 0, 1, 0], atol=1e-6)
    xy2 = concept_axis(v, a, b, y=np.array([1, 1, 0.0]))
    np.testing.assert_allclose(xy2[:, 1], [np.sqrt(0.5), np.sqrt(0.5), 0, 1], atol=1e-6)


def test_set_concept_is_normalised_mean():
    s = np.array([[1, 0], [0, 1]], np.float32)
    np.testing.assert_allclose(concept_vector(s, 2), [np.sqrt(0.5)] * 2, atol=1e-6)


def test_second_pair_and_per_point_y():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 8)).astype(np.float32)
    a, b, c, d = rng.normal(size=(4, 8))
    xy = concept_axis(v, a, b, y=(c, d))
    np.testing.assert_allclose(xy[:, 1], axis_coordinate(v, c, d), atol=1e-6)
    yy = np.arange(50, dtype=np.float32)
    np.testing.assert_array_equal(concept_axis(v, a, b, y=yy)[:, 1], yy)


def test_real_clip_images_lean_to_their_own_caption(coco_vectors):
    img, txt = coco_vectors
    # axis from caption 0 to caption 1: image 0 should lie on caption 0's side more often than image 1
    x = axis_coordinate(img, txt[0], txt[1])
    assert x[0] > 0 and x[1] < 0
    # over many pairs: image i sits closer to its own caption than to caption j for most pairs
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, 500, 200), rng.integers(0, 500, 200)
    keep = i != j
    xs = np.array([axis_coordinate(img[[a]], txt[a], txt[b])[0] for a, b in zip(i[keep], j[keep])])
    assert (xs > 0).mean() > 0.85


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(a=np.zeros(4), b=np.ones(4)), "zero vector"),
        (dict(a=np.ones(3), b=np.ones(4)), "dimension"),
        (dict(a=np.ones(4), b=np.ones(4)), "same concept"),
        (dict(a=np.ones(4), b=-np.ones(4), y=np.ones(7)), "y:"),
    ],
)
def test_bad_concepts_raise(kw, msg):
    v = np.eye(4, dtype=np.float32)[:3] + 0.1
    with pytest.raises(ConceptAxisError, match=msg):
        concept_axis(v, **kw)
