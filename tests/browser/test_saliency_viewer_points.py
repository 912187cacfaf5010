"""The SaliencyViewer's fixation path (FovEx, issue 4 item 5) in the plain harness page:
points drawn as a numbered path over the image, the "Fixations" checkbox, rows without
points, a real FovEx result, and a bad state reported in the error box."""

from __future__ import annotations

import numpy as np
import pytest

from xwidgets.widgets import SaliencyViewer

from .harness import SALIENCY_READY, model_get, open_harness, saliency_canvas

pytestmark = pytest.mark.browser

#: (x, y) pixels of a 224-pixel image: three fixations for row 0, none for row 1
FIXATIONS = np.full((5, 3, 2), np.nan, dtype=np.float32)
FIXATIONS[0] = [[40.0, 60.0], [150.0, 80.0], [100.0, 180.0]]
FIXATIONS[2] = [[112.0, 112.0], [112.0, 112.0], [30.0, 200.0]]  # the first two coincide


def _with_fixations(saliency):
    sal = saliency()
    sal.params = {"extras": {"fixations": FIXATIONS}}
    return sal


def _canvas_xy(x: float, y: float) -> tuple[int, int]:
    """Image pixel (x, y) of the 224-pixel image -> (row, col) of the 320-pixel canvas."""
    return int(round((y + 0.5) / 224 * 320 - 0.5)), int(round((x + 0.5) / 224 * 320 - 0.5))


def test_fixations_are_drawn_as_a_numbered_path_and_toggled(browser_page, saliency, screenshot):
    page = browser_page
    viewer = SaliencyViewer(_with_fixations(saliency), opacity=0.0)
    assert viewer.points["shape"] == [5, 3, 2]
    open_harness(page, viewer, SALIENCY_READY)
    screenshot(page, "points_initial")

    root = page.locator('[data-testid="xw-saliency"]')
    assert root.get_attribute("data-points") == "3"
    toggle = page.locator('[data-testid="xw-points"]')
    assert toggle.is_visible() and toggle.is_checked()
    assert page.get_by_label("Fixations", exact=True).get_attribute("data-testid") == "xw-points"
    assert page.text_content('[data-testid="xw-points-note"]') == "3 fixations, numbered in order"
    label = page.get_attribute('[data-testid="xw-canvas"]', "aria-label")
    assert label.endswith("; fixations 1 at (x 40, y 60); 2 at (x 150, y 80); 3 at (x 100, y 180)")

    drawn = saliency_canvas(page)
    # the first marker's disc is the accent red; just above its digit, inside the disc
    row, col = _canvas_xy(40, 60)
    assert tuple(drawn[row - 6, col, :3]) == pytest.approx((214, 39, 40), abs=30)
    # the other markers are dark discs
    for x, y in FIXATIONS[0, 1:]:
        r, c = _canvas_xy(x, y)
        assert drawn[r - 6, c, :3].max() < 60, (x, y, drawn[r - 6, c])

    toggle.click()
    assert model_get(page, "show_points") is False
    assert page.evaluate("window.model.saves") == 1
    assert root.get_attribute("data-points") == "0"
    hidden = saliency_canvas(page)
    assert np.abs(hidden.astype(int) - drawn).max() > 100
    # without the path, the canvas is exactly the one of a state without points
    page.evaluate("window.model.set('points', {})")
    assert page.locator('[data-testid="xw-points"]').is_hidden()
    assert np.array_equal(saliency_canvas(page), hidden)
    assert page.errors == [] and page.blocked == []


def test_rows_without_points_and_coinciding_points(browser_page, saliency):
    page = browser_page
    open_harness(page, SaliencyViewer(_with_fixations(saliency)), SALIENCY_READY)
    root = page.locator('[data-testid="xw-saliency"]')
    page.click('[data-testid="xw-class-1"]')  # row 1: all NaN
    assert root.get_attribute("data-points") == "0"
    assert page.locator('[data-testid="xw-points"]').is_hidden()
    page.click('[data-testid="xw-class-2"]')  # row 2: fixations 1 and 2 at the same place
    assert root.get_attribute("data-points") == "2"
    assert page.text_content('[data-testid="xw-points-note"]') == (
        "3 fixations, numbered in order (1 at a place already visited)"
    )
    assert page.errors == []


def test_a_fovex_result_shows_its_fixations(browser_page):
    import xwidgets as xw
    from xwidgets.data.synthetic import SyntheticParts

    images, _ = SyntheticParts(2, seed=0).arrays(0, 1)
    result = xw.explain(xw.models.toy_cnn(), list(images), method="fovex", fixations=3, iterations=2)
    viewer = result.widget()
    fixations = result.params["extras"]["fixations"][0]
    np.testing.assert_array_equal(
        np.frombuffer(viewer.points["data"], dtype="<f4").reshape(1, 3, 2)[0], fixations.astype(np.float32)
    )
    open_harness(browser_page, viewer, SALIENCY_READY)
    distinct = len({(round(float(x), 3), round(float(y), 3)) for x, y in fixations})
    assert browser_page.get_attribute('[data-testid="xw-saliency"]', "data-points") == str(distinct)
    assert browser_page.errors == []


def test_points_with_the_wrong_number_of_rows_are_reported(browser_page, saliency):
    viewer = SaliencyViewer(_with_fixations(saliency))
    state = viewer.report_state()
    state["points"] = {"data": FIXATIONS[:2].tobytes(), "dtype": "float32", "shape": [2, 3, 2]}
    open_harness(browser_page, viewer, SALIENCY_READY, state=state)
    error = browser_page.locator('[data-testid="xw-error"]')
    assert error.is_visible()
    assert "points holds 2 rows but classes lists 5." in error.text_content()


def test_the_fixation_path_is_drawn_in_an_offline_report(browser_page, saliency, tmp_path):
    from xwidgets.report import write_report

    from .test_report_offline import open_offline

    page = browser_page
    path = write_report(tmp_path / "points.html", [SaliencyViewer(_with_fixations(saliency)), SaliencyViewer(saliency())])
    _, aborted = open_offline(page, path)
    roots = page.locator('[data-testid="xw-saliency"]')
    roots.nth(1).wait_for()
    page.wait_for_selector('[data-testid="xw-saliency"][data-points="3"]')
    assert roots.nth(1).get_attribute("data-points") == "0"
    assert aborted == [] and page.errors == []
