"""The README and the documentation site: short, generated where they hold figures, and the session they show
runs as written."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_docs  # noqa: E402
import tables  # noqa: E402


def _session(path: Path) -> str:
    text = path.read_text()
    block = re.search(r"<!-- session:start.*?-->\n```python\n(.*?)```\n<!-- session:end -->", text, re.S)
    assert block, f"{path.name} has no marked session"
    return block.group(1)


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_generated_docs_are_up_to_date():
    """Tables of figures match their JSON files, and every public name has its API page entry."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr


def test_a_changed_json_makes_its_table_stale(tmp_path, monkeypatch):
    """The check above would catch a benchmark rerun whose tables were not regenerated."""
    figures = {
        "cases": {"zero_shot_target_before": 0.5, "zero_shot_target_after": 0.75, "zero_shot_untouched_max_drop": 0}
    }
    for name, data in figures.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    monkeypatch.setattr(tables, "FIGURES", tmp_path)
    before = tables.render("headline")
    assert "0.500 → 0.750" in before
    figures["cases"]["zero_shot_target_after"] = 0.8
    (tmp_path / "cases.json").write_text(json.dumps(figures["cases"]))
    assert tables.render("headline") != before
    readme = (ROOT / "README.md").read_text()
    assert gen_docs.fill_tables(readme, "README.md") != readme


def test_every_table_block_names_a_table():
    for path in gen_docs.markdown_files():
        for match in gen_docs.BLOCK.finditer(path.read_text()):
            assert match.group(2) in tables.TABLES, f"{path}: unknown table {match.group(2)!r}"


def test_readme_and_docs_show_the_same_session():
    assert _session(ROOT / "README.md") == _session(ROOT / "docs" / "index.md")


@pytest.mark.slow
def test_the_shortest_session_runs_as_written(tmp_path, monkeypatch):
    from modalchorus_widget import Patch

    monkeypatch.chdir(tmp_path)
    code = _session(ROOT / "README.md")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    w, rnd = namespace["w"], namespace["rnd"]
    assert len(w.suspects) > 0
    assert rnd.report["steps"] > 0
    patch = Patch.load(tmp_path / "fix.mcpatch")
    assert len(patch.rounds) == len(w.aligner.history_)
