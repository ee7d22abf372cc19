"""Check the package's layout rules and print what was found; exit 1 if any rule is broken.

- the import graph of ``modalchorus_widget`` (every import, at module level or inside functions) has no cycle;
- no module is over 600 lines;
- nothing in the installed package refers to the repository's own folders (tests, benchmarks, scripts,
  notebooks, js, ../shared, test-output) or climbs above the package with ``Path(__file__)`` parents;
- ruff (lint + format) and eslint report zero findings (``--no-lint`` skips these two).

Run from the repository root: ``python scripts/check_layout.py``.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "modalchorus_widget"
MAX_LINES = 600
REPO_WORDS = re.compile(r"""["'/](shared|tests|benchmarks|scripts|notebooks|js|test-output|bench-output)/""")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Package modules that ``path`` imports (resolving relative imports; ``from . import x`` counts x)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first == last), or None. A package's ``__init__`` importing its
    own submodules is not a cycle by itself, so edges from a package to its children are left out."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m.startswith(n + "."):
                continue
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def repo_references(path: Path) -> list[str]:
    hits = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if "parents[" in code or ".parent.parent.parent" in code or REPO_WORDS.search(code):
            hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    return hits


def run(cmd, cwd=ROOT) -> tuple[int, str]:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-lint", action="store_true", help="skip ruff and eslint")
    args = ap.parse_args(argv)
    files = sorted(PKG.rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = {module_name(f): imports_of(f, modules) for f in files}
    problems = []

    cycle = find_cycle(graph)
    print(
        f"import graph: {len(graph)} modules, {sum(map(len, graph.values()))} edges; "
        f"cycle: {' -> '.join(cycle) if cycle else 'none'}"
    )
    if cycle:
        problems.append("import cycle " + " -> ".join(cycle))

    sizes = sorted(((len(f.read_text().splitlines()), f) for f in files), reverse=True)
    print("largest modules: " + ", ".join(f"{f.relative_to(PKG)} {n}" for n, f in sizes[:3]))
    problems += [f"{f.relative_to(ROOT)} has {n} lines (> {MAX_LINES})" for n, f in sizes if n > MAX_LINES]

    refs = [h for f in files for h in repo_references(f)]
    print(f"references to repository folders in the package: {len(refs)}")
    problems += refs

    if not args.no_lint:
        py = [sys.executable, "-m", "ruff"]
        for what, cmd, cwd in (
            ("ruff check", py + ["check", "."], ROOT),
            ("ruff format", py + ["format", "--check", "."], ROOT),
            ("eslint", ["npm", "run", "--silent", "lint"], ROOT / "js"),
        ):
            rc, out = run(cmd, cwd)
            print(f"{what}: {'clean' if rc == 0 else 'FINDINGS'}")
            if rc:
                problems.append(f"{what}:\n{out[-3000:]}")

    for p in problems:
        print("FAIL:", p)
    print("layout OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
