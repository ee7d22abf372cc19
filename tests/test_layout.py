"""The layout rules of CONTRIBUTING.md hold (scripts/check_layout.py), and the checker finds what it should."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_layout", REPO / "scripts" / "check_layout.py")
check_layout = importlib.util.module_from_spec(spec)
sys.modules["check_layout"] = check_layout
spec.loader.exec_module(check_layout)


def test_package_layout_rules_hold(capsys):
    assert check_layout.main(["--no-lint"]) == 0, capsys.readouterr().out


def _graph():
    files = sorted(check_layout.PKG.rglob("*.py"))
    modules = {check_layout.module_name(f) for f in files}
    return {check_layout.module_name(f): check_layout.imports_of(f, modules) for f in files}


def test_no_part_imports_a_part_its_layer_does_not_allow():
    assert check_layout.layer_crossings(_graph()) == []
    assert check_layout.foreign_imports(check_layout.PKG, ("benchmarks", "tests")) == []
    assert check_layout.foreign_imports(REPO / "benchmarks", ("tests",)) == []


def test_layer_rule_finds_a_crossing_and_an_unknown_part():
    graph = {
        "modalchorus_widget.data.embeddings": {"modalchorus_widget.widget.chorus", "modalchorus_widget.errors"},
        "modalchorus_widget.widget.chorus": {"modalchorus_widget.worlds.shapes", "modalchorus_widget.data"},
        "modalchorus_widget.helpers": set(),
    }
    found = check_layout.layer_crossings(graph)
    assert len(found) == 2, found
    assert "(data -> widget" in found[0] and found[1].startswith("modalchorus_widget.helpers is in no layer")


def test_the_review_tool_agrees_there_are_no_crossings():
    tool = REPO.parent / "shared" / "tools" / "layers.py"
    if not tool.is_file():
        pytest.skip("the review's layer tool (../shared/tools/layers.py beside the repository) is not here")
    run = subprocess.run(
        [sys.executable, str(tool), "modalchorus_widget"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and run.stdout.rstrip().endswith("; 0 crossings"), run.stdout + run.stderr


def test_benchmarks_importing_tests_is_found(tmp_path):
    (tmp_path / "b.py").write_text("def f():\n    from tests.e2e.harness import wait_for\nimport numpy\n")
    check_layout.ROOT, root = tmp_path, check_layout.ROOT
    try:
        assert check_layout.foreign_imports(tmp_path, ("tests",)) == ["b.py:2: imports tests.e2e.harness"]
    finally:
        check_layout.ROOT = root


def test_cycle_finder_sees_cycles_through_function_level_imports(tmp_path):
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p": {"p.a"}}
    assert check_layout.find_cycle(graph) == ["p.a", "p.b", "p.c", "p.a"]
    assert check_layout.find_cycle({"p": {"p.a"}, "p.a": {"p.b"}, "p.b": set()}) is None
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from .other import g\n")
    names = {"modalchorus_widget.m", "modalchorus_widget.other"}
    # a function-level import counts as an edge
    check_layout.ROOT, root = tmp_path.parent, check_layout.ROOT
    try:
        pkg = tmp_path / "modalchorus_widget"
        pkg.mkdir()
        (pkg / "m.py").write_text(mod.read_text())
        check_layout.ROOT = tmp_path
        assert check_layout.imports_of(pkg / "m.py", names) == {"modalchorus_widget.other"}
    finally:
        check_layout.ROOT = root


def test_repo_references_are_found(tmp_path):
    f = tmp_path / "x.py"
    f.write_text('P = Path(__file__).parents[2] / "shared/data"\nok = 1  # tests/ in a comment is fine\n')
    check_layout.ROOT, root = tmp_path, check_layout.ROOT
    try:
        assert len(check_layout.repo_references(f)) == 1
    finally:
        check_layout.ROOT = root
