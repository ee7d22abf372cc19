"""Rounds that cost what they change (issue 32): the blockwise per-row work equals the dense one, readings go only
against the class prompts and are re-read only where rows changed, and ``device="auto"`` says where it ran."""

import numpy as np
import pytest

from modalchorus_widget.alignment import Aligner, PointSet
from modalchorus_widget.alignment import rounds as R
from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.device import resolve_device
from modalchorus_widget.errors import ParameterError
from modalchorus_widget.evaluation import zero_shot_predict

STEPS = dict(n_steps=20, validation=0.0, stop_when_satisfied=False)  # every step run: never an identity round


def _copies(coco, n_images, n_texts, seed=0):
    """COCO-500 CLIP vectors repeated with noise (unit rows): images first, then texts; source pair per row."""
    img, txt = coco[0], coco[1]
    rng = np.random.default_rng(seed)

    def noisy(x, n):
        v = x[np.arange(n) % len(x)] + np.float32(0.2 / np.sqrt(x.shape[1])) * rng.standard_normal(
            (n, x.shape[1]), dtype=np.float32
        )
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    vec = np.concatenate([noisy(img, n_images), noisy(txt, n_texts)])
    pair = np.concatenate([np.arange(n_images) % len(img), np.arange(n_texts) % len(txt)])
    return EmbeddingSet(vec, modality=["image"] * n_images + ["text"] * n_texts, normalize=False), pair


def _dense(adapter, x):
    """The adapter as one torch module call over every row at once (what the blockwise path must reproduce)."""
    import torch

    with torch.no_grad():
        return adapter(torch.from_numpy(np.ascontiguousarray(x))).numpy()


@pytest.fixture(scope="module")
def coco(coco_dir):
    return np.load(coco_dir / "clip_vitb16_img_txt.npy")


@pytest.mark.slow
def test_round_on_200k_rows_changes_no_row_beyond_what_the_adapter_does(coco):
    es, pair = _copies(coco, 199_000, 1_000)
    anchor = 199_000 + 7
    members = np.flatnonzero(pair[:199_000] == 7)[:200]
    al = Aligner(guard=None, **STEPS).fit(es)
    rnd = al.step(PointSet(anchor, members))
    assert rnd.report["steps"] > 0 and al.device_ == resolve_device("auto")
    after, before = al.embeddings_.vectors, es.vectors
    # every row of each modality is its adapter's output on the row before, as one dense module call gives it
    for m in ("image", "text"):
        rows = np.flatnonzero(es.modality == m)
        dense = _dense(rnd.adapters[m], before[rows])
        np.testing.assert_allclose(after[rows], dense, rtol=0, atol=2e-7)  # float32: a few ulps at most
    # and the blockwise path is deterministic: the same round replayed (undo / redo / load) gives the same bits
    al.undo()
    al.redo()
    assert np.array_equal(al.embeddings_.vectors, after)
    # anchor mode: only the anchor row changes; every other row keeps its bits
    an = Aligner(mode="anchors", guard=None, **STEPS).fit(es)
    an.step(PointSet(anchor, members))
    diff = np.flatnonzero((an.embeddings_.vectors != before).any(axis=1))
    assert diff.tolist() == [anchor]


def test_blockwise_apply_equals_one_block_bit_for_bit(coco, monkeypatch):
    """Block size does not change a bit: rows are computed independently (block of 97 rows vs all at once)."""
    es, pair = _copies(coco, 1_500, 500)
    al = Aligner(guard=None, **STEPS).fit(es)
    rnd = al.step(PointSet(1_500 + 3, np.flatnonzero(pair[:1_500] == 3)))
    one, delta = R.apply_round(es.vectors, es.modality, "fast", rnd.weights, rnd.adapters, False)
    monkeypatch.setattr(R, "BLOCK", 97)
    many, delta2 = R.apply_round(es.vectors, es.modality, "fast", rnd.weights, rnd.adapters, False)
    assert np.array_equal(one, many) and np.array_equal(one, al.embeddings_.vectors)
    assert np.array_equal(delta.rows, np.arange(es.n)) and np.array_equal(delta.moved, delta2.moved)
    moved = 1 - np.einsum("ij,ij->i", es.vectors, one)
    np.testing.assert_allclose(delta.moved, np.maximum(moved, 0), atol=1e-6)


def test_readings_go_only_against_the_prompts_and_equal_a_full_read(coco):
    """The report reads predictions against the class prompts; the incremental readings (changed rows only,
    kept with each state) equal reading every row again, round after round."""
    es, pair = _copies(coco, 3_000, 500)
    labels = np.asarray([f"c{p % 7}" for p in pair], object)
    es = EmbeddingSet(es.vectors, modality=es.modality, labels=labels, normalize=False)
    prompts = np.arange(3_000, 3_007)  # text rows labelled c0..c6: the class prompts
    al = Aligner(mode="anchors", guard=dict(concepts=prompts), **STEPS).fit(es)
    for k, which in enumerate((3, 4)):
        before = al.embeddings_.vectors
        rows = np.flatnonzero(pair[:3_000] == which)[:40]
        rnd = al.step(PointSet(int(prompts[which % 7]), rows))
        after = al.embeddings_.vectors
        q = np.flatnonzero(es.modality != "text")
        p0, p1 = zero_shot_predict(before[q], before[prompts]), zero_shot_predict(after[q], after[prompts])
        lab, plab = labels[q], labels[prompts]
        assert rnd.report["zero_shot_acc_before"] == round(float(np.mean(plab[p0] == lab)), 6)
        assert rnd.report["zero_shot_acc_after"] == round(float(np.mean(plab[p1] == lab)), 6)
        sel = np.zeros(es.n, bool)
        sel[rows] = True
        sel[prompts[which % 7]] = True
        assert rnd.report["predictions_changed_unselected"] == int(((p0 != p1) & ~sel[q]).sum()), k
    # without class prompts, a set whose text rows are too many to read every row against reads none
    assert R.reading_concepts(es) is not None  # 3,000 x 500 row-concept pairs: cheap, every text row
    big = R.MAX_READ_PAIRS // 500 + 1
    assert R.reading_concepts(_copies(coco, big, 500)[0]) is None


def test_device_auto_falls_back_to_the_cpu_and_says_which_it_used(coco):
    import torch

    es, pair = _copies(coco, 300, 100)
    al = Aligner(n_steps=5).fit(es)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    al.step(PointSet(300 + 2, np.flatnonzero(pair[:300] == 2)))
    assert al.device_ == expected
    cpu = Aligner(device="cpu", n_steps=5).fit(es)
    cpu.step(PointSet(300 + 2, np.flatnonzero(pair[:300] == 2)))
    assert cpu.device_ == "cpu"
    with pytest.raises(ParameterError, match="device must be"):
        Aligner(device="gpu").fit(es)
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="sees no CUDA GPU"):
            resolve_device("cuda")
