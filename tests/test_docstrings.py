"""The examples in the public names' docstrings run as written (doctest), and the API reference reads them."""

import doctest
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_docs  # noqa: E402


def _public_objects():
    seen, out = set(), []
    for package in gen_docs.public_packages():
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            out.append((f"{package.__name__}.{name}", obj))
    return out


OBJECTS = _public_objects()


@pytest.mark.slow
@pytest.mark.parametrize("name, obj", OBJECTS, ids=[n for n, _ in OBJECTS])
def test_docstring_examples_run(name, obj, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        result = runner.run(t, out=lambda s: sys.stdout.write(s))
        assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} example lines failed"
