"""The first call, tried as a new user would: their own parquet of vectors, a shipped world, a DataFrame.

Kernel side only (no browser): the widget is built, coloured, and a round runs from the first call.
"""

import numpy as np
import pandas as pd
import pytest
from traitlets import TraitError

from modalchorus_widget import Chorus, PointSet, SetSet, load_default, load_embeddings
from modalchorus_widget.errors import DatasetError, InputTypeError

N = 40  # COCO-500 pairs in the user's file: enough for a map, small enough to stay fast


def _user_frame(coco_vectors, captions=False):
    img, txt = coco_vectors
    rows = [{"embedding": v.tolist(), "modality": "image", "source": "coco"} for v in img[:N]]
    rows += [{"embedding": v.tolist(), "modality": "text", "source": "coco"} for v in txt[:N]]
    df = pd.DataFrame(rows)
    if captions:
        df["caption"] = [None] * N + [f"caption {i}" for i in range(N)]
    return df


def test_parquet_of_own_vectors_then_chorus_then_a_round(coco_vectors, tmp_path):
    path = tmp_path / "mine.parquet"
    _user_frame(coco_vectors).to_parquet(path)

    es = load_embeddings(path)  # the one column of vectors is found by itself
    assert es.n == 2 * N and es.dim == 512 and set(es.modalities) == {"image", "text"}
    w = Chorus(es, projector="PCA")  # no labels, no aligner: the defaults adapt to the data
    assert w.color_by == "modality" and "label" not in w.color_options
    assert w.aligner.mode == "fast" and w.aligner.embeddings_ is es
    rnd = w.align(SetSet(np.arange(5), np.arange(N, N + 5), paired=True))  # a round from the first call
    assert len(w.aligner.history_) == 1 and rnd.report["steps"] >= 0
    assert not np.array_equal(w.embeddings.vectors, es.vectors) or rnd.is_identity


def test_vector_column_must_be_found_once(coco_vectors, tmp_path):
    df = _user_frame(coco_vectors)
    two = df.assign(other=df["embedding"])
    two.to_parquet(tmp_path / "two.parquet")
    with pytest.raises(DatasetError, match=r"columns \['embedding', 'other'\] all hold vectors.*vector_column="):
        load_embeddings(tmp_path / "two.parquet")
    assert load_embeddings(tmp_path / "two.parquet", vector_column="other").n == 2 * N
    df.drop(columns="embedding").to_parquet(tmp_path / "none.parquet")
    with pytest.raises(DatasetError, match="no column holds vectors"):
        load_embeddings(tmp_path / "none.parquet")


def test_chorus_of_a_shipped_world_takes_its_encoder_prompts_and_items():
    data = load_default("shapes")
    w = Chorus(data, projector="PCA")
    assert w.encoder is data.encoder and w.embeddings is data.embeddings
    assert w.class_prompts == [int(i) for i in data.prompt_index]
    assert w.color_by == "label" and w.predictions_ is not None
    assert w.aligner.encoder is data.encoder  # text anchors can be embedded
    rnd = w.align(PointSet(int(data.prompt_index[0]), data.train[:5]))
    assert len(w.aligner.history_) == 1 and rnd.report["steps"] >= 0
    with pytest.raises(InputTypeError, match="EmbeddingSet or a ChorusData"):
        Chorus(data.embeddings.vectors)


def test_chorus_from_dataframe(coco_vectors):
    df = _user_frame(coco_vectors, captions=True)
    w = Chorus.from_dataframe(df, vectors="embedding", modality="modality", text="caption", projector="PCA")
    es = w.embeddings
    assert es.n == 2 * N and list(es.items[N : N + 2]) == ["caption 0", "caption 1"]
    assert "caption" not in es.frame.columns and "source" in w.color_options
    for name, value in (("method", "UMAP"), ("color_by", "source")):  # a label alone would lie: use the methods
        with pytest.raises(TraitError, match="read-only"):
            setattr(w, name, value)
    w.set_color_by("source")
    assert w.color_by == "source" and len(w.category_names) == 1
    one = Chorus.from_dataframe(df.iloc[:N].drop(columns="modality"), modality="image", projector="PCA")
    assert set(one.embeddings.modalities) == {"image"}
