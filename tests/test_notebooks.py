"""Every notebook under notebooks/ runs top to bottom headless (lasso simulated from Python)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {
        "quickstart.ipynb",
        "case_compositional.ipynb",
        "digits.ipynb",
        "coco_retrieval.ipynb",
        "connect_spaces.ipynb",
        "your_own_clip.ipynb",
    } <= names


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(nb, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_notebook.py"), str(nb), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def test_notebooks_are_stripped():
    import nbformat

    for nb in NOTEBOOKS:
        book = nbformat.read(nb, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{nb.name} has outputs committed"
