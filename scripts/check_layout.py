"""Check the package's layout rules and print what was found; exit 1 if any rule is broken.

- the import graph of ``modalchorus_widget`` (every import, at module level or inside functions) has no cycle;
- every part of the package sits in one layer of ``LAYERS`` and imports only its own part and the parts that
  table allows (a lower layer never imports a higher one); a new subpackage or top-level module must be
  added to the table first;
- the package imports neither ``benchmarks`` nor ``tests``, and ``benchmarks`` never imports ``tests``
  (tests may import benchmarks' helpers, never the other way round);
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
# The layers, lowest first (CONTRIBUTING.md, "Where code goes"). A part is a subpackage of the package, or
# "core": the modules at the top of the package (and the package's own __init__, whose public names load
# lazily, by name, from anywhere). Each part may import itself and exactly the parts listed for it.
CORE = "core"
CORE_MODULES = (
    "errors",
    "checkpoint",
    "io",
    "safe_zip",
    "evaluation",
    "threads",
    "device",
    "memory",
    "_optim",
    "_lazy",
)
LAYERS = {
    CORE: (),
    "data": (CORE,),
    "encoders": (CORE, "data"),
    "projection": (CORE, "data", "encoders"),
    "alignment": (CORE, "data", "encoders", "projection"),
    "cmcr": (CORE, "data", "encoders", "projection"),
    "probe": (CORE, "data", "encoders", "projection", "alignment", "cmcr"),
    "worlds": (CORE, "data", "encoders", "projection", "alignment", "cmcr", "probe"),
    "widget": (CORE, "data", "encoders", "projection", "alignment", "cmcr", "probe", "worlds"),
    "scale": (CORE, "data", "encoders", "projection", "alignment", "cmcr", "probe", "worlds", "widget"),
}
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


def part_of(module: str) -> str | None:
    """The layer table's part of a package module: its subpackage, ``core`` for a top-level module in
    ``CORE_MODULES`` (or the package itself), None for a top-level module the table does not know."""
    parts = module.split(".")
    if len(parts) == 1:
        return CORE
    if (PKG / parts[1]).is_dir():
        return parts[1]
    return CORE if parts[1] in CORE_MODULES else None


def layer_crossings(graph: dict[str, set[str]]) -> list[str]:
    """Every import of the graph that the layer table does not allow, and every module outside the table."""
    out = []
    for src in sorted(graph):
        a = part_of(src)
        if a is None or a not in LAYERS:
            out.append(f"{src} is in no layer: add its part to LAYERS in scripts/check_layout.py (and CONTRIBUTING.md)")
            continue
        for dst in sorted(graph[src]):
            b = part_of(dst)
            if b is not None and b != a and b not in LAYERS[a]:
                out.append(f"{src} imports {dst} ({a} -> {b}: {a} may import {', '.join(LAYERS[a]) or 'nothing'})")
    return out


def foreign_imports(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    """``file:line: import`` for every import (module level or inside a function) of a top-level package in
    ``forbidden`` by a Python file under ``folder``."""
    hits = []
    for f in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for n in names:
                if n.split(".")[0] in forbidden:
                    hits.append(f"{f.relative_to(ROOT)}:{node.lineno}: imports {n}")
    return hits


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

    crossings = layer_crossings(graph)
    print(f"layers (lowest first): {', '.join(LAYERS)}; crossings: {len(crossings)}")
    problems += crossings

    foreign = foreign_imports(PKG, ("benchmarks", "tests")) + foreign_imports(ROOT / "benchmarks", ("tests",))
    print(f"imports of tests/benchmarks by the package, of tests by benchmarks: {len(foreign)}")
    problems += foreign

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
