"""Encoders: the interface, the embedded default's encoders, the plain-torch MiniLM text tower and the
open_clip backend (offline errors, local checkpoints of a tiny config)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modalchorus_widget.encoders import DefaultEncoder, Encoder, OfflineWeightsError, OpenCLIPEncoder


def coco_dir() -> Path:
    from modalchorus_widget.data.datasets import coco500_path

    return coco500_path()


def unit_rows(x):
    return np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------------------------ package import
def test_import_stays_light():
    """Importing the package and the encoders package must not pull torch / open_clip in."""
    code = (
        "import sys, modalchorus_widget, modalchorus_widget.encoders, modalchorus_widget.data.datasets; "
        "print(sorted(m for m in ('torch', 'open_clip', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ default encoder
@pytest.fixture(scope="module")
def default_encoder():
    return DefaultEncoder()


def test_default_encoder_is_an_encoder(default_encoder):
    assert isinstance(default_encoder, Encoder)
    assert default_encoder.dim == 384
    assert default_encoder.class_names == tuple(str(i) for i in range(10))


def test_default_encoder_images_forms_agree(default_encoder, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    imgs = load_digits().images[:6].astype(np.float32)
    a = default_encoder.encode_images(imgs)
    assert a.shape == (6, 384) and a.dtype == np.float32 and unit_rows(a)
    np.testing.assert_allclose(default_encoder.encode_images(imgs.reshape(6, 64)), a, atol=1e-6)
    np.testing.assert_allclose(default_encoder.encode_images(list(imgs)), a, atol=1e-6)
    # batching does not change results
    np.testing.assert_allclose(default_encoder.encode_images(imgs, batch_size=2), a, atol=1e-5)
    # a PIL image / file of dark ink on white paper, larger than 8x8, is inverted and resized
    big = Image.fromarray((255 - imgs[0] / 16 * 255).astype(np.uint8)).resize((64, 64), Image.NEAREST)
    path = tmp_path / "digit.png"
    big.save(path)
    v_pil, v_path = default_encoder.encode_images([big, path])
    assert float(v_pil @ a[0]) > 0.9 and float(v_path @ a[0]) > 0.9


def test_default_encoder_bad_input(default_encoder, tmp_path):
    with pytest.raises(ValueError, match=r"\(n, 8, 8\)"):
        default_encoder.encode_images(np.zeros((3, 5, 5)))
    bad = np.zeros((2, 8, 8))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        default_encoder.encode_images(bad)
    with pytest.raises(FileNotFoundError, match="not found"):
        default_encoder.encode_images([tmp_path / "missing.png"])
    with pytest.raises(TypeError, match="not a str"):
        default_encoder.encode_texts(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        default_encoder.encode_images(np.zeros((2, 8, 8)), batch_size=0)
    with pytest.raises(ValueError, match="modality"):
        default_encoder.encode(["x"], "smell")


def test_default_encoder_texts(default_encoder):
    t = default_encoder.encode_texts(["a handwritten seven", "the digit 7", "a photo of a dog"])
    assert t.shape == (3, 384) and unit_rows(t)
    # semantic: the two phrasings of seven are closer to each other than to an unrelated sentence
    assert t[0] @ t[1] > t[0] @ t[2]
    assert default_encoder.encode_texts([]).shape == (0, 384)
    np.testing.assert_allclose(default_encoder.encode_texts("the digit 7")[0], t[1], atol=1e-6)


def test_minilm_plain_torch_matches_sentence_transformers_file():
    """The plain-torch all-MiniLM-L6-v2 reproduces the shared set's sentence-transformers embeddings."""
    d = coco_dir()
    from modalchorus_widget.encoders.minilm import load_minilm

    caps = [c["caption"] for c in json.loads((d / "captions.json").read_text())][:120]
    ref = np.load(d / "minilm_l6_v2_captions.npy")[:120]
    got = load_minilm().encode(caps, batch_size=32)
    assert np.abs(got - ref).max() < 1e-4


# ------------------------------------------------------------------------------------ open_clip
def test_openclip_missing_checkpoint_error_names_model_and_fix(tmp_path):
    missing = tmp_path / "nope" / "open_clip_pytorch_model.bin"
    enc = OpenCLIPEncoder("ViT-B-32", pretrained=str(missing))
    with pytest.raises(OfflineWeightsError) as err:
        enc.encode_texts(["a dog"])
    msg = str(err.value)
    assert "ViT-B-32" in msg and str(missing) in msg and "does not exist" in msg
    assert "pretrained='/path/to/open_clip_pytorch_model.bin'" in msg and "local-dir:" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_openclip_offline_tag_error_says_offline():
    enc = OpenCLIPEncoder("ViT-B-32", pretrained="openai", offline=True, cache_dir="/nonexistent-cache-dir")
    with pytest.raises(OfflineWeightsError) as err:
        enc.encode_images([np.zeros((32, 32, 3), np.uint8)])
    msg = str(err.value)
    assert "ViT-B-32" in msg and "'openai'" in msg and "offline" in msg
    assert "local checkpoint" in msg and "load_default()" in msg


def test_openclip_unknown_names():
    with pytest.raises(ValueError, match="no architecture"):
        OpenCLIPEncoder("ViT-Q-99", pretrained=None).encode_texts(["x"])
    with pytest.raises(ValueError, match="neither a known pretrained tag"):
        OpenCLIPEncoder("ViT-B-32", pretrained="no-such-tag").encode_texts(["x"])


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_clip):
    """A tiny open_clip CLIP with random weights saved as a local-dir folder (config + checkpoint)."""
    folder = tmp_path_factory.mktemp("tiny_clip")
    model = tiny_clip.save(folder, layers=1)
    return folder, model


def _reference(model, images, texts):
    import open_clip
    import torch

    from modalchorus_widget.encoders.open_clip import to_pil

    pre = open_clip.image_transform(32, is_train=False)
    tok = open_clip.tokenize(texts, context_length=16)
    with torch.no_grad():
        zi = model.eval().encode_image(torch.stack([pre(to_pil(im)) for im in images]), normalize=True)
        zt = model.encode_text(tok, normalize=True)
    return zi.numpy(), zt.numpy()


def test_openclip_local_dir_checkpoint_loads_those_weights(tiny_checkpoint, tmp_path):
    from PIL import Image

    folder, model = tiny_checkpoint
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(5)]
    path = tmp_path / "im.png"
    Image.fromarray(images[0]).save(path)
    texts = ["a dog", "a cat on a mat", "two pizzas"]
    enc = OpenCLIPEncoder(str(folder), pretrained=None)  # a folder path means local-dir:
    zi = enc.encode_images(images, batch_size=2, progress=False)
    zt = enc.encode_texts(texts, batch_size=2)
    assert zi.shape == (5, 32) and zt.shape == (3, 32) and enc.dim == 32
    assert zi.dtype == np.float32 and unit_rows(zi) and unit_rows(zt)
    ri, rt = _reference(model, images, texts)
    np.testing.assert_allclose(zi, ri, atol=1e-5)  # the saved weights were loaded, not a fresh init
    np.testing.assert_allclose(zt, rt, atol=1e-5)
    np.testing.assert_allclose(enc.encode_images([path, Image.open(path)]), ri[[0, 0]], atol=1e-5)


def test_openclip_checkpoint_file_with_registered_arch(tiny_checkpoint, tiny_clip, tmp_path):
    import open_clip

    folder, model = tiny_checkpoint
    cfg_file = tmp_path / "mc-tiny-test.json"
    cfg_file.write_text(json.dumps(tiny_clip.cfg(1)))
    open_clip.add_model_config(cfg_file)
    enc = OpenCLIPEncoder("mc-tiny-test", pretrained=str(folder / "open_clip_pytorch_model.bin"))
    _, rt = _reference(model, [np.zeros((32, 32, 3), np.uint8)], ["hello"])
    np.testing.assert_allclose(enc.encode_texts(["hello"]), rt, atol=1e-5)


def test_openclip_local_dir_without_weights(tmp_path, tiny_clip):
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": tiny_clip.cfg(1)}))
    with pytest.raises(OfflineWeightsError, match="no weights file"):
        OpenCLIPEncoder(f"local-dir:{tmp_path}").encode_texts(["x"])


# ------------------------------------------------------------------------------------ bench
@pytest.mark.slow
def test_bench_encode_writes_figures(tmp_path):
    from benchmarks.__main__ import main

    out = tmp_path / "encode.json"
    argv = ["encode", "--json", str(out), "--repeats", "1", "--skip-vit"]
    if coco_dir() is not None:
        argv += ["--data", str(coco_dir())]
    assert main(argv) == 0
    fig = json.loads(out.read_text())
    for key in (
        "default_zero_shot_acc",
        "encode_images_per_s",
        "encode_texts_per_s",
        "vitb32_images_per_s",
        "vitb32_texts_per_s",
        "coco500_i2t_top1",
    ):
        assert key in fig
    assert fig["default_zero_shot_acc"] > 0.5
    assert fig["encode_images_per_s"] > 0 and fig["encode_texts_per_s"] > 0
    if coco_dir() is not None:
        assert abs(fig["coco500_i2t_top1"] - 0.552) <= 0.01
