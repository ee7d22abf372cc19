"""memory.empty / copy / reserve: large arrays from mapped memory, given back to a small pool when dropped."""

import gc
import time

import numpy as np

from modalchorus_widget import memory


def test_large_arrays_come_back_to_the_pool_and_are_reused():
    memory.release()
    shape = (memory.MIN_BYTES // 4 // 64 + 1, 64)  # just over the size the pool handles
    a = memory.empty(shape, np.float32)
    assert a.shape == shape and a.dtype == np.float32 and a.flags.writeable and a.flags.c_contiguous
    a[:] = 1.5
    view = a[10:20]
    del a
    gc.collect()
    assert not memory._pool.get(shape[0] * 64 * 4)  # a view still uses it
    del view
    gc.collect()
    assert len(memory._pool[shape[0] * 64 * 4]) == 1
    b = memory.copy(np.full(shape, 2.0, np.float32))  # the spare, reused: the copy's values, not the old ones
    assert (b == 2.0).all() and not memory._pool[shape[0] * 64 * 4]
    small = memory.empty((3, 4))
    assert isinstance(small, np.ndarray) and small.shape == (3, 4)
    memory.release()


def test_reserve_maps_one_spare_in_the_background():
    memory.release()
    shape = (memory.MIN_BYTES // 4 // 64 + 1, 64)
    memory.reserve(shape)
    memory.reserve(shape)  # one on its way: no second
    deadline = time.time() + 30
    while memory._reserving and time.time() < deadline:
        time.sleep(0.01)
    assert len(memory._pool[shape[0] * 64 * 4]) == 1
    a = memory.empty(shape)
    a[:] = 3
    assert (a == 3).all() and not memory._pool[shape[0] * 64 * 4]
    memory.reserve((10, 10))  # small: nothing to do
    assert not memory._reserving
    memory.release()
