"""xw.benchmark on the toy CNN: table, ranks, failures recorded (not raised), nothing lost,
protocol stated, bad arguments. The metrics are tiny ones registered here (and removed
after), so these tests depend on the runner and the registry only."""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings

import numpy as np
import pytest
import torch

import xwidgets as xw
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.metrics.benchmark import (
    BenchmarkResult,
    BenchmarkWarning,
    applicable_methods,
    applicable_metrics,
    average_ranks,
    benchmark,
)
from xwidgets.metrics.registry import MetricResult, register_metric, unregister_metric
from xwidgets.saliency import registry as method_registry
from xwidgets.saliency.tame import shipped_explainer

CENTRE, OFF_CENTRE, EVIDENCE, NONNEG = "_test_mass_in_centre", "_test_mass_off_centre", "_test_mass_on_evidence", "_test_needs_nonnegative"
METHODS = ["gradcam", "saliency", "gradient_x_input"]
N_IMAGES = 4


@dataclasses.dataclass
class CentreParams:
    """border: the fraction of each side outside the central box."""

    border: float = 0.25


@dataclasses.dataclass
class NoParams:
    pass


def centre_fraction(maps: np.ndarray, border: float) -> np.ndarray:
    """Per map, the share of its positive mass inside the central box (NaN for an all-zero map)."""
    positive = np.clip(maps, 0, None)
    h, w = maps.shape[1:]
    b0, b1 = int(h * border), int(w * border)
    total = positive.sum(axis=(1, 2))
    inner = positive[:, b0:h - b0, b1:w - b1].sum(axis=(1, 2))
    return np.where(total > 0, inner / np.maximum(total, 1e-30), np.nan)


@pytest.fixture(scope="module", autouse=True)
def test_metrics():
    """Four throwaway metrics: two that rank in opposite directions on the same quantity, one
    that needs ground truth, one that refuses signed maps."""

    @register_metric(CENTRE, params=CentreParams, summary="share of positive mass in the central box",
                     paper="test metric", kind="complexity", higher_is_better=True)
    def mass_in_centre(model, saliency, params, ground_truth):
        return MetricResult(CENTRE, centre_fraction(saliency.maps, params.border))

    @register_metric(OFF_CENTRE, params=CentreParams, summary="share of positive mass outside the central box",
                     paper="test metric", kind="complexity", higher_is_better=False)
    def mass_off_centre(model, saliency, params, ground_truth):
        return MetricResult(OFF_CENTRE, 1.0 - centre_fraction(saliency.maps, params.border))

    @register_metric(EVIDENCE, params=NoParams, summary="share of positive mass on the defining parts",
                     paper="test metric", kind="localisation", higher_is_better=True, needs_ground_truth=True)
    def mass_on_evidence(model, saliency, params, ground_truth):
        positive = np.clip(saliency.maps, 0, None)
        masks = np.stack([ground_truth[i].evidence_mask for i in saliency.image_index])
        return MetricResult(EVIDENCE, (positive * masks).sum(axis=(1, 2)) / positive.sum(axis=(1, 2)))

    @register_metric(NONNEG, params=NoParams, summary="fails on signed maps", paper="test metric",
                     kind="sanity", higher_is_better=True)
    def needs_nonnegative(model, saliency, params, ground_truth):
        if (saliency.maps < 0).any():
            raise ValueError("saliency: expected non-negative maps")
        return MetricResult(NONNEG, saliency.maps.max(axis=(1, 2)))

    yield
    for name in (CENTRE, OFF_CENTRE, EVIDENCE, NONNEG):
        unregister_metric(name)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return xw.models.toy_cnn()


@pytest.fixture(scope="module")
def samples():
    return [SyntheticParts(N_IMAGES, seed=3).sample(i) for i in range(N_IMAGES)]


@pytest.fixture(scope="module")
def run(model, samples):
    """One benchmark of three cheap methods with the four test metrics (one fails on one method)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = benchmark(
            model, [s.image for s in samples], METHODS, [CENTRE, OFF_CENTRE, EVIDENCE, NONNEG],
            ground_truth=samples, metric_params={CENTRE: {"border": 0.2}, OFF_CENTRE: {"border": 0.2}},
            progress=False,
        )
    return result, [w for w in caught if issubclass(w.category, BenchmarkWarning)]


def test_table_has_one_row_per_score_with_the_right_values(run):
    result, _ = run
    assert isinstance(result, BenchmarkResult) and xw.benchmark is benchmark
    rows = result.table(records=True)
    # 3 methods x 4 metrics, less the one that failed (NONNEG on the signed gradient x input)
    assert len(rows) == 11
    assert {(r["method"], r["metric"]) for r in rows} == {
        (m, k) for m in METHODS for k in (CENTRE, OFF_CENTRE, EVIDENCE, NONNEG)} - {("gradient_x_input", NONNEG)}
    for r in rows:
        expected = result.results[r["method"]][r["metric"]].scores
        assert r["mean"] == pytest.approx(np.nanmean(expected))
        assert r["n"] == int(np.isfinite(expected).sum()) == N_IMAGES
        assert r["std"] == pytest.approx(np.nanstd(expected, ddof=1))
        assert r["higher_is_better"] is (r["metric"] != OFF_CENTRE)
        assert r["seconds"] == result.method_seconds[r["method"]] > 0
        assert r["metric_seconds"] >= 0
    # the centre metric's values are what its definition gives on the maps kept in the result,
    # under the protocol passed (border 0.2, not the default 0.25)
    for m in METHODS:
        mine = centre_fraction(result.saliency[m].maps, 0.2)
        np.testing.assert_allclose(result.results[m][CENTRE].scores, mine)
        assert not np.allclose(mine, centre_fraction(result.saliency[m].maps, 0.25))
    frame = result.table()
    assert list(frame.columns) == ["method", "metric", "mean", "std", "n", "higher_is_better", "seconds", "metric_seconds"]
    assert frame.shape == (11, 8)


def test_without_pandas_tables_are_lists_of_dicts(run, monkeypatch):
    result, _ = run
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    table = result.table()
    assert isinstance(table, list) and len(table) == 11 and isinstance(table[0], dict)
    ranks = result.ranks()
    assert isinstance(ranks, list) and [r["method"] for r in ranks] == result.ranked_methods()


def test_ranks_respect_higher_is_better(run):
    result, _ = run
    table = result.rank_table()
    means = result.means()
    # the same quantity, one metric higher-is-better, the other lower-is-better: equal ranks
    for m in METHODS:
        assert table[m][CENTRE] == table[m][OFF_CENTRE]
    best = max(METHODS, key=lambda m: means[m][CENTRE])
    worst = min(METHODS, key=lambda m: means[m][CENTRE])
    assert table[best][CENTRE] == 1 and table[worst][CENTRE] == 3
    assert table[best][OFF_CENTRE] == 1 and means[best][OFF_CENTRE] == min(means[m][OFF_CENTRE] for m in METHODS)
    # the failed cell has no rank; the others share ranks 1 and 2
    assert math.isnan(table["gradient_x_input"][NONNEG])
    assert sorted(table[m][NONNEG] for m in ("gradcam", "saliency")) == [1.0, 2.0]
    # mean rank: over the metrics a method has a rank for
    for m in METHODS:
        have = [table[m][k] for k in result.metrics if not math.isnan(table[m][k])]
        assert table[m]["mean_rank"] == pytest.approx(sum(have) / len(have))
    frame = result.ranks()
    assert list(frame.columns) == [CENTRE, OFF_CENTRE, EVIDENCE, NONNEG, "mean_rank"]
    assert list(frame.index) == result.ranked_methods()
    assert list(frame["mean_rank"]) == sorted(frame["mean_rank"])


def test_average_ranks_share_ties_and_skip_nan():
    assert average_ranks([0.1, 0.5, 0.5, float("nan"), 0.9], higher_is_better=True) == pytest.approx(
        [4, 2.5, 2.5, float("nan"), 1], nan_ok=True)
    assert average_ranks([0.1, 0.5, 0.5, 0.9], higher_is_better=False) == [1, 2.5, 2.5, 4]
    assert average_ranks([], True) == []


def test_a_failing_metric_is_recorded_with_a_warning_and_the_rest_kept(run):
    result, caught = run
    assert [(i.kind, i.method, i.metric) for i in result.errors] == [("failed", "gradient_x_input", NONNEG)]
    assert "non-negative" in result.errors[0].message and result.errors[0].message.startswith("ValueError")
    assert any("_test_needs_nonnegative failed on gradient_x_input" in str(w.message) for w in caught)
    assert set(result.results["gradient_x_input"]) == {CENTRE, OFF_CENTRE, EVIDENCE}
    assert set(result.results["gradcam"]) == set(result.results["saliency"]) == {CENTRE, OFF_CENTRE, EVIDENCE, NONNEG}


def test_a_failing_method_is_recorded_and_the_others_run(model, samples, monkeypatch):
    spec = method_registry.get_method("saliency")

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setitem(method_registry._REGISTRY, "saliency", dataclasses.replace(spec, compute=broken))
    images = [s.image for s in samples[:2]]
    with pytest.warns(BenchmarkWarning, match="saliency failed"):
        result = benchmark(model, images, ["saliency", "gradcam"], [CENTRE], progress=False)
    assert [(i.kind, i.method, i.metric) for i in result.issues] == [("failed", "saliency", None)]
    assert result.issues[0].message == "RuntimeError: out of memory (simulated)"
    assert result.ran == ["gradcam"] and list(result.saliency) == ["gradcam"]
    assert result.methods == ["saliency", "gradcam"]
    assert len(result.table(records=True)) == 1
    assert result.rank_table()["gradcam"][CENTRE] == 1


def test_nothing_computed_is_lost(run, model, samples):
    result, _ = run
    assert result.ran == METHODS and list(result.saliency) == METHODS
    images = [s.image for s in samples]
    for m in ("gradcam", "gradient_x_input"):  # deterministic methods: the same maps as xw.explain
        direct = xw.explain(model, images, method=m)
        np.testing.assert_allclose(result.saliency[m].maps, direct.maps, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(result.saliency[m].images, direct.images)
    for m in METHODS:
        for k in result.results[m]:
            assert result.results[m][k].scores.shape == (N_IMAGES,)
            assert result.results[m][k].params == result.protocols[k]
    assert result.protocols[CENTRE] == {"border": 0.2} and result.protocols[EVIDENCE] == {}
    assert result.ground_truth and result.num_images == N_IMAGES and result.model == "toy_cnn"
    assert result.target == "pred"
    assert repr(result) == ("BenchmarkResult(model='toy_cnn', methods=3 of 3 ran, metrics=4, images=4, "
                            "failed=1, skipped=0)")


def test_methods_that_cannot_run_are_skipped_with_their_reason(model):
    runnable, skipped = applicable_methods(model)
    assert {"gradcam", "saliency", "rise", "occlusion", "integrated_gradients"} <= set(runnable)
    for name in ("attention_rollout", "daam"):
        assert name not in runnable and "attention blocks" in skipped[name]
    adapter = xw.wrap(model)
    if shipped_explainer("t_tame", adapter) is None:
        assert "explainer" in skipped["t_tame"] and "train" in skipped["t_tame"]
    else:
        assert "t_tame" in runnable
    assert set(runnable) | set(skipped) == {s.name for s in xw.list_methods()}
    # on a ViT the attention methods run
    runnable_vit, _ = applicable_methods(xw.models.toy_vit())
    assert {"attention_rollout", "daam"} <= set(runnable_vit)


def test_a_method_asked_for_that_cannot_run_is_skipped_with_a_warning(model, samples):
    with pytest.warns(BenchmarkWarning, match="daam cannot run on toy_cnn"):
        result = benchmark(model, [samples[0].image], ["daam", "gradcam"], [CENTRE], progress=False)
    assert [(i.kind, i.method) for i in result.skipped] == [("skipped", "daam")]
    assert result.errors == [] and result.ran == ["gradcam"]
    assert "daam skipped" in result.to_markdown()


def test_default_metrics_need_ground_truth_only_when_given():
    without, with_gt = applicable_metrics(False), applicable_metrics(True)
    assert EVIDENCE not in without and EVIDENCE in with_gt
    assert {CENTRE, OFF_CENTRE, NONNEG} <= set(without)
    assert set(with_gt) - set(without) == {s.name for s in xw.list_metrics() if s.needs_ground_truth}


def test_images_default_to_the_ground_truth_samples(model, samples):
    result = benchmark(model, None, ["gradcam"], [EVIDENCE], ground_truth=samples[:2], progress=False)
    assert result.num_images == 2
    np.testing.assert_array_equal(result.saliency["gradcam"].images, np.stack([s.image for s in samples[:2]]))
    assert np.isfinite(result.results["gradcam"][EVIDENCE].scores).all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"methods": "gradcam"}, ValueError, "methods: expected None or a non-empty list of method names"),
        ({"methods": []}, ValueError, "methods: expected"),
        ({"methods": ["gradcma"]}, ValueError, "Did you mean gradcam"),
        ({"methods": ["gradcam", "gradcam"]}, ValueError, "'gradcam' appears twice"),
        ({"metrics": ["_test_mass_in_centr"]}, ValueError, "metric: expected one of"),
        ({"metrics": [EVIDENCE]}, ValueError, "ground_truth: expected one synthetic Sample per image for metric"),
        ({"method_params": {"rise": {}}}, ValueError, "method_params keys: expected names among gradcam"),
        ({"method_params": {"gradcam": {"alpha": 1}}}, TypeError, r"method_params\['gradcam'\]: gradcam: unknown parameter"),
        ({"method_params": {"gradcam": {"layer": "nope"}}}, KeyError, "got 'nope'"),
        ({"method_params": {"gradcam": 3}}, ValueError, r"method_params\['gradcam'\]: expected a dict"),
        ({"metric_params": {CENTRE: {"width": 2}}}, TypeError, "unknown parameter"),
        ({"target": "top"}, ValueError, "target: expected"),
        ({"target": [0, 1]}, ValueError, r"target: expected one int class index per image \(3\)"),
        ({"ground_truth": "samples", "metrics": [EVIDENCE]}, ValueError, "ground_truth: expected"),
        ({"progress": "yes"}, ValueError, "progress: expected True or False"),
        ({"batch_size": 0}, ValueError, "batch_size: expected a positive int"),
    ],
)
def test_bad_arguments_fail_before_any_work(model, samples, monkeypatch, kwargs, error, match):
    def no_work(*args, **kw):
        raise AssertionError("explain must not run for bad arguments")

    monkeypatch.setattr("xwidgets.metrics.benchmark.explain", no_work)
    call = {"methods": ["gradcam"], "metrics": [CENTRE], "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        benchmark(model, [s.image for s in samples[:3]], **call)


def test_ground_truth_must_match_the_images(model, samples):
    with pytest.raises(ValueError, match="ground_truth: expected a list of 3 synthetic Samples"):
        benchmark(model, [s.image for s in samples[:3]], ["gradcam"], [EVIDENCE], ground_truth=samples[:2],
                  progress=False)


def test_markdown_states_the_table_and_its_protocol(run):
    result, _ = run
    text = result.to_markdown(title="Toy run")
    lines = text.splitlines()
    assert lines[0] == "### Toy run"
    assert lines[2] == (f"| Method | {CENTRE} \u2191 | {OFF_CENTRE} \u2193 | {EVIDENCE} \u2191 | {NONNEG} \u2191 "
                        "| Mean rank | Maps (s) |")
    rows = [line for line in lines if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == result.ranked_methods()
    # the best mean of each column is bold, and carries rank 1
    table = result.rank_table()
    for k_index, k in enumerate(result.metrics):
        for r in rows:
            m = r.split("`")[1]
            cell = r.split(" | ")[1 + k_index]
            assert cell.startswith("**") == (table[m][k] == 1), (m, k, cell)
    assert "failed" in rows[[r.split("`")[1] for r in rows].index("gradient_x_input")]
    assert f"- `{CENTRE}` (test metric): border=0.2" in lines
    assert f"- `{EVIDENCE}` (test metric): no parameters" in lines
    assert "Model `toy_cnn` on cpu, 4 images, target 'pred', with ground truth." in text
    assert f"- {NONNEG} on gradient_x_input failed: ValueError: saliency: expected non-negative maps" in lines


def test_plot_draws_ranks_with_means(run):
    import matplotlib.pyplot as plt

    result, _ = run
    fig = result.plot()
    try:
        ax = fig.axes[0]
        texts = {t.get_text() for t in ax.texts}
        assert f"{result.summary('gradcam', CENTRE)[0]:.3f}" in texts and "failed" in texts
        shown = ax.images[0].get_array()
        assert shown.shape == (3, 4) and shown.mask[result.ranked_methods().index("gradient_x_input"), 3]
        assert [t.get_text().split(" (")[0] for t in ax.get_yticklabels()] == result.ranked_methods()
    finally:
        plt.close(fig)
