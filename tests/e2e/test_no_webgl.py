"""The widget in a real browser without WebGL (Chromium launched with --disable-webgl --disable-3d-apis): the widget
shows, in place of each canvas, a message saying what failed and what to try, instead of a blank map; the
rest of the widget (status line, panels) still renders and the kernel still drives it."""

from __future__ import annotations

import pytest

from benchmarks.browser import CHROMIUM_ARGS, NotebookPage, chromium_path, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
from modalchorus_widget import load_default, Chorus
d = load_default()
w = Chorus(d.embeddings, projector="PCA", encoder=d.encoder, class_prompts=d.prompt_index.tolist())
w.concept_axis("a photo of the digit 4", "a photo of the digit 9")
w
"""


@pytest.fixture(scope="module")
def browser_without_webgl(playwright):
    if not chromium_path():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    args = [a for a in CHROMIUM_ARGS if "angle" not in a and "swiftshader" not in a]
    b = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=[*args, "--disable-webgl", "--disable-3d-apis"]
    )
    yield b
    b.close()


def test_without_webgl_the_widget_says_what_failed_and_what_to_try(lab, browser_without_webgl):
    name = lab.write_notebook("no_webgl.ipynb", [CELL])
    nb = NotebookPage(lab, new_page(browser_without_webgl, 1400, 1000), name)
    try:
        nb.open_and_run()
        root = nb.wait_widget(0, timeout=240)
        page = nb.page
        assert page.evaluate("() => !document.createElement('canvas').getContext('webgl')")  # really no WebGL
        msgs = root.locator(".mc-nowebgl")
        assert msgs.count() == 2  # projection view and concept-axis view
        for i in range(2):
            assert msgs.nth(i).is_visible() and msgs.nth(i).get_attribute("role") == "alert"
            text = msgs.nth(i).inner_text()
            assert "WebGL is not available" in text and "hardware acceleration" in text and "re-run the cell" in text
        assert root.get_attribute("data-n") == str(nb.kernel.value("w.n"))
        assert "points" in root.locator(".mc-status").inner_text()
        # the kernel still drives the widget: a selection from Python reaches the page
        nb.kernel.run("w.selected = [1, 2, 3]")
        page.wait_for_function("() => document.querySelector('.mc-root').dataset.selected === '3'", timeout=30_000)
        nb.screenshot("no-webgl.png", root)
    finally:
        nb.close()
