"""The selection gallery in a real browser: a lasso fills the selection gallery with exactly the lassoed points (paged, images
then texts, thumbnails for images), a click on a card focuses its point in both views, and a search
highlights the query's nearest points and places the query on the map."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELL = """
import numpy as np
from modalchorus_widget import load_default, Chorus, MFM
d = load_default()
es = d.embeddings
w = Chorus(es, projector=MFM(random_state=0), encoder=d.encoder, class_prompts=d.prompt_index.tolist(),
           color_by="label", wait=True)
w.concept_axis("a photo of the digit 4", "a photo of the digit 9")
w
"""


def _cards(page):
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.mc-root .mc-gallery .mc-card')).map(c => Number(c.dataset.row))"
    )


def test_lasso_fills_gallery_and_search_highlights_nearest(open_notebook):
    nb = open_notebook([CELL], width=1500, height=1200)
    root = nb.wait_widget(0, timeout=300)
    page = nb.page
    k = nb.kernel
    page.wait_for_function("() => document.querySelector('.mc-axis.mc-axis-has') !== null", timeout=60_000)
    time.sleep(0.5)
    nb.screenshot("mfm-map.png", root)

    # a lasso around a dense part of the image cloud
    pos = np.array(nb.screen_xy_all(0))
    x0, y0, w_, h_ = nb.view_box(0)
    img = pos[:1797]
    on = (img[:, 0] > x0 + 40) & (img[:, 0] < x0 + w_ - 40) & (img[:, 1] > y0 + 40) & (img[:, 1] < y0 + h_ - 40)
    cand = img[on]
    r = 40
    dens = [(np.hypot(*(cand - p).T) < r).sum() for p in cand]
    cx, cy = cand[int(np.argmax(dens))]  # the densest spot of the image cloud
    poly = [
        (cx - r, cy - r / 2),
        (cx - r / 2, cy - r),
        (cx + r / 2, cy - r),
        (cx + r, cy - r / 2),
        (cx + r, cy + r / 2),
        (cx + r / 2, cy + r),
        (cx - r / 2, cy + r),
        (cx - r, cy + r / 2),
    ]
    nb.lasso(poly)
    sel = wait_for(lambda: k.value("w.selected.tolist()"))
    assert sel and len(sel) > 24, f"the lasso selected {len(sel or [])} points; need more than a page"
    assert sel == nb.selection_in_browser(0)
    gallery = page.locator(".mc-root .mc-gallery")
    assert wait_for(lambda: gallery.get_attribute("data-total") == str(len(sel)))
    order = k.value(
        "[int(i) for i in np.r_[w.selected[es.modality[w.selected] == 'image'], "
        "w.selected[es.modality[w.selected] != 'image']]]"
    )
    assert _cards(page) == order[:24], "first page is not the first 24 selected points (images first)"
    # images show their thumbnails, every card its label and prediction
    n_img = sum(1 for i in order[:24] if i < 1797)
    assert wait_for(
        lambda: (
            page.evaluate(
                "() => Array.from(document.querySelectorAll('.mc-gallery img.mc-card-img')).filter(i => i.naturalWidth > 0).length"
            )
            == n_img
        )
    )
    first = gallery.locator(".mc-card").first
    assert "label:" in first.inner_text() and "pred:" in first.inner_text()
    # paging: the next page holds the next 24, the whole selection is reachable
    seen = list(_cards(page))
    while gallery.locator(".mc-page-next").count() and not gallery.locator(".mc-page-next").is_disabled():
        before = gallery.get_attribute("data-page")
        gallery.locator(".mc-page-next").click()
        assert wait_for(lambda: gallery.get_attribute("data-page") != before)
        seen += _cards(page)
    assert seen == order, "the pages do not hold exactly the lassoed points"
    # the Python line of the lasso reproduces the selection
    line = page.locator(".mc-codeline").get_attribute("data-line")
    assert line.startswith("w.selected = ")
    k.run("_sel = w.selected.copy(); w.selected = []")
    k.run(line)
    assert k.value("bool(np.array_equal(w.selected, _sel))")
    assert wait_for(lambda: gallery.get_attribute("data-page") == "0" and _cards(page) == order[:24])

    # clicking a card focuses its point in both views
    card = gallery.locator(".mc-card").nth(2)
    row = int(card.get_attribute("data-row"))
    card.click()
    assert wait_for(
        lambda: (
            page.evaluate(
                "() => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[0];"
                " return [e.proj.focusIndex, e.axis.focusIndex]; }"
            )
            == [row, row]
        )
    )
    time.sleep(0.5)
    nb.screenshot("gallery.png", root)

    # search: the encoder embeds the query; its nearest points of each modality are highlighted
    query = "a photo of the digit 7"
    box = page.locator(".mc-root .mc-search")
    box.fill(query)
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.mc-root').dataset.searchNearest !== undefined", timeout=60_000
    )
    got = [int(x) for x in page.evaluate("() => document.querySelector('.mc-root').dataset.searchNearest").split(",")]
    want = k.value(
        "(lambda q: [int(i) for m in es.modalities for i in (lambda r: r[np.argsort(-(es.vectors[r] @ q), "
        "kind='stable')[:8]])(es.indices(m))])(w.state.encode_texts([" + repr(query) + "], 't')[0])"
    )
    assert got == want
    drawn = page.evaluate(
        "() => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[0];"
        " return [Array.from(e.proj.search.nearest), e.proj.search.xy, e.axis.search.xy]; }"
    )
    assert drawn[0] == want and drawn[1] is not None and drawn[2] is not None
    assert page.locator(".mc-codeline").get_attribute("data-line") == f'w.search("{query}")'
    # the text prompt itself is the nearest text, and a substring search finds it too
    assert got[8] == k.value("int(d.prompt_index[7])")
    assert "1 match" in page.locator(".mc-search-result").inner_text()
    time.sleep(0.3)
    nb.screenshot("search.png", root)

    # PNG export: w.to_png asks the browser, which sends the views as drawn once the cell is done
    k.run("_png = w.to_png('views.png')")
    assert wait_for(lambda: k.value("w.png_written") == "views.png", timeout=30)
    head = k.value("(list(open('views.png', 'rb').read()[:8]), __import__('PIL.Image').Image.open('views.png').size)")
    assert head[0] == [137, 80, 78, 71, 13, 10, 26, 10] and head[1][0] > 600 and head[1][1] > 300
