"""The bad inputs themselves: one small named function per row of ``reliability_bad_inputs.BAD_INPUTS``, each
handing one bad input to the public API (``call(ctx)``)."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .reliability_context import Ctx, small_mfm


# --- helpers the bad-input calls share
def _vec(ctx: Ctx, row, col, value) -> np.ndarray:
    """The context's vectors (images then texts) with ``[row, col] = value`` (col None: the whole row)."""
    img, txt, _ = ctx.pairs()
    v = np.concatenate([img, txt])
    v[row if col is None else (row, col)] = value
    return v


def _es(vectors, **kw):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet(vectors, **kw)


def _point_set(*a, **k):
    from modalchorus_widget.alignment import PointSet

    return PointSet(*a, **k)


def _set_set(*a, **k):
    from modalchorus_widget.alignment import SetSet

    return SetSet(*a, **k)


def _chorus(*a, **k):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus(*a, **k)


def _aligner(es, images=None, **k):
    """``Aligner(**k).fit(es, images=images)``: where a bad input meets an Aligner, it surfaces at fit."""
    from modalchorus_widget.alignment import Aligner

    return Aligner(**k).fit(es, images=images)


def _default_encoder(**k):
    from modalchorus_widget.encoders.default import DefaultEncoder

    return DefaultEncoder(**k)  # a private instance: deep mode would tune a shared one in place


def _digit_images(n):
    from sklearn.datasets import load_digits

    return load_digits().images[:n].astype(np.float32)


def _digits_es(n):
    """n digit images embedded by the default model, with no raw items attached."""
    return _es(_default_encoder().encode_images(_digit_images(n)), modality="image")


def _png(size=(16, 16)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", size, 200).save(buf, format="PNG")
    return buf.getvalue()


BROKEN_PNG = b"\x89PNG\r\n\x1a\n garbage"
SURROGATE_TEXT = b"caf\xe9".decode("utf-8", "surrogateescape")  # an undecodable byte, as read with surrogateescape


@contextlib.contextmanager
def small_pixel_limit(limit: int = 1000):
    """PIL's documented ``Image.MAX_IMAGE_PIXELS`` knob, lowered for the block: images over ``2 * limit``
    pixels are refused as decompression bombs (a huge image, cheaply)."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _huge_png(ctx) -> Path:
    return ctx.file("huge.png", _png((200, 200)))  # 40,000 pixels > 2 x the limit of small_pixel_limit()


def _weights_copy(ctx, name: str, data: bytes) -> Path:
    """A weights file ``name`` with ``data`` and, beside it, the default model's real config."""
    from modalchorus_widget.encoders.default import CONFIG_FILE

    (ctx.tmp / name).with_suffix(".json").write_bytes(CONFIG_FILE.read_bytes())
    return ctx.file(name, data)


def _one_digit():
    return np.zeros((1, 8, 8), np.float32)


# --- the bad-input calls, one per row: vectors
def nan_in_embeddingset(c):
    return _es(_vec(c, 3, 0, np.nan), modality="image")


def inf_in_embeddingset(c):
    return _es(_vec(c, 5, 1, np.inf), modality="image")


def nan_in_with_vectors(c):
    return c.es.with_vectors(_vec(c, 0, 0, np.nan))


def nan_in_mfm_fit(c):
    return small_mfm(n_steps=2).fit(_vec(c, 2, 2, np.nan), modality=c.es.modality)


def nan_in_mfm_transform(c):
    return c.mfm.transform(_vec(c, 7, 0, np.nan))


def nan_in_aligner_transform(c):
    return c.aligner.transform(_vec(c, 1, 0, np.nan), "image")


def nan_in_positions(c):
    xy = np.array(c.chorus.positions, dtype=np.float32)
    xy[4] = np.nan
    return c.chorus.update_positions(xy)


def nan_in_trustworthiness(c):
    from modalchorus_widget.projection.metrics import trustworthiness

    return trustworthiness(_vec(c, 0, 0, np.nan), np.zeros((2 * c.n_pairs, 2)), k=5)


def zero_in_embeddingset(c):
    return _es(_vec(c, 4, None, 0.0), modality="image")


def zero_in_mfm_transform(c):
    return c.mfm.transform(_vec(c, 9, None, 0.0))


def zero_anchor_vector(c):
    return c.aligner.step(_point_set(np.zeros(c.es.dim, np.float32), np.arange(3)))


def string_vectors(c):
    return _es(np.array([["a", "b"], ["c", "d"]]), modality="image")


def ragged_object_vectors(c):
    return _es(np.array([np.zeros(3), np.zeros(4)], dtype=object), modality="image")


def one_d_vectors(c):
    return _es(np.ones(8, np.float32), modality="image")


def zero_row_vectors(c):
    return _es(np.ones((0, 8), np.float32), modality="image")


def with_vectors_wrong_shape(c):
    return c.es.with_vectors(np.ones((3, c.es.dim), np.float32))


def chorus_positions_n3(c):
    return _chorus(c.es, positions=np.zeros((c.es.n, 3), np.float32))


def chorus_of_ndarray(c):
    return _chorus(c.es.vectors)


def from_pairs_mismatched_dims(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    img, txt, _ = c.pairs()
    return EmbeddingSet.from_pairs(img, txt[:, :256])


def concat_mismatched_dims(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    other = _es(c.pairs()[1][:, :256], modality="text", ids=[f"t{i}" for i in range(c.n_pairs)])
    return EmbeddingSet.concat([c.es, other])


def mfm_transform_other_dim(c):
    return c.mfm.transform(np.ones((4, 7), np.float32))


def aligner_transform_other_dim(c):
    return c.aligner.transform(np.ones((4, 7), np.float32), "text")


def anchor_other_dim(c):
    return c.aligner.step(_point_set(np.ones(7, np.float32), np.arange(3)))


def duplicate_ids(c):
    return _es(c.pairs()[0][:4], modality="image", ids=["a", "b", "a", "c"])


def concat_duplicate_ids(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.concat([c.es, c.es])


# --- selections and concepts
def empty_point_set(c):
    return c.aligner.step(_point_set(0, []))


def empty_set_set(c):
    return c.aligner.step(_set_set(np.zeros(0, np.int64)))


def weigh_empty_lasso(c):
    from modalchorus_widget.alignment import weigh_by_size

    return c.aligner.step(*weigh_by_size(_point_set(0, [1, 2]), _point_set(0, [])))


def weigh_a_list(c):
    from modalchorus_widget.alignment import weigh_by_size

    return c.aligner.step(*weigh_by_size([_point_set(0, [1, 2]), _point_set(0, [3])]))


def chorus_align_empty(c):
    return c.chorus.align(_point_set(0, np.zeros(0, np.uint32)))


def empty_concept_set(c):
    return c.chorus.concept_axis(np.zeros((0, c.es.dim), np.float32), "first")


def anchor_only_selection(c):
    return c.aligner.step(_point_set(2, [2]))


def single_point_set_set(c):
    return c.aligner.step(_set_set([3]))


def one_modality_set_set(c):
    return c.aligner.step(_set_set(np.arange(c.n_pairs)))  # the image rows only


def unknown_anchor_modality(c):
    return c.aligner.step(_point_set(np.ones(c.es.dim, np.float32), np.arange(3), anchor_modality="smell"))


def point_set_out_of_range(c):
    return c.aligner.step(_point_set(0, [1, 10**6]))


def selected_out_of_range(c):
    c.chorus.selected = np.array([0, 10**6])


def concept_text_no_encoder(c):
    return c.chorus.concept_axis("a zebra on ice", "a red car")


def anchor_text_no_encoder(c):
    return c.aligner.step(_point_set("a zebra on ice", np.arange(4)))


def aligner_plain_function_encoder(c):
    return _aligner(c.es, encoder=lambda texts: np.zeros((len(texts), c.es.dim)))


def chorus_plain_function_encoder(c):
    return _chorus(c.es, projector="PCA", encoder=lambda texts: np.zeros((len(texts), c.es.dim)))


def unknown_projection(c):
    from modalchorus_widget.projection.registry import make_projector

    return make_projector("tsne-3d")


def mfm_one_modality(c):
    return small_mfm().fit(c.pairs()[0], modality=["image"] * c.n_pairs)


# --- files
def missing_default_weights(c):
    return _default_encoder(weights=c.tmp / "nope.safetensors").encode_images(_one_digit())


def missing_open_clip_checkpoint(c):
    from modalchorus_widget.encoders.open_clip import OpenCLIPEncoder

    return OpenCLIPEncoder("ViT-B-32", pretrained=str(c.tmp / "nope.pt")).dim


def missing_session(c):
    from modalchorus_widget.widget.chorus import load_session

    return load_session(c.tmp / "nope.zip")


def garbage_default_weights(c):
    w = _weights_copy(c, "corrupt_digits.safetensors", b"\x93NUMPY not a safetensors file" * 10)
    return _default_encoder(weights=w).encode_images(_one_digit())


def truncated_default_weights(c):
    from modalchorus_widget.encoders.default import WEIGHTS_FILE

    data = WEIGHTS_FILE.read_bytes()
    w = _weights_copy(c, "truncated_digits.safetensors", data[: len(data) // 2])
    return _default_encoder(weights=w).encode_images(_one_digit())


def corrupt_aligner_file(c):
    from modalchorus_widget.alignment import Aligner

    return Aligner.load(c.file("bad_aligner.bin", b"PK\x03\x04 garbage"))


def corrupt_mfm_file(c):
    from modalchorus_widget.projection.mfm import MFM

    return MFM.load(c.file("bad_map.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json"))


def corrupt_session_file(c):
    from modalchorus_widget.widget.chorus import load_session

    return load_session(c.file("bad.mcsession", b"not a zip at all" * 4))


def unknown_session_version(c):
    from modalchorus_widget.widget.chorus import load_session

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "modalchorus-session", "version": 999}))
    return load_session(c.file("v999.mcsession", buf.getvalue()))


def corrupt_embeddings_file(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.load(c.file("bad.npz", b"PK\x03\x04 garbage"))


# --- images and text
def undecodable_thumbnail(c):
    from modalchorus_widget.data.embeddings import make_thumbnail

    return make_thumbnail(c.file("broken.png", BROKEN_PNG))


def undecodable_default_encoder(c):
    return _default_encoder().encode_images([c.file("broken.png", BROKEN_PNG)])


def undecodable_to_pil(c):
    from modalchorus_widget.encoders.open_clip import to_pil

    return to_pil(c.file("broken.png", BROKEN_PNG))


def huge_thumbnail(c):
    from modalchorus_widget.data.embeddings import make_thumbnail

    p = _huge_png(c)
    with small_pixel_limit():
        return make_thumbnail(p)


def huge_default_encoder(c):
    p = _huge_png(c)
    with small_pixel_limit():
        return _default_encoder().encode_images([p])


def huge_to_pil(c):
    from modalchorus_widget.encoders.open_clip import to_pil

    p = _huge_png(c)
    with small_pixel_limit():
        return to_pil(p)


def bytes_text(c):
    return _default_encoder().encode_texts(["a cat", b"caf\xe9 \xff"])


def surrogate_text(c):
    return _default_encoder().encode_texts(["a cat", SURROGATE_TEXT])


def surrogate_captions(c):
    return _es(c.pairs()[1][:2], modality="text", items=["ok", SURROGATE_TEXT]).save(c.tmp / "s.npz")


# --- metadata and modes
def meta_wrong_length(c):
    return _es(c.pairs()[0][:6], modality="image", meta={"x": list(range(5))})


def labels_wrong_length(c):
    return _es(c.pairs()[0][:6], modality="image", labels=["a"] * 7)


def unknown_modality_name(c):
    return _es(c.pairs()[0][:3], modality=["image", "txt", "image"])


def deep_without_encoder(c):
    return _aligner(c.es, mode="deep")


def deep_without_raw_inputs(c):
    return _aligner(_digits_es(6), mode="deep", encoder=_default_encoder())


def deep_wrong_raw_count(c):
    return _aligner(_digits_es(6), mode="deep", encoder=_default_encoder(), images=_digit_images(5))


def anchors_with_set_set(c):
    n = c.n_pairs
    return _aligner(c.es, mode="anchors").step(_set_set([0, 1, 2], [n, n + 1, n + 2]))


def predict_with_image_vectors(c):
    from modalchorus_widget import load_default

    d = load_default()
    return d.predict(d.embeddings.vectors[d.image_index])


def unknown_colour_column(c):
    return c.chorus.set_color_by("no_such_column")
