"""ExplanationGallery's front end in a plain harness page and in an offline report: the
filters show the right thumbnails and set the traits; a click on a thumbnail opens that
explanation's ConceptExplorer below the grid, and the explorer works there (a node click
lights its patch and phrase and sets the gallery's ``selected``; setting the trait moves
the highlight); a lazily sent explanation appears when the kernel's ``explorer`` arrives;
keyboard; markup in captions stays text."""

from __future__ import annotations

import dataclasses
import json

import pytest
from playwright.sync_api import expect

from xwidgets.report import encode_state, write_report
from xwidgets.widgets import ExplanationData, ExplanationGallery
from xwidgets.widgets.concept_explorer import explorer_payload

from .harness import model_get, open_harness
from .test_report_offline import open_offline

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-gallery"][data-ready="true"]'
EXPLORER_READY = '[data-testid="xw-gallery-explorer"] [data-testid="xw-explorer"][data-ready="true"]'
XSS = "<img src=x onerror=alert(1)>"


def gallery_items() -> list[ExplanationData]:
    """Synthetic images 0-7, two of them mispredicted (1: a window over door taken for a
    door over window; 3: a yellow lamp taken for a red lamp) and image 6 without a true class."""
    items = [ExplanationData.example(i) for i in range(8)]
    items[1] = dataclasses.replace(items[1], predicted=6)
    items[3] = dataclasses.replace(items[3], predicted=1)
    items[6] = dataclasses.replace(items[6], true_class=None)
    return items


@pytest.fixture(scope="module")
def items() -> list[ExplanationData]:
    return gallery_items()


def thumb(page, i):
    return page.locator(f'[data-testid="xw-thumb"][data-item="{i}"]')


def shown(page) -> list[int]:
    """Positions of the visible thumbnails."""
    return [int(t.get_attribute("data-item")) for t in page.locator('[data-testid="xw-thumb"]:visible').all()]


def explorer(page):
    return page.locator('[data-testid="xw-gallery-explorer"] [data-testid="xw-explorer"]')


def test_filters_then_a_click_opens_a_working_explorer(browser_page, items, screenshot):
    page = browser_page
    open_harness(page, ExplanationGallery(items, title="Eight synthetic images"), READY)
    expect(page.locator('[data-testid="xw-thumb"]')).to_have_count(8)
    assert page.text_content('[data-testid="xw-gallery-summary"]') == "8 explanations \u00b7 5 right \u00b7 2 wrong \u00b7 1 without a true class"
    assert page.text_content('[data-testid="xw-gallery-count"]') == "8 of 8 shown"
    # every thumbnail decoded its PNG (no network: blob URLs)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=xw-thumb-img]')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator('[data-testid="xw-thumb-img"]').first.evaluate("i => i.naturalWidth") == 112
    assert thumb(page, 1).get_attribute("data-correct") == "wrong"
    assert thumb(page, 6).get_attribute("data-correct") == "unknown"
    assert thumb(page, 1).locator('[data-testid="xw-thumb-true"]').inner_text() == "true: window over door \u2717 wrong"
    assert thumb(page, 1).locator('[data-testid="xw-thumb-predicted"]').inner_text().startswith("door over window ")
    assert page.locator('[data-testid="xw-gallery-opened"]').is_hidden()

    # class of the prediction, then of the truth, then correctness: the grid and the traits follow
    page.select_option('[data-testid="xw-gallery-class"]', "6")
    assert shown(page) == [0, 1, 7]
    assert model_get(page, "class_filter") == 6
    options = page.locator('[data-testid="xw-gallery-class"] option').all_inner_texts()
    assert "door over window (3)" in options and options[0] == "All classes (8)"
    page.click('[data-testid="xw-gallery-role-true"]')
    assert model_get(page, "class_role") == "true"
    assert shown(page) == [0, 7]
    page.click('[data-testid="xw-gallery-role-predicted"]')
    page.click('[data-testid="xw-gallery-correct-wrong"]')
    assert model_get(page, "correctness") == "wrong"
    assert shown(page) == [1]
    assert page.text_content('[data-testid="xw-gallery-count"]') == "1 of 8 shown"
    page.select_option('[data-testid="xw-gallery-class"]', "-1")
    assert shown(page) == [1, 3]
    page.click('[data-testid="xw-gallery-correct-correct"]')
    assert shown(page) == [0, 2, 4, 5, 7]  # 6 has no true class
    page.click('[data-testid="xw-gallery-correct-all"]')
    assert shown(page) == list(range(8))

    # the model side (Python) sets a filter: the grid follows
    page.evaluate("() => window.model.set('class_filter', 1)")
    assert shown(page) == [2, 3]
    assert page.input_value('[data-testid="xw-gallery-class"]') == "1"

    # open item 3 (a yellow lamp predicted red lamp): its explorer appears below the grid
    thumb(page, 3).click()
    page.wait_for_selector(EXPLORER_READY)
    assert model_get(page, "opened") == 3
    assert model_get(page, "selected_class") == 1 and model_get(page, "selected") == ""
    expect(thumb(page, 3)).to_have_attribute("aria-pressed", "true")
    assert page.text_content('[data-testid="xw-gallery-opened-title"]') == items[3].title
    assert explorer(page).locator('[data-testid="xw-question"]').inner_text() == "Why red lamp?"
    graph = items[3].graph(1)
    expect(explorer(page).locator('[data-testid="xw-node"]')).to_have_count(len(graph.nodes))
    screenshot(page, "gallery_opened")

    # the explorer works: a node click lights its patch and phrase and sets the gallery's trait
    ref = next(s.id for s in graph.text.spans if s.kind == "node" and graph.node(s.id).box is not None)
    explorer(page).locator(f'[data-testid="xw-node"][data-ref="{ref}"]').click()
    page.mouse.move(2, 2)
    assert model_get(page, "selected") == ref
    expect(explorer(page).locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).to_have_attribute("data-state", "selected")
    expect(explorer(page).locator(f'[data-testid="xw-phrase"][data-ref="{ref}"]').first).to_have_attribute("data-state", "selected")
    saves = page.evaluate("window.model.saves")
    # the model side (Python) moves the highlight
    other = next(n.id for n in graph.nodes if n.id != ref and n.box is not None)
    page.evaluate("r => window.model.set('selected', r)", other)
    expect(explorer(page).locator(f'[data-testid="xw-patch"][data-ref="{other}"]')).to_have_attribute("data-state", "selected")
    expect(explorer(page).locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).to_have_attribute("data-state", "none")
    # "why not": the explorer's class picker sets the gallery's selected_class
    explorer(page).locator('[data-testid="xw-class-0"]').click()
    assert model_get(page, "selected_class") == 2
    assert page.evaluate("window.model.saves") > saves

    # another thumbnail replaces the explorer, on its prediction, nothing selected
    thumb(page, 2).click()
    page.wait_for_selector('[data-testid="xw-gallery-explorer"] .xw-explorer-host[data-item="2"] [data-testid="xw-explorer"][data-ready="true"]')
    expect(explorer(page)).to_have_count(1)
    assert model_get(page, "opened") == 2 and model_get(page, "selected") == "" and model_get(page, "selected_class") == 1
    expect(thumb(page, 3)).to_have_attribute("aria-pressed", "false")
    # close
    page.click('[data-testid="xw-gallery-close"]')
    expect(page.locator('[data-testid="xw-gallery-opened"]')).to_be_hidden()
    expect(explorer(page)).to_have_count(0)
    assert model_get(page, "opened") == -1
    assert page.errors == [] and page.blocked == []


REVIVE = """(state) => {
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
  window.model.set("explorer", revive(state));
}"""


def test_without_preloading_the_explorer_waits_for_the_kernel(browser_page, items):
    page = browser_page
    gallery = ExplanationGallery(items, preload=False)
    state = {**gallery.report_state(), "explorers": [], "explorer": {}}
    open_harness(page, gallery, READY, state=state)
    thumb(page, 4).click()
    assert model_get(page, "opened") == 4
    expect(page.locator('[data-testid="xw-gallery-loading"]')).to_be_visible()
    expect(explorer(page)).to_have_count(0)
    # a late answer for another item is not shown
    stale = json.loads(json.dumps(encode_state({"item": 2, **explorer_payload(items[2])})))
    page.evaluate(REVIVE, stale)
    expect(explorer(page)).to_have_count(0)
    # what the kernel sends for item 4 (Python's observer of `opened`, checked in test_explanation_gallery.py)
    gallery.open_item(4)
    sent = json.loads(json.dumps(encode_state(gallery.explorer)))
    page.evaluate(REVIVE, sent)
    page.wait_for_selector(EXPLORER_READY)
    expect(page.locator('[data-testid="xw-gallery-loading"]')).to_be_hidden()
    assert explorer(page).locator('[data-testid="xw-question"]').inner_text() == "Why four wheeler?"
    explorer(page).locator('[data-testid="xw-node"][data-ref="n1"]').click()
    assert model_get(page, "selected") == "n1"
    assert page.errors == [] and page.blocked == []


def test_keyboard_moves_among_visible_thumbnails_and_enter_opens(browser_page, items):
    page = browser_page
    open_harness(page, ExplanationGallery(items, correctness="wrong"), READY)
    assert shown(page) == [1, 3]
    assert thumb(page, 1).get_attribute("tabindex") == "0"
    thumb(page, 1).focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.item") == "3"
    page.keyboard.press("ArrowRight")  # wraps, skipping the hidden ones
    assert page.evaluate("document.activeElement.dataset.item") == "1"
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.wait_for_selector(EXPLORER_READY)
    assert model_get(page, "opened") == 3
    assert page.errors == []


def test_markup_in_captions_and_labels_is_text(browser_page, items):
    page = browser_page
    data = dataclasses.replace(items[4], true_class=9)
    gallery = ExplanationGallery([data, items[0]], captions=[XSS, "plain"], labels={9: "<b>bold</b> & co"})
    page.on("dialog", lambda d: (page.errors.append(f"dialog: {d.message}"), d.dismiss()))
    open_harness(page, gallery, READY)
    assert thumb(page, 0).locator(".xw-thumb-title").inner_text() == XSS
    assert thumb(page, 0).locator('[data-testid="xw-thumb-true"]').inner_text() == "true: <b>bold</b> & co \u2717 wrong"
    assert page.locator('[data-testid="xw-gallery"] img').count() == 2  # the two thumbnails only
    assert page.locator('[data-testid="xw-gallery"] b').count() == 0
    thumb(page, 0).click()
    page.wait_for_selector(EXPLORER_READY)
    assert page.text_content('[data-testid="xw-gallery-opened-title"]') == XSS
    assert page.errors == [] and page.blocked == []


def test_offline_report_filters_and_opens_explorers_with_every_request_blocked(browser_page, items, tmp_path, screenshot):
    page = browser_page
    path = write_report(tmp_path / "gallery.html", ExplanationGallery(items, preload=False), title="Gallery report")
    requests, aborted = open_offline(page, path)
    page.wait_for_selector(READY)
    page.click('[data-testid="xw-gallery-correct-wrong"]')
    assert shown(page) == [1, 3]
    thumb(page, 1).click()  # preload=False in the notebook; the report carries every explanation
    page.wait_for_selector(EXPLORER_READY)
    graph = items[1].graph(6)
    ref = next(s.id for s in graph.text.spans if s.kind == "node" and graph.node(s.id).box is not None)
    explorer(page).locator(f'[data-testid="xw-phrase"][data-ref="{ref}"]').first.click()
    page.mouse.move(2, 2)
    expect(explorer(page).locator(f'[data-testid="xw-node"][data-ref="{ref}"]')).to_have_attribute("data-state", "selected")
    expect(explorer(page).locator(f'[data-testid="xw-patch"][data-ref="{ref}"]')).to_have_attribute("data-state", "selected")
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected'))") == ref
    screenshot(page, "gallery_report")
    assert aborted == [] and requests == [path.resolve().as_uri()]
    assert page.errors == []
