"""torch_threads: the one place the package sets torch's thread count, safe across Python threads."""

import threading

import pytest

from modalchorus_widget.errors import InputError
from modalchorus_widget.threads import default_threads, torch_threads

torch = pytest.importorskip("torch")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _in_new_thread(fn):
    box = {}

    def run():
        box["out"] = fn()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box["out"]


def test_blocks_nest_and_never_raise_the_count(two_threads):
    with torch_threads(1) as used:
        assert used == 1 and torch.get_num_threads() == 1
        with torch_threads(2) as inner:  # an inner block cannot raise what the outer one set
            assert inner == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError), torch_threads(1):
        raise ValueError("the count comes back on an exception too")
    assert torch.get_num_threads() == 2
    assert 1 <= default_threads() <= 2


def test_a_background_block_that_ends_last_restores_the_count_from_before_the_first(two_threads):
    # the race the old save/set/restore code had: a thread started while another block is open inherits that
    # block's count, saved it as "before", and left it behind for every thread started later
    opened, release, done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def background():
        seen["start"] = torch.get_num_threads()
        with torch_threads(1):
            opened.set()
            release.wait(10)
        done.set()

    with torch_threads(1):
        t = threading.Thread(target=background)
        t.start()
        assert opened.wait(10)
    assert torch.get_num_threads() == 2  # this thread's own count is back while the other block is still open
    release.set()
    assert done.wait(10)
    t.join()
    assert seen["start"] == 1  # the background thread did start at the open block's count
    assert _in_new_thread(torch.get_num_threads) == 2  # and threads started now get the user's count again


def test_a_bad_count_is_refused_before_anything_changes(two_threads):
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(InputError, match="whole number of threads"), torch_threads(bad):
            pass
    assert torch.get_num_threads() == 2
