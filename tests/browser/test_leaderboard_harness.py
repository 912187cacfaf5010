"""Leaderboard's front end in a plain harness page (and in an offline report): sorting by
header clicks, the best of each column, a cell's map and per-image score, the image picker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from playwright.sync_api import expect

from xwidgets.metrics.benchmark import BenchmarkIssue, BenchmarkResult
from xwidgets.metrics.registry import MetricResult, MetricSpec
from xwidgets.report import write_report
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import Leaderboard

from .harness import canvas_rgba, model_get, open_harness

pytestmark = pytest.mark.browser

READY = '[data-testid="xw-leaderboard"][data-ready="true"]'
SIZE = 32


@dataclasses.dataclass
class Params:
    steps: int = 10


def make_result() -> BenchmarkResult:
    """Methods "Ramp", "<b>Blob</b>", "Signed" (and "daam", skipped) x metrics "up" (higher is
    better), "down" (lower is better), "fails" (failed on the blob), on 3 images.

    Means: up 0.8 / 0.5 / 0.2; down 0.25 / 0.125 / 0.25; fails 1.0 / failed / 2.0.
    """
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1)
    base = 110 + 80 * (xx + yy) / 2
    photo = np.stack([base, base * 0.9, base * 0.8], axis=-1).astype(np.uint8)
    imgs = np.stack([np.roll(photo, 7 * i, axis=0) for i in range(3)])
    probs = rng.random((3, 3)).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)

    def sal(method, maps):
        return Saliency(maps=np.stack(maps).astype(np.float32), images=imgs.copy(), image_index=np.arange(3),
                        targets=probs.argmax(1), probabilities=probs, labels=["cup", "<i>mug</i>", "tray"],
                        method=method, elapsed=0.1)

    saliency = {
        "Ramp": sal("gradcam", [xx * (i + 1) for i in range(3)]),
        "<b>Blob</b>": sal("rise", [np.exp(-((xx - 0.3 * (i + 1)) ** 2 + (yy - 0.5) ** 2) / 0.02) for i in range(3)]),
        "Signed": sal("gradient_x_input", [(2 * yy - 1) * (i + 1) for i in range(3)]),
    }
    per_image = {
        ("Ramp", "up"): [0.9, 0.7, 0.8], ("<b>Blob</b>", "up"): [0.5, 0.6, 0.4], ("Signed", "up"): [0.2, 0.3, 0.1],
        ("Ramp", "down"): [0.25] * 3, ("<b>Blob</b>", "down"): [0.125] * 3, ("Signed", "down"): [0.5, 0.0, 0.25],
        ("Ramp", "fails"): [1.0] * 3, ("Signed", "fails"): [2.0] * 3,
    }
    hib = {"up": True, "down": False, "fails": True}
    specs = {k: MetricSpec(k, lambda *a: None, Params, f"{k} summary", f"{k} paper", "faithfulness", hib[k]) for k in hib}
    results: dict = {m: {} for m in saliency}
    for (m, k), scores in per_image.items():
        results[m][k] = MetricResult(k, np.array(scores), params={"steps": 10}, higher_is_better=hib[k])
    return BenchmarkResult(
        model="toy", device="cpu", num_images=3, target="pred", methods=[*saliency, "daam"],
        metrics=["up", "down", "fails"], saliency=saliency, results=results,
        method_seconds={"Ramp": 0.5, "<b>Blob</b>": 0.05, "Signed": 2.0},
        metric_seconds={m: {k: 0.01 for k in results[m]} for m in results},
        protocols={k: {"steps": 10} for k in hib}, higher_is_better=hib, metric_specs=specs, method_params={},
        issues=[BenchmarkIssue("skipped", "daam", None, "no attention blocks"),
                BenchmarkIssue("failed", "<b>Blob</b>", "fails", "ValueError: boom")],
    )


NAMES = ["Ramp", "<b>Blob</b>", "Signed"]


def row_order(page) -> list[str]:
    """The method names down the table, as shown."""
    return page.locator('[data-testid="xw-tbody"] tr .xw-method-name').all_inner_texts()


def test_header_clicks_sort_best_first_then_worst_first(browser_page, screenshot):
    page = browser_page
    widget = Leaderboard(make_result())
    open_harness(page, widget, READY)
    screenshot(page, "leaderboard_initial")

    assert page.text_content('[data-testid="xw-title"]') == "Benchmark: toy"
    assert page.locator('[data-testid="xw-table"] b, [data-testid="xw-table"] i').count() == 0  # text, never HTML
    # by mean rank first, as Python's ranked_methods
    assert row_order(page) == ["<b>Blob</b>", "Ramp", "Signed"] == widget.sorted_methods
    assert page.get_attribute('[data-testid="xw-sort-rank"]', "data-sort") == "-1"
    assert page.locator("th[aria-sort]").count() == 1
    assert page.locator('th:has([data-testid="xw-sort-rank"])').get_attribute("aria-sort") == "ascending"

    # "up" is higher-is-better: the highest mean first; a second click: the lowest first
    page.click('[data-testid="xw-sort-0"]')
    assert row_order(page) == ["Ramp", "<b>Blob</b>", "Signed"]
    assert model_get(page, "sort_by") == 0 and model_get(page, "sort_order") == "best"
    assert page.locator('th:has([data-testid="xw-sort-0"])').get_attribute("aria-sort") == "descending"
    page.click('[data-testid="xw-sort-0"]')
    assert row_order(page) == ["Signed", "<b>Blob</b>", "Ramp"]
    assert model_get(page, "sort_order") == "worst"
    assert page.locator('th:has([data-testid="xw-sort-0"])').get_attribute("aria-sort") == "ascending"
    # "down" is lower-is-better: the lowest mean first (ties keep their order); a new column starts at best
    page.click('[data-testid="xw-sort-1"]')
    assert row_order(page) == ["<b>Blob</b>", "Ramp", "Signed"]
    assert model_get(page, "sort_order") == "best"
    # a method without a score stays last either way
    page.click('[data-testid="xw-sort-2"]')
    assert row_order(page) == ["Signed", "Ramp", "<b>Blob</b>"]
    page.click('[data-testid="xw-sort-2"]')
    assert row_order(page) == ["Ramp", "Signed", "<b>Blob</b>"]
    page.click('[data-testid="xw-sort-time"]')
    assert row_order(page) == ["<b>Blob</b>", "Ramp", "Signed"]
    assert page.get_attribute('[data-testid="xw-time-1"]', "data-best") == "true"
    screenshot(page, "leaderboard_sorted")

    # the best of each column is highlighted (both tied rows would be; here one each)
    best = {k: [n for n in range(3) if page.get_attribute(f'[data-testid="xw-cell-{n}-{k}"]', "data-best") == "true"]
            for k in range(3)}
    assert best == {0: [0], 1: [1], 2: [2]}
    assert page.locator('[data-testid="xw-cell-1-2"] .xw-mean').inner_text() == "failed"
    assert "ValueError: boom" in page.get_attribute('[data-testid="xw-cell-1-2"]', "title")
    # ranks shown in the cells equal Python's
    table = make_result().rank_table()
    for n, name in enumerate(NAMES):
        for k, metric in enumerate(["up", "down"]):
            assert float(page.get_attribute(f'[data-testid="xw-cell-{n}-{k}"]', "data-rank")) == table[name][metric]
        assert float(page.get_attribute(f'[data-testid="xw-rank-{n}"]', "data-value")) == pytest.approx(table[name]["mean_rank"])
    # protocol and issues are stated under the table
    assert page.locator('[data-testid="xw-issues"] li').all_inner_texts() == ["daam skipped: no attention blocks"]
    page.click('[data-testid="xw-protocol"] summary')
    assert "up (up paper): steps=10" in page.locator('[data-testid="xw-protocol"]').inner_text()
    assert page.errors == [] and page.blocked == []


def test_a_cell_click_shows_the_map_and_the_image_picker_its_score(browser_page, screenshot):
    page = browser_page
    result = make_result()
    open_harness(page, Leaderboard(result), READY)
    canvas = page.locator('[data-testid="xw-canvas"]')
    assert canvas.get_attribute("data-drawn") == "false"
    assert page.text_content('[data-testid="xw-detail-title"]') == "Click a cell to see the method's map."
    image_only = canvas_rgba(canvas)

    page.click('[data-testid="xw-cell-0-0"]')
    expect(canvas).to_have_attribute("data-drawn", "true")
    assert model_get(page, "selected") == [0, 0]
    assert page.get_attribute('[data-testid="xw-cell-0-0"]', "aria-pressed") == "true"
    assert page.text_content('[data-testid="xw-detail-title"]') == "Ramp \u00b7 up"
    assert float(page.get_attribute('[data-testid="xw-score"]', "data-value")) == pytest.approx(0.9)
    assert "rank 1 of 3" in page.text_content('[data-testid="xw-score"]')
    ramp = canvas_rgba(canvas)
    assert np.abs(ramp.astype(int) - image_only).mean() > 5  # the map is drawn over the image
    # a left-to-right ramp: the colours change along x, not along y
    assert np.abs(np.diff(ramp[..., :3].astype(int), axis=1)).sum() > 3 * np.abs(np.diff(ramp[..., :3].astype(int), axis=0)).sum()
    screenshot(page, "leaderboard_cell")

    # another image: its own score and map
    page.select_option('[data-testid="xw-image"]', "2")
    assert model_get(page, "image") == 2
    assert float(page.get_attribute('[data-testid="xw-score"]', "data-value")) == float(np.float32(0.8))
    assert np.abs(canvas_rgba(canvas).astype(int) - ramp).mean() > 1

    # another cell: that method's map, with the metric's score on this image
    page.click('[data-testid="xw-cell-2-1"]')
    assert page.text_content('[data-testid="xw-detail-title"]') == "Signed \u00b7 down"
    assert float(page.get_attribute('[data-testid="xw-score"]', "data-value")) == 0.25
    assert "lower is better" in page.text_content('[data-testid="xw-score"]')
    signed = canvas_rgba(canvas)
    assert np.abs(np.diff(signed[..., :3].astype(int), axis=0)).sum() > 3 * np.abs(np.diff(signed[..., :3].astype(int), axis=1)).sum()
    # the failed cell says why
    page.click('[data-testid="xw-cell-1-2"]')
    assert "failed (ValueError: boom)" in page.text_content('[data-testid="xw-score"]')
    assert page.get_attribute('[data-testid="xw-score"]', "data-value") is None
    # Python drives the view too
    page.evaluate("() => { window.model.set('selected', [1, 0]); window.model.set('image', 0); }")
    assert page.text_content('[data-testid="xw-detail-title"]') == "<b>Blob</b> \u00b7 up"
    assert float(page.get_attribute('[data-testid="xw-score"]', "data-value")) == pytest.approx(0.5)
    assert page.input_value('[data-testid="xw-image"]') == "0"
    assert page.errors == [] and page.blocked == []


def test_offline_report_sorts_and_shows_maps(browser_page, tmp_path):
    page = browser_page
    path = write_report(tmp_path / "board.html", Leaderboard(make_result(), selected=("Ramp", "up")), title="Board")
    url = path.resolve().as_uri()
    aborted: list[str] = []

    def handle(route):
        if route.request.url == url:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.goto(url)
    page.wait_for_selector("html[data-xw-mounted='true']")
    page.wait_for_selector(READY)
    expect(page.locator('[data-testid="xw-canvas"]')).to_have_attribute("data-drawn", "true")
    page.click('[data-testid="xw-sort-0"]')
    assert row_order(page) == ["Ramp", "<b>Blob</b>", "Signed"]
    page.click('[data-testid="xw-cell-2-0"]')
    assert page.text_content('[data-testid="xw-detail-title"]') == "Signed \u00b7 up"
    assert aborted == [] and page.errors == []
