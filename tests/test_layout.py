"""The layout rules of CONTRIBUTING.md hold (scripts/check_layout.py), and the checker finds what it should."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_layout", REPO / "scripts" / "check_layout.py")
check_layout = importlib.util.module_from_spec(spec)
sys.modules["check_layout"] = check_layout
spec.loader.exec_module(check_layout)


def test_package_layout_rules_hold(capsys):
    assert check_layout.main(["--no-lint"]) == 0, capsys.readouterr().out


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
