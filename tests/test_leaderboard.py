"""Leaderboard, Python side: trait contents, sorting rule, validation, repr, report."""

from __future__ import annotations

import dataclasses
import io
import math
import pathlib

import numpy as np
import pytest
import traitlets
from PIL import Image

import xwidgets
from xwidgets.metrics.benchmark import BenchmarkIssue, BenchmarkResult
from xwidgets.metrics.registry import MetricResult, MetricSpec
from xwidgets.saliency.result import Saliency
from xwidgets.widgets import Leaderboard
from xwidgets.widgets.leaderboard import SORT_RANK, SORT_TIME, sort_rows

LABELS = ["cat", "dog", "car"]


@dataclasses.dataclass
class Params:
    steps: int = 10


def make_result(images: int = 3, size: int = 16) -> BenchmarkResult:
    """Three methods that ran (a fourth skipped) x three metrics, one failed cell, known means.

    Scores per image (rows = methods A, B, C):
      up (higher is better):   A [0.9, 0.7, 0.8] (0.8), B [0.5, 0.6, 0.4] (0.5), C [0.2, 0.3, 0.1] (0.2)
      down (lower is better):  A 0.25, B 0.125, C 0.25 (A and C tie, exactly)
      fails (higher):          A 1.0, B failed, C 2.0
    """
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (images, size, size, 3), dtype=np.uint8)
    probs = rng.random((images, len(LABELS))).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)

    def sal(method, maps):
        return Saliency(maps=np.stack(maps).astype(np.float32), images=imgs.copy(), image_index=np.arange(images),
                        targets=probs.argmax(1), probabilities=probs, labels=LABELS, method=method, elapsed=0.1)

    saliency = {
        "A": sal("gradcam", [xx * (i + 1) for i in range(images)]),
        "B": sal("saliency", [yy + i for i in range(images)]),
        "C": sal("gradient_x_input", [(2 * xx - 1) * (i + 1) for i in range(images)]),
    }
    per_image = {
        ("A", "up"): [0.9, 0.7, 0.8], ("B", "up"): [0.5, 0.6, 0.4], ("C", "up"): [0.2, 0.3, 0.1],
        ("A", "down"): [0.25, 0.25, 0.25], ("B", "down"): [0.125] * 3, ("C", "down"): [0.5, 0.0, 0.25],
        ("A", "fails"): [1.0, 1.0, 1.0], ("C", "fails"): [2.0, 2.0, float("nan")],
    }
    hib = {"up": True, "down": False, "fails": True}
    specs = {k: MetricSpec(k, lambda *a: None, Params, f"{k} summary", f"{k} paper", "faithfulness", hib[k]) for k in hib}
    results: dict = {m: {} for m in saliency}
    for (m, k), scores in per_image.items():
        results[m][k] = MetricResult(k, np.array(scores[:images]), params={"steps": 10}, higher_is_better=hib[k])
    return BenchmarkResult(
        model="toy", device="cpu", num_images=images, target="pred",
        methods=["A", "B", "C", "daam"], metrics=["up", "down", "fails"], saliency=saliency, results=results,
        method_seconds={"A": 0.5, "B": 0.05, "C": 2.0},
        metric_seconds={m: {k: 0.01 for k in results[m]} for m in results},
        protocols={k: {"steps": 10} for k in hib}, higher_is_better=hib, metric_specs=specs,
        method_params={}, issues=[BenchmarkIssue("skipped", "daam", None, "no attention blocks"),
                                  BenchmarkIssue("failed", "B", "fails", "ValueError: boom")],
    )


def test_traits_hold_the_table_scores_maps_and_images():
    result = make_result()
    w = Leaderboard(result)
    assert [m["name"] for m in w.methods] == ["A", "B", "C"]
    assert [m["seconds"] for m in w.methods] == [0.5, 0.05, 2.0]
    assert [(m["name"], m["higher_is_better"]) for m in w.metrics] == [("up", True), ("down", False), ("fails", True)]
    assert w.metrics[0]["protocol"] == "steps=10" and w.metrics[0]["paper"] == "up paper"
    assert w.means[0] == pytest.approx([0.8, 0.25, 1.0])
    assert w.means[1][:2] == pytest.approx([0.5, 0.125]) and w.means[1][2] is None
    assert w.means[2] == pytest.approx([0.2, 0.25, 2.0])
    assert w.counts == [[3, 3, 3], [3, 3, 0], [3, 3, 2]]
    assert w.stds[0][0] == pytest.approx(0.1) and w.stds[1][2] is None
    assert w.notes == [["", "", ""], ["", "", "ValueError: boom"], ["", "", ""]]
    assert w.issues == ["daam skipped: no attention blocks"]
    # per-image scores [N, K, M], float32, NaN where there is none
    assert w.scores["shape"] == [3, 3, 3] and w.scores["dtype"] == "float32"
    scores = np.frombuffer(w.scores["data"], dtype="<f4").reshape(3, 3, 3)
    np.testing.assert_allclose(scores[0, 0], [0.9, 0.7, 0.8], rtol=1e-6)
    assert np.isnan(scores[1, 2]).all() and np.isnan(scores[2, 2, 2]) and scores[2, 2, 0] == 2.0
    # maps [N, M, H, W] float16 and lossless images
    assert w.maps["shape"] == [3, 3, 16, 16] and w.maps_dtype == "float16"
    maps = np.frombuffer(w.maps["data"], dtype="<f2").reshape(3, 3, 16, 16)
    for n, m in enumerate("ABC"):
        np.testing.assert_array_equal(maps[n], result.saliency[m].maps.astype(np.float16))
    for i, payload in enumerate(w.images):
        decoded = np.asarray(Image.open(io.BytesIO(payload["png"])).convert("RGB"))
        np.testing.assert_array_equal(decoded, result.saliency["A"].images[i])
    top = result.saliency["A"].probabilities.argmax(1)
    assert [c["label"] for c in w.columns] == [LABELS[t] for t in top]
    assert (w.sort_by, w.sort_order, w.selected, w.image, w.title) == (SORT_RANK, "best", [], 0, "Benchmark: toy")
    assert w.subtitle == "toy \u00b7 3 images \u00b7 target 'pred'"


def test_sorted_methods_follow_the_metric_direction_and_agree_with_the_ranks():
    result = make_result()
    w = Leaderboard(result)
    # mean ranks: A (1 + 2.5 + 2) / 3, B (2 + 1) / 2, C (3 + 2.5 + 1) / 3
    table = result.rank_table()
    assert [table[m]["mean_rank"] for m in "ABC"] == pytest.approx([5.5 / 3, 1.5, 6.5 / 3])
    assert w.sorted_methods == result.ranked_methods() == ["B", "A", "C"]
    w.sort_by = 0  # "up", higher is better
    assert w.sorted_methods == ["A", "B", "C"] and w.sort_key == "up"
    w.sort_order = "worst"
    assert w.sorted_methods == ["C", "B", "A"]
    w.sort_by, w.sort_order = 1, "best"  # "down", lower is better; A and C tie and keep their order
    assert w.sorted_methods == ["B", "A", "C"]
    w.sort_by = 2  # B has no score: always last
    assert w.sorted_methods == ["C", "A", "B"]
    w.sort_order = "worst"
    assert w.sorted_methods == ["A", "C", "B"]
    w.sort_by, w.sort_order = SORT_TIME, "best"
    assert w.sorted_methods == ["B", "A", "C"] and w.sort_key == "seconds"


def test_sort_rows_rule():
    nan = float("nan")
    assert sort_rows([0.2, nan, 0.9, 0.2], True, "best") == [2, 0, 3, 1]
    assert sort_rows([0.2, nan, 0.9, 0.2], True, "worst") == [0, 3, 2, 1]
    assert sort_rows([0.2, nan, 0.9, 0.2], False, "best") == [0, 3, 2, 1]
    with pytest.raises(ValueError, match="order: expected one of 'best', 'worst'"):
        sort_rows([1.0], True, "up")


def test_constructor_options_and_bad_arguments():
    result = make_result()
    w = Leaderboard(result, sort_by="down", sort_order="worst", selected=("C", "up"), image=2,
                    captions=["a", "b", "<b>c</b>"], colormap="magma", opacity=0.8, title="T")
    assert (w.sort_by, w.sort_order, w.selected, w.image) == (1, "worst", [2, 0], 2)
    assert w.selected_cell == ("C", "up") and w.columns[2]["caption"] == "<b>c</b>"
    assert (w.colormap, w.opacity, w.title) == ("magma", 0.8, "T")
    assert Leaderboard(result, sort_by="seconds").sort_by == SORT_TIME
    with pytest.raises(ValueError, match="result: expected a BenchmarkResult"):
        Leaderboard({"A": result.saliency["A"]})
    with pytest.raises(ValueError, match=r"sort_by: expected 'mean_rank', 'seconds' or a metric name \(up, down, fails\); got 'speed'"):
        Leaderboard(result, sort_by="speed")
    with pytest.raises(ValueError, match="sort_order: expected one of 'best', 'worst'"):
        Leaderboard(result, sort_order="up")
    with pytest.raises(ValueError, match=r"selected\[0\]: expected a method that produced maps \(A, B, C\); got 'daam'"):
        Leaderboard(result, selected=("daam", "up"))
    with pytest.raises(ValueError, match=r"selected\[1\]: expected a metric"):
        Leaderboard(result, selected=("A", "speed"))
    with pytest.raises(ValueError, match="image: expected an int image position in \\[0, 3\\)"):
        Leaderboard(result, image=3)
    with pytest.raises(ValueError, match="captions: expected a list of 3 str"):
        Leaderboard(result, captions=["a"])
    with pytest.raises(ValueError, match="opacity"):
        Leaderboard(result, opacity=2)
    empty = make_result()
    empty.saliency.clear()
    with pytest.raises(ValueError, match="result: expected a benchmark in which at least one method produced maps"):
        Leaderboard(empty)


def test_front_end_state_is_validated():
    w = Leaderboard(make_result())
    w.selected = [1, 2]
    w.image = 1
    w.sort_by = SORT_TIME
    assert w.selected_cell == ("B", "fails")
    for name, value in [("selected", [3, 0]), ("selected", [0]), ("image", 3), ("sort_by", 3), ("sort_by", -3),
                        ("sort_order", "up"), ("opacity", 1.5), ("colormap", "jet")]:
        with pytest.raises(traitlets.TraitError, match=name):
            setattr(w, name, value)


def test_registered_everywhere_a_widget_is():
    root = pathlib.Path(__file__).resolve().parents[1]
    assert "Leaderboard" in xwidgets.__all__ and "benchmark" in xwidgets.__all__
    assert "leaderboard.ts" in (root / "js" / "build.mjs").read_text()
    assert "leaderboard" in (root / "js" / "report_runtime.ts").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    assert pyproject.count("xwidgets/static/leaderboard.js") == 2  # ensured-targets and skip-if-exists
    assert (root / "xwidgets" / "static" / "leaderboard.js").is_file()


def test_repr_state_and_report(tmp_path):
    result = make_result()
    w = result.show(selected=("A", "up"))
    assert isinstance(w, Leaderboard) and xwidgets.Leaderboard is Leaderboard
    assert repr(w) == ("Leaderboard(methods=['A', 'B', 'C'], metrics=['up', 'down', 'fails'], images=3, "
                       "sort_by='mean_rank', sort_order='best', selected=('A', 'up'), image=0)")
    state = w.report_state()
    assert sorted(state) == sorted([
        "methods", "metrics", "means", "stds", "counts", "notes", "scores", "images", "columns", "maps", "issues",
        "sort_by", "sort_order", "selected", "image", "opacity", "colormap", "scale", "title", "subtitle",
    ])
    assert w.report_module == "leaderboard"
    path = result.save_html(tmp_path / "board.html")
    text = path.read_text()
    assert '"module":"leaderboard"' in text and "xwidgets benchmark: toy" in text
    assert not any(math.isnan(v) for row in w.means for v in row if v is not None)
