"""AspectReport's front end in a plain harness page and in an offline report: the class x
aspect matrix, a click on a cell showing its images with the aspect's mask drawn over them,
a second click closing it, the outliers, and labels from data shown as text."""

from __future__ import annotations

import numpy as np
import pytest
from aspect_fixtures import make_presence
from playwright.sync_api import expect

from xwidgets.aspects import aspect_report
from xwidgets.report import write_report
from xwidgets.widgets import AspectReport

from .harness import canvas_rgba, model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-aspects"][data-ready="true"]'


def make_widget(**kwargs) -> AspectReport:
    return AspectReport(aspect_report(make_presence(), rare=0.25, min_images=3), **kwargs)


def test_matrix_shows_counts_and_labels_as_text(browser_page, screenshot):
    page = browser_page
    w = make_widget()
    open_harness(page, w, READY)
    assert page.locator(".xw-cell").count() == 2 * 3
    expect(page.get_by_test_id("xw-cell-0-0")).to_contain_text("6")
    expect(page.get_by_test_id("xw-cell-0-0")).to_contain_text("of 6")
    expect(page.get_by_test_id("xw-cell-0-2")).to_contain_text("of 4")  # door present, never relevant
    assert page.get_by_test_id("xw-cell-1-1").get_attribute("title") == (
        "<b>tag</b> relevant in 3 of 4 red_lamp images (75%); present in 3")
    # a label with markup stays text
    assert page.locator("th.xw-aspect b").count() == 0
    expect(page.locator("th.xw-aspect").nth(1)).to_have_text("<b>tag</b>")
    expect(page.get_by_test_id("xw-detail")).to_contain_text("Click a cell")
    # a cell whose aspect was never relevant nor present is disabled
    assert page.get_by_test_id("xw-cell-1-0").is_disabled()
    screenshot(page, "aspect_report_matrix")
    assert page.errors == [] and page.blocked == []


def test_click_a_cell_shows_its_images_with_masks(browser_page, screenshot):
    page = browser_page
    w = make_widget(per_cell=3)
    open_harness(page, w, READY)
    page.get_by_test_id("xw-cell-1-1").click()
    assert model_get(page, "selected") == [1, 1]
    assert page.evaluate("window.model.saves") == 1
    expect(page.get_by_test_id("xw-cell-1-1")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("xw-detail-title")).to_contain_text("red_lamp \u00d7 <b>tag</b>")
    thumbs = page.locator('[data-testid="xw-detail"] .xw-thumb')
    expect(thumbs).to_have_count(3)
    page.wait_for_selector('[data-testid="xw-thumb-2"][data-drawn="true"]')
    # the tag's mask (rows 4-7, columns 2-5 of the 16 px image, drawn 6x) is tinted red
    pixels = canvas_rgba(page.get_by_test_id("xw-thumb-0-canvas"))
    inside = pixels[4 * 6 + 3: 8 * 6 - 3, 2 * 6 + 3: 6 * 6 - 3, :3].astype(int)
    outside = pixels[12 * 6:, 10 * 6:, :3].astype(int)
    image = make_presence().images[6]
    assert (inside[..., 0] - inside[..., 1]).mean() > 60  # red over the mask
    expected_outside = np.kron(image[12:, 10:], np.ones((6, 6, 1), np.uint8)).astype(int)
    assert np.abs(outside - expected_outside).max() <= 2  # the image itself elsewhere
    expect(thumbs.first).to_contain_text("Image 6 \u00b7 red_lamp")
    screenshot(page, "aspect_report_cell")

    # another cell, then a second click on it closes the detail
    page.get_by_test_id("xw-cell-0-0").click()
    assert model_get(page, "selected") == [0, 0]
    expect(thumbs).to_have_count(3)
    expect(page.get_by_test_id("xw-cell-1-1")).to_have_attribute("aria-pressed", "false")
    page.get_by_test_id("xw-cell-0-0").click()
    assert model_get(page, "selected") == []
    expect(thumbs).to_have_count(0)
    assert page.errors == [] and page.blocked == []


def test_selection_from_python_and_outliers(browser_page):
    page = browser_page
    w = make_widget(selected=("two_wheeler", "<b>tag</b>"))
    open_harness(page, w, READY)
    expect(page.locator('[data-testid="xw-detail"] .xw-thumb')).to_have_count(1)
    expect(page.get_by_test_id("xw-outliers")).to_contain_text("Outliers")
    outliers = page.locator('[data-testid="xw-outliers"] .xw-thumb')
    expect(outliers).to_have_count(2)
    expect(outliers.nth(0)).to_contain_text("wheel, <b>tag</b> (unusual: +<b>tag</b>)")
    expect(outliers.nth(1)).to_contain_text("no relevant aspect (unusual: \u2212<b>tag</b>)")
    # the kernel (or a linked widget) changes the selection
    page.evaluate("window.model.set('selected', [1, 1])")
    expect(page.locator('[data-testid="xw-detail"] .xw-thumb')).to_have_count(3)
    # the view cleans up after itself
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0
    assert page.errors == []


def test_offline_report_renders_and_clicks(browser_page, tmp_path):
    page = browser_page
    path = write_report(tmp_path / "aspects.html", [make_widget()], title="Aspects")
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    page.goto(path.as_uri())
    page.wait_for_selector(READY)
    page.get_by_test_id("xw-cell-0-0").click()
    expect(page.locator('[data-testid="xw-detail"] .xw-thumb')).to_have_count(6)
    page.wait_for_selector('[data-testid="xw-thumb-0"][data-drawn="true"]')
    assert page.errors == []
