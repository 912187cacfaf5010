"""SaliencyViewer with several methods in the harness page: the method picker switches
client-side (keeping the class where the new method has it), and signed maps are shown on
the diverging colour map, automatically or by choice."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.saliency.result import Saliency
from xwidgets.widgets import SaliencyViewer

from .harness import SALIENCY_READY, model_get, open_harness, saliency_canvas

pytestmark = pytest.mark.browser


def two_methods(sal: Saliency) -> dict[str, Saliency]:
    """The fixture's Grad-CAM (classes 0..4) and a signed 'Gradient x input' for classes 3, 1."""
    size = sal.maps.shape[-1]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    signed = np.stack([(2 * xx - 1) * 0.02, (2 * yy - 1) * 0.5])  # both signs
    gxi = Saliency(
        maps=signed, images=sal.images.copy(), image_index=np.zeros(2, dtype=np.int64), targets=np.array([3, 1]),
        probabilities=sal.probabilities.copy(), labels=list(sal.labels), method="gradient_x_input", elapsed=0.5,
    )
    return {"Grad-CAM": sal, "Gradient \u00d7 input": gxi}


def test_method_picker_switches_client_side_and_keeps_the_class(browser_page, saliency, screenshot):
    page = browser_page
    viewer = SaliencyViewer(two_methods(saliency()), opacity=1.0, selected=1)  # Grad-CAM, "cup"
    open_harness(page, viewer, SALIENCY_READY)
    tabs = page.locator('[data-testid="xw-methods"] [role="radio"]')
    assert page.get_by_role("radiogroup", name="Method").is_visible()
    assert tabs.count() == 2 and tabs.nth(1).inner_text() == "Gradient \u00d7 input"
    assert tabs.nth(0).get_attribute("aria-checked") == "true"
    assert page.locator('[data-testid="xw-classes"] [role="radio"]').count() == 5
    assert page.text_content('[data-testid="xw-method"]').startswith("Grad-CAM: gradcam \u00b7 layer _conv_head")
    before = saliency_canvas(page)

    page.click('[data-testid="xw-method-1"]')
    # one save carrying both traits: the method and the same class ("cup") in that method
    assert (model_get(page, "method_index"), model_get(page, "selected")) == (1, 1)
    assert page.evaluate("window.model.saves") == 1
    assert page.evaluate("window.model.sets.map(s => s[0])") == ["method_index", "selected"]
    assert tabs.nth(1).get_attribute("aria-checked") == "true"
    buttons = page.locator('[data-testid="xw-classes"] [role="radio"]')
    assert buttons.count() == 2
    assert [buttons.nth(i).locator(".xw-class-label").inner_text() for i in range(2)] == ["coffee mug", "cup"]
    assert buttons.nth(1).get_attribute("aria-checked") == "true"
    assert page.text_content('[data-testid="xw-method"]').startswith("Gradient \u00d7 input: gradient_x_input")
    after = saliency_canvas(page)
    assert np.abs(after.astype(int) - before).mean() > 10
    # the signed map is shown signed (auto): symmetric limits, 0 in the middle, diverging map
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "true"
    assert page.text_content('[data-testid="xw-colorbar-min"]') == "-" + page.text_content('[data-testid="xw-colorbar-max"]')
    expect(page.locator('[data-testid="xw-colorbar-mid"]')).to_be_visible()
    expect(page.locator('[data-testid="xw-colorbar-note"]')).to_be_visible()
    screenshot(page, "viewer_methods_signed")

    # hover reads the shown method's map, and says which method
    box = page.locator('[data-testid="xw-canvas"]').bounding_box()
    page.mouse.move(box["x"] + 0.5 + 10, box["y"] + box["height"] * 0.9)
    readout = page.locator('[data-testid="xw-readout"]')
    expect(readout).to_have_attribute("data-active", "true")
    assert readout.inner_text().startswith("Gradient \u00d7 input \u00b7 cup: ")
    row, col = int(readout.get_attribute("data-row")), int(readout.get_attribute("data-col"))
    assert float(readout.get_attribute("data-value")) == float(np.float16((2 * row / 223 - 1) * 0.5))
    assert col <= 10

    # back to Grad-CAM, from a class it lacks ("coffee mug" is there: position 3)
    page.click('[data-testid="xw-class-0"]')
    page.focus('[data-testid="xw-method-1"]')
    page.keyboard.press("ArrowLeft")
    assert (model_get(page, "method_index"), model_get(page, "selected")) == (0, 3)
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-method-0"
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "false"
    page.click('[data-testid="xw-class-1"]')
    assert np.array_equal(saliency_canvas(page), before)
    assert page.errors == [] and page.blocked == []


def test_a_method_without_the_class_falls_back_to_its_first(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(two_methods(saliency()), selected=4), SALIENCY_READY)  # "<b>soup</b> & bowl"
    page.click('[data-testid="xw-method-1"]')
    assert (model_get(page, "method_index"), model_get(page, "selected")) == (1, 0)
    assert page.get_attribute('[data-testid="xw-class-0"]', "aria-checked") == "true"


def test_method_change_from_python_redraws(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(two_methods(saliency()), opacity=1.0), SALIENCY_READY)
    start = saliency_canvas(page)
    page.evaluate("window.model.set('method_index', 1)")
    assert page.get_attribute('[data-testid="xw-method-1"]', "aria-checked") == "true"
    assert page.locator('[data-testid="xw-classes"] [role="radio"]').count() == 2
    assert np.abs(saliency_canvas(page).astype(int) - start).mean() > 10
    assert page.evaluate("window.model.saves") == 0
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0


def test_scale_picker(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(saliency(), opacity=1.0, colormap="gray"), SALIENCY_READY)
    # one method: no method picker; class 0 is a ramp 0..1, shown min-max under auto
    assert page.locator('[data-testid="xw-methods"]').is_hidden()
    assert page.get_by_label("Scale", exact=True).input_value() == "auto"
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "false"
    minmax = saliency_canvas(page)

    page.select_option('[data-testid="xw-scale"]', "signed")
    assert model_get(page, "scale") == "signed" and page.evaluate("window.model.saves") == 1
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "true"
    assert page.text_content('[data-testid="xw-colorbar-min"]').startswith("-")
    signed = saliency_canvas(page)
    assert np.abs(signed.astype(int) - minmax).mean() > 10
    # signed, a non-negative map uses the upper half of the diverging map: red, not blue
    assert int(signed[160, 300, 0]) > int(signed[160, 300, 2]) + 40

    # auto on the signed blob (class 4: -0.5..2.5) is signed; min-max is not
    page.select_option('[data-testid="xw-scale"]', "auto")
    page.click('[data-testid="xw-class-4"]')
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "true"
    page.select_option('[data-testid="xw-scale"]', "minmax")
    assert page.get_attribute('[data-testid="xw-colorbar"]', "data-signed") == "false"
    assert page.text_content('[data-testid="xw-colorbar-min"]') == "-0.5"
    page.evaluate("window.model.set('scale', 'signed')")  # from Python
    assert page.input_value('[data-testid="xw-scale"]') == "signed"
    assert page.errors == []


def test_a_state_without_methods_still_renders(browser_page, saliency):
    """A state from before methods existed (no methods, method_index, scale) is one method."""
    page = browser_page
    viewer = SaliencyViewer(saliency())
    state = {k: v for k, v in viewer.report_state().items() if k not in ("methods", "method_index", "scale")}
    open_harness(page, viewer, SALIENCY_READY, state=state)
    assert page.locator('[data-testid="xw-methods"]').is_hidden()
    assert page.locator('[data-testid="xw-classes"] [role="radio"]').count() == 5
    assert page.text_content('[data-testid="xw-method"]') == viewer.method
    assert page.input_value('[data-testid="xw-scale"]') == "auto"
    page.click('[data-testid="xw-class-2"]')
    assert model_get(page, "selected") == 2
    assert page.locator('[data-testid="xw-error"]').is_hidden()
    assert page.errors == []
