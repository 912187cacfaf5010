"""The AttentionFlowViewer's front end in the plain harness page of ``harness.py`` (no
Jupyter), and in an offline report.

Most tests use a hand-built DAAM result whose maps are known: on a 4x4 patch grid, block b's
own map is column b (class 0) or row b (class 1) at 1, the rest 0, so the accumulated flow up
to block b is columns (rows) 0..b. With opacity 1 and the gray colour map the canvas then
shows exactly which cells are lit. One test renders a real DAAM result of the toy ViT.
"""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.report import write_report
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import AttentionFlowViewer

from .harness import canvas_rgba, model_get, open_harness
from .test_report_offline import open_offline

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-attnflow"][data-ready="true"]'
CANVAS = '[data-testid="xw-canvas"]'
SLIDER = '[data-testid="xw-block-slider"]'
BLOCKS = 3
GRID = 4


def flow_result() -> Saliency:
    own = np.zeros((2, BLOCKS, GRID, GRID), np.float32)
    for b in range(BLOCKS):
        own[0, b, :, b] = 1.0  # class 0: column b
        own[1, b, b, :] = 1.0  # class 1: row b
    accumulated = np.cumsum(own, axis=1)
    flow = accumulated / accumulated[:, -1:].max(axis=(2, 3), keepdims=True)  # DAAM's "global_max" mapping
    image = np.full((1, 64, 64, 3), 128, np.uint8)
    maps = np.repeat(np.repeat(flow[:, -1], 16, axis=1), 16, axis=2)
    return Saliency(
        maps=maps,
        images=image,
        image_index=np.zeros(2, np.int64),
        targets=np.array([0, 1]),
        probabilities=np.array([[0.7, 0.2, 0.1]], np.float32),
        labels=["ladder <b>truck</b>", "red lamp", "yellow lamp"],
        method="daam",
        params={"mapping": "global_max", "extras": {
            "block_maps": own, "accumulated": accumulated, "flow": flow,
            "blocks": [f"encoder.layers.encoder_layer_{b}.self_attention" for b in range(BLOCKS)],
        }},
        elapsed=0.02,
    )


def lit(page) -> list[list[bool]]:
    """Which cells of the 4x4 grid are drawn white (value 1) at their centres (the map is
    smoothed over the image, so a centre is near white or near black, not exactly)."""
    rgba = canvas_rgba(page.locator(CANVAS))
    size = rgba.shape[0] // GRID
    centres = [[rgba[r * size + size // 2, c * size + size // 2, :3] for c in range(GRID)] for r in range(GRID)]
    for row in centres:
        for px in row:
            assert px.min() > 215 or px.max() < 40, px  # white or black: value 1 or 0, nothing between
    return [[bool(px.min() > 215) for px in row] for row in centres]


def columns(*lit_columns: int) -> list[list[bool]]:
    return [[c in lit_columns for c in range(GRID)] for _ in range(GRID)]


def rows(*lit_rows: int) -> list[list[bool]]:
    return [[r in lit_rows for _ in range(GRID)] for r in range(GRID)]


def open_viewer(page, **kwargs) -> AttentionFlowViewer:
    kwargs = {"opacity": 1.0, "colormap": "gray", **kwargs}
    viewer = AttentionFlowViewer(flow_result(), **kwargs)
    open_harness(page, viewer, READY)
    return viewer


def test_renders_controls_and_text(browser_page, screenshot):
    page = browser_page
    open_viewer(page, opacity=0.5, colormap="viridis")
    screenshot(page, "attention_flow_initial")
    assert page.text_content('[data-testid="xw-title"]') == "Image 0: predicted ladder <b>truck</b> (70.0%)"
    assert page.text_content('[data-testid="xw-method"]').startswith("daam \u00b7 20 ms for 2 maps \u00b7 3 blocks, 4x4 patches")
    assert page.text_content('[data-testid="xw-caption"]') == "Accumulated flow, blocks 1\u20133 of 3"
    assert page.text_content('[data-testid="xw-block-name"]') == "encoder.layers.encoder_layer_2.self_attention"
    assert page.get_attribute(SLIDER, "max") == "2" and page.input_value(SLIDER) == "2"
    assert page.text_content('[data-testid="xw-block-value"]') == "3 / 3"
    assert page.get_attribute('[data-testid="xw-view-accumulated"]', "aria-checked") == "true"
    assert page.get_attribute('[data-testid="xw-view-block"]', "aria-checked") == "false"
    classes = page.locator('[data-testid="xw-classes"] [role="radio"]')
    assert classes.count() == 2 and classes.nth(0).get_attribute("aria-checked") == "true"
    assert page.locator('[data-testid="xw-classes"] b').count() == 0  # labels are text, never HTML
    assert page.get_by_label("Block", exact=True).get_attribute("data-testid") == "xw-block-slider"
    assert page.get_by_role("radiogroup", name="Show").count() == 1
    assert page.text_content('[data-testid="xw-colorbar-min"]') == "0"
    assert page.text_content('[data-testid="xw-colorbar-max"]') == "1"
    rgba = canvas_rgba(page.locator(CANVAS))
    assert rgba.shape == (320, 320, 4) and rgba[..., 3].min() == 255 and rgba[..., :3].std() > 10
    assert page.locator('[data-testid="xw-error"]').is_hidden()
    assert page.errors == [] and page.blocked == []


def test_the_block_slider_redraws_the_accumulated_flow(browser_page):
    page = browser_page
    open_viewer(page)
    assert lit(page) == columns(0, 1, 2)  # the flow up to the last block
    before = canvas_rgba(page.locator(CANVAS))
    slider = page.locator(SLIDER)
    slider.focus()
    page.keyboard.press("Home")
    assert model_get(page, "block") == 0
    assert page.get_attribute('[data-testid="xw-attnflow"]', "data-block") == "0"
    assert lit(page) == columns(0)
    assert np.abs(canvas_rgba(page.locator(CANVAS)).astype(int) - before).mean() > 20
    assert page.text_content('[data-testid="xw-caption"]') == "Accumulated flow, block 1 of 3"
    assert page.text_content('[data-testid="xw-block-value"]') == "1 / 3"
    assert page.text_content('[data-testid="xw-block-name"]') == "encoder.layers.encoder_layer_0.self_attention"
    page.keyboard.press("ArrowRight")
    assert model_get(page, "block") == 1 and lit(page) == columns(0, 1)
    assert page.evaluate("window.model.saves") == 2  # one per slider move
    assert page.errors == []


def test_the_view_toggle_and_the_class_picker(browser_page):
    page = browser_page
    open_viewer(page, block=1)
    assert lit(page) == columns(0, 1)
    page.click('[data-testid="xw-view-block"]')
    assert model_get(page, "view") == "block"
    assert lit(page) == columns(1)  # block 2's own map only
    assert page.text_content('[data-testid="xw-caption"]') == "Block 2 of 3"
    assert page.get_attribute('[data-testid="xw-view-block"]', "aria-checked") == "true"
    page.click('[data-testid="xw-class-1"]')
    assert model_get(page, "selected") == 1
    assert lit(page) == rows(1)
    # keyboard on the view toggle: arrows move the choice and the focus
    page.focus('[data-testid="xw-view-block"]')
    page.keyboard.press("ArrowLeft")
    assert model_get(page, "view") == "accumulated"
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-view-accumulated"
    assert lit(page) == rows(0, 1)
    assert page.evaluate("window.model.saves") == 3
    assert page.errors == []


def test_play_runs_through_the_blocks_and_stops_at_the_last(browser_page):
    page = browser_page
    open_viewer(page)
    page.evaluate("""() => {
        window.seenBlocks = [];
        window.model.on("change:block", () => window.seenBlocks.push(window.model.get("block")));
    }""")
    page.click('[data-testid="xw-play"]')
    assert page.get_attribute('[data-testid="xw-attnflow"]', "data-playing") == "true"
    page.wait_for_selector('[data-testid="xw-attnflow"][data-playing="false"]', timeout=5000)
    assert page.evaluate("window.seenBlocks") == [0, 1, 2]  # from the first block again, to the last
    assert model_get(page, "block") == 2 and lit(page) == columns(0, 1, 2)
    assert page.evaluate("window.model.saves") == 1  # saved once, when it stopped
    assert page.errors == []


def test_hover_reads_the_maps_and_kernel_changes_redraw(browser_page):
    page = browser_page
    open_viewer(page, block=1)
    box = page.locator(CANVAS).bounding_box()
    page.mouse.move(box["x"] + 0.5 / GRID * box["width"], box["y"] + 2.5 / GRID * box["height"])  # cell (x 0, y 2)
    readout = page.locator('[data-testid="xw-readout"]')
    expect(readout).to_have_attribute("data-active", "true")
    assert readout.text_content() == "flow 1 (sum of blocks 1\u20132: 1) \u00b7 block 2 map 0 at (x 0, y 2)"
    page.mouse.move(box["x"] - 20, box["y"] - 20)
    expect(readout).to_have_attribute("data-active", "false")
    # the kernel sets the traits: the view follows
    page.evaluate("() => { window.model.set('block', 2); window.model.set('view', 'block'); }")
    assert lit(page) == columns(2)
    assert page.input_value(SLIDER) == "2"
    page.evaluate("() => window.model.set('opacity', 0)")
    rgba = canvas_rgba(page.locator(CANVAS))
    assert np.abs(rgba[..., :3].astype(int) - 128).max() <= 1  # the grey image alone
    assert page.errors == []


def test_cleanup_removes_every_listener(browser_page):
    page = browser_page
    open_viewer(page)
    assert page.evaluate("window.model.listenerCount()") > 0
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0
    assert page.evaluate("document.getElementById('host').children.length") == 0


def test_a_real_daam_result_of_the_toy_vit(browser_page):
    import xwidgets as xw
    from xwidgets.data.synthetic import SyntheticParts

    page = browser_page
    sal = xw.explain(xw.models.toy_vit(), list(SyntheticParts(1, seed=4).arrays()[0]), method="daam")
    open_harness(page, AttentionFlowViewer(sal, opacity=0.8), READY)
    last = canvas_rgba(page.locator(CANVAS))
    page.locator(SLIDER).focus()
    page.keyboard.press("Home")
    first = canvas_rgba(page.locator(CANVAS))
    assert model_get(page, "block") == 0
    assert np.abs(first.astype(int) - last).mean() > 3  # the flow changed between block 1 and 6
    assert page.text_content('[data-testid="xw-block-value"]') == "1 / 6"
    assert page.errors == [] and page.blocked == []


def test_the_offline_report_renders_and_the_slider_works(browser_page, tmp_path):
    page = browser_page
    path = write_report(tmp_path / "flow.html", [AttentionFlowViewer(flow_result(), opacity=1.0, colormap="gray")], title="Flow")
    requests, aborted = open_offline(page, path)
    root = page.locator('[data-testid="xw-attnflow"]')
    expect(root).to_have_attribute("data-ready", "true")
    assert lit(page) == columns(0, 1, 2)
    page.locator(SLIDER).focus()
    page.keyboard.press("Home")
    assert page.evaluate("window.xwidgets.mounted.then(m => m[0].model.get('block'))") == 0
    assert lit(page) == columns(0)
    assert aborted == [] and requests == [path.resolve().as_uri()]
    assert page.errors == []
