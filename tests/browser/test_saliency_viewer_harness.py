"""The SaliencyViewer's front end in the plain harness page of ``harness.py`` (no Jupyter).

The state is the Python widget's own, so the trait contract is exercised end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.widgets import SaliencyViewer

from .harness import SALIENCY_READY, model_get, open_harness, saliency_canvas

pytestmark = pytest.mark.browser


def cell_centre(page, row: int, col: int, rows: int, cols: int) -> tuple[float, float]:
    box = page.locator('[data-testid="xw-canvas"]').bounding_box()
    return box["x"] + (col + 0.5) / cols * box["width"], box["y"] + (row + 0.5) / rows * box["height"]


def test_renders_controls_and_text(browser_page, saliency, screenshot):
    page = browser_page
    viewer = SaliencyViewer(saliency())
    open_harness(page, viewer, SALIENCY_READY)
    screenshot(page, "harness_initial")

    assert page.text_content('[data-testid="xw-title"]') == "Image 0: predicted espresso (62.0%)"
    assert page.text_content('[data-testid="xw-method"]').startswith("gradcam \u00b7 layer _conv_head")
    buttons = page.locator('[data-testid="xw-classes"] [role="radio"]')
    assert buttons.count() == 5
    assert buttons.nth(0).get_attribute("aria-checked") == "true"
    assert buttons.nth(0).get_attribute("tabindex") == "0"
    assert buttons.nth(1).get_attribute("tabindex") == "-1"
    assert "espresso" in buttons.nth(0).inner_text() and "62.0%" in buttons.nth(0).inner_text()
    # a label with markup is shown as text, never parsed as HTML
    assert buttons.nth(4).locator(".xw-class-label").inner_text() == "<b>soup</b> & bowl"
    assert page.locator('[data-testid="xw-classes"] b').count() == 0
    # every control has an accessible name
    assert page.get_by_label("Opacity", exact=True).get_attribute("data-testid") == "xw-opacity"
    assert page.get_by_label("Colour map", exact=True).get_attribute("data-testid") == "xw-colormap"
    assert page.get_by_role("radiogroup", name="Class").count() == 1
    assert page.input_value('[data-testid="xw-colormap"]') == "viridis"
    assert page.input_value('[data-testid="xw-opacity"]') == "0.5"
    assert page.text_content('[data-testid="xw-opacity-value"]') == "50%"
    assert page.text_content('[data-testid="xw-colorbar-min"]') == "0"
    assert page.text_content('[data-testid="xw-colorbar-max"]') == "1"
    assert page.locator('[data-testid="xw-error"]').is_hidden()

    rgba = saliency_canvas(page)
    assert rgba.shape == (320, 320, 4)
    assert rgba[..., 3].min() == 255  # the image fills the canvas
    assert rgba[..., :3].std() > 10  # not blank
    assert page.errors == [] and page.blocked == []


def test_colormap_and_opacity_change_pixels(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(saliency()), SALIENCY_READY)
    before = saliency_canvas(page)

    page.select_option('[data-testid="xw-colormap"]', "gray")
    assert model_get(page, "colormap") == "gray"
    after_cmap = saliency_canvas(page)
    assert np.abs(after_cmap.astype(int) - before).mean() > 5

    slider = page.locator('[data-testid="xw-opacity"]')
    slider.focus()
    page.keyboard.press("End")
    assert model_get(page, "opacity") == 1
    assert page.text_content('[data-testid="xw-opacity-value"]') == "100%"
    full = saliency_canvas(page)
    assert np.abs(full.astype(int) - after_cmap).mean() > 5
    # opacity 1, gray, class 0 (a left-to-right ramp 0..1): pixel value = 255 * x
    for col in (20, 100, 160, 240, 300):
        expected = 255 * (col + 0.5) / 320
        assert np.allclose(full[160, col, :3], expected, atol=4), (col, full[160, col])

    page.keyboard.press("Home")
    assert model_get(page, "opacity") == 0
    bare = saliency_canvas(page)
    # opacity 0: the image alone, whatever the class
    page.click('[data-testid="xw-class-2"]')
    assert np.array_equal(saliency_canvas(page), bare)
    saves = page.evaluate("window.model.saves")
    assert saves == 4  # colormap, End, Home, class click
    assert page.errors == []


def test_class_click_and_keyboard(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(saliency(), opacity=1.0, colormap="gray"), SALIENCY_READY)
    first = saliency_canvas(page)

    page.click('[data-testid="xw-class-1"]')
    assert model_get(page, "selected") == 1
    assert page.evaluate("window.model.saves") == 1
    assert page.get_attribute('[data-testid="xw-class-1"]', "aria-checked") == "true"
    assert page.get_attribute('[data-testid="xw-class-0"]', "aria-checked") == "false"
    second = saliency_canvas(page)
    # class 1 is a top-to-bottom ramp: rows change, columns do not
    assert np.abs(second.astype(int) - first).mean() > 20
    assert abs(int(second[20, 40, 0]) - int(second[20, 280, 0])) <= 3
    assert int(second[300, 160, 0]) - int(second[20, 160, 0]) > 200

    # keyboard: arrows move the selection and the focus, Home/End jump
    page.focus('[data-testid="xw-class-1"]')
    page.keyboard.press("ArrowDown")
    assert model_get(page, "selected") == 2
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-class-2"
    page.keyboard.press("End")
    assert model_get(page, "selected") == 4
    page.keyboard.press("ArrowDown")  # wraps
    assert model_get(page, "selected") == 0
    assert np.array_equal(saliency_canvas(page), first)
    assert page.errors == []


def test_changes_from_python_redraw(browser_page, saliency):
    """A `change:` event (what a kernel-side trait change delivers) updates controls and canvas."""
    page = browser_page
    open_harness(page, SaliencyViewer(saliency(), opacity=1.0), SALIENCY_READY)
    start = saliency_canvas(page)
    page.evaluate("window.model.set('selected', 3)")
    assert page.get_attribute('[data-testid="xw-class-3"]', "aria-checked") == "true"
    assert np.abs(saliency_canvas(page).astype(int) - start).mean() > 20
    page.evaluate("window.model.set('colormap', 'magma')")
    assert page.input_value('[data-testid="xw-colormap"]') == "magma"
    page.evaluate("window.model.set('opacity', 0.25)")
    assert page.input_value('[data-testid="xw-opacity"]') == "0.25"
    assert page.text_content('[data-testid="xw-opacity-value"]') == "25%"
    page.evaluate("window.model.set('title', 'New <i>title</i>')")
    assert page.text_content('[data-testid="xw-title"]') == "New <i>title</i>"
    # none of these came from the UI, so nothing was saved back
    assert page.evaluate("window.model.saves") == 0
    assert page.errors == []

    # cleanup removes every listener and the DOM
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0
    assert page.evaluate("document.getElementById('host').children.length") == 0


@pytest.mark.parametrize("maps_dtype", ["float16", "float32"])
def test_hover_reads_the_map_value(browser_page, saliency, screenshot, maps_dtype):
    page = browser_page
    sal = saliency()
    viewer = SaliencyViewer(sal, maps_dtype=maps_dtype)
    open_harness(page, viewer, SALIENCY_READY)
    page.click('[data-testid="xw-class-4"]')  # the signed blob: values from -0.5 to 2.5
    maps = sal.maps.astype(np.float16 if maps_dtype == "float16" else np.float32)
    h, w = maps.shape[1:]

    for row, col in [(0, 0), (156, 157), (100, 30), (223, 223), (60, 200)]:
        x, y = cell_centre(page, row, col, h, w)
        page.mouse.move(x, y)
        readout = page.locator('[data-testid="xw-readout"]')
        # pointer events are delivered with the next frame: wait for this cell's read-out
        expect(readout).to_have_attribute("data-row", str(row))
        expect(readout).to_have_attribute("data-col", str(col))
        assert readout.get_attribute("data-active") == "true"
        value = float(readout.get_attribute("data-value"))
        assert value == float(maps[4, row, col]), (row, col, value, maps[4, row, col])
        text = readout.inner_text()
        assert text.startswith("<b>soup</b> & bowl: ") and f"(x {col}, y {row})" in text
        expect(page.locator('[data-testid="xw-colorbar-marker"]')).to_be_visible()

    screenshot(page, f"harness_hover_{maps_dtype}")
    page.mouse.move(1, 1)  # leaving the canvas clears the read-out
    expect(page.locator('[data-testid="xw-readout"]')).to_have_attribute("data-active", "false")
    assert page.errors == []


def test_bad_payload_shows_an_error(browser_page, saliency):
    page = browser_page
    viewer = SaliencyViewer(saliency())
    viewer.maps = {**viewer.maps, "shape": [5, 224, 225]}
    open_harness(page, viewer, SALIENCY_READY)
    error = page.locator('[data-testid="xw-error"]')
    assert error.is_visible()
    assert "needs 504000 bytes; got 501760" in error.inner_text()
