"""CompareGrid's front end in a plain harness page: synchronised hover, shared colour
scale, controls, emphasis, and trait changes, on the Python widget's own state."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.saliency.result import Saliency
from xwidgets.widgets import CompareGrid

from .harness import canvas_rgba, model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-compare"][data-ready="true"]'
SIZE = 64


def make_results(images: int = 3) -> dict[str, Saliency]:
    """Three methods x `images` images of SIZE x SIZE, with maps easy to reason about.

    - "Ramp": a left-to-right ramp 0..(m + 1) on image m: the same shape, growing peaks.
    - "Signed": a top-to-bottom ramp from -1 to 1, times (m + 1): both signs.
    - "<b>Blob</b>": a centred blob, >= 0 (a name with markup: shown as text).
    """
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1)
    rng = np.random.default_rng(0)
    base = 120 + 60 * (xx + yy) / 2
    photo = np.stack([base, base * 0.9, base * 0.8], axis=-1).astype(np.uint8)
    imgs = np.stack([np.roll(photo, 9 * m, axis=1) for m in range(images)])
    probs = rng.random((images, 4)).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = ["espresso", "cup", "<i>mug</i>", "tray"]

    def result(maps, method):
        return Saliency(
            maps=np.stack(maps).astype(np.float32), images=imgs.copy(), image_index=np.arange(images),
            targets=np.full(images, 2), probabilities=probs, labels=labels, method=method,
        )

    return {
        "Ramp": result([xx * (m + 1) for m in range(images)], "gradcam"),
        "Signed": result([(2 * yy - 1) * (m + 1) for m in range(images)], "gradient_x_input"),
        "<b>Blob</b>": result([np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.03) for _ in range(images)], "rise"),
    }


def cell(page, n: int, m: int):
    return page.locator(f'[data-testid="xw-cell-{n}-{m}"]')


def cell_pixels(page, n: int, m: int) -> np.ndarray:
    return canvas_rgba(cell(page, n, m).locator("canvas"))


def test_renders_headers_cells_and_controls(browser_page, screenshot):
    page = browser_page
    open_harness(page, CompareGrid(make_results(), captions=["one", "two", "<b>three</b>"], title="Three <i>methods</i>"), READY)
    screenshot(page, "compare_grid_initial")

    assert page.text_content('[data-testid="xw-title"]') == "Three <i>methods</i>"
    assert page.text_content('[data-testid="xw-subtitle"]') == "3 methods \u00d7 3 images"
    assert page.locator('[role="gridcell"]').count() == 9
    assert page.locator('[role="rowheader"]').count() == 3
    assert page.locator('[data-testid="xw-row-2"] .xw-row-name').inner_text() == "<b>Blob</b>"
    assert page.locator('[data-testid="xw-col-2"] .xw-col-caption').inner_text() == "<b>three</b>"
    assert page.locator('[data-testid="xw-grid"] b, [data-testid="xw-grid"] i').count() == 0  # text, never HTML
    label = page.locator('[data-testid="xw-col-0"] .xw-col-label').inner_text()
    assert label.endswith("%") and " \u00b7 " in label
    # every method explains "<i>mug</i>", which no image is predicted as: the columns say so
    for m in range(3):
        assert page.locator(f'[data-testid="xw-col-{m}"] .xw-col-label').inner_text().split(" \u00b7 ")[0] != "<i>mug</i>"
        assert page.locator(f'[data-testid="xw-col-target-{m}"]').inner_text() == "map of <i>mug</i>"
        assert cell(page, 0, m).locator('[data-testid="xw-cell-tag"]').is_hidden()
    # controls have accessible names and start from the traits
    assert page.get_by_role("radiogroup", name="Colour scale").count() == 1
    assert page.get_by_label("Colour map", exact=True).input_value() == "viridis"
    assert page.get_by_label("Values", exact=True).input_value() == "auto"
    assert page.get_by_label("Opacity", exact=True).input_value() == "0.5"
    assert page.get_attribute('[data-testid="xw-shared-cell"]', "aria-checked") == "true"
    # auto: the signed row is drawn signed, the others min-max
    assert [page.get_attribute(f'[data-testid="xw-row-{n}"]', "data-signed") for n in range(3)] == ["false", "true", "false"]
    for n in range(3):
        for m in range(3):
            rgba = cell_pixels(page, n, m)
            assert rgba.shape == (160, 160, 4) and rgba[..., 3].min() == 255 and rgba[..., :3].std() > 5
    assert page.locator('[data-testid="xw-error"]').is_hidden()
    assert page.errors == [] and page.blocked == []


def test_cells_say_their_class_where_the_methods_disagree(browser_page):
    page = browser_page
    results = make_results()
    results["Signed"].targets[:] = 0  # "espresso" for every image
    open_harness(page, CompareGrid(results), READY)
    for m in range(3):
        assert page.locator(f'[data-testid="xw-col-target-{m}"]').is_hidden()
        predicted = page.locator(f'[data-testid="xw-col-{m}"] .xw-col-label').inner_text().split(" \u00b7 ")[0]
        for n, label in enumerate(["<i>mug</i>", "espresso", "<i>mug</i>"]):
            tag = cell(page, n, m).locator('[data-testid="xw-cell-tag"]')
            assert tag.text_content() == label
            assert tag.is_visible() == (label != predicted)
    assert page.errors == []


def test_hover_moves_the_crosshair_in_every_cell_and_reads_every_method(browser_page, screenshot):
    page = browser_page
    results = make_results()
    open_harness(page, CompareGrid(results), READY)
    maps = {name: r.maps.astype(np.float16) for name, r in results.items()}

    for (n, m), (fx, fy) in [((0, 1), (0.25, 0.7)), ((2, 2), (0.8, 0.1)), ((1, 0), (0.5, 0.5))]:
        box = cell(page, n, m).locator("canvas").bounding_box()
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        row, col = int(fy * SIZE), int(fx * SIZE)
        readout = page.locator('[data-testid="xw-readout"]')
        expect(readout).to_have_attribute("data-row", str(row))
        expect(readout).to_have_attribute("data-col", str(col))
        assert readout.get_attribute("data-image") == str(m)
        # every cell shows its crosshair at the same relative position: the hovered map cell
        for k in range(3):
            for j in range(3):
                c = cell(page, k, j)
                cb = c.bounding_box()
                v = c.locator('[data-testid="xw-cross-v"]')
                hline = c.locator('[data-testid="xw-cross-h"]')
                expect(v).to_be_visible()
                vb, hb = v.bounding_box(), hline.bounding_box()
                assert abs((vb["x"] - cb["x"]) / cb["width"] - (col + 0.5) / SIZE) < 2 / cb["width"], (k, j)
                assert abs((hb["y"] - cb["y"]) / cb["height"] - (row + 0.5) / SIZE) < 2 / cb["height"], (k, j)
                name = list(maps)[k]
                assert float(c.get_attribute("data-value")) == float(maps[name][j, row, col])
                expect(c.locator('[data-testid="xw-cell-value"]')).to_be_visible()
        # the read-out lists every method's value for the hovered image
        for k, name in enumerate(maps):
            item = page.locator(f'[data-testid="xw-readout-{k}"]')
            assert float(item.get_attribute("data-value")) == float(maps[name][m, row, col])
            assert item.inner_text().startswith(name + " ")
    screenshot(page, "compare_grid_hover")

    page.mouse.move(2, 2)  # leaving the grid hides every crosshair
    expect(page.locator('[data-testid="xw-readout"]')).to_have_attribute("data-active", "false")
    assert page.locator('[data-testid="xw-cross-v"]:visible').count() == 0
    assert page.errors == []


def test_shared_scale_changes_pixels(browser_page, screenshot):
    page = browser_page
    open_harness(page, CompareGrid(make_results(), opacity=1.0, colormap="gray"), READY)
    per_cell = [cell_pixels(page, 0, m) for m in range(3)]
    # per map: the ramps of all images look the same (each stretched to its own range)
    assert np.abs(per_cell[0].astype(int) - per_cell[2]).max() <= 2
    assert page.text_content('[data-testid="xw-row-ticks-0"]') == "minper mapmax"

    page.click('[data-testid="xw-shared-method"]')
    assert model_get(page, "shared_scale") == "method"
    assert page.get_attribute('[data-testid="xw-shared-method"]', "aria-checked") == "true"
    per_row = [cell_pixels(page, 0, m) for m in range(3)]
    # one range 0..3 for the row: image 0's ramp (peak 1) is darker than image 2's (peak 3)
    assert per_row[0][..., :3].mean() < per_row[1][..., :3].mean() < per_row[2][..., :3].mean()
    assert np.array_equal(per_row[2], per_cell[2])  # image 2 holds the row's maximum
    assert np.allclose(per_row[0][80, 159, :3], 255 / 3, atol=6)  # right edge: value 1 of 3
    assert page.get_attribute('[data-testid="xw-cell-0-0"]', "data-max") == "3"
    screenshot(page, "compare_grid_per_method")

    page.click('[data-testid="xw-shared-global"]')
    assert model_get(page, "shared_scale") == "global"
    # the signed row's limits are symmetric, pooled over every map
    lo, hi = (float(page.get_attribute('[data-testid="xw-cell-1-0"]', k)) for k in ("data-min", "data-max"))
    assert lo == -hi and hi > 1
    assert not np.array_equal(cell_pixels(page, 1, 0), per_cell[0])
    # arrow keys move along the radio group
    page.focus('[data-testid="xw-shared-global"]')
    page.keyboard.press("ArrowRight")  # wraps to "cell"
    assert model_get(page, "shared_scale") == "cell"
    assert np.array_equal(cell_pixels(page, 0, 0), per_cell[0])
    assert page.evaluate("window.model.saves") == 3
    assert page.errors == []


def test_value_scale_colour_map_and_opacity_apply_to_every_cell(browser_page):
    page = browser_page
    open_harness(page, CompareGrid(make_results()), READY)
    before = [cell_pixels(page, n, 1) for n in range(3)]
    page.select_option('[data-testid="xw-colormap"]', "magma")
    assert model_get(page, "colormap") == "magma"
    after = [cell_pixels(page, n, 1) for n in range(3)]
    assert np.abs(after[0].astype(int) - before[0]).mean() > 5
    assert np.abs(after[2].astype(int) - before[2]).mean() > 5
    assert np.array_equal(after[1], before[1])  # the signed row keeps its diverging map

    page.select_option('[data-testid="xw-scale"]', "minmax")
    assert model_get(page, "scale") == "minmax"
    assert page.get_attribute('[data-testid="xw-row-1"]', "data-signed") == "false"
    assert np.abs(cell_pixels(page, 1, 1).astype(int) - after[1]).mean() > 5

    slider = page.locator('[data-testid="xw-opacity"]')
    slider.focus()
    page.keyboard.press("Home")
    assert model_get(page, "opacity") == 0
    assert page.text_content('[data-testid="xw-opacity-value"]') == "0%"
    # opacity 0: every cell is its bare image, whatever the method
    bare = [cell_pixels(page, n, 1) for n in range(3)]
    assert np.array_equal(bare[0], bare[1]) and np.array_equal(bare[1], bare[2])
    assert page.errors == []


def test_signed_maps_fade_to_the_image_at_zero(browser_page):
    page = browser_page
    open_harness(page, CompareGrid(make_results(), opacity=1.0), READY)
    signed = cell_pixels(page, 1, 0)  # a vertical ramp -1..1: zero in the middle row
    page.evaluate("window.model.set('opacity', 0)")
    bare = cell_pixels(page, 1, 0)
    assert np.abs(signed[80, 40:120, :3].astype(int) - bare[80, 40:120, :3]).mean() < 20  # ~ the image
    assert np.abs(signed[2, 40:120, :3].astype(int) - bare[2, 40:120, :3]).mean() > 60  # strong blue
    top, bottom = signed[2, 80, :3].astype(int), signed[157, 80, :3].astype(int)
    assert top[2] > top[0] and bottom[0] > bottom[2]  # blue below 0 (top), red above (bottom)


def test_click_and_keyboard_emphasise_a_cell(browser_page, screenshot):
    page = browser_page
    open_harness(page, CompareGrid(make_results()), READY)
    cell(page, 1, 2).click()
    assert model_get(page, "selected") == [1, 2]
    assert cell(page, 1, 2).get_attribute("aria-selected") == "true"
    assert page.get_attribute('[data-testid="xw-row-1"]', "data-emphasis") == "true"
    assert page.get_attribute('[data-testid="xw-col-2"]', "data-emphasis") == "true"
    assert page.get_attribute('[data-testid="xw-col-1"]', "data-emphasis") == "false"
    screenshot(page, "compare_grid_emphasis")
    cell(page, 1, 2).click()  # again: nothing emphasised
    assert model_get(page, "selected") == []
    assert page.locator('[aria-selected="true"]').count() == 0

    cell(page, 0, 0).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.testid") == "xw-cell-1-1"
    page.keyboard.press("Enter")
    assert model_get(page, "selected") == [1, 1]
    page.keyboard.press("Escape")
    assert model_get(page, "selected") == []
    assert page.evaluate("window.model.saves") == 4
    assert page.errors == []


def test_changes_from_python_redraw_and_cleanup(browser_page):
    page = browser_page
    open_harness(page, CompareGrid(make_results()), READY)
    start = cell_pixels(page, 0, 0)
    page.evaluate("window.model.set('colormap', 'gray')")
    assert page.input_value('[data-testid="xw-colormap"]') == "gray"
    assert np.abs(cell_pixels(page, 0, 0).astype(int) - start).mean() > 5
    page.evaluate("window.model.set('shared_scale', 'global')")
    assert page.get_attribute('[data-testid="xw-shared-global"]', "aria-checked") == "true"
    page.evaluate("window.model.set('selected', [2, 0])")
    assert cell(page, 2, 0).get_attribute("aria-selected") == "true"
    page.evaluate("window.model.set('cell_size', 96)")
    assert cell(page, 0, 0).bounding_box()["width"] == pytest.approx(96, abs=1)
    assert cell_pixels(page, 0, 0).shape == (96, 96, 4)
    page.evaluate("window.model.set('title', 'New')")
    assert page.text_content('[data-testid="xw-title"]') == "New"
    assert page.evaluate("window.model.saves") == 0
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0
    assert page.evaluate("document.getElementById('host').children.length") == 0
    assert page.errors == []


def test_bad_payload_shows_an_error(browser_page):
    page = browser_page
    grid = CompareGrid(make_results())
    grid.maps = {**grid.maps, "shape": [3, 3, 64, 63]}
    open_harness(page, grid, READY)
    error = page.locator('[data-testid="xw-error"]')
    assert error.is_visible()
    assert "needs 72576 bytes; got 73728" in error.inner_text()
