"""EmbeddingSet: validation, views, slicing, persistence and thumbnails on real CLIP embeddings."""

import numpy as np
import pandas as pd
import pytest

from modalchorus_widget.data.embeddings import EmbeddingError, EmbeddingSet, make_thumbnail
from modalchorus_widget.errors import ImageDecodeError


@pytest.fixture
def coco_set(coco_vectors):
    return EmbeddingSet.from_pairs(*coco_vectors, labels=[f"img{i % 3}" for i in range(500)])


def test_from_pairs_layout_and_normalisation(coco_set, coco_vectors):
    assert len(coco_set) == 1000 and coco_set.dim == 512
    assert coco_set.modalities == ("image", "text")
    np.testing.assert_array_equal(coco_set.indices("text"), np.arange(500, 1000, dtype=np.uint32))
    np.testing.assert_allclose(np.linalg.norm(coco_set.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        coco_set.vectors[:500], coco_vectors[0], atol=2e-3
    )  # source rows are unit length to ~6e-4
    assert not coco_set.vectors.flags.writeable


def test_torch_view_shares_memory(coco_set):
    t = coco_set.torch()
    assert t.data_ptr() == coco_set.vectors.__array_interface__["data"][0]


def test_normalises_unnormalised_input():
    es = EmbeddingSet(np.array([[3.0, 4.0], [0.0, 2.0]]), "text")
    np.testing.assert_allclose(es.vectors, [[0.6, 0.8], [0.0, 1.0]], atol=1e-6)


@pytest.mark.parametrize(
    "vectors, match",
    [
        (np.array([[np.nan, 1.0]]), r"EmbeddingSet: vectors contain NaN at rows \[0\]; drop or re-encode"),
        (np.array([[np.inf, 1.0]]), r"EmbeddingSet: vectors contain inf at rows \[0\]"),
        (np.zeros((2, 3)), r"EmbeddingSet: vectors are zero at rows \[0, 1\]"),
        (np.zeros((0, 3)), "empty"),
        (np.ones(3), r"shape \(n, d\)"),
        (np.array([["a", "b"]]), "not numbers"),
    ],
)
def test_bad_vectors_are_rejected_clearly(vectors, match):
    with pytest.raises(EmbeddingError, match=match):
        EmbeddingSet(vectors, "image")


def test_duplicate_ids_unknown_modality_and_bad_meta():
    v = np.eye(3)
    with pytest.raises(EmbeddingError, match="duplicate id"):
        EmbeddingSet(v, "image", ids=["a", "b", "a"])
    with pytest.raises(EmbeddingError, match="unknown modality name"):
        EmbeddingSet(v, ["image", "text", "smell"])
    with pytest.raises(EmbeddingError, match="meta: has 2 rows"):
        EmbeddingSet(v, "image", meta=pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(EmbeddingError, match="labels: has 2 entries"):
        EmbeddingSet(v, "image", labels=["a", "b"])


def test_mismatched_dimensions_between_modalities():
    with pytest.raises(EmbeddingError, match="dimension 4 but texts 3"):
        EmbeddingSet.from_pairs(np.ones((2, 4)), np.ones((2, 3)))


def test_subset_by_label_and_with_vectors(coco_set):
    sub = coco_set.by_modality("text")
    assert len(sub) == 500 and set(sub.modality) == {"text"}
    lab = coco_set.by_label("img1")
    assert set(lab.labels) == {"img1"}
    rng = np.random.default_rng(0)
    new = coco_set.with_vectors(coco_set.vectors + 0.01 * rng.normal(size=coco_set.vectors.shape))
    assert new.frame is coco_set.frame
    assert not np.allclose(new.vectors, coco_set.vectors)
    with pytest.raises(EmbeddingError, match="does not match"):
        coco_set.with_vectors(coco_set.vectors[:10])
    with pytest.raises(EmbeddingError, match=r"indices must lie in \[0, 1000\)"):
        coco_set.subset([0, 1000])


def test_save_load_round_trip_is_exact(coco_set, tmp_path):
    p = coco_set.save(tmp_path / "set.npz")
    back = EmbeddingSet.load(p)
    np.testing.assert_array_equal(back.vectors, coco_set.vectors)
    pd.testing.assert_frame_equal(back.frame, coco_set.frame)
    assert back.space == coco_set.space
    assert not list(tmp_path.glob(".*.tmp")), "temp file left behind"


def test_load_refuses_unknown_version_and_garbage(coco_set, tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(EmbeddingError, match="not a readable"):
        EmbeddingSet.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="no embeddings file"):
        EmbeddingSet.load(tmp_path / "missing.npz")


def test_thumbnails_from_real_jpegs_and_arrays(coco_images):
    jpgs = sorted(coco_images.glob("*.jpg"))[:2]
    es = EmbeddingSet(
        np.eye(4, 8),
        ["image", "image", "image", "text"],
        items=[str(jpgs[0]), str(jpgs[1]), np.arange(64).reshape(8, 8), "a caption"],
    )
    th = es.thumbnails(32)
    assert th[3] is None and all(t.startswith(b"\x89PNG") for t in th[:3])
    assert es.thumbnails(32) is th  # cached
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(th[0])).size) == 32
    assert Image.open(io.BytesIO(th[2])).size == (32, 32)  # 8x8 enlarged crisply


def test_undecodable_image_names_the_item(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(ImageDecodeError, match="cannot decode image .*broken.jpg"):  # as the encoders say it
        make_thumbnail(str(bad))
