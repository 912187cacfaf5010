"""The exported HTML report, opened as file:// with every other request aborted."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from xwidgets.report import report_html, write_report
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



def test_report_with_a_compare_grid_renders_offline_from_compressed_state(browser_page, screenshot, tmp_path):
    from xwidgets.widgets import CompareGrid

    from .test_compare_grid_harness import make_results

    page = browser_page
    results = make_results()
    grid = CompareGrid(results, title="Methods x images", captions=["a", "b", "c"])
    viewer = SaliencyViewer(results, image=1)
    path = write_report(tmp_path / "grid.html", [grid, viewer], title="Grid report")
    text = path.read_text(encoding="utf-8")
    assert '"$deflate"' in text  # the maps travel compressed
    assert len(text) < len(report_html([grid, viewer], title="Grid report", compress=False))

    requests, aborted = open_offline(page, path)
    root = page.locator('[data-testid="xw-compare"]')
    expect(root).to_have_attribute("data-ready", "true")
    expect(page.locator('[data-testid="xw-saliency"]')).to_have_attribute("data-ready", "true")
    screenshot(page, "report_offline_grid")
    assert page.text_content('[data-testid="xw-compare"] [data-testid="xw-title"]') == "Methods x images"
    cells = root.locator('[role="gridcell"]')
    expect(cells).to_have_count(9)
    first = cells.nth(0).locator("canvas").evaluate("c => c.toDataURL('image/png')")
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))).convert("RGBA"))
    assert rgba[..., 3].min() == 255 and rgba[..., :3].std() > 5

    # the inflated maps are the widget's own: hover reads exact values in every cell
    box = cells.nth(4).locator("canvas").bounding_box()  # method 1, image 1
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])
    expect(page.locator('[data-testid="xw-compare"] [data-testid="xw-readout"]')).to_have_attribute("data-active", "true")
    row, col = int(0.6 * 64), int(0.3 * 64)
    for n, sal in enumerate(results.values()):
        for m in range(3):
            value = float(root.locator(f'[data-testid="xw-cell-{n}-{m}"]').get_attribute("data-value"))
            assert value == float(sal.maps[m, row, col].astype(np.float16))
    # controls work on the static model
    root.locator('[data-testid="xw-shared-global"]').click()
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('shared_scale'))") == "global"
    root.locator('[data-testid="xw-cell-2-0"]').click()
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('selected'))") == [2, 0]
    # and the viewer's method picker too
    page.locator('[data-testid="xw-saliency"] [data-testid="xw-method-1"]').click()
    assert page.evaluate("window.xwidgets.mounted.then(m => m[1].model.get('method_index'))") == 1

    assert aborted == [], aborted
    assert requests == [path.resolve().as_uri()]
    assert page.errors == []
