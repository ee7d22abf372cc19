"""Large inputs: a point budget with a deterministic modality-stratified sample, index mapping
between the rows shown and the full data, a visible notice, and chunked binary buffers (none above 8 MiB)."""

import warnings

import numpy as np
import pytest

from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.errors import InputError, WidgetError
from modalchorus_widget.widget import buffers as B
from modalchorus_widget.widget.buffers import BufferFormatError
from modalchorus_widget.widget.chorus import Chorus
from modalchorus_widget.widget.scatter import DEFAULT_MAX_POINTS, ScatterWidget


def scatter(n, max_points, mod=None, **kw):
    rng = np.random.default_rng(1)
    mod = np.arange(n) % 2 if mod is None else mod
    return ScatterWidget(rng.normal(size=(n, 2)), category=np.arange(n) % 3, modality=mod, max_points=max_points, **kw)


def sent_state(w):
    """What the browser would receive for the point traits, decoded (chunks joined)."""
    st = w.get_state(["positions", "category", "modality", "selected", "named_sets", "point_labels"])
    return {
        "positions": B.from_bytes(st["positions"], "float32").reshape(-1, 2),
        "category": B.from_bytes(st["category"], "uint8"),
        "modality": B.from_bytes(st["modality"], "uint8"),
        "selected": B.from_bytes(st["selected"], "uint32"),
        "named_sets": {k: B.from_bytes(v, "uint32") for k, v in st["named_sets"].items()},
        "point_labels": st["point_labels"],
    }


# ------------------------------------------------------------------------------------------ sampling
def test_sample_is_deterministic_and_sized():
    mod = np.random.default_rng(0).integers(0, 3, 10_000)
    a = B.sample_points(mod, 1000, random_state=0)
    b = B.sample_points(mod, 1000, random_state=0)
    assert a.n_shown == 1000 and a.n_total == 10_000
    assert np.array_equal(a.index, b.index)
    assert a.index.dtype == np.uint32 and bool((np.diff(a.index.astype(np.int64)) > 0).all())  # sorted unique
    c = B.sample_points(mod, 1000, random_state=1)
    assert not np.array_equal(a.index, c.index)  # the seed matters; the same seed gives the same rows


def test_sample_is_stratified_by_modality():
    # 90 % images, 9.99 % texts, and a rare third modality of 10 rows: each keeps its share, the rare one survives
    n = 100_000
    mod = np.zeros(n, np.uint8)
    mod[90_000:] = 1
    mod[-10:] = 2
    s = B.sample_points(mod, 10_000)
    counts = np.bincount(mod[s.index], minlength=3)
    assert counts.sum() == 10_000
    assert counts.tolist() == [9000, 999, 1]
    # within a modality the rows are spread over the whole range, not the first ones
    img = s.index[mod[s.index] == 0]
    assert img.min() < 1000 and img.max() > 89_000


def test_sample_keeps_given_rows_first():
    mod = np.arange(50_000) % 2
    keep = np.array([3, 4, 5, 49_999, 20_000])
    s = B.sample_points(mod, 500, keep=keep)
    assert set(keep.tolist()) <= set(s.index.tolist())
    assert np.bincount(mod[s.index]).tolist() == [250, 250]


def test_small_input_is_not_sampled():
    s = B.sample_points(np.zeros(10, np.uint8), 10)
    assert s.index.tolist() == list(range(10))
    with pytest.raises(InputError, match="positive"):
        B.sample_points(np.zeros(10, np.uint8), 0)


def test_index_mapping_both_ways():
    s = B.PointSample(np.array([2, 5, 7, 11]), 12)
    assert s.to_shown([0, 2, 3, 7, 11]).tolist() == [0, 2, 3]  # rows not shown are dropped
    assert s.to_full([3, 0]).tolist() == [2, 11]
    assert s.to_shown([]).tolist() == [] and s.to_full([]).tolist() == []
    with pytest.raises(BufferFormatError, match="out of range"):
        s.to_full([4])
    full = np.arange(12)
    assert np.array_equal(s.to_full(s.to_shown(full)), s.index)
    assert s.take(np.arange(24).reshape(12, 2)).tolist() == [[4, 5], [10, 11], [14, 15], [22, 23]]


# ------------------------------------------------------------------------------------------ widget
def test_default_budget_shows_a_million_and_samples_above():
    assert 1_000_000 <= DEFAULT_MAX_POINTS <= B.MAX_BUFFER_BYTES // 4  # a lasso of all shown fits one buffer
    w = scatter(1000, 1000)
    assert not w.sampled and w.sample_notice == "" and w.n_shown == 1000


def test_sampled_widget_sends_only_the_sample_and_says_so():
    n, m = 30_000, 3000
    w = scatter(n, m)
    assert w.sampled and w.n == n and w.n_shown == m and w.max_points == m
    assert w.sample_notice == (
        "showing 3,000 of 30,000 points (sampled, stratified by modality); selections map to the full data"
    )
    got = sent_state(w)
    idx = w.shown_index
    assert len(idx) == m
    assert np.array_equal(got["positions"], w.positions[idx])
    assert np.array_equal(got["category"], w.category[idx])
    assert np.array_equal(got["modality"], w.modality[idx])
    # Python keeps the full data
    assert w.positions.shape == (n, 2) and len(w.modality) == n
    assert np.bincount(got["modality"]).tolist() == [1500, 1500]
    nb = w.payload_nbytes()
    assert nb["raw"] == m * 8 + m + m and nb["binary"] == nb["raw"]


def test_same_data_same_sample_in_two_widgets():
    a, b = scatter(20_000, 2000), scatter(20_000, 2000)
    assert np.array_equal(a.shown_index, b.shown_index)


def test_lasso_on_sample_gives_full_indices():
    w = scatter(30_000, 3000)
    idx = w.shown_index
    w.set_state({"selected": memoryview(np.array([0, 5, 2999], np.uint32).tobytes())})
    assert w.selected.tolist() == [int(idx[0]), int(idx[5]), int(idx[2999])]
    # chunked from the browser (a list of buffers) works the same
    sel = np.arange(0, 3000, 2, dtype=np.uint32)
    w.set_state({"selected": B.chunk_buffer(B.to_bytes(sel, "uint32"), 1024)})
    assert np.array_equal(w.selected, idx[sel])
    with pytest.raises(BufferFormatError, match="out of range"):
        B.indices_from_json(memoryview(np.array([3000], np.uint32).tobytes()), w)


def test_python_selection_highlights_the_shown_part():
    w = scatter(30_000, 3000)
    idx = w.shown_index
    hidden = np.setdiff1d(np.arange(30_000), idx)[:5]
    want = np.concatenate([idx[[1, 7]], hidden])
    w.selected = want
    assert sorted(w.selected.tolist()) == sorted(want.tolist())  # Python holds all of them
    assert sent_state(w)["selected"].tolist() == [1, 7]  # the browser highlights those it shows
    assert w.shown_selected.tolist() == sorted(idx[[1, 7]].tolist())


def test_browser_echo_of_shown_part_keeps_hidden_members():
    """A set holding rows not shown survives the browser sending the sets dict back (e.g. after saving a new set)."""
    w = scatter(30_000, 3000)
    hidden = np.setdiff1d(np.arange(30_000), w.shown_index)[:3]
    w.sets["a"] = np.concatenate([w.shown_index[:4], hidden])
    raw = B.index_dict_to_json(w.named_sets, w)
    back = {k: bytes(v) for k, v in raw.items()}
    back["new"] = np.array([10, 11], np.uint32).tobytes()
    w.set_state({"named_sets": back})
    assert len(w.sets["a"]) == 7 and set(hidden.tolist()) <= set(w.sets["a"].tolist())
    assert w.sets["new"].tolist() == w.shown_index[[10, 11]].tolist()


def test_selection_at_construction_is_kept_in_the_sample():
    sel = [1, 2, 3, 29_999]
    w = scatter(30_000, 1000, selected=sel)
    assert set(sel) <= set(w.shown_index.tolist())
    assert len(sent_state(w)["selected"]) == 4


def test_tooltip_maps_shown_index_to_full_row():
    w = scatter(30_000, 3000)
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._on_front_end_msg(w, {"type": "hover", "index": 10}, [])
    full = int(w.shown_index[10])
    assert sent[-1]["index"] == 10 and sent[-1]["text"].endswith(f"#{full}")
    w._on_front_end_msg(w, {"type": "hover", "index": 3000}, [])  # out of the shown range: no reply
    assert len(sent) == 1


def test_max_points_validation():
    with pytest.raises(WidgetError, match="max_points"):
        scatter(10, 0)
    with pytest.raises(WidgetError, match="max_points"):
        scatter(10, 2.5)
    assert not scatter(10, None).sampled
    with pytest.warns(UserWarning, match="websocket"):
        scatter(10, 3_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scatter(10, DEFAULT_MAX_POINTS)


def test_chorus_sampled_maps_labels_axis_and_sets():
    rng = np.random.default_rng(0)
    n = 4000
    v = rng.normal(size=(n, 16)).astype(np.float32)
    mod = np.where(np.arange(n) < 3960, "image", "text")
    items = [None] * 3960 + [f"caption {i}" for i in range(40)]
    es = EmbeddingSet(v, modality=mod, labels=[f"c{i % 3}" for i in range(n)], items=items)
    w = Chorus(es, positions=rng.normal(size=(n, 2)), max_points=400)
    assert w.sampled and w.n_shown == 400 and "400 of 4,000" in w.sample_notice
    counts = np.bincount((w.modality[w.shown_index]).astype(int))
    assert counts.tolist() == [396, 4]  # 1 % texts in the data, 1 % in the sample
    labels = sent_state(w)["point_labels"]
    assert len(labels) == 4  # only the text points that are shown get a label, at their shown position
    for k, text in labels:
        assert items[int(w.shown_index[k])].startswith(text.rstrip("\u2026"))
    w.concept_axis(np.arange(10), np.arange(3960, 3970))
    ax = B.from_bytes(w.get_state("axis_positions")["axis_positions"], "float32").reshape(-1, 2)
    assert ax.shape == (400, 2) and np.array_equal(ax, w.axis_positions[w.shown_index])


# ------------------------------------------------------------------------------------------ chunks
def test_chunk_round_trip_and_sizes():
    a = np.arange(1_000_003, dtype=np.float32)
    chunks = B.chunk_buffer(B.to_bytes(a, "float32"), 1 << 20)
    assert isinstance(chunks, list) and len(chunks) == 4
    assert max(c.nbytes for c in chunks) <= 1 << 20
    assert all(c.obj is chunks[0].obj for c in chunks)  # zero-copy slices of one array
    assert np.array_equal(B.from_bytes(chunks, "float32"), a)
    small = B.chunk_buffer(B.to_bytes(a[:10], "float32"))
    assert isinstance(small, memoryview) and small.nbytes == 40
    assert bytes(B.join_buffers([b"ab", memoryview(b"cd"), bytearray(b"e")])) == b"abcde"
    with pytest.raises(BufferFormatError, match="multiple of 8"):
        B.chunk_buffer(b"abc", 12)


def test_no_buffer_above_the_limit_in_a_big_widget():
    """2.5M points with the default budget: the state crosses in chunks of at most 8 MiB each."""
    n = 2_500_000
    xy = np.zeros((n, 2), np.float32)
    xy[:, 0] = np.arange(n, dtype=np.float32)
    w = ScatterWidget(xy, modality=(np.arange(n) % 2).astype(np.uint8))
    assert w.sampled and w.n_shown == DEFAULT_MAX_POINTS
    w.selected = np.arange(0, n, 2)
    st = w.get_state()
    st.pop("_esm", None)
    sizes = B.buffer_sizes(st)
    assert max(sizes) <= B.MAX_BUFFER_BYTES
    pos = B.from_bytes(st["positions"], "float32").reshape(-1, 2)
    assert isinstance(st["positions"], list) and len(st["positions"]) == 2  # 16 MB -> 2 chunks
    assert np.array_equal(pos[:, 0], w.shown_index.astype(np.float32))
    nb = w.payload_nbytes()
    assert nb["max_buffer"] <= B.MAX_BUFFER_BYTES and nb["binary"] == nb["raw"]
