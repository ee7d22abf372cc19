"""The augmentation panel in a real browser. A PNG dropped on it and a text typed into it become two
points of a named set (encoded by the attached encoder, placed by the map's projector); an undecodable file
shows an error in the panel and adds nothing; the Python line the widget shows, run in a new cell on a fresh
widget, reproduces the state bit-exactly."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import load_default, Chorus
d = load_default()
es = d.embeddings
make = lambda: Chorus(es, projector="PCA", encoder=d.encoder, class_prompts=d.prompt_index.tolist())
w = make()
w
"""


def _digit_png() -> bytes:
    """A 32x32 grayscale PNG of a drawn '1' (a real image file, decoded by the kernel like any other)."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (32, 32), 0)
    ImageDraw.Draw(im).line([(16, 4), (16, 28)], fill=255, width=4)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _drop(page, data: bytes, name: str):
    """Drop a file on the panel's drop zone (the DragEvents a drag from the desktop fires, with its DataTransfer)."""
    page.evaluate(
        """([b64, name]) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             const dt = new DataTransfer(); dt.items.add(new File([bytes], name, { type: 'image/png' }));
             const el = document.querySelector('.mc-root .mc-augment-drop');
             for (const t of ['dragenter', 'dragover', 'drop'])
               el.dispatchEvent(new DragEvent(t, { dataTransfer: dt, bubbles: true, cancelable: true })); }""",
        [base64.b64encode(data).decode(), name],
    )


def test_drop_png_and_type_text_add_points_in_a_named_set(open_notebook, lab):
    png = _digit_png()
    (lab.root / "digit.png").write_bytes(png)  # the same file, where the kernel's Python line finds it
    (lab.root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 20)
    nb = open_notebook([CELL], width=1500, height=1300)
    root = nb.wait_widget(0, timeout=240)
    page = nb.page
    k = nb.kernel
    n0 = k.value("w.n")
    panel = page.locator(".mc-root .mc-augment")
    panel.scroll_into_view_if_needed()
    # drop the PNG, type a text and the set name with the keyboard, click Add
    _drop(page, png, "digit.png")
    assert "digit.png" in panel.locator(".mc-augment-files").inner_text()
    panel.locator(".mc-augment-texts").click()
    page.keyboard.type("a photo of the digit 3")
    panel.locator(".mc-augment-set").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("extras")
    panel.locator(".mc-augment-add").click()
    page.wait_for_selector(".mc-root .mc-augment[data-state='ok']", timeout=60_000)
    assert "Added 2 points" in panel.locator(".mc-augment-msg").inner_text()
    assert k.value("w.n") == n0 + 2
    assert k.value("w.sets['extras'].tolist()") == [n0, n0 + 1]
    assert k.value("list(w.embeddings.modality[-2:])") == ["image", "text"]
    assert k.value("w.embeddings.items[-1]") == "a photo of the digit 3"
    # both are drawn: the browser holds n0 + 2 points, at the places the projector gave them
    assert wait_for(lambda: root.get_attribute("data-n") == str(n0 + 2), timeout=30)
    js_xy = page.evaluate(
        """n => { const v = globalThis.__modalchorus.filter(e => e.root.isConnected)[0].proj;
             const t = v.transform; return [n, n + 1].map(i => [v.ndc.x[i] / t.sx + t.cx, v.ndc.y[i] / t.sy + t.cy]); }""",
        n0,
    )
    np.testing.assert_allclose(js_xy, k.value("w.positions[-2:].tolist()"), atol=1e-4)
    assert "extras" in page.locator(".mc-root .mc-sets").inner_text()
    line = page.locator(".mc-codeline").get_attribute("data-line")
    assert line == 'w.augment(images=["digit.png"], texts=["a photo of the digit 3"], set_name="extras")'
    nb.screenshot("augment-panel.png", root)

    # an undecodable file: a clear message in the panel, nothing added in the kernel or the browser
    k.run("state_before = (w.n, {k: v.tolist() for k, v in w.sets.items()}, w.positions.copy())")
    panel.locator(".mc-augment-input").set_input_files(str(lab.root / "broken.png"))
    panel.locator(".mc-augment-add").click()
    page.wait_for_selector(".mc-root .mc-augment[data-state='error']", timeout=60_000)
    msg = panel.locator(".mc-augment-msg").inner_text()
    assert "broken.png" in msg and "cannot be decoded" in msg, msg
    assert k.value(
        "(w.n, {k: v.tolist() for k, v in w.sets.items()}) == state_before[:2] "
        "and bool(np.array_equal(w.positions, state_before[2]))"
    )
    assert root.get_attribute("data-n") == str(n0 + 2)
    assert page.locator(".mc-codeline").get_attribute("data-line") == line  # a failed add has no line

    # the line, run in a new cell on a fresh widget, gives the same points, set and places
    k.run(f"w_panel = w\nw = make()\n{line}")
    assert k.value(
        "bool(np.array_equal(w.embeddings.vectors, w_panel.embeddings.vectors)) "
        "and bool(np.array_equal(w.positions, w_panel.positions)) "
        "and w.sets['extras'].tolist() == w_panel.sets['extras'].tolist()"
    )
