"""Browser tests: a real JupyterLab on 127.0.0.1 driven by headless Debian Chromium through Playwright.

The lab (JupyterLab, Chromium, notebook pages) lives in ``benchmarks/browser.py``, which the widget benchmark
drives too; the tests' own helpers are in ``tests/e2e/harness.py``. Run pytest from the repo root
(``python -m pytest``) so both import. Fixtures:
- ``lab``: one JupyterLab server per session (or Jupyter Notebook 7 for a test parametrised with
  ``front_end="notebook"``), own HOME/config/runtime dirs under a tmp dir, stopped by PID;
- ``browser``: Playwright's Chromium launched from Debian's ``chromium``;
- ``open_notebook(cells)``: a page (the widget's test bundle, with its test hooks) with a new notebook whose cells have been run, plus a
  kernel driver.
Screenshots go to ``<repo>/test-output/``.
"""

from __future__ import annotations

import uuid

import pytest

from benchmarks.browser import REPO, TEST_BUNDLE, Lab, NotebookPage, chromium_path, launch_browser, new_page


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """servers(front_end) -> a running Lab for "lab" (JupyterLab) or "notebook" (Notebook 7), started on first use."""
    if not chromium_path():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); `make test` installs it")
    static = REPO / "modalchorus_widget" / "static"
    if not ((static / "widget.js").exists() and (static / "widget.css").exists() and TEST_BUNDLE.exists()):
        pytest.fail("front-end bundles missing: run `cd js && npm run build` (make setup) before the browser tests")
    running = {}

    def get(front_end):
        if front_end not in running:
            running[front_end] = Lab(tmp_path_factory.mktemp(f"jupyter-{front_end}"), front_end=front_end).start()
        return running[front_end]

    yield get
    for server in running.values():
        server.stop()


@pytest.fixture
def front_end(request):
    """The front end a test runs in: "lab" unless it is parametrised, e.g.
    ``@pytest.mark.parametrize("front_end", ["lab", "notebook"], indirect=True)``."""
    return getattr(request, "param", "lab")


@pytest.fixture
def lab(servers, front_end):
    return servers(front_end)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session: a second sync_playwright() in the same thread is refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    b = launch_browser(playwright)
    yield b
    b.close()


@pytest.fixture
def open_notebook(lab, browser):
    """open_notebook(cells, name=None, width=1400, height=1000) -> NotebookPage with cells run."""
    pages = []

    def _open(cells, name=None, width=1400, height=1000):
        name = name or f"t_{uuid.uuid4().hex[:8]}.ipynb"
        lab.write_notebook(name, cells)
        page = new_page(browser, width, height)
        page.on("console", lambda msg: print(f"[browser {msg.type}] {msg.text}") if msg.type in ("error",) else None)
        nbp = NotebookPage(lab, page, name)
        pages.append(nbp)
        return nbp.open_and_run()

    yield _open
    for p in pages:
        p.close()
