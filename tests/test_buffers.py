"""Buffer encoding/decoding: exact round trips, dtypes, and clear errors for bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modalchorus_widget.widget import buffers as B


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(0, 200), st.just(2)), elements=st.floats(-1e6, 1e6, width=32)))
def test_positions_round_trip_exact(xy):
    raw = B.positions_to_json(B.as_positions(xy))
    assert isinstance(raw, memoryview) and raw.nbytes == xy.size * 4  # plain float32 bytes, no JSON
    back = B.positions_from_json(bytes(raw))
    assert back.dtype == np.float32 and back.shape == xy.shape
    np.testing.assert_array_equal(back, xy)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=300))
def test_indices_sorted_unique_uint32(idx):
    a = B.as_indices(idx, 10_001)
    assert a.dtype == np.uint32
    assert a.tolist() == sorted(set(idx))
    assert B.indices_from_json(B.indices_to_json(a)).tolist() == a.tolist()


def test_codes_pick_smallest_dtype_and_round_trip():
    small = B.as_codes(np.arange(10) % 3)
    assert small.dtype == np.uint8
    big = B.as_codes(np.arange(1000))
    assert big.dtype == np.uint16
    assert B.codes_to_json(big).nbytes == 2000
    np.testing.assert_array_equal(B.from_bytes(B.codes_to_json(big), "uint16"), np.arange(1000))


def test_little_endian_layout_matches_the_browser():
    # the front-end reads with native little-endian typed arrays
    assert bytes(B.to_bytes(np.array([1], np.uint32), "uint32")) == b"\x01\x00\x00\x00"
    assert bytes(B.to_bytes(np.array([1.0], np.float32), "float32")) == np.float32(1.0).tobytes()


def test_bool_mask_to_indices():
    m = np.zeros(6, bool)
    m[[1, 4]] = True
    assert B.as_indices(m, 6).tolist() == [1, 4]
    with pytest.raises(B.BufferFormatError, match="mask"):
        B.as_indices(m, 7)


@pytest.mark.parametrize(
    "bad,msg",
    [
        (np.zeros((3, 3)), "shape"),
        (np.array([[0.0, np.nan]]), "not finite"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_positions_raise_clear_errors(bad, msg):
    with pytest.raises(B.BufferFormatError, match=msg):
        B.as_positions(bad)


def test_bad_indices_raise_clear_errors():
    with pytest.raises(B.BufferFormatError, match="out of range"):
        B.as_indices([0, 5], 5)
    with pytest.raises(B.BufferFormatError, match="negative"):
        B.as_indices([-1], 5)
    with pytest.raises(B.BufferFormatError, match="integer"):
        B.as_indices([0.5], 5)


def test_from_bytes_rejects_partial_values():
    with pytest.raises(B.BufferFormatError, match="whole number"):
        B.from_bytes(b"\x00\x00\x00", "float32")


def test_index_dict_round_trip():
    d = {"dogs": np.array([3, 1], np.uint32), "ref": np.array([], np.uint32)}
    back = B.index_dict_from_json({k: bytes(v) for k, v in B.index_dict_to_json(d).items()})
    assert back["dogs"].tolist() == [1, 3] and back["ref"].tolist() == []


def test_payload_nbytes_counts_binary_apart_from_json():
    js, binary = B.payload_nbytes({"a": memoryview(np.zeros(1000, np.float32)), "b": [1, 2]})
    assert binary == 4000 and js < 100
