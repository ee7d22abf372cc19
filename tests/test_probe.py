"""Automatic probing (issue 29): each kind on a small synthetic case with a known answer, a deterministic ranking,
clear errors for bad input, and, on the shapes world, a fixed slice that falls after a round."""

from __future__ import annotations

import numpy as np
import pytest

from modalchorus_widget import EmbeddingSet, find_suspects
from modalchorus_widget.errors import InputError, InputTypeError, ParameterError
from modalchorus_widget.probe import jaccard, slice_scores
from modalchorus_widget.probe.kinds import word_swap

K, PER, D = 8, 60, 32


def _unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _world(seed=0, hub=None, empty=None):
    """K classes of PER images in a cone around a common image direction, one prompt per class in the text cone
    (CLIP's modality gap). ``hub``: that prompt moved towards the images' common direction (it then claims about
    2.5 times its share); ``empty``: that prompt turned away from its own images, and the next class's prompt towards them."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(K, D)))
    u, g = _unit(rng.normal(size=D)), _unit(rng.normal(size=D))
    y = np.repeat(np.arange(K), PER)
    img = _unit(0.8 * u + 0.5 * centres[y] + 0.5 * rng.normal(size=(K * PER, D)) / np.sqrt(D))
    prompts = _unit(0.8 * g + 0.5 * centres)
    if hub is not None:
        prompts[hub] = _unit(prompts[hub] + 0.2 * (u + centres[(hub + 1) % K]))
    if empty is not None:
        nxt = (empty + 1) % K
        prompts[empty] = _unit(0.8 * g + 0.5 * _unit(0.6 * centres[empty] + _unit(rng.normal(size=D))))
        prompts[nxt] = _unit(0.8 * g + 0.5 * _unit(centres[nxt] + 0.6 * centres[empty]))
    es = EmbeddingSet(
        np.concatenate([img, prompts]),
        ["image"] * len(img) + ["text"] * K,
        items=[None] * len(img) + [f"class {c}" for c in range(K)],
    )
    return es, np.arange(len(img), len(img) + K), y


def test_clean_set_has_no_suspect_above_threshold():
    es, prompts, _ = _world()
    sus = find_suspects(es, class_prompts=prompts)
    assert len(sus) == 0, sus[["kind", "name", "score"]]


def test_planted_hub_is_found_with_its_slices():
    es, prompts, y = _world(hub=0)
    sus = find_suspects(es, class_prompts=prompts)
    hubs = sus[sus["kind"] == "hub"]
    assert len(hubs) >= 1
    top = hubs.iloc[0]
    assert top["evidence"]["read_as"] == "class 0"
    b = int(top["evidence"]["neighbours_read_as"].split()[-1])
    pred = (es.vectors[: len(y)] @ es.vectors[prompts].T).argmax(1)
    truth = np.flatnonzero((y == b) & (pred == 0))  # class b's images read as the hub
    assert jaccard(top["rows"], truth) >= 0.5
    assert int(top["suggestion"].anchor) == prompts[b]  # pull the slice to its own class prompt
    assert top["rows"].dtype == np.uint32 and top["size"] == len(top["rows"])


def test_empty_concept_is_a_leak():
    es, prompts, y = _world(empty=3)
    sus = find_suspects(es, class_prompts=prompts)
    assert sus.iloc[0]["kind"] == "leak"
    assert jaccard(sus.iloc[0]["rows"], np.flatnonzero(y == 3)) >= 0.5


def test_mild_hub_near_misses_are_found_with_their_class():
    # class 0's prompt drawn towards the images' mean: it claims about 1.6 times its share (under hub_ratio),
    # taking images of classes 3 and 7 by small margins
    es, prompts, y = _world()
    v = np.array(es.vectors)
    v[prompts[0]] = _unit(v[prompts[0]] + 0.15 * _unit(v[: len(y)].mean(0)))
    es = es.with_vectors(v)
    pred = (v[: len(y)] @ v[prompts].T).argmax(1)
    taken = [c for c in range(1, K) if np.sum((y == c) & (pred == 0)) >= 10]
    assert taken == [3, 7]
    sus = find_suspects(es, class_prompts=prompts)
    for c in taken:
        truth = np.flatnonzero((y == c) & (pred == 0))
        hit = [r for _, r in sus.iterrows() if r["evidence"].get("near") == f"class {c}"]
        assert hit and hit[0]["evidence"]["read_as"] == "class 0"
        assert jaccard(hit[0]["rows"], truth) >= 0.8
        assert hit[0]["suggestion"].anchor == int(prompts[c])


def test_device_auto_runs_on_the_cpu_and_says_so():
    import torch

    es, prompts, _ = _world(hub=0)
    sus = find_suspects(es, class_prompts=prompts, device="auto")
    assert sus.params["device"] == "cpu"
    assert find_suspects(es, class_prompts=prompts, device="cpu").params["device"] == "cpu"
    with pytest.raises(ParameterError, match="device must be"):
        find_suspects(es, class_prompts=prompts, device="tpu")
    if torch.cuda.is_available():  # asked for, noted, and the numpy arithmetic still on the CPU
        sus = find_suspects(es, class_prompts=prompts, device="cuda")
        assert sus.params["device"] == "cpu" and any(n.startswith("device:") for n in sus.notes)
    else:
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            find_suspects(es, class_prompts=prompts, device="cuda")


def test_ranking_is_deterministic_under_random_state():
    es, prompts, _ = _world(hub=2, seed=3)
    a = find_suspects(es, class_prompts=prompts, random_state=7)
    b = find_suspects(es, class_prompts=prompts, random_state=7)
    assert list(a["name"]) == list(b["name"]) and list(a["score"]) == list(b["score"])
    assert all(np.array_equal(r, s) for r, s in zip(a["rows"], b["rows"]))


def _pairs(planted=0, seed=0):
    rng = np.random.default_rng(seed)
    n = 300
    topics = _unit(rng.normal(size=(6, D)))
    t = rng.integers(0, 6, n)
    img = _unit(topics[t] + 0.6 * rng.normal(size=(n, D)) / np.sqrt(D) * 3)
    txt = _unit(img + 0.5 * _unit(rng.normal(size=D)) + 0.25 * rng.normal(size=(n, D)) / np.sqrt(D) * 3)
    rows = np.flatnonzero(t == 0)[:planted]
    if planted:
        img[rows] = _unit(img[rows] + 3.0 * topics[1])
    es = EmbeddingSet.from_pairs(img, txt, meta={"pair": list(range(n)) * 2})
    return es, rows


def test_pair_kind_finds_planted_mispairs_and_skips_without_pairs():
    es, rows = _pairs(planted=25)
    sus = find_suspects(es, kinds=["pair"])
    assert sus.iloc[0]["kind"] == "pair"
    assert jaccard(sus.iloc[0]["rows"], rows) >= 0.5
    assert len(find_suspects(_pairs()[0], kinds=["pair"])) == 0  # clean pairs: nothing
    es2, prompts, _ = _world()
    assert any(n.startswith("pair: skipped") for n in find_suspects(es2, class_prompts=prompts).notes)


def test_compositional_kind_with_a_bag_of_words_encoder():
    from modalchorus_widget.encoders.base import FunctionEncoder

    vocab = {}

    def bag(texts):
        out = np.zeros((len(texts), D), np.float32)
        for i, s in enumerate(texts):
            for w in s.lower().split():
                out[i, vocab.setdefault(w, len(vocab) % D)] += 1.0
        return out + 1e-3

    caps = [f"a {c} circle next to a {d} square" for c, d in zip(["red", "blue", "green"] * 4, ["yellow"] * 12)]
    txt = bag(caps)
    es = EmbeddingSet.from_pairs(_unit(txt + 0.01), txt, captions=caps, meta={"pair": list(range(12)) * 2})
    assert word_swap("a red circle next to a yellow square") == "a yellow square next to a red circle"
    sus = find_suspects(es, encoder=FunctionEncoder(texts=bag, dim=D), kinds=["compositional"], min_score=1, min_size=1)
    assert sus.iloc[0]["kind"] == "compositional"  # a bag of words cannot tell a caption from its swap
    assert sus["size"].sum() == 24  # every image and its caption
    assert "compositional: skipped" in " ".join(find_suspects(es, kinds=["compositional"]).notes)


def test_error_slice_with_labels():
    es, prompts, y = _world(empty=5)
    labels = [f"class {c}" for c in y]
    sus = find_suspects(es, class_prompts=prompts, labels=labels, kinds=["error"])
    assert sus.iloc[0]["kind"] == "error"
    pred = (es.vectors[: len(y)] @ es.vectors[prompts].T).argmax(1)
    misread = np.flatnonzero(pred != y)
    assert jaccard(sus.iloc[0]["rows"], misread) >= 0.5
    ok = find_suspects(es, class_prompts=prompts, labels=np.ones(len(y), bool), kinds=["error"])
    assert len(ok) == 0  # a correctness column that says everything is right


def test_bad_input_is_a_clear_error():
    es, prompts, y = _world()
    with pytest.raises(InputError, match="labels has 5 entries"):
        find_suspects(es, class_prompts=prompts, labels=[0] * 5)
    with pytest.raises(InputError, match="are image rows, not texts"):
        find_suspects(es, class_prompts=[0, 1, 2])
    with pytest.raises(InputTypeError, match="EmbeddingSet"):
        find_suspects(np.zeros((3, 4)))
    with pytest.raises(ParameterError, match="unknown kind"):
        find_suspects(es, class_prompts=prompts, kinds=["nope"])
    with pytest.raises(ParameterError, match="unknown setting"):
        find_suspects(es, class_prompts=prompts, n_neighbours=3)
    only_images = EmbeddingSet(es.vectors[: len(y)], "image")
    sus = find_suspects(only_images)
    assert len(sus) == 0 and "skipped" in sus.notes[0]  # one modality: skipped with a note, not raised


def test_slice_scores():
    import pandas as pd

    sus = pd.DataFrame({"rows": [np.arange(10), np.arange(50, 60)]})
    sc = slice_scores(sus, [np.arange(12), np.arange(100, 110)], np.arange(12))
    assert sc["recall_at_k"] == 0.5 and sc["precision_at_k"] == 0.5


@pytest.mark.slow
def test_widget_suspects_refresh_after_a_round_on_shapes():
    """On the shapes world the top suspect (yellow squares read as yellow circles) is fixed by its suggested
    round; after w.probe() it is gone from the table and the widget says so."""
    from modalchorus_widget import Aligner, Chorus, load_default
    from modalchorus_widget.errors import WidgetError
    from modalchorus_widget.worlds.shapes_cases import ZERO_SHOT_SETTINGS

    d = load_default("shapes")
    w = Chorus(d, projector="PCA", aligner=Aligner(**ZERO_SHOT_SETTINGS))
    before = w.suspects
    assert len(before) >= 2 and w.suspects_list[0]["name"] == before.iloc[0]["name"]
    top = before.iloc[0]
    assert "yellow square" in top["name"]
    # bad input leaves the table and the panel as they were
    listed = list(w.suspects_list)
    with pytest.raises(WidgetError, match="labels has 3 entries"):
        w.probe(labels=[1, 2, 3])
    assert w.suspects is before and w.suspects_list == listed
    w.align(top["suggestion"])
    after = w.probe()
    assert all(jaccard(top["rows"], r) < 0.5 for r in after["rows"])
    assert top["name"] in w.suspects_gone
