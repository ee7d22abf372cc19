"""Property-based tests (hypothesis) for metrics, alignment constraints and widget buffer encoding.

Small generated inputs; each property is an invariant the code must keep for *every* input, not an
example: metric bounds and invariances, how constraints resolve selections, and lossless buffers.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modalchorus_widget.widget import buffers as B

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite32 = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


# ------------------------------------------------------------------------------------------- buffers
@SETTINGS
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=50).map(lambda s: (s[0], 2)),
        elements=finite32,
    )
)
def test_positions_round_trip_bit_exact(xy):
    a = B.as_positions(xy)
    back = B.positions_from_json(B.positions_to_json(a))
    assert back.dtype == np.float32 and back.shape == xy.shape
    np.testing.assert_array_equal(back.view(np.uint32), np.ascontiguousarray(xy).view(np.uint32))
    assert B.to_bytes(a, "float32").nbytes == 8 * len(xy)


@SETTINGS
@given(st.lists(st.integers(0, 65535), max_size=200))
def test_codes_smallest_dtype_and_round_trip(codes):
    c = B.as_codes(np.array(codes, dtype=np.int64))
    hi = max(codes, default=0)
    assert c.dtype == (np.uint8 if hi < 256 else np.uint16)
    np.testing.assert_array_equal(c, codes)
    raw = B.codes_to_json(c)
    assert raw.nbytes == len(codes) * c.itemsize
    back = B.from_bytes(raw, "uint16" if c.dtype == np.uint16 else "uint8")
    np.testing.assert_array_equal(back, codes)


@SETTINGS
@given(st.lists(st.integers(0, 2**32 - 1), max_size=300))
def test_indices_sorted_unique_round_trip(idx):
    a = B.as_indices(np.array(idx, dtype=np.int64))
    expect = np.unique(np.array(idx, dtype=np.uint32))
    np.testing.assert_array_equal(a, expect)
    assert a.dtype == np.uint32
    np.testing.assert_array_equal(B.indices_from_json(B.indices_to_json(a)), expect)
    # the browser may send unsorted duplicates: decoding sorts and de-duplicates
    raw = np.array(idx, dtype=np.uint32).tobytes()
    np.testing.assert_array_equal(B.indices_from_json(raw), expect)


@SETTINGS
@given(hnp.arrays(np.uint32, st.integers(0, 300), elements=st.integers(0, 50)))
def test_sorted_unique_matches_numpy(a):
    np.testing.assert_array_equal(B.sorted_unique(a), np.unique(a))


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=12), st.lists(st.integers(0, 10_000), max_size=40), max_size=6))
def test_index_dict_round_trip(d):
    enc = B.index_dict_to_json({k: B.as_indices(np.array(v, dtype=np.int64)) for k, v in d.items()})
    dec = B.index_dict_from_json(enc)
    assert set(dec) == set(d)
    for k, v in d.items():
        np.testing.assert_array_equal(dec[k], np.unique(np.array(v, dtype=np.uint32)))


@SETTINGS
@given(st.binary(max_size=64), st.sampled_from(["float32", "uint16", "uint32"]))
def test_from_bytes_rejects_partial_values(raw, dtype):
    size = np.dtype(dtype).itemsize
    if len(raw) % size:
        with pytest.raises(B.BufferFormatError, match="whole number"):
            B.from_bytes(raw, dtype)
    else:
        assert B.from_bytes(raw, dtype).size == len(raw) // size


@SETTINGS
@given(st.integers(1, 40), st.integers(-5, 60))
def test_indices_out_of_range_rejected(n, bad):
    assume(bad < 0 or bad >= n)
    with pytest.raises(B.BufferFormatError):
        B.as_indices([0, bad], n)


# ------------------------------------------------------------------------------------------- metrics
def _cloud(seed, n, d):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float64)


@SETTINGS
@given(st.integers(0, 10_000), st.integers(12, 40), st.integers(1, 5), st.floats(0.1, 10), st.floats(0, 6.28))
def test_trustworthiness_bounds_and_invariances(seed, n, k, scale, angle):
    from modalchorus_widget.projection.metrics import continuity, trustworthiness

    assume(k < n / 2)
    high, low = _cloud(seed, n, 8), _cloud(seed + 1, n, 2)
    t, c = trustworthiness(high, low, k), continuity(high, low, k)
    assert 0.0 <= t <= 1.0 and 0.0 <= c <= 1.0
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    low2 = scale * low @ rot + 3.0  # similarity transform of the map: ranks unchanged
    assert trustworthiness(high, low2, k) == pytest.approx(t, abs=1e-9)
    assert continuity(high, low2, k) == pytest.approx(c, abs=1e-9)
    # cosine geometry in the embedding space: rescaling rows of `high` changes nothing
    rs = np.random.default_rng(seed).uniform(0.5, 2.0, size=(n, 1))
    assert trustworthiness(high * rs, low, k) == pytest.approx(t, abs=1e-9)
    perm = np.random.default_rng(seed + 2).permutation(n)
    assert trustworthiness(high[perm], low[perm], k) == pytest.approx(t, abs=1e-9)


@SETTINGS
@given(st.integers(0, 10_000), st.integers(10, 30), st.integers(1, 4))
def test_intermodal_scores_bounds_and_permutation(seed, m, k):
    from modalchorus_widget.projection.metrics import intermodal_scores

    n = 2 * m
    high, low = _cloud(seed, n, 6), _cloud(seed + 1, n, 2)
    mod = np.array(["image"] * m + ["text"] * m)
    t, c = intermodal_scores(high, low, mod, k)
    assert 0.0 <= t <= 1.0 and 0.0 <= c <= 1.0
    perm = np.random.default_rng(seed).permutation(n)
    t2, c2 = intermodal_scores(high[perm], low[perm], mod[perm], k)
    assert (t2, c2) == pytest.approx((t, c), abs=1e-9)


@SETTINGS
@given(st.integers(0, 10_000), st.integers(3, 30), st.floats(0.0, 5.0))
def test_modality_gap_nonnegative_zero_for_identical_modalities(seed, m, shift):
    from modalchorus_widget.projection.metrics import modality_gap

    x = _cloud(seed, m, 4)
    mod = np.array(["image"] * m + ["text"] * m)
    assert modality_gap(np.concatenate([x, x]), mod) == pytest.approx(0.0, abs=1e-9)
    y = x + shift * np.eye(4)[0]
    g = modality_gap(np.concatenate([x, y]), mod)
    assert g >= 0.0
    perm = np.random.default_rng(seed).permutation(2 * m)
    assert modality_gap(np.concatenate([x, y])[perm], mod[perm]) == pytest.approx(g, abs=1e-9)


# --------------------------------------------------------------------------------------- constraints
N_IMG, N_TXT = 12, 10


@pytest.fixture(scope="module")
def stub():
    from modalchorus_widget.data.embeddings import EmbeddingSet

    rng = np.random.default_rng(0)
    es = EmbeddingSet.from_pairs(rng.normal(size=(N_IMG, 16)), rng.normal(size=(N_TXT, 16)))
    return SimpleNamespace(embeddings_=es, encoder=None)


rows = st.lists(st.integers(0, N_IMG + N_TXT - 1), max_size=30)


@SETTINGS
@given(st.integers(0, N_IMG + N_TXT - 1), rows)
def test_pointset_resolves_to_unique_members_without_anchor(stub, anchor, members):
    from modalchorus_widget.alignment import PointSet
    from modalchorus_widget.alignment.constraints import AlignmentError

    others = sorted(set(members) - {anchor})
    c = PointSet(anchor, np.array(members, dtype=np.int64))
    if not others:
        with pytest.raises(AlignmentError, match="empty|only the anchor"):
            c.resolve(stub)
        return
    r = c.resolve(stub)
    np.testing.assert_array_equal(r.members, others)
    assert r.anchor_row == anchor and r.anchor_modality == stub.embeddings_.modality[anchor]
    np.testing.assert_allclose(r.anchor, stub.embeddings_.vectors[anchor])
    np.testing.assert_array_equal(r.rows(), sorted(set(members) | {anchor}))
    # a boolean mask of the same rows resolves the same way
    mask = np.zeros(N_IMG + N_TXT, bool)
    mask[members] = True
    np.testing.assert_array_equal(PointSet(anchor, mask).resolve(stub).members, others)


@SETTINGS
@given(rows)
def test_setset_single_set_splits_by_modality(stub, a):
    from modalchorus_widget.alignment import SetSet
    from modalchorus_widget.alignment.constraints import AlignmentError

    u = np.unique(np.array(a, dtype=np.int64))
    mods = set(stub.embeddings_.modality[u]) if u.size else set()
    c = SetSet(np.array(a, dtype=np.int64))
    if len(mods) != 2:
        with pytest.raises(AlignmentError, match="empty|two modalities"):
            c.resolve(stub)
        return
    r = c.resolve(stub)
    np.testing.assert_array_equal(np.sort(np.concatenate([r.a, r.b])), u)  # a partition of the selection
    ma, mb = set(stub.embeddings_.modality[r.a]), set(stub.embeddings_.modality[r.b])
    assert len(ma) == 1 and len(mb) == 1 and ma != mb


@SETTINGS
@given(rows, rows)
def test_setset_two_sets_disjoint_or_refused(stub, a, b):
    from modalchorus_widget.alignment import SetSet
    from modalchorus_widget.alignment.constraints import AlignmentError

    ua, ub = np.unique(a), np.unique(b)
    c = SetSet(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    if ua.size == 0 or ub.size == 0 or np.intersect1d(ua, ub).size:
        with pytest.raises(AlignmentError):
            c.resolve(stub)
        return
    r = c.resolve(stub)
    np.testing.assert_array_equal(r.a, ua)
    np.testing.assert_array_equal(r.b, ub)
    np.testing.assert_array_equal(r.rows(), np.union1d(ua, ub))
