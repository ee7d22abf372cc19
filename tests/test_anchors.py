"""Anchor-mode alignment (Aligner(mode="anchors"), alignment/anchors.py) on the embedded shapes world: only the
point-set anchors move, only decisions that involve an anchor change, and history / save / load stay bit-exact."""

import numpy as np
import pytest

from modalchorus_widget import Aligner, PointSet, SetSet, weigh_by_size
from modalchorus_widget.errors import AlignmentError
from modalchorus_widget.evaluation import zero_shot_predict
from modalchorus_widget.worlds import shapes_cases as C

# guard=None: the round's fit at full strength (tests/test_guard.py reads the guard)
QUICK = dict(
    mode="anchors", learning_rate=1e-3, n_steps=60, validation=0.0, preserve_kl=20.0, random_state=0, guard=None
)


@pytest.fixture(scope="module")
def shapes():
    from modalchorus_widget import load_default

    d = load_default("shapes")
    return d, C.zero_shot_case(d)


@pytest.fixture(scope="module")
def aligned(shapes):
    d, case = shapes
    al = Aligner(encoder=d.encoder, **C.ZERO_SHOT_SETTINGS).fit(d.embeddings)  # the case's round, as shipped
    rnd = al.step(*C.zero_shot_constraints(d, case))
    return al, rnd


def test_only_the_anchor_rows_move(shapes, aligned):
    d, case = shapes
    al, rnd = aligned
    moved = np.flatnonzero(np.any(al.embeddings_.vectors != d.embeddings.vectors, axis=1))
    anchors = d.prompt_index[[case["target"], case["confused"]]]
    assert set(moved) == set(anchors)
    assert np.allclose(np.linalg.norm(al.embeddings_.vectors[anchors], axis=1), 1, atol=1e-5)
    # only the anchors moved: other vectors pass through unchanged (normalised), and a tuned anchor's original
    # vector maps to its tuned one (the map is what the round did, nothing silently dropped)
    v = d.embeddings.vectors[:5] * 3
    assert np.allclose(al.transform(v, "image"), d.embeddings.vectors[:5], atol=1e-6)
    np.testing.assert_array_equal(al.transform(d.embeddings.vectors[anchors], "text"), al.embeddings_.vectors[anchors])
    assert rnd.mode == "anchors" and set(rnd.tensors) == {"rows", "vectors"}
    assert rnd.report["references_in_scope"] > 0
    with pytest.raises(AlignmentError, match="anchors-mode round has no adapters"):
        _ = rnd.adapters


def test_the_fix_changes_only_decisions_that_involve_an_anchor(shapes, aligned):
    d, case = shapes
    al, _ = aligned
    a, b = case["target"], case["confused"]
    before, after = case["predictions"], d.predict(al.embeddings_)
    changed = before != after
    assert changed.any()
    # an image can only move to or from one of the two tuned prompts
    assert np.all(np.isin(before[changed], [a, b]) | np.isin(after[changed], [a, b]))
    # the lassoed red squares now read as red squares far more often; the red circles stay red circles
    y, cl, keep = d.image_labels, case["cluster"], case["keep"]
    assert np.mean(after[cl] == a) >= np.mean(before[cl] == a) + 0.15
    assert np.mean(after[keep] == b) >= np.mean(before[keep] == b) - 0.02
    te = np.asarray(d.test)
    fig = C.zero_shot_figures(d, before, after)
    assert fig["after"][a] > fig["before"][a]
    assert np.mean(after[te] == y[te]) >= np.mean(before[te] == y[te])


def test_references_the_round_is_about_leave_the_kl(shapes):
    from modalchorus_widget.alignment.anchors import AnchorProblem, check_constraints
    from modalchorus_widget.alignment.fit import FitParams

    d, case = shapes
    es = d.embeddings
    cons = C.zero_shot_constraints(d, case)
    al = Aligner(**QUICK).fit(es)
    resolved = [c.resolve(al) for c in cons]
    anchors = check_constraints(resolved)
    selected = np.unique(np.concatenate([r.rows() for r in resolved]))
    ref = np.setdiff1d(np.arange(es.n), selected)
    p = AnchorProblem(es.vectors, es.modality, resolved, ref, FitParams(), np.random.default_rng(0), anchors)
    img = d.image_index
    pred = np.full(es.n, -1)
    pred[img] = case["predictions"]
    in_scope = ref[np.isin(pred[ref], [case["target"], case["confused"]])]
    assert p.in_scope == len(in_scope) > 0
    assert not np.isin(in_scope, p.ref).any() and len(p.ref) == len(ref) - len(in_scope)


def test_undo_redo_save_load_are_bit_exact(shapes, tmp_path):
    d, case = shapes
    al = Aligner(encoder=d.encoder, **QUICK).fit(d.embeddings)
    cons = C.zero_shot_constraints(d, case)
    al.step(*cons)
    v1 = al.embeddings_.vectors.copy()
    al.step(PointSet(int(d.prompt_index[case["target"]]), case["wrong"]))
    v2 = al.embeddings_.vectors.copy()
    al.undo()
    assert np.array_equal(al.embeddings_.vectors, v1)
    al.redo()
    assert np.array_equal(al.embeddings_.vectors, v2)
    al.undo()
    path = al.save(tmp_path / "anchors.zip")
    back = Aligner.load(path, encoder=d.encoder)
    assert back.mode == "anchors" and len(back.history_) == 1 and len(back.undone_) == 1
    assert np.array_equal(back.embeddings_.vectors, v1)
    back.redo()
    assert np.array_equal(back.embeddings_.vectors, v2)


def test_constraints_without_an_anchor_row_are_refused(shapes):
    d, case = shapes
    al = Aligner(encoder=d.encoder, **QUICK).fit(d.embeddings)
    start = al.embeddings_
    with pytest.raises(AlignmentError, match="set-set constraint.*mode='fast'"):
        al.step(SetSet(case["cluster"], case["keep"]))
    with pytest.raises(AlignmentError, match="anchor is not a row"):
        al.step(PointSet("a square that is red", case["cluster"]))
    assert al.embeddings_ is start and al.history_ == []
    with pytest.raises(AlignmentError, match="images=, texts= and towers= are for mode='deep'"):
        Aligner(mode="anchors", towers=("image",)).fit(d.embeddings)


def test_a_damaged_anchor_round_is_refused(shapes):
    from modalchorus_widget.alignment.anchors import anchors_to_bytes, apply_anchor_round

    d, _ = shapes
    v = d.embeddings.vectors
    with pytest.raises(AlignmentError, match="do not fit"):
        apply_anchor_round(v, anchors_to_bytes(np.array([len(v)]), v[:1].copy()))
    with pytest.raises(AlignmentError, match="not finite"):
        apply_anchor_round(v, anchors_to_bytes(np.array([0]), np.full((1, v.shape[1]), np.nan, np.float32)))
    with pytest.raises(AlignmentError, match="not an anchor round"):
        apply_anchor_round(v, b"\x00" * 16)


def test_weigh_by_size_makes_every_lassoed_point_count_the_same(shapes):
    d, case = shapes
    a, b = (int(d.prompt_index[c]) for c in (case["target"], case["confused"]))
    mask = np.zeros(d.embeddings.n, bool)
    mask[case["keep"]] = True
    sq, ci = weigh_by_size(PointSet(a, case["cluster"]), PointSet(b, mask, weight=2.0))
    n_sq, n_ci = len(case["cluster"]), len(case["keep"])
    assert (sq.n_points(), ci.n_points()) == (n_sq, n_ci)
    assert np.isclose(sq.weight, 2 * n_sq / (n_sq + n_ci)) and np.isclose(ci.weight, 2.0 * 2 * n_ci / (n_sq + n_ci))
    extra = PointSet(a, [1, 1, 2]).augment(vectors=np.ones((3, d.embeddings.dim)))  # repeated rows count once
    assert extra.n_points() == 5 and SetSet([1, 2], [3]).n_points() == 3
    with pytest.raises(AlignmentError, match="constraint 1 is empty"):
        weigh_by_size(PointSet(a, [1]), PointSet(b, []))
    with pytest.raises(AlignmentError, match="unpack a list with"):
        weigh_by_size([PointSet(a, [1]), PointSet(b, [2])])
    # the case's round: sizes, then the confused class's lasso ZERO_SHOT_KEEP_WEIGHT times
    sq, ci = C.zero_shot_constraints(d, case)
    assert np.isclose(ci.weight / sq.weight, C.ZERO_SHOT_KEEP_WEIGHT * n_ci / n_sq)
    # on the shapes world's lassos (44 red squares, 63 red circles) the larger lasso's images keep their class
    # better than when each lasso weighs the same
    y, keep = d.image_labels, case["keep"]
    kept = []
    for cons in ([PointSet(a, case["cluster"]), PointSet(b, keep)], C.zero_shot_constraints(d, case, keep_weight=1.0)):
        al = Aligner(encoder=d.encoder, **QUICK).fit(d.embeddings)
        al.step(*cons)
        kept.append(np.mean(d.predict(al.embeddings_)[keep] == y[keep]))
    assert kept[1] > kept[0]


def test_shipped_round_on_fresh_scenes(shapes, aligned):
    """The case's round as shipped, read on fresh scenes of the training distribution (not the held-out split, and
    not the seeds its settings were chosen on): red squares gain, and the other red classes, the only ones whose
    images sit near the two tuned prompts, keep their readings (at most 1 of 200 net)."""
    from modalchorus_widget.worlds import shapes as S

    d, case = shapes
    al, _ = aligned
    names = d.class_names
    for name in ("red square", "red circle", "red triangle", "red cross"):
        c = names.index(name)
        img = d.encoder.encode_images(S.render_all(S.sample_scenes(200, "single", "train", 123 + c, combos=[c])))
        before = zero_shot_predict(img, d.embeddings.vectors[d.prompt_index])
        after = zero_shot_predict(img, al.embeddings_.vectors[d.prompt_index])
        gain = np.mean(after == c) - np.mean(before == c)
        if c == case["target"]:
            assert gain >= 0.10
        else:
            assert gain >= -1 / 200


def test_auto_settings_are_the_modes_defaults():
    from modalchorus_widget.alignment.fit import MODE_DEFAULTS

    fast, anchors = Aligner()._params(), Aligner(mode="anchors")._params()
    assert (fast.lr, fast.temperature, fast.preserve_l2, fast.validation) == (2e-4, 0.01, 10.0, 0.2)
    assert fast.stop_when_satisfied and not anchors.stop_when_satisfied
    assert (anchors.lr, anchors.temperature, anchors.preserve_l2, anchors.validation) == (1e-3, 0.003, 1.0, 0.0)
    assert Aligner(mode="anchors", learning_rate=5e-4)._params().lr == 5e-4  # a value given wins
    assert Aligner(mode="anchors").get_params()["learning_rate"] == "auto"  # what the user passed, as sklearn does
    assert set(MODE_DEFAULTS) == {"fast", "deep", "anchors"}


def test_default_anchor_round_fixes_the_zero_shot_confusion_held_out(shapes):
    """The quickstart's round at anchor mode's default settings and the guard on the labelled training split
    (nothing case-tuned): the confused class gains on held-out scenes and no other class loses more than one
    scene of its ~50."""
    d, case = shapes
    a, b = case["target"], case["confused"]
    al = Aligner(mode="anchors", encoder=d.encoder, guard=dict(on=d.train)).fit(d.embeddings)
    rnd = al.step(PointSet(int(d.prompt_index[a]), case["cluster"]), PointSet(int(d.prompt_index[b]), case["keep"]))
    fig = C.zero_shot_figures(d, case["predictions"], d.predict(al.embeddings_))
    others = np.arange(len(d.class_names)) != a
    assert fig["after"][a] - fig["before"][a] >= 0.15, (rnd.alpha, fig["before"][a], fig["after"][a])
    assert np.nanmax(fig["before"][others] - fig["after"][others]) <= 0.021
