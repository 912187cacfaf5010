"""The exported HTML report, opened as file:// with every other request aborted."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from xwidgets.report import write_report
from xwidgets.widgets import SaliencyViewer

pytestmark = pytest.mark.browser


def canvas_rgba(page, index: int) -> np.ndarray:
    url = page.locator('[data-testid="xw-canvas"]').nth(index).evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def open_offline(page, path):
    url = path.resolve().as_uri()
    requests: list[str] = []
    aborted: list[str] = []

    def handle(route):
        requests.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.goto(url)
    page.wait_for_selector("html[data-xw-mounted='true']")
    return requests, aborted


def test_report_renders_offline_and_stays_interactive(browser_page, saliency, screenshot, tmp_path):
    page = browser_page
    sal = saliency()
    viewers = [SaliencyViewer(sal), SaliencyViewer(sal, selected=2, colormap="magma", opacity=0.8)]
    path = write_report(tmp_path / "report.html", viewers, title="Offline </script> report")

    requests, aborted = open_offline(page, path)
    roots = page.locator('[data-testid="xw-saliency"]')
    expect(roots).to_have_count(2)
    for i in range(2):
        expect(roots.nth(i)).to_have_attribute("data-ready", "true")
    screenshot(page, "report_offline")

    assert page.title() == "Offline </script> report"
    # the canvases drew the image and the heatmap: opaque, varied pixels
    first = canvas_rgba(page, 0)
    assert first[..., 3].min() == 255 and first[..., :3].std() > 10
    # the second widget starts from its own state
    assert page.input_value('[data-testid="xw-colormap"] >> nth=1') == "magma"
    assert roots.nth(1).locator('[data-testid="xw-class-2"]').get_attribute("aria-checked") == "true"

    # a control still works, client-side, on the static model
    roots.nth(0).locator('[data-testid="xw-class-1"]').click()
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected'))") == 1
    assert np.abs(canvas_rgba(page, 0).astype(int) - first).mean() > 2
    roots.nth(0).locator('[data-testid="xw-colormap"]').select_option("gray")
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('colormap'))") == "gray"
    # hover works too
    box = roots.nth(0).locator('[data-testid="xw-canvas"]').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(roots.nth(0).locator('[data-testid="xw-readout"]')).to_have_attribute("data-active", "true")

    # nothing but the file itself was requested, and nothing failed
    assert aborted == [], aborted
    assert requests == [path.resolve().as_uri()]
    assert page.errors == []

