"""Deep-mode alignment (docs/methods.md 4): the same losses tune the encoder's last block on raw inputs.

Two real encoders, both offline: a tiny open_clip CLIP (random weights, built from a local config, two
blocks per tower so that "only the last block changes" means something) and the embedded default model
with its shipped weights (``load_default()``: 1,797 digit images + 10 prompts).
"""

import numpy as np
import pytest

from modalchorus_widget.alignment import Aligner, AlignmentError, PointSet, SetSet, losses
from modalchorus_widget.alignment import deep as deep_mod
from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.errors import EmbeddingError, ParameterError

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

N = 40  # pairs: image rows 0..N-1, text rows N..2N-1
DEEP = dict(
    mode="deep",
    n_steps=60,
    learning_rate=1e-3,
    validation=0.0,
    n_reference=64,
    n_candidates=64,
    batch_size=32,
    random_state=0,
    guard=None,  # the round's fit at full strength; the guard's strength (WiSE-FT) has its own tests below
)
LAST_BLOCKS = ("visual.transformer.resblocks.1.", "transformer.resblocks.1.")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ------------------------------------------------------------------------------------ tiny open_clip
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tiny_clip):
    """A tiny open_clip CLIP with random weights as a local-dir folder (config + checkpoint): no download."""
    folder = tmp_path_factory.mktemp("tiny_clip_deep")
    tiny_clip.save(folder, layers=2)
    return folder


def fresh_encoder(folder):
    """A new encoder with the pristine weights (deep mode tunes the encoder it is given, in place)."""
    from modalchorus_widget.encoders import OpenCLIPEncoder

    return OpenCLIPEncoder(str(folder), pretrained=None)


@pytest.fixture(scope="module")
def tiny(tiny_folder):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(N)]
    words = "dog cat red blue car tree house sky sea bird fish green small big old new".split()
    texts = [" ".join(rng.choice(words, 3)) for _ in range(N)]
    enc = fresh_encoder(tiny_folder)
    es = EmbeddingSet.from_pairs(enc.encode_images(images), enc.encode_texts(texts), captions=texts)
    pristine = {k: v.clone() for k, v in enc._model.state_dict().items()}
    return es, images, texts, pristine


def weights(enc):
    return {k: v.detach().clone() for k, v in enc._model.state_dict().items()}


def same_weights(a, b):
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def changed_keys(a, b):
    return sorted(k for k in a if not torch.equal(a[k], b[k]))


def snapshot(al, enc):
    return al.embeddings_, al.embeddings_.vectors.copy(), list(al.history_), list(al._redo), weights(enc)


def assert_unchanged(al, enc, snap):
    es, vec, hist, redo, w = snap
    assert al.embeddings_ is es
    assert np.array_equal(al.embeddings_.vectors, vec)
    assert al.history_ == hist and al._redo == redo
    assert same_weights(weights(enc), w)


def mean_cos(vecs, members, anchor):
    return float((vecs[members] @ vecs[anchor]).mean())


def test_pull_moves_reencoded_members_to_anchor_and_tunes_only_last_blocks(tiny, tiny_folder):
    es, images, texts, pristine = tiny
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **DEEP).fit(es, images=images, texts=texts)
    assert al.towers_ == ("image", "text")
    members, anchor = np.arange(0, 8), N + 20
    rnd = al.step(PointSet(anchor, members))
    after = al.embeddings_.vectors
    # re-encoded embeddings: members closer to the anchor, and the anchor is now their best caption
    assert mean_cos(after, members, anchor) > mean_cos(es.vectors, members, anchor) + 0.05
    c = rnd.report["constraints"][0]
    assert c["after"]["anchor_top1"] > c["before"]["anchor_top1"]
    assert rnd.report["constraint_loss_after"] < 0.5 * rnd.report["constraint_loss_before"]
    assert rnd.report["moved_unselected_mean"] < rnd.report["moved_selected_mean"]
    assert rnd.report["mode"] == "deep" and rnd.mode == "deep"
    # the aligner's embeddings are what the tuned encoder now gives for every row
    np.testing.assert_allclose(after[:N], enc.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(after[N:], enc.encode_texts(texts), atol=1e-5)
    # vectors of the original space have no map once the encoder changed: a clear error, not a silent no-op
    with pytest.raises(AlignmentError, match="re-encode the raw items with aligner.encoder"):
        al.transform(es.vectors[:2], "image")
    np.testing.assert_allclose(al.transform_encoded(enc.encode_images(images[:2]), "image"), after[:2], atol=1e-5)
    # only the last block of each tower changed; every other tensor is bit-identical
    changed = changed_keys(pristine, weights(enc))
    tuned = sorted(rnd.tensors)
    assert changed == tuned and all(k.startswith(LAST_BLOCKS) for k in tuned)
    assert {k.split("resblocks.1.")[0] for k in tuned} == {"visual.transformer.", "transformer."}
    assert rnd.report["tuned_parameters"] == sum(t.numel() for t in rnd.tensors.values())
    # the history holds the tuned tensors exactly as they are in the model
    w = weights(enc)
    assert all(torch.equal(rnd.tensors[k], w[k]) for k in tuned)
    # gradients and requires_grad flags are as they were
    assert all(p.grad is None for p in enc._model.parameters())


def test_push_moves_members_away(tiny, tiny_folder):
    es, images, texts, _ = tiny
    anchor = N + 5
    members = np.argsort(-(es.vectors[:N] @ es.vectors[anchor]))[:6]
    al = Aligner(encoder=fresh_encoder(tiny_folder), **DEEP).fit(es, images=images, texts=texts)
    al.step(PointSet(anchor, members, direction="push"))
    cos0 = es.vectors[members] @ es.vectors[anchor]
    cos1 = al.embeddings_.vectors[members] @ al.embeddings_.vectors[anchor]
    assert np.all(cos1 < cos0)
    assert (cos0 - cos1).mean() > 0.05


def test_image_tower_only(tiny, tiny_folder):
    es, images, texts, pristine = tiny
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, towers="image", **DEEP).fit(es, images=images)  # no texts needed
    al.step(SetSet(np.arange(0, 10), np.arange(N, N + 10), paired=True))
    assert all(k.startswith(LAST_BLOCKS[0]) for k in changed_keys(pristine, weights(enc)))
    assert np.array_equal(al.embeddings_.vectors[N:], es.vectors[N:])  # text rows untouched
    assert not np.array_equal(al.embeddings_.vectors[:N], es.vectors[:N])


def test_undo_redo_restore_weights_and_embeddings_bit_exact(tiny, tiny_folder):
    es, images, texts, pristine = tiny
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **DEEP).fit(es, images=images, texts=texts)
    r1 = al.step(PointSet(N + 20, np.arange(0, 8)))
    v1, w1 = al.embeddings_.vectors.copy(), weights(enc)
    al.step(SetSet(np.arange(10, 16), np.arange(N + 25, N + 31), direction="push"))
    w2, v2 = weights(enc), al.embeddings_.vectors.copy()
    assert not same_weights(w1, w2)
    al.undo()
    assert same_weights(weights(enc), w1) and np.array_equal(al.embeddings_.vectors, v1)
    al.undo()
    assert same_weights(weights(enc), pristine)
    assert al.embeddings_ is es and np.array_equal(al.embeddings_.vectors, es.vectors)
    with pytest.raises(AlignmentError, match="nothing to undo"):
        al.undo()
    assert al.redo() is r1
    assert same_weights(weights(enc), w1) and np.array_equal(al.embeddings_.vectors, v1)
    al.redo()
    assert same_weights(weights(enc), w2) and np.array_equal(al.embeddings_.vectors, v2)
    # the same round on a fresh encoder gives the same weights and embeddings
    enc2 = fresh_encoder(tiny_folder)
    again = Aligner(encoder=enc2, **DEEP).fit(es, images=images, texts=texts)
    again.step(PointSet(N + 20, np.arange(0, 8)))
    np.testing.assert_allclose(again.embeddings_.vectors, v1, atol=1e-6)


def test_save_load_round_trip(tiny, tiny_folder, tmp_path):
    es, images, texts, pristine = tiny
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **DEEP).fit(es, images=images, texts=texts)
    al.step(PointSet(N + 20, np.arange(0, 8)))
    v1 = al.embeddings_.vectors.copy()
    al.step(SetSet(np.arange(20, 30), np.arange(N + 20, N + 30), paired=True))
    al.step(PointSet(N + 3, [30, 31, 32], direction="push"))
    al.undo()
    al.undo()  # two rounds saved as redo-able, to be redone in their order
    path = al.save(tmp_path / "deep.zip")
    # a fresh encoder (pristine weights) ends up with exactly the tuned tensors
    enc2 = fresh_encoder(tiny_folder)
    back = Aligner.load(path, encoder=enc2, images=images, texts=texts)
    assert back.mode == "deep" and back._file_params() == al._file_params()
    assert len(back.history_) == 1 and len(back._redo) == 2
    assert back.history_[0].weights == al.history_[0].weights and back.history_[0].report == al.history_[0].report
    assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)
    assert same_weights(weights(enc2), weights(enc))
    for _ in range(2):
        assert back.redo().index == al.redo().index
        assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)
        assert same_weights(weights(enc2), weights(enc))
    for _ in range(3):
        back.undo()
    assert same_weights(weights(enc2), pristine) and np.array_equal(back.embeddings_.vectors, es.vectors)
    # loading with the encoder the saving aligner tuned works too (it starts from the saved originals)
    back2 = Aligner.load(path, encoder=enc, images=images, texts=texts)  # enc holds round 3's tensors
    assert np.array_equal(back2.embeddings_.vectors, v1)
    assert same_weights(weights(enc), {**pristine, **back2.history_[-1].tensors})
    # errors: no encoder, another model; the encoder is left as it was
    with pytest.raises(AlignmentError, match="deep-mode aligner"):
        Aligner.load(path)
    from modalchorus_widget.encoders import DefaultEncoder

    with pytest.raises(AlignmentError):
        Aligner.load(path, encoder=DefaultEncoder(), images=images, texts=texts)
    w = weights(enc2)
    with pytest.raises(AlignmentError, match="do not reproduce"):
        Aligner.load(path, encoder=enc2, images=images[::-1], texts=texts)
    assert same_weights(weights(enc2), w)


def test_construction_errors_are_clear(tiny, tiny_folder):
    es, images, texts, _ = tiny
    enc = fresh_encoder(tiny_folder)

    from modalchorus_widget.encoders import FunctionEncoder

    Lookup = lambda: FunctionEncoder(texts=lambda t: np.ones((len(t), 32), np.float32), dim=32)  # noqa: E731

    with pytest.raises(AlignmentError, match="tunes an encoder"):
        Aligner(mode="deep").fit(es)
    with pytest.raises(AlignmentError, match="can only tune an open_clip model"):
        Aligner(mode="deep", encoder=Lookup()).fit(es, images=images, texts=texts)
    with pytest.raises(AlignmentError, match="none were given for the 40 image rows"):
        Aligner(mode="deep", encoder=enc).fit(es, texts=texts)  # the set's items hold captions but no images
    with pytest.raises(AlignmentError, match="images has 39 items, but the set has 40 image rows"):
        Aligner(mode="deep", encoder=enc).fit(es, images=images[:-1], texts=texts)
    with pytest.raises(AlignmentError, match="texts has 41 items"):
        Aligner(mode="deep", encoder=enc).fit(es, images=images, texts=texts + ["x"])
    with pytest.raises(AlignmentError, match="raw image inputs do not reproduce the embeddings"):
        Aligner(mode="deep", encoder=enc).fit(es, images=images[1:] + images[:1], texts=texts)
    with pytest.raises(ParameterError, match="mode must be one of 'fast', 'deep', 'anchors'"):
        Aligner(mode="turbo").fit(es)
    with pytest.raises(AlignmentError, match="for mode='deep'"):
        Aligner().fit(es, images=images)
    with pytest.raises(AlignmentError, match="towers"):
        Aligner(mode="deep", encoder=enc, towers="audio").fit(es, images=images)
    # texts default to the set's items (the captions); one raw input per row of the set is accepted too
    per_row = list(images) + [None] * N
    al = Aligner(mode="deep", encoder=enc).fit(es, images=per_row)
    assert al.towers_ == ("image", "text")
    assert al.transform(es.vectors[:3], "image").shape == (3, 32)  # no round yet: the identity map
    assert al.get_params()["towers"] is None  # the parameter stays as given; the towers chosen are towers_


def test_interrupted_or_failed_round_leaves_state_intact(tiny, tiny_folder, monkeypatch):
    es, images, texts, _ = tiny
    # run every step: the interrupt must land inside the optimisation, not after the constraints already hold
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **DEEP, stop_when_satisfied=False).fit(es, images=images, texts=texts)
    al.step(PointSet(N + 1, [2, 3, 4]))
    snap = snapshot(al, enc)
    calls = {"n": 0}
    real_kl = losses.preservation_kl

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] > 20:  # inside the optimisation, after the weights have moved
            raise KeyboardInterrupt
        return real_kl(*a, **k)

    monkeypatch.setattr(losses, "preservation_kl", interrupted)
    with pytest.raises(KeyboardInterrupt):
        al.step(PointSet(N + 4, [20, 21, 22]))
    assert calls["n"] > 20
    assert_unchanged(al, enc, snap)
    monkeypatch.setattr(losses, "preservation_kl", real_kl)
    # NaN loss
    monkeypatch.setattr(losses, "pointset_pull", lambda *a, **k: torch.tensor(float("nan")))
    with pytest.raises(FloatingPointError):
        al.step(PointSet(N + 4, [20, 21, 22]))
    assert_unchanged(al, enc, snap)
    monkeypatch.undo()
    # interrupted while re-encoding every row with the tuned weights
    real_encode = enc.encode_images

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(enc, "encode_images", stop)
    with pytest.raises(KeyboardInterrupt):
        al.step(PointSet(N + 4, [20, 21, 22]))
    assert_unchanged(al, enc, snap)
    monkeypatch.setattr(enc, "encode_images", real_encode)
    # a bad constraint: clear error, nothing changed
    with pytest.raises(EmbeddingError, match="row indices must lie"):
        al.step(PointSet(N + 1, [1, 5000]))
    assert_unchanged(al, enc, snap)
    # and the aligner still works, giving the round an uninterrupted aligner gives
    al.step(PointSet(N + 4, [20, 21, 22]))
    ref = Aligner(encoder=fresh_encoder(tiny_folder), **DEEP, stop_when_satisfied=False).fit(
        es, images=images, texts=texts
    )
    ref.step(PointSet(N + 1, [2, 3, 4]))
    ref.step(PointSet(N + 4, [20, 21, 22]))
    np.testing.assert_allclose(al.embeddings_.vectors, ref.embeddings_.vectors, atol=1e-6)


def test_last_block_shortcut_matches_full_forward(tiny, tiny_folder, monkeypatch):
    """Steps run only the last block on cached activations; the result is the full model's."""
    es, images, texts, _ = tiny
    c = PointSet(N + 20, np.arange(0, 8))
    runs = {}
    for shortcut in (True, False):
        monkeypatch.setattr(deep_mod._OpenCLIPTower, "use_shortcut", shortcut)
        al = Aligner(encoder=fresh_encoder(tiny_folder), **{**DEEP, "n_steps": 10}).fit(es, images=images, texts=texts)
        al.step(c)
        assert all(t._shortcut_ok is shortcut for t in al.tuner_.towers.values())
        runs[shortcut] = al.embeddings_.vectors
    np.testing.assert_allclose(runs[True], runs[False], atol=1e-4)


# ------------------------------------------------------------------------------------ embedded default
@pytest.fixture(scope="module")
def digits():
    from modalchorus_widget.worlds.defaults import load_default

    return load_default()


def default_encoder():
    from modalchorus_widget.encoders import DefaultEncoder

    return DefaultEncoder()  # not the shared instance of load_default(): deep mode tunes it in place


def tower_weights(enc):
    return {k: v.detach().clone() for k, v in enc.load_tower().state_dict().items()}


def test_default_model_pull_and_push_tune_only_the_last_layer(digits):
    es, y = digits.embeddings, digits.image_labels
    train = digits.train
    threes = train[y[train] == 3][:25]
    eight = int(digits.prompt_index[8])
    enc = default_encoder()
    w0 = tower_weights(enc)
    # the defaults, as a user gets them, at full strength (the guard picks alpha 0 here: see the WiSE-FT test)
    al = Aligner(encoder=enc, mode="deep", guard=None).fit(es, images=digits.images)
    assert al.towers_ == ("image",)
    rnd = al.step(PointSet(eight, threes))
    after = al.embeddings_.vectors
    assert mean_cos(after, threes, eight) > mean_cos(es.vectors, threes, eight) + 0.1
    c = rnd.report["constraints"][0]
    assert c["after"]["anchor_top1"] >= 0.8 > c["before"]["anchor_top1"]
    assert rnd.report["constraint_loss_after"] < 0.5 * rnd.report["constraint_loss_before"]
    assert rnd.report["moved_unselected_mean"] < rnd.report["moved_selected_mean"]
    assert changed_keys(w0, tower_weights(enc)) == ["11.bias", "11.weight"]  # the last Linear only
    assert np.array_equal(after[len(y) :], es.vectors[len(y) :])  # the locked text tower's rows stay put
    np.testing.assert_allclose(after[: len(y)], enc.encode_images(digits.images), atol=1e-5)
    al.undo()
    assert same_weights(tower_weights(enc), w0) and al.embeddings_ is es
    # push: images of 4 away from the prompt of 4
    fours = train[y[train] == 4][:25]
    four = int(digits.prompt_index[4])
    al.step(PointSet(four, fours, direction="push"))
    cos0 = es.vectors[fours] @ es.vectors[four]
    cos1 = al.embeddings_.vectors[fours] @ al.embeddings_.vectors[four]
    assert (cos0 - cos1).mean() > 0.05 and (cos1 < cos0).mean() >= 0.9
    # constraints only on rows of the locked tower: a clear error, nothing changed
    snap = (al.embeddings_, list(al.history_), tower_weights(enc))
    with pytest.raises(AlignmentError, match="tunes the \\['image'\\] tower"):
        al.step(SetSet([int(digits.prompt_index[0])], [int(digits.prompt_index[1])], direction="push"))
    assert al.embeddings_ is snap[0] and al.history_ == snap[1] and same_weights(tower_weights(enc), snap[2])
    with pytest.raises(AlignmentError, match="locked MiniLM"):
        Aligner(encoder=enc, mode="deep", towers=("image", "text")).fit(es, images=digits.images)


def test_widget_round_and_session_round_trip(tiny, tiny_folder, tmp_path):
    from modalchorus_widget.widget.chorus import Chorus, load_session, save_session

    es, images, texts, pristine = tiny
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **DEEP).fit(es, images=images, texts=texts)
    w = Chorus(
        es,
        positions=np.random.default_rng(0).normal(size=(es.n, 2)).astype(np.float32),
        aligner=al,
        encoder=enc,
        color_by="modality",
    )
    w.align(PointSet(N + 20, np.arange(0, 8)), animate=False)
    assert len(al.history_) == 1
    path = save_session(w, tmp_path / "deep.chorus")
    enc2 = fresh_encoder(tiny_folder)
    back = load_session(path, encoder=enc2, images=images, texts=texts)
    assert back.aligner.mode == "deep" and back.aligner.encoder is enc2
    assert np.array_equal(back.aligner.embeddings_.vectors, al.embeddings_.vectors)
    assert same_weights(weights(enc2), weights(enc))
    back.aligner.undo()
    assert same_weights(weights(enc2), pristine)
    with pytest.raises(AlignmentError, match="deep-mode aligner"):
        load_session(path)


def test_shapes_model_deep_round_fixes_the_biased_confusion_and_undoes_bit_exact():
    """The shapes world's model is a LiT encoder too: deep mode tunes its image tower's last Linear."""
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.defaults import load_default
    from modalchorus_widget.worlds.shapes_encoder import ShapesEncoder

    data = load_default("shapes")
    case = C.zero_shot_case(data)
    anchor = int(data.prompt_index[case["target"]])
    enc = ShapesEncoder()  # a fresh instance: deep mode tunes it in place
    w0 = tower_weights(enc)
    al = Aligner(encoder=enc, mode="deep", guard=None).fit(data.embeddings, images=data.images)  # full strength
    assert al.towers_ == ("image",)
    rnd = al.step(PointSet(anchor, case["wrong"]))
    c = rnd.report["constraints"][0]
    assert c["before"]["anchor_top1"] < 0.5 and c["after"]["anchor_top1"] >= 0.8
    last = len(enc.load_tower()) - 1
    assert changed_keys(w0, tower_weights(enc)) == [f"{last}.bias", f"{last}.weight"]
    n_img = len(data.image_index)
    np.testing.assert_allclose(al.embeddings_.vectors[:n_img], enc.encode_images(data.images), atol=1e-5)
    al.undo()
    assert same_weights(tower_weights(enc), w0) and al.embeddings_ is data.embeddings


# ------------------------------------------------------------------------------------ strength (WiSE-FT)
def mixed(before, tuned, alpha):
    """theta(alpha) of the tuned tensors, every other tensor as before (alignment/deep.py mix_state)."""
    return {**before, **deep_mod.mix_state({k: before[k] for k in tuned}, tuned, alpha)}


def test_strength_is_wise_ft_of_the_tuned_tensors_kept_by_undo_redo_save_load_and_patch(tiny, tiny_folder, tmp_path):
    from modalchorus_widget import Patch

    es, images, texts, pristine = tiny
    c = PointSet(N + 20, np.arange(0, 8))
    full = Aligner(encoder=fresh_encoder(tiny_folder), **DEEP).fit(es, images=images, texts=texts)
    full.step(c)  # today's round: no guard, full strength
    w_full = weights(full.encoder)
    enc = fresh_encoder(tiny_folder)
    al = Aligner(encoder=enc, **{**DEEP, "guard": "auto"}).fit(es, images=images, texts=texts)
    rnd = al.step(c)
    tuned = rnd.tensors  # the full round's tensors; the encoder holds theta(alpha)
    assert all(torch.equal(tuned[k], w_full[k]) for k in tuned)
    g = rnd.report["guard"]
    i = g["curve"]["alpha"].index(rnd.alpha)
    assert g["curve"]["worst_regression"][i] <= g["tolerance"] and rnd.report["alpha"] == rnd.alpha
    assert same_weights(weights(enc), mixed(pristine, tuned, rnd.alpha))
    # alpha 1 is today's round, alpha 0 gives back the encoder tensors and the vectors, bit for bit
    al.set_strength(1.0)
    assert same_weights(weights(enc), w_full) and np.array_equal(al.embeddings_.vectors, full.embeddings_.vectors)
    al.set_strength(0.0)
    assert same_weights(weights(enc), pristine) and np.array_equal(al.embeddings_.vectors, es.vectors)
    # in between: the tensors interpolated, every row of the tuned towers re-encoded with them
    preview = al.preview_strength(0.5)
    assert same_weights(weights(enc), pristine)  # a preview commits nothing
    assert al.set_strength(0.5).alpha == 0.5 and np.array_equal(al.embeddings_.vectors, preview)
    w5, v5 = weights(enc), al.embeddings_.vectors.copy()
    assert same_weights(w5, mixed(pristine, tuned, 0.5)) and not same_weights(w5, pristine)
    np.testing.assert_allclose(v5[:N], enc.encode_images(images), atol=1e-5)
    # undo / redo / save / load keep alpha
    al.undo()
    assert same_weights(weights(enc), pristine) and np.array_equal(al.embeddings_.vectors, es.vectors)
    al.redo()
    assert same_weights(weights(enc), w5) and np.array_equal(al.embeddings_.vectors, v5)
    enc2 = fresh_encoder(tiny_folder)
    back = Aligner.load(al.save(tmp_path / "deep.zip"), encoder=enc2, images=images, texts=texts)
    assert back.history_[-1].alpha == 0.5 and back.history_[-1].report["alpha"] == 0.5
    assert same_weights(weights(enc2), w5) and np.array_equal(back.embeddings_.vectors, v5)
    # the patch holds the encoder tensors at alpha
    sd = Patch.load(al.export_patch(tmp_path / "deep.mcpatch")).encoder_state_dict()
    assert sorted(sd) == sorted(tuned) and all(np.array_equal(sd[k], w5[k].numpy()) for k in sd)


def test_guard_picks_the_largest_measured_strength_within_the_tolerance():
    """The shapes zero-shot case (the biased confusion): the full deep round breaks other classes, so the guard
    bisects the tensors' strength; the alpha it picks regresses no class beyond the tolerance, measured here
    independently of the guard's own bookkeeping."""
    from modalchorus_widget.worlds import shapes_cases as C
    from modalchorus_widget.worlds.defaults import load_default
    from modalchorus_widget.worlds.shapes_encoder import ShapesEncoder

    data = load_default("shapes")
    es = data.embeddings
    case = C.zero_shot_case(data)
    tol = 0.1
    al = Aligner(encoder=ShapesEncoder(), mode="deep", guard=dict(tolerance=tol)).fit(es, images=data.images)
    rnd = al.step(PointSet(int(data.prompt_index[case["target"]]), case["wrong"]))
    g = rnd.report["guard"]
    assert 0.0 < rnd.alpha < 1.0 and g["on"] == "labels" and g["reencodes"] <= 3
    curve = dict(zip(g["curve"]["alpha"], g["curve"]["worst_regression"]))
    assert curve[1.0] > tol and curve[rnd.alpha] <= tol and all(w > tol for a, w in curve.items() if a > rnd.alpha)
    text = np.flatnonzero(es.modality == "text")
    imgs = np.setdiff1d(np.flatnonzero(es.modality == "image"), case["wrong"])
    labels = np.asarray(es.labels, dtype=object)

    def acc(v):
        pred = labels[text[np.argmax(v[imgs] @ v[text].T, axis=1)]]
        return {c: float(np.mean(pred[labels[imgs] == c] == c)) for c in set(labels[imgs])}

    a0, a1 = acc(es.vectors), acc(al.embeddings_.vectors)
    assert max(a0[c] - a1[c] for c in a0) <= tol + 1e-9
    assert rnd.report["constraints"][0]["after"]["anchor_top1"] > rnd.report["constraints"][0]["before"]["anchor_top1"]
