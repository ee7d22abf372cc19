"""Alignment (docs/methods.md 4) on real COCO-500 CLIP embeddings: constraints, rounds, history, failure guarantees."""

import numpy as np
import pytest

from modalchorus_widget.alignment import Aligner, AlignmentError, PointSet, SetSet, losses, synthesize
from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.encoders import FunctionEncoder
from modalchorus_widget.errors import EmbeddingError, NotFittedError, ParameterError, SessionError

N = 120  # pairs used: images rows 0..N-1, texts rows N..2N-1
# guard=None: these tests read the round's fit at full strength (tests/test_guard.py reads the guard)
FAST = dict(n_steps=40, validation=0.0, n_reference=128, n_candidates=128, batch_size=64, random_state=0, guard=None)


@pytest.fixture(scope="module")
def coco_set(coco_dir):
    import json

    x = np.load(coco_dir / "clip_vitb16_img_txt.npy")
    caps = [
        c["caption"] for c in sorted(json.loads((coco_dir / "captions.json").read_text()), key=lambda c: c["index"])
    ]
    return EmbeddingSet.from_pairs(x[0][:N], x[1][:N], captions=caps[:N]), x, caps


def LookupEncoder(captions, text_vectors):
    """Stands in for CLIP's text tower on COCO-500: returns the real CLIP vector of a known caption."""
    table = dict(zip(captions, text_vectors))
    return FunctionEncoder(texts=lambda texts: np.stack([table[t] for t in texts]), dim=text_vectors.shape[1])


def _state(al):
    return al.embeddings_, al.embeddings_.vectors.copy(), list(al.history_)


def _assert_unchanged(al, state):
    es, vec, hist = state
    assert al.embeddings_ is es
    assert np.array_equal(al.embeddings_.vectors, vec)
    assert al.history_ == hist


def _nearest_text(es, rows):
    t = es.indices("text")
    return t[np.argmax(es.vectors[rows] @ es.vectors[t].T, axis=1)]


def test_pointset_pull_from_index_set_makes_anchor_best_match(coco_set):
    es, _, _ = coco_set
    anchor = N + 7  # caption of pair 7
    # images whose nearest caption is not the anchor: the 8 images most similar to the anchor but mismatched
    imgs = es.indices("image")
    order = imgs[np.argsort(-(es.vectors[imgs] @ es.vectors[anchor]))]
    members = [i for i in order if _nearest_text(es, [i])[0] != anchor][:8]
    al = Aligner(**FAST).fit(es)
    rnd = al.step(PointSet(anchor, members))
    after = al.embeddings_
    assert (_nearest_text(after, members) == anchor).mean() >= 0.75
    figs = rnd.report["constraints"][0]
    assert figs["after"]["anchor_top1"] > figs["before"]["anchor_top1"]
    assert figs["after"]["anchor_cos"] > figs["before"]["anchor_cos"]
    # preservation: unselected points move much less than the selected ones
    assert rnd.report["moved_unselected_mean"] < rnd.report["moved_selected_mean"]
    assert rnd.seconds > 0 and isinstance(rnd.weights, bytes) and len(al.history_) == 1


def test_round_stops_once_the_constraint_holds_on_every_member(coco_set):
    es, _, _ = coco_set
    anchor = N + 7
    imgs = es.indices("image")
    order = imgs[np.argsort(-(es.vectors[imgs] @ es.vectors[anchor]))]
    members = [i for i in order if _nearest_text(es, [i])[0] != anchor][:8]
    long = {**FAST, "n_steps": 300}
    al = Aligner(**long).fit(es)
    rnd = al.step(PointSet(anchor, members))
    assert (_nearest_text(al.embeddings_, members) == anchor).all()  # pull: the anchor is every member's best match
    assert 0 < rnd.report["steps"] < 300 and rnd.report["stopped"] == "satisfied" and "note" not in rnd.report
    full = Aligner(**long, stop_when_satisfied=False).fit(es)
    rnd = full.step(PointSet(anchor, members))
    assert rnd.report["steps"] == 300 and rnd.report["stopped"] == "steps"
    # push: stops once every member sits `margin` below its start cosine
    push = Aligner(**long).fit(es)
    rnd = push.step(PointSet(anchor, members, direction="push"))
    assert 0 < rnd.report["steps"] < 300
    cos0, cos1 = (
        es.vectors[members] @ es.vectors[anchor],
        push.embeddings_.vectors[members] @ push.embeddings_.vectors[anchor],
    )
    assert (cos1 <= cos0 - push.margin + 1e-6).all()
    # a constraint that already holds: an identity round, nothing moves
    done = [i for i in imgs if _nearest_text(es, [i])[0] == anchor]
    al0 = Aligner(**FAST).fit(es)
    rnd = al0.step(PointSet(anchor, done))
    assert rnd.report["steps"] == 0 and np.array_equal(al0.embeddings_.vectors, es.vectors)
    assert rnd.report["stopped"] == "satisfied" and "already held" in rnd.report["note"]
    # set-set rounds have no such test and run their steps
    assert (
        Aligner(**FAST).fit(es).step(SetSet(np.arange(0, 20), np.arange(N, N + 20), paired=True)).report["steps"] == 40
    )


def test_text_anchor_by_encoder_and_by_item_text(coco_set):
    es, x, caps = coco_set
    members = np.arange(10, 16)
    # a caption outside the set, embedded by the encoder
    enc = LookupEncoder(caps, x[1])
    r1 = Aligner(encoder=enc, **FAST).fit(es).step(PointSet(caps[300], members)).report["constraints"][0]
    assert r1["after"]["anchor_cos"] > r1["before"]["anchor_cos"]
    # a caption inside the set, matched by its text without any encoder: same as anchoring on the row
    al_text, al_row = Aligner(**FAST).fit(es), Aligner(**FAST).fit(es)
    al_text.step(PointSet(caps[3], members))
    al_row.step(PointSet(N + 3, members))
    assert np.array_equal(al_text.embeddings_.vectors, al_row.embeddings_.vectors)


def test_push_increases_distance(coco_set):
    es, _, _ = coco_set
    anchor = N + 5
    imgs = es.indices("image")
    members = imgs[np.argsort(-(es.vectors[imgs] @ es.vectors[anchor]))][:6]
    al = Aligner(**FAST).fit(es)
    al.step(PointSet(anchor, members, direction="push"))
    cos0 = es.vectors[members] @ es.vectors[anchor]
    cos1 = al.embeddings_.vectors[members] @ al.embeddings_.vectors[anchor]
    assert np.all(cos1 < cos0)
    assert (cos0 - cos1).mean() > 0.05


def test_setset_pull_closes_gap_between_sets(coco_set):
    es, _, _ = coco_set
    a, b = np.arange(0, 30), np.arange(N, N + 30)
    al = Aligner(**FAST).fit(es)
    rnd = al.step(SetSet(a, b))
    c = rnd.report["constraints"][0]
    assert c["after"]["centroid_cos"] > c["before"]["centroid_cos"] + 0.05
    # the same, given as one lasso holding both modalities
    al2 = Aligner(**FAST).fit(es)
    c2 = al2.step(SetSet(np.concatenate([a, b]))).report["constraints"][0]
    assert c2["after"]["centroid_cos"] > c2["before"]["centroid_cos"] + 0.05


def test_undo_redo_bit_exact_and_deterministic(coco_set):
    es, _, _ = coco_set
    al = Aligner(**FAST).fit(es)
    v0 = es.vectors.copy()
    r1 = al.step(PointSet(N + 1, [2, 3, 4]))
    v1 = al.embeddings_.vectors.copy()
    al.step(SetSet([10, 11, 12, 13], [N + 20, N + 21, N + 22, N + 23], direction="push"))
    assert len(al.history_) == 2
    al.undo()
    assert np.array_equal(al.embeddings_.vectors, v1) and len(al.history_) == 1
    al.undo()
    assert np.array_equal(al.embeddings_.vectors, v0) and al.embeddings_ is es
    with pytest.raises(AlignmentError, match="nothing to undo"):
        al.undo()
    assert al.redo() is r1
    assert np.array_equal(al.embeddings_.vectors, v1)
    # a fresh aligner with the same seed reproduces the round bit for bit
    again = Aligner(**FAST).fit(es)
    again.step(PointSet(N + 1, [2, 3, 4]))
    assert np.array_equal(again.embeddings_.vectors, v1)
    # transform maps original vectors exactly like the rounds mapped the set's rows
    assert np.allclose(al.transform(es.vectors[:5], "image"), v1[:5], atol=1e-6)
    # a new step drops the redo stack
    al.step(PointSet(N + 2, [7, 8]))
    with pytest.raises(AlignmentError, match="nothing to redo"):
        al.redo()


def test_save_load_round_trip(coco_set, tmp_path):
    es, _, _ = coco_set
    al = Aligner(**FAST).fit(es)
    al.step(PointSet(N + 1, [2, 3, 4]))
    al.step(SetSet(np.arange(20, 30), np.arange(N + 20, N + 30), paired=True))
    al.step(PointSet(N + 9, [50, 51], direction="push"))
    al.undo()  # the undone round is saved as redo-able
    path = al.save(tmp_path / "aligner.zip")
    back = Aligner.load(path)
    assert len(back.history_) == 2
    assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)
    assert back.history_[0].report == al.history_[0].report
    assert back.history_[0].weights == al.history_[0].weights
    assert back.history_[1].constraints[0].paired
    params = lambda a: {k: v for k, v in a.get_params().items() if k != "embeddings"}  # noqa: E731
    assert params(back) == params(al)
    np.testing.assert_array_equal(back.transform(es.vectors[:4], "text"), al.transform(es.vectors[:4], "text"))
    back.redo()
    al.redo()
    assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)
    with pytest.raises(FileNotFoundError):
        Aligner.load(tmp_path / "missing.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(SessionError, match="not a readable Aligner file"):
        Aligner.load(tmp_path / "junk.zip")


def test_load_replays_several_undone_rounds_in_their_order(coco_set, tmp_path):
    es, _, _ = coco_set
    al = Aligner(**FAST).fit(es)
    al.step(PointSet(N + 1, [2, 3, 4]))
    al.step(PointSet(N + 9, [50, 51]))
    al.step(SetSet([10, 11, 12], [N + 20, N + 21, N + 22], direction="push"))
    al.undo()
    al.undo()  # the redo stack holds rounds 2 and 1 (round 1 is redone first)
    back = Aligner.load(al.save(tmp_path / "aligner.zip"))
    for _ in range(2):
        assert back.redo().index == al.redo().index
        assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)


@pytest.mark.parametrize(
    "make, match, error",
    [
        (lambda: PointSet(N + 1, []), "empty", AlignmentError),
        (lambda: PointSet(N + 1, np.zeros(2 * N, bool)), "empty", AlignmentError),
        (lambda: PointSet(10_000, [1, 2]), "unknown anchor row", AlignmentError),
        (lambda: PointSet("a caption nobody wrote", [1, 2]), "unknown anchor", AlignmentError),
        (
            lambda: PointSet(N + 1, [1, 5000]),
            "row indices must lie",
            EmbeddingError,
        ),  # rows out of range: as anywhere else
        (lambda: SetSet(np.arange(0, 10)), "all 'image'", AlignmentError),
        (lambda: SetSet([], [N + 1]), "empty", AlignmentError),
        (lambda: SetSet([1, 2, 3], [N + 1, N + 2], paired=True), "equal length", AlignmentError),
        (
            lambda: PointSet(N + 1, [1, 2]).augment(vectors=np.full((2, 512), np.nan, np.float32)),
            "NaN",
            EmbeddingError,
        ),  # bad vectors: the one validator
    ],
)
def test_bad_constraints_raise_and_change_nothing(coco_set, make, match, error):
    es, _, _ = coco_set
    al = Aligner(**FAST).fit(es)
    al.step(PointSet(N + 1, [2, 3]))
    state = _state(al)
    with pytest.raises(error, match=match):
        al.step(make())
    _assert_unchanged(al, state)


def test_constructor_errors_are_clear(coco_set):
    es, _, _ = coco_set
    with pytest.raises(TypeError, match="EmbeddingSet"):
        Aligner().fit(es.vectors)
    with pytest.raises(ParameterError, match="Aligner: learning_rate must be one of .auto. or a number > 0"):
        Aligner(learning_rate=-1).fit(es)
    with pytest.raises(AlignmentError, match="mode='deep'.*tunes an encoder.*mode='fast'"):
        Aligner(mode="deep").fit(es)  # deep mode needs the encoder and raw inputs (tests/test_deep_alignment.py)
    with pytest.raises(ParameterError, match="mode must be one of 'fast', 'deep', 'anchors'"):
        Aligner(mode="turbo").fit(es)
    with pytest.raises(AlignmentError, match="direction"):
        PointSet(1, [2], direction="sideways")
    with pytest.raises(AlignmentError, match="no set given"):
        SetSet(None)


def test_keyboard_interrupt_mid_round_leaves_state_bit_exact(coco_set, monkeypatch):
    es, _, _ = coco_set
    al = Aligner(**FAST).fit(es)
    al.step(PointSet(N + 1, [2, 3, 4]))
    state = _state(al)
    calls = {"n": 0}
    real = losses.preservation_kl

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] > 20:  # well inside the optimisation, after the adapters have changed
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(losses, "preservation_kl", interrupted)
    with pytest.raises(KeyboardInterrupt):
        al.step(PointSet(N + 4, [20, 21, 22]))
    _assert_unchanged(al, state)
    monkeypatch.setattr(losses, "preservation_kl", real)
    # and the aligner still works afterwards, giving the round it would have given
    al.step(PointSet(N + 4, [20, 21, 22]))
    ref = Aligner(**FAST).fit(es)
    ref.step(PointSet(N + 1, [2, 3, 4]))
    ref.step(PointSet(N + 4, [20, 21, 22]))
    assert np.array_equal(al.embeddings_.vectors, ref.embeddings_.vectors)


def test_few_shot_augmentation_with_synthetic_and_typed_items(coco_set):
    es, x, caps = coco_set
    anchor = N + 12
    # synthetic image-like embeddings: mixtures of two concepts (caption vectors), pulled to the anchor
    concepts = x[1][[12, 300]]
    synth = synthesize(concepts, [[0.8, 0.2], [0.6, 0.4], [0.7, 0.3]], noise=0.01, random_state=0)
    assert synth.shape == (3, 512) and np.allclose(np.linalg.norm(synth, axis=1), 1, atol=1e-5)
    c = PointSet(anchor, [30]).augment(vectors=synth, modality="image")
    assert "members" in c.extras and len(c.extras["members"].vectors) == 3
    al = Aligner(**FAST).fit(es)
    rnd = al.step(c)
    assert rnd.report["constraints"][0]["after"]["anchor_cos"] > rnd.report["constraints"][0]["before"]["anchor_cos"]
    # typed texts need an encoder: without one, a clear error and nothing changed
    state = _state(al)
    with pytest.raises(AlignmentError, match="need an encoder"):
        al.step(SetSet([40, 41], [N + 40]).augment(texts=["a cat on a mat"], side="b"))
    _assert_unchanged(al, state)
    enc = LookupEncoder(caps, x[1])
    al2 = Aligner(encoder=enc, **FAST).fit(es)
    al2.step(SetSet([40, 41], [N + 40]).augment(texts=[caps[400]], side="b"))
    assert len(al2.history_) == 1


@pytest.mark.parametrize("refit", [False, True])
def test_validation_picks_steps_and_records_curve(coco_set, refit):
    es, _, _ = coco_set
    al = Aligner(**{**FAST, "validation": 0.25, "n_steps": 30, "eval_every": 10, "patience": 0, "refit": refit}).fit(es)
    rnd = al.step(SetSet(np.arange(0, 40), np.arange(N, N + 40), paired=True))
    curve = rnd.report["validation_curve"]
    assert [i for i, _ in curve] == [0, 10, 20, 30]
    assert rnd.report["steps"] == min(curve, key=lambda t: t[1])[0]
    c = rnd.report["constraints"][0]
    if rnd.report["steps"] > 0:
        assert c["after"]["pair_r1"] >= c["before"]["pair_r1"]
    else:  # no gain on the held-out slice: the round is the identity, and says so
        assert np.array_equal(al.embeddings_.vectors, es.vectors)
        assert rnd.report["stopped"] == "validation" and "held-out slice" in rnd.report["note"]
    assert rnd.report["stopped"] == ("steps" if rnd.report["steps"] == 30 else "validation")


def test_aligner_is_a_scikit_learn_estimator(coco_set):
    """Parameters stored as given, data in fit, learned state in trailing-underscore attributes; clone works."""
    from sklearn.base import clone

    es, _, _ = coco_set
    al = Aligner(n_steps=7, learning_rate=1e-3)
    assert al.get_params()["n_steps"] == 7 and not hasattr(al, "embeddings_")
    with pytest.raises(NotFittedError, match=r"fit\(embeddings\)"):
        al.step(PointSet(N, [0, 1]))
    assert al.fit(es) is al and al.embeddings_ is es and al.history_ == []
    twin = clone(al)
    assert twin.get_params() == al.get_params() and not hasattr(twin, "embeddings_")
    with pytest.raises(ParameterError, match="n_steps"):
        Aligner(n_steps=-1).fit(es)
    with pytest.raises(TypeError):
        Aligner(steps=7)  # no deprecated names: this is the first release
