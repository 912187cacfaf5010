"""DatasetExplorer's front end in a plain harness page: the filters and sorting show the
rows Python's own logic picks (and set the traits); a click on a thumbnail sets
``selected``, Python builds the viewer for it, and the SaliencyViewer opens inside the
explorer and works there; thumbnails not preloaded are asked for a page at a time and
appear when the kernel's answer arrives; ids from data stay text."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.report import encode_state
from xwidgets.widgets.dataset_explorer import DatasetExplorer

from .harness import model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-dataset"][data-ready="true"]'
VIEWER_READY = '[data-testid="xw-dx-viewer"] [data-testid="xw-saliency"][data-ready="true"]'
N = 30
FLIPPED = (3, 8, 21)
BAD = 4
XSS = "<img src=x onerror=alert(1)>"

# `window.model.set(name, value)` with {"$binary": base64} turned into DataViews
SET_REVIVED = """([name, value]) => {
  const revive = (v) => {
    if (Array.isArray(v)) return v.map(revive);
    if (v && typeof v === "object") {
      if (Object.keys(v).length === 1 && "$binary" in v) {
        const s = atob(v.$binary), b = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
        return new DataView(b.buffer);
      }
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    }
    return v;
  };
  window.model.set(name, revive(value));
}"""

# the kernel's custom message, as anywidget delivers it: (content, [DataView])
DELIVER = """([content, b64]) => {
  const s = atob(b64), b = new Uint8Array(s.length + 3);
  for (let i = 0; i < s.length; i++) b[3 + i] = s.charCodeAt(i);
  for (const cb of [...(window.model.listeners["msg:custom"] || [])]) cb(content, [new DataView(b.buffer, 3, s.length)]);
}"""


def set_from_python(page, dx: DatasetExplorer, name: str) -> None:
    """What the kernel syncs when trait ``name`` of ``dx`` changes."""
    page.evaluate(SET_REVIVED, [name, json.loads(json.dumps(encode_state({name: getattr(dx, name)})))[name]])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    toy = xw.models.toy_cnn()
    images, labels = SyntheticParts(N, seed=4).arrays()
    items = [(images[i], int(labels[i])) for i in range(N)]
    for i in FLIPPED:
        items[i] = (images[i], (int(labels[i]) + 1) % len(toy.labels))
    items[BAD] = ("/nonexistent/xw-image.png", int(labels[BAD]))
    store = xw.explain_dataset(toy, items, "gradcam", metrics=["sparseness"], store=tmp_path_factory.mktemp("dxb") / "s",
                               batch_size=16, progress=False)
    torch.set_num_threads(threads)
    return store


def shown(page) -> list[int]:
    return [int(t.get_attribute("data-id")) for t in page.locator('[data-testid="xw-dx-thumb"]').all()]


def thumb(page, image_id):
    return page.locator(f'[data-testid="xw-dx-thumb"][data-id="{image_id}"]')


def test_filter_sort_then_a_click_opens_the_viewer(browser_page, store, screenshot):
    page = browser_page
    dx = DatasetExplorer(store, page_size=12, title="Thirty synthetic images")
    open_harness(page, dx, READY)
    assert page.text_content('[data-testid="xw-dx-summary"]') == f"{N} images \u00b7 gradcam \u00b7 26 right \u00b7 3 wrong \u00b7 1 failed"
    assert page.text_content('[data-testid="xw-dx-count"]') == f"{N} of {N} shown"
    assert shown(page) == list(range(12))
    assert page.text_content('[data-testid="xw-dx-page"]') == "Page 1 of 3 \u00b7 rows 1\u201312"
    # preloaded: every thumbnail decoded from its PNG bytes (blob URLs, no network)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=xw-dx-thumb-img]')].every(i => i.complete && i.naturalWidth === 64)")
    expect(page.locator('[data-testid="xw-dx-thumb-img"]')).to_have_count(11)  # the failed image has none
    expect(thumb(page, BAD).locator('[data-testid="xw-dx-thumb-failed"]')).to_have_text("\u26a0 failed")
    expect(thumb(page, 3)).to_have_attribute("data-correct", "wrong")

    # filters: the grid shows what Python's own logic picks, and the traits follow
    page.click('[data-testid="xw-dx-correct-wrong"]')
    assert model_get(page, "correctness") == "wrong" and shown(page) == list(FLIPPED) == dx.filter(correctness="wrong")
    page.click('[data-testid="xw-dx-correct-all"]')
    pred = dx.rows[0]["pred"]
    page.select_option('[data-testid="xw-dx-pred"]', str(pred))
    assert model_get(page, "predicted_class") == pred
    expected = dx.filter(correctness="all", predicted_class=pred)
    assert shown(page) == expected[:12] and page.text_content('[data-testid="xw-dx-count"]') == f"{len(expected)} of {N} shown"
    option = page.locator(f'[data-testid="xw-dx-pred"] option[value="{pred}"]').inner_text()
    assert option == f"{dx.class_names[pred]} ({sum(r['pred'] == pred for r in dx.rows)})"
    page.click('[data-testid="xw-dx-reset"]')
    assert model_get(page, "predicted_class") == -1 and shown(page) == list(range(12))
    page.fill('[data-testid="xw-dx-metric-min"][data-metric="sparseness"]', "0.5")
    page.press('[data-testid="xw-dx-metric-min"][data-metric="sparseness"]', "Enter")
    assert model_get(page, "metric_ranges") == {"sparseness": [0.5, None]}
    dx.filter(predicted_class=-1, metric_ranges={"sparseness": (0.5, None)})
    assert shown(page) == dx.visible[:12]
    page.click('[data-testid="xw-dx-reset"]')
    assert model_get(page, "metric_ranges") == {}
    dx.filter(metric_ranges={})

    # sorting by confidence, highest first: the failed image (no confidence) last; page 3
    page.select_option('[data-testid="xw-dx-sort"]', "confidence")
    page.click('[data-testid="xw-dx-order"]')
    assert (model_get(page, "sort_by"), model_get(page, "sort_order")) == ("confidence", "desc")
    order = dx.sort("confidence", "desc")
    assert order[-1] == BAD and shown(page) == order[:12]
    page.click('[data-testid="xw-dx-next"]')
    page.click('[data-testid="xw-dx-next"]')
    assert model_get(page, "page") == 2 and shown(page) == order[24:]
    # the table: a header click sorts by that column (and again reverses)
    page.click('[data-testid="xw-dx-mode-table"]')
    page.click('[data-testid="xw-dx-col"][data-column="sparseness"]')
    assert (model_get(page, "sort_by"), model_get(page, "sort_order"), model_get(page, "page")) == ("sparseness", "asc", 0)
    rows = [int(r.get_attribute("data-id")) for r in page.locator('[data-testid="xw-dx-row"]').all()]
    assert rows == dx.sort("sparseness", "asc")[:12]
    assert page.locator('th[aria-sort="ascending"]').inner_text().startswith("sparseness")
    page.click('[data-testid="xw-dx-mode-grid"]')

    # a click opens the image: the trait changes, Python builds the viewer, the viewer opens here
    target = shown(page)[2]
    thumb(page, target).click()
    assert model_get(page, "selected") == target
    expect(page.locator('[data-testid="xw-dx-loading"]')).to_be_visible()
    expect(thumb(page, target)).to_have_attribute("aria-pressed", "true")
    dx.selected = model_get(page, "selected")  # the kernel receives the trait ...
    assert dx.opened["image_id"] == target
    set_from_python(page, dx, "opened")  # ... and sends `opened` back
    page.wait_for_selector(VIEWER_READY)
    expect(page.locator('[data-testid="xw-dx-loading"]')).to_be_hidden()
    viewer = page.locator('[data-testid="xw-dx-viewer"]')
    title = viewer.locator('[data-testid="xw-title"]').inner_text()
    assert title.startswith(f"Image {target}: predicted ") and title.endswith("image: the stored 64\u00d764 thumbnail")
    assert page.text_content('[data-testid="xw-dx-opened-title"]') == f"Image {target}"
    screenshot(page, "dataset_explorer_opened")
    # the embedded viewer works: its opacity slider sets the explorer's trait
    saves = page.evaluate("window.model.saves")
    viewer.locator('[data-testid="xw-opacity"]').fill("0.2")
    assert model_get(page, "opacity") == 0.2 and page.evaluate("window.model.saves") > saves
    # Python changes the colour map: the viewer follows
    page.evaluate("() => window.model.set('colormap', 'magma')")
    expect(viewer.locator('[data-testid="xw-colormap"]')).to_have_value("magma")
    # a stale answer (another image) does not replace the viewer; the failed image shows its error
    page.evaluate("() => window.model.set('selected', %d)" % BAD)
    expect(page.locator('[data-testid="xw-dx-loading"]')).to_be_visible()
    set_from_python(page, dx, "opened")  # still image `target`'s
    expect(viewer.locator('[data-testid="xw-saliency"]')).to_have_count(0)
    dx.selected = BAD
    set_from_python(page, dx, "opened")
    expect(page.locator('[data-testid="xw-dx-open-error"]')).to_contain_text(f"Image {BAD} has no gradcam map: it failed")
    page.click('[data-testid="xw-dx-close"]')
    assert model_get(page, "selected") is None
    expect(page.locator('[data-testid="xw-dx-opened"]')).to_be_hidden()
    assert page.errors == [] and page.blocked == []


def test_thumbnails_come_a_page_at_a_time_and_ids_stay_text(browser_page, store, tmp_path):
    page = browser_page
    images, labels = SyntheticParts(5, seed=9).arrays()
    items = [{"image": images[i], "label": int(labels[i]), "id": XSS if i == 1 else f"img-{i}"} for i in range(5)]
    small = xw.explain_dataset(xw.models.toy_cnn(), items, "gradcam", store=tmp_path / "ids", progress=False)
    dx = DatasetExplorer(small, preload=False, page_size=3)
    page.on("dialog", lambda d: (page.errors.append(f"dialog: {d.message}"), d.dismiss()))
    assert dx.thumbnails == {}
    open_harness(page, dx, READY, state={**dx.report_state(), "thumbnails": {}})  # a live kernel's state (not a report's)
    expect(page.locator('[data-testid="xw-dx-thumb-missing"]')).to_have_count(3)
    (request,) = page.evaluate("window.model.sent")
    assert request == {"type": "thumbnails", "version": dx.version, "rows": [0, 1, 2]}
    # the kernel answers (Python's handler), the PNGs replace the placeholders
    answers = []
    dx.send = lambda content, buffers=None: answers.append((content, buffers))
    dx._on_message(dx, request, [])
    (content, buffers), = answers
    page.evaluate(DELIVER, [content, base64.b64encode(buffers[0]).decode()])
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=xw-dx-thumb-img]')].filter(i => i.complete && i.naturalWidth > 0).length === 3")
    expect(page.locator('[data-testid="xw-dx-thumb-missing"]')).to_have_count(0)
    # the next page asks for its own rows only; going back asks for nothing
    page.click('[data-testid="xw-dx-next"]')
    assert page.evaluate("window.model.sent")[1]["rows"] == [3, 4]
    page.click('[data-testid="xw-dx-prev"]')
    assert len(page.evaluate("window.model.sent")) == 2
    # keyboard: arrows move among the page's thumbnails, Enter opens
    first = page.locator('[data-testid="xw-dx-thumb"]').first
    assert first.get_attribute("tabindex") == "0"
    first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id") == dx.ids[1]
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    assert model_get(page, "selected") == dx.ids[2]
    page.click('[data-testid="xw-dx-close"]')
    # markup in an id is text
    assert dx.ids[0] == XSS  # "<" sorts before "i"
    assert thumb(page, XSS).locator(".xw-id").inner_text() == XSS
    assert page.locator('[data-testid="xw-dataset"] img').count() == 3  # the thumbnails only
    thumb(page, XSS).click()
    assert model_get(page, "selected") == XSS
    dx.selected = XSS
    set_from_python(page, dx, "opened")
    page.wait_for_selector(VIEWER_READY)
    assert page.text_content('[data-testid="xw-dx-opened-title"]') == f"Image {XSS}"
    assert np.isfinite(dx.data.confidence).all()
    assert page.errors == [] and page.blocked == []
