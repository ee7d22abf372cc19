"""The version has one source (modalchorus_widget/__init__.py) and every other place agrees with it."""

import json
import re
from importlib.metadata import version
from pathlib import Path

import tomllib

import modalchorus_widget

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "pyproject.toml must not state the version itself"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "modalchorus_widget/__init__.py"


def test_versions_agree():
    v = modalchorus_widget.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    assert json.loads((ROOT / "js" / "package.json").read_text())["version"] == v
    assert version("modalchorus-widget") == v, "the installed metadata is stale: reinstall (make setup)"


def test_changelog_names_the_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, flags=re.M)
    assert released and released[0] == modalchorus_widget.__version__
