"""The guard (alignment/guard.py): a round's strength alpha, chosen so that nothing outside the selection
regresses by more than the tolerance, on the embedded shapes world's zero-shot case (real model, real scenes)."""

import numpy as np
import pytest

from modalchorus_widget import Aligner, EmbeddingSet, load_default
from modalchorus_widget.alignment.constraints import PointSet
from modalchorus_widget.alignment.guard import check_guard, interpolate, read_exact, run_guard
from modalchorus_widget.errors import AlignmentError, ParameterError
from modalchorus_widget.worlds import shapes_cases as C


@pytest.fixture(scope="module")
def world():
    data = load_default("shapes")
    case = C.zero_shot_case(data)
    cons = [
        PointSet(int(data.prompt_index[case["target"]]), case["cluster"]),
        PointSet(int(data.prompt_index[case["confused"]]), case["keep"]),
    ]
    return data, case, cons


@pytest.fixture(scope="module")
def full(world):
    return _round(world, guard=None)[0]


def _round(world, mode="anchors", **kw):
    data, _, cons = world
    al = Aligner(mode=mode, encoder=data.encoder, n_steps=60, **kw).fit(data.embeddings)
    return al, al.step(*cons)


def _guard_inputs(al, cons):
    """run_guard's inputs for the last round of ``al``: the vectors before and after, the constraints resolved,
    the rows they select."""
    resolved = [c.resolve(al) for c in cons]
    selected = np.unique(np.concatenate([r.rows() for r in resolved]))
    return al._states[0].vectors, al.embeddings_.vectors, resolved, selected


def _class_drop(data, before, after, rows):
    """Worst per-class accuracy drop over image ``rows`` read against the class prompts (labels of the set)."""
    lab = data.embeddings.labels
    prompts = np.asarray(data.prompt_index)
    p0, p1 = read_exact(before, rows, prompts), read_exact(after, rows, prompts)
    y = lab[rows]
    ok0, ok1 = lab[prompts][p0] == y, lab[prompts][p1] == y
    return max(float(ok0[y == c].mean() - ok1[y == c].mean()) for c in set(y))


@pytest.mark.parametrize("mode", ["anchors", "fast"])
def test_alpha_zero_is_the_state_before_and_one_the_full_round(world, mode):
    full = _round(world, mode, guard=None)[0]
    al, rnd = _round(world, mode)
    before = al._states[0].vectors
    assert rnd.alpha < 1.0  # the full round breaks a class by more than a point on this map: the guard held it back
    assert np.array_equal(interpolate(before, full.embeddings_.vectors, 0.0), before)
    assert al.set_strength(0.0).alpha == 0.0
    assert np.array_equal(al.embeddings_.vectors, before)  # bit for bit
    al.set_strength(1.0)
    assert np.array_equal(al.embeddings_.vectors, full.embeddings_.vectors)  # today's round, bit for bit
    assert al.history_[-1].report["alpha"] == 1.0


def test_guard_never_picks_an_alpha_beyond_the_tolerance_and_the_largest_grows_with_it(world, full):
    data, _, cons = world
    al = full
    before, after, resolved, selected = _guard_inputs(al, cons)
    watched = np.setdiff1d(np.asarray(data.image_index), selected)
    alphas = {"largest": [], "best_target": []}
    for tol in (0.0, 0.01, 0.05, 1.0):  # scoring strengths needs no refit: the same round, read again
        for pick in alphas:
            guard = check_guard(dict(tolerance=tol, pick=pick))
            res = run_guard(guard, al._states[0], before, after, resolved, selected)
            assert res.on == "labels"
            assert res.curve["worst_regression"][res.curve["alpha"].index(res.alpha)] <= tol
            # measured again here, from the vectors at that alpha: no class of the unselected images lost more
            assert _class_drop(data, before, interpolate(before, after, res.alpha), watched) <= tol + 1e-9
            alphas[pick].append(res.alpha)
    largest = alphas["largest"]
    assert largest == sorted(largest) and largest[-1] == 1.0
    assert largest[0] < 1.0  # the full round costs some class more than nothing
    assert all(b <= a for a, b in zip(largest, alphas["best_target"]))


def test_curve_moves_rows_monotonically_and_starts_at_the_state_before(world, full):
    al = full
    before, after = al._states[0].vectors, al.embeddings_.vectors
    rows = np.flatnonzero((before != after).any(axis=1))
    moved = [
        1.0 - np.einsum("ij,ij->i", before[rows], interpolate(before, after, a)[rows]) for a in np.linspace(0, 1, 11)
    ]
    assert all((b >= a - 1e-6).all() for a, b in zip(moved, moved[1:]))  # each tuned row moves further with alpha
    al2, rnd2 = _round(world, guard=dict(tolerance=1.0))
    curve = rnd2.report["guard"]["curve"]
    assert curve["worst_regression"][0] == 0.0  # alpha 0 changes nothing
    assert curve["target"][-1] >= curve["target"][0]


def test_changed_outside_lists_exactly_the_rows_whose_reading_changed(world):
    data, _, cons = world
    al, rnd = _round(world, guard=dict(tolerance=0.05))
    g = rnd.report["guard"]
    selected = np.unique(np.concatenate([c.members for c in cons] + [np.asarray(data.prompt_index)]))
    q = np.setdiff1d(np.flatnonzero(data.embeddings.modality != "text"), selected)
    texts = np.flatnonzero(data.embeddings.modality == "text")
    changed = q[read_exact(al._states[0].vectors, q, texts) != read_exact(al.embeddings_.vectors, q, texts)]
    assert g["changed_outside"] == changed.tolist() and g["changed_outside_n"] == len(changed)
    assert sum(c for _, _, c in g["regressions"]) == len(changed)  # grouped (from, to, count)


@pytest.mark.parametrize("labels", ["labels", "readings"])
@pytest.mark.parametrize("alpha", [0.05, 0.4, 1.0])
def test_a_strength_set_by_hand_reports_the_rows_changed_at_that_strength(world, alpha, labels):
    data, case, _ = world
    prompts = data.prompt_index
    cons = [  # the two lassos swapped: at alpha 0.05 this fast round satisfies fewer of them than at 0
        PointSet(int(prompts[case["confused"]]), case["cluster"]),
        PointSet(int(prompts[case["target"]]), case["keep"]),
    ]
    dog = EmbeddingSet(data.encoder.encode_texts(["a photo of a dog"]), ["text"], labels=["dog"], ids=["dog"])
    es = EmbeddingSet.concat([data.embeddings, dog])  # a prompt no scene reads: a reading of no rows
    hidden = np.full(es.n, None, dtype=object) if labels == "readings" else None  # a user without labels
    al = Aligner(encoder=data.encoder, n_steps=60, guard=dict(tolerance=1.0, labels=hidden)).fit(es)
    al.step(*cons)
    g = al.set_strength(alpha).report["guard"]
    assert g["on"] == labels
    selected = np.unique(np.concatenate([c.members for c in cons] + [np.asarray(data.prompt_index)]))
    q = np.setdiff1d(np.flatnonzero(es.modality != "text"), selected)
    texts = np.flatnonzero(es.modality == "text")
    changed = q[read_exact(al._states[0].vectors, q, texts) != read_exact(al.embeddings_.vectors, q, texts)]
    assert g["changed_outside"] == changed.tolist() and al.history_[-1].alpha == alpha


def test_alpha_survives_undo_redo_save_load(world, tmp_path):
    data = world[0]
    al, rnd = _round(world, guard=dict(tolerance=0.02))
    al.set_strength(0.35)
    al.undo()
    al.redo()
    assert al.history_[-1].alpha == 0.35
    al.save(tmp_path / "a.zip")
    back = Aligner.load(tmp_path / "a.zip", encoder=data.encoder)
    assert back.history_[-1].alpha == 0.35
    assert np.array_equal(back.embeddings_.vectors, al.embeddings_.vectors)


def test_bad_guard_and_strength_are_refused(world, full):
    data = world[0]
    with pytest.raises(ParameterError, match="guard"):
        Aligner(guard="strict").fit(data.embeddings)
    with pytest.raises(AlignmentError, match=r"\[0, 1\]"):
        full.set_strength(1.5)


def test_keep_selected_holds_each_lasso_within_the_tolerance(world):
    data, _, cons = world
    al, rnd = _round(world)  # the default guard: labels, and every lasso that held before keeps holding
    before, after = al._states[0].vectors, al.embeddings_.vectors
    texts = np.flatnonzero(data.embeddings.modality == "text")
    for c in cons:  # the share of each lasso read as its anchor prompt falls by at most one point
        m = c.members
        hold0 = texts[read_exact(before, m, texts)] == c.anchor
        hold1 = texts[read_exact(after, m, texts)] == c.anchor
        assert hold0.mean() - hold1.mean() <= 0.01 + 1e-9
    full_al, full_rnd = _round(world, guard=dict(tolerance=1.0, keep_selected=False))
    assert rnd.alpha <= full_rnd.alpha


@pytest.mark.parametrize("tol", [0.0, 0.01, 1.0])
def test_pick_best_target_takes_the_best_satisfied_alpha_within_the_tolerance(world, full, tol):
    data, _, cons = world
    al = full
    before, after, resolved, selected = _guard_inputs(al, cons)
    runs = {
        p: run_guard(check_guard(dict(tolerance=tol, pick=p)), al._states[0], before, after, resolved, selected)
        for p in ("largest", "best_target")
    }
    best, largest = runs["best_target"], runs["largest"]
    curve = best.curve
    ok = [i for i, w in enumerate(curve["worst_regression"]) if w <= tol + 1e-12]
    i = curve["alpha"].index(best.alpha)
    assert i in ok  # within the tolerance, as measured
    assert curve["target"][i] == max(curve["target"][j] for j in ok)  # no alpha within it satisfies more rows
    assert all(curve["alpha"][j] <= best.alpha for j in ok if curve["target"][j] == curve["target"][i])  # ties
    assert best.alpha <= largest.alpha
    assert largest.curve["target"] == curve["target"]  # the same readings; only the pick differs
    with pytest.raises(AlignmentError, match="pick"):
        check_guard(dict(pick="smallest"))


@pytest.mark.parametrize("floor", [1, None])
def test_unlabelled_rule_takes_each_reading_over_at_least_min_count_rows(world, full, floor):
    data, _, cons = world
    al = full
    before, after, resolved, selected = _guard_inputs(al, cons)
    hidden = np.full(data.embeddings.n, None, dtype=object)  # a user without labels: the readings rule
    guard = dict(labels=hidden, keep_selected=False, **({} if floor is None else {"min_count": floor}))
    res = run_guard(check_guard(guard, data.embeddings.n), al._states[0], before, after, resolved, selected)
    assert res.on == "readings"  # the curve's last entry: the full round, every prompt read (16 prompts)
    # the same figure, counted here: rows of each reading that read another prompt after, the asked-for moves
    # (a lasso member's reading before -> its anchor) left out, over max(rows of the reading, floor)
    texts = np.flatnonzero(data.embeddings.modality == "text")
    q = np.setdiff1d(np.flatnonzero(data.embeddings.modality != "text"), selected)
    p0, p1 = read_exact(before, q, texts), read_exact(after, q, texts)
    asked = {
        (int(f), int(np.flatnonzero(texts == c.anchor)[0])) for c in cons for f in read_exact(before, c.members, texts)
    }
    bad = np.array([p0[i] != p1[i] and (int(p0[i]), int(p1[i])) not in asked for i in range(len(q))])
    lost, n = np.bincount(p0[bad], minlength=len(texts)), np.bincount(p0, minlength=len(texts))
    want = float(np.max(lost / np.maximum(n, 100 if floor is None else floor)))  # 100: one point's rows
    assert res.curve["worst_regression"][-1] == pytest.approx(want, abs=1e-6)
    with pytest.raises(AlignmentError, match="min_count"):
        check_guard(dict(min_count=0))


def test_without_image_labels_prompts_of_one_class_are_one_reading(world):
    data, _, cons = world
    prompts = np.asarray(data.prompt_index)
    rng = np.random.default_rng(0)
    twin = data.embeddings.vectors[prompts] + rng.normal(0, 0.001, (len(prompts), data.embeddings.dim))
    lab0 = data.embeddings.labels[prompts]
    twins = EmbeddingSet(twin, ["text"] * len(prompts), labels=lab0, ids=[f"twin {i}" for i in range(len(prompts))])
    es = EmbeddingSet.concat([data.embeddings, twins])  # every class prompt twice: two prompts of one class
    lab = np.asarray(es.labels, object).copy()
    lab[es.modality != "text"] = None  # the prompts name their class; the scenes carry no label
    al = Aligner(mode="anchors", encoder=data.encoder, n_steps=60, guard=dict(labels=lab, tolerance=1.0)).fit(es)
    rnd = al.step(*cons)
    g = rnd.report["guard"]
    assert g["on"] == "readings"
    texts = np.flatnonzero(es.modality == "text")
    selected = np.unique(np.concatenate([c.members for c in cons] + [prompts]))
    q = np.setdiff1d(np.flatnonzero(es.modality != "text"), selected)
    p0, p1 = read_exact(al._states[0].vectors, q, texts), read_exact(al.embeddings_.vectors, q, texts)
    c0, c1 = lab[texts][p0], lab[texts][p1]
    assert ((p0 != p1) & (c0 == c1)).any()  # rows that moved between two prompts of their class: no regression
    changed = q[c0 != c1]
    assert g["changed_outside"] == changed.tolist()
    assert not any(f == t for f, t, _ in g["regressions"])  # regressions are named by class, never class -> itself


def test_reading_a_state_at_alpha_without_making_it(coco_vectors):
    """The exact read at an alpha mixes the changed rows on the fly, and the state at the pick is written into the
    round's own array: both give the bits of reading / making interpolate's copy."""
    from modalchorus_widget.alignment import guard as G

    img, txt = coco_vectors
    before = np.concatenate([img, txt]).astype(np.float32)
    rng = np.random.default_rng(0)
    queries, concepts = np.arange(500), np.arange(500, 1000)
    for changed in (np.sort(rng.choice(1000, 300, replace=False)), np.arange(0, 500, 3)):  # concepts moved, or not
        after = before.copy()
        noise = rng.standard_normal((len(changed), before.shape[1])).astype(np.float32)
        after[changed] = G._mix(before[changed], noise, 0.3)
        p0 = G.read_exact(before, queries, concepts)
        for alpha in (0.25, 0.6):
            state = G.interpolate(before, after, alpha, changed)
            ref = G.read_exact(state, queries, concepts)
            assert np.array_equal(G._read_at(before, after, alpha, changed, queries, concepts, p0), ref)
            assert np.array_equal(G._mix_into(before, after.copy(), alpha, changed), state)


def test_curve_reads_rows_a_round_did_not_move_once_with_the_same_readings():
    """An anchor round moves prompts only: reading each row against its best unmoved prompt and the moved ones
    (and multiplying its block once) gives the same curve as reading every prompt, on COCO-500's real vectors."""
    from modalchorus_widget.alignment.guard import ALPHAS, _read_curve
    from modalchorus_widget.data.datasets import load_coco500

    es = load_coco500().embeddings
    img, txt = np.flatnonzero(es.modality == "image"), np.flatnonzero(es.modality == "text")
    for n_concepts in (20, 40):  # every prompt read at once, and each row's candidates only
        concepts = txt[:n_concepts]  # captions as class prompts, two of them tuned towards others
        before = np.ascontiguousarray(es.vectors)
        after = before.copy()
        for j, k in ((3, 5), (17, 11)):
            v = before[concepts[j]] + 0.9 * before[concepts[k]]
            after[concepts[j]] = v / np.linalg.norm(v)
        moved = np.array([3, 17])
        every = _read_curve(before, after, img, concepts, ALPHAS, moved)
        fast = _read_curve(before, after, img, concepts, ALPHAS, moved, changed=concepts[moved])
        assert (every != every[0]).any()  # some images change reading along the path
        np.testing.assert_array_equal(fast, every)
