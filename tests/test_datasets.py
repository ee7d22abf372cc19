"""Datasets: load_default (the embedded default), load_coco500 (real CLIP ViT-B/16 features), and the
loaders for pre-computed embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modalchorus_widget.data.datasets import (
    COCO_COARSE_LABELS,
    DatasetError,
    coarse_label,
    coco500_path,
    from_arrays,
    from_dataframe,
    load_coco500,
    load_embeddings,
    load_numpy,
    load_parquet,
)
from modalchorus_widget.data.embeddings import EmbeddingError, EmbeddingSet
from modalchorus_widget.worlds.defaults import load_default

COCO = coco500_path()


# ------------------------------------------------------------------------------------ default
@pytest.fixture(scope="module")
def default():
    return load_default()


def test_default_layout(default):
    es = default.embeddings
    assert isinstance(es, EmbeddingSet)
    assert es.n == 1797 + 10 and es.dim == 384
    assert (es.modality[:1797] == "image").all() and (es.modality[1797:] == "text").all()
    assert list(default.prompt_index) == list(range(1797, 1807))
    assert default.class_names == tuple(str(i) for i in range(10))
    # labels: class name for images (= load_digits target) and prompts
    from sklearn.datasets import load_digits

    target = load_digits().target
    assert list(es.labels[:1797]) == [str(t) for t in target]
    assert list(es.labels[1797:]) == list(default.class_names)
    assert (default.image_labels == target).all()
    # prompts mention their own digit and are the text items
    for c, p in enumerate(default.prompts):
        assert str(c) in p or ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][c] in p
    assert default.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(es.items[5], default.images[5])


def test_default_split_fixed_and_stratified(default):
    train, test = default.train, default.test
    assert len(train) == 1257 and len(test) == 540
    assert len(np.intersect1d(train, test)) == 0 and len(np.union1d(train, test)) == 1797
    counts = np.bincount(default.image_labels[test], minlength=10)
    assert counts.min() >= 52 and counts.max() <= 55  # 30 % of every class
    assert (default.embeddings.frame["split"].to_numpy()[test] == "test").all()
    again = load_default()
    np.testing.assert_array_equal(again.test, test)
    np.testing.assert_array_equal(again.embeddings.vectors, default.embeddings.vectors)


def test_default_thumbnails(default):
    thumbs = default.embeddings.subset(np.array([0, 1, 1797])).thumbnails(size=32)
    assert thumbs[0][:8] == b"\x89PNG\r\n\x1a\n" and thumbs[1][:8] == b"\x89PNG\r\n\x1a\n"
    assert thumbs[2] is None  # text row


def test_default_zero_shot_and_free_text(default):
    acc = default.zero_shot_accuracy()
    assert acc > 0.5
    pred = default.predict()
    assert pred.shape == (1797,)
    # free text lands near the right images
    v = default.embeddings.vectors[default.image_index]
    q = default.encoder.encode_texts(["a digit that looks like a one"])[0]
    top = np.argsort(-(v @ q))[:20]
    assert np.mean(default.image_labels[top] == 1) >= 0.75


def test_default_load_is_fast(default):
    """Loading is dominated by model loading, not encoding (timings stored in info)."""
    assert default.info["seconds"] < 60  # generous: shared CI cores; typically ~2-3 s when idle


# ------------------------------------------------------------------------------------ COCO-500
def test_coco500_layout_and_retrieval():
    d = load_coco500(COCO)
    es = d.embeddings
    assert es.n == 1000 and es.dim == 512
    assert (es.modality[:500] == "image").all() and (es.modality[500:] == "text").all()
    assert d.pairs.shape == (500, 2) and (d.pairs[:, 1] - d.pairs[:, 0] == 500).all()
    caps = json.loads((COCO / "captions.json").read_text())
    assert d.captions[0] == caps[0]["caption"] and es.items[500] == caps[0]["caption"]
    # image -> text top-1 over the 500 pairs: 55.2 % in PROVENANCE.md
    from modalchorus_widget.evaluation import recall_at_k

    v = es.vectors
    top1 = recall_at_k(v[:500], v[500:], k=1)
    assert abs(top1 - 0.552) <= 0.01
    # coarse labels: the same for an image and its caption, and the big COCO categories are present
    assert (es.labels[:500] == es.labels[500:]).all()
    counts = pd.Series(es.labels[:500]).value_counts()
    for cat in ("dog", "cat", "motorcycle", "airplane", "bathroom", "giraffe"):
        assert counts.get(cat, 0) >= 3, cat
    assert counts.get("other", 0) < 100


def test_coco500_thumbnails_for_the_16_images(coco_images):
    """Rows with an image file get a PNG thumbnail; rows without one (item None) get None."""
    d = load_coco500(images=coco_images)
    have = [i for i, p in enumerate(d.images) if p is not None]
    assert len(have) == 16 and all(d.embeddings.items[i] == d.images[i] for i in have)
    assert 22 in have
    thumbs = d.embeddings.thumbnails(size=16)
    have = [i for i, p in enumerate(d.images) if p is not None]
    assert all(thumbs[i][:4] == b"\x89PNG" for i in have)
    assert sum(t is not None for t in thumbs) == 16


def test_coarse_label_rules():
    assert coarse_label("A man riding a motorcycle down the street") == "motorcycle"
    assert coarse_label("A cat sitting on top of a toilet") == "cat"
    assert coarse_label("Two giraffes in a field") == "giraffe"
    assert coarse_label("A plate with a slice of pizza") == "pizza"
    assert coarse_label("People at the beach") == "person"
    assert coarse_label("An empty room") == "other"
    assert coarse_label("Catalog of items") == "other"  # whole words only
    names = [n for n, _ in COCO_COARSE_LABELS]
    assert len(names) == len(set(names))


def test_coco500_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="clip_vitb16_img_txt.npy"):
        load_coco500(tmp_path)
    with pytest.raises(FileNotFoundError, match="images folder"):
        load_coco500(images=tmp_path / "nowhere")


def test_coco500_ships_in_the_package():
    """No folder beside the repository is needed: the embeddings and captions are package data."""
    import modalchorus_widget

    assert COCO.is_relative_to(Path(modalchorus_widget.__file__).parent)
    d = load_coco500()
    assert d.embeddings.n == 1000 and d.embeddings.dim == 512
    assert all(p is None for p in d.images)  # the images do not ship


# ------------------------------------------------------------------------------------ pre-computed
def _vecs(n, d, seed):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_load_numpy_forms(tmp_path):
    img, txt = _vecs(4, 8, 0), _vecs(3, 8, 1)
    np.save(tmp_path / "one.npy", img)
    es = load_numpy(tmp_path / "one.npy", modality="text", labels=list("abcd"))
    assert es.n == 4 and es.modalities == ("text",) and list(es.labels) == list("abcd")
    np.testing.assert_allclose(es.vectors, img / np.linalg.norm(img, axis=1, keepdims=True), atol=1e-6)
    np.save(tmp_path / "pairs.npy", np.stack([img[:3], txt]))
    es = load_numpy(tmp_path / "pairs.npy")
    assert list(es.modality) == ["image"] * 3 + ["text"] * 3
    np.savez(
        tmp_path / "set.npz",
        images=img,
        texts=txt,
        captions=np.array(["x", "y", "z"]),
        image_labels=np.array(["a", "a", "b", "b"]),
    )
    es = load_embeddings(tmp_path / "set.npz")
    assert es.n == 7 and list(es.items[4:]) == ["x", "y", "z"] and list(es.labels[:4]) == ["a", "a", "b", "b"]
    # an EmbeddingSet file goes through the same entry point
    es.save(tmp_path / "saved.npz")
    back = load_embeddings(tmp_path / "saved.npz")
    np.testing.assert_array_equal(back.vectors, es.vectors)


def test_load_numpy_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_numpy(tmp_path / "missing.npy")
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4, 5)))
    with pytest.raises(DatasetError, match=r"expected \(n, d\) or \(2, n, d\)"):
        load_numpy(tmp_path / "bad.npy")
    np.savez(tmp_path / "bad.npz", foo=np.zeros(3))
    with pytest.raises(DatasetError, match="'images' and/or 'texts'"):
        load_numpy(tmp_path / "bad.npz")
    with pytest.raises(DatasetError, match="unknown file type"):
        load_embeddings(tmp_path / "x.csv")
    nan = _vecs(3, 4, 0)
    nan[1, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(EmbeddingError):
        load_numpy(tmp_path / "nan.npy")
    with pytest.raises(EmbeddingError):  # image and text dims differ
        from_arrays(_vecs(2, 4, 0), _vecs(2, 5, 1))
    with pytest.raises(DatasetError):
        from_arrays()


def test_dataframe_and_parquet_round_trip(tmp_path):
    v = _vecs(5, 6, 3)
    df = pd.DataFrame(
        {"vector": list(v), "modality": ["image"] * 3 + ["text"] * 2, "label": list("aabab"), "source": list("vwxyz")}
    )
    es = from_dataframe(df)
    assert es.n == 5 and list(es.modality) == ["image"] * 3 + ["text"] * 2
    assert list(es.labels) == list("aabab") and list(es.frame["source"]) == list("vwxyz")
    df.assign(vector=[list(map(float, r)) for r in v]).to_parquet(tmp_path / "e.parquet")
    back = load_parquet(tmp_path / "e.parquet")
    np.testing.assert_allclose(back.vectors, es.vectors, atol=1e-6)
    # wide form: one column per dimension
    wide = pd.DataFrame(v, columns=[f"e{i}" for i in range(6)]).assign(kind="image")
    es2 = from_dataframe(wide, vector_columns=[f"e{i}" for i in range(6)], modality="image")
    np.testing.assert_allclose(es2.vectors, es.vectors, atol=1e-6)
    assert list(es2.frame["kind"]) == ["image"] * 5
    with pytest.raises(DatasetError, match="no column holds vectors"):  # one column per dimension is not found
        from_dataframe(wide)
    with pytest.raises(DatasetError, match="no column 'vector'"):
        from_dataframe(wide, vector_column="vector")
    with pytest.raises(DatasetError, match="modality"):
        from_dataframe(df.drop(columns="modality"))
    with pytest.raises(EmbeddingError, match="unknown"):
        from_dataframe(df.assign(modality="smell"))
    with pytest.raises(TypeError):
        from_dataframe(v)
