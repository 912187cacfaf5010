#!/usr/bin/env python3
"""The leaderboard (issue 5, item 3): every registered method that runs on the model,
scored by ``xw.benchmark`` under one stated protocol.

Three settings, one section of bench/RESULTS.md each:

(a) ``toy_cnn`` on held-out synthetic test images (``SyntheticParts(seed=1)``, the test
    seed of scripts/train_toy_models.py; the first ``--per-class`` images of each of
    the 7 classes), every registered metric (with ground truth);
(b) ``toy_vit`` on the same images, every registered metric;
(c) ``efficientnet_lite0`` on the bundled photos, faithfulness metrics only (no masks).

Methods run with their published defaults except the costly ones, which get the
cheap settings listed in ``TOY_PARAMS`` / ``PHOTO_PARAMS`` (iterations, samples,
masks): affordable on a 2-core CPU, and stated under every table. Metrics run with
their published defaults except the model-randomisation cascade, cut to its top
``--randomise-layers`` layers (the full cascade re-runs a method once per layer:
14 / 40 / 100 times for the three models), and, for (c), ROAD (see ``--road``).
Scores are deterministic (seeded methods and metrics); the "Maps (s)" column is
wall-clock and depends on the machine's load.

    python bench/bench_leaderboard.py                 # (a), (b), (c); writes bench/RESULTS.md
    python bench/bench_leaderboard.py --only toy_cnn --methods gradcam,saliency --no-write   # a quick look
    python bench/bench_leaderboard.py --road reduced  # (c) with ROAD at 3 percentages (default: without ROAD)

Beside the tables each section gives the agreement between metrics: Spearman's rank
correlation of the methods' ranks under every pair of metric families.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _results import machine, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.data.synthetic import CLASSES, SyntheticParts  # noqa: E402
from xwidgets.metrics.benchmark import BenchmarkResult, BenchmarkWarning  # noqa: E402

#: the held-out test seed of scripts/train_toy_models.py (training seeds are >= 10 000)
TEST_SEED = 1

#: cheap settings of the costly methods on the 64 px toy models (published defaults in brackets)
TOY_PARAMS: dict[str, dict[str, Any]] = {
    "integrated_gradients": {"steps": 16},  # 50
    "smoothgrad": {"n_samples": 16, "seed": 0},  # 50, unseeded
    "vargrad": {"n_samples": 16, "seed": 0},  # 50, unseeded
    "rise": {"n_masks": 1000},  # 8000
    "bee": {"samples": 4, "steps": 2, "progress": False},  # 16 samples, 4 steps
    "extremal_perturbation": {"iterations": 100, "progress": False},  # 800
    "meaningful_perturbation": {"iterations": 100, "progress": False},  # 300
    "neuromask": {"iterations": 200, "progress": False},  # 2000
    "igos": {"iterations": 5, "ig_steps": 10, "progress": False},  # 15, 20
    "igos_pp": {"iterations": 5, "ig_steps": 10, "progress": False},  # 15, 20
    "fovex": {"fixations": 4, "iterations": 10, "progress": False},  # 10, 20
}

#: the same at 224 px on EfficientNet-Lite0, plus a coarser occlusion grid
PHOTO_PARAMS: dict[str, dict[str, Any]] = {
    **TOY_PARAMS,
    "rise": {"n_masks": 500},  # 8000
    "occlusion": {"window": 32, "stride": 16},  # 15, 8
    "neuromask": {"iterations": 100, "progress": False},  # 2000
}

CAVEAT = ("The mask-optimisation methods (extremal perturbation, NeuroMask, meaningful perturbation, I-GOS, iGOS++, "
          "FovEx, BEE) ran far below their published iterations, so their ranks here do not judge them at their "
          "defaults.")

FAMILIES = ("faithfulness", "localisation", "complexity", "sanity", "parts")


def test_samples(per_class: int, size: int = 64) -> list:
    """The first ``per_class`` held-out images of each class, in class order."""
    ds = SyntheticParts(max(64, 12 * per_class * len(CLASSES)), seed=TEST_SEED, size=size, variant="clean")
    _, labels = ds.arrays()
    picks = []
    for k in range(len(CLASSES)):
        found = np.flatnonzero(labels == k)[:per_class]
        if len(found) < per_class:
            raise RuntimeError(f"only {len(found)} test images of class {CLASSES[k]}")
        picks += found.tolist()
    return [ds.sample(i) for i in picks]


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return math.nan
    x, y = zip(*pairs)
    if len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    return float(spearmanr(x, y).statistic)


def agreement(result: BenchmarkResult) -> str:
    """Markdown: how far the metrics agree on the order of the methods (see :func:`agreement_text`)."""
    return agreement_text(result.metrics, {k: result.metric_specs[k].kind for k in result.metrics},
                          result.rank_table(), result.ranked_methods())


def _rho_table(names: list[str], ranks: dict[str, list[float]]) -> list[str]:
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for f in names:
        cells = []
        for g in names:
            rho = 1.0 if f == g else _spearman(ranks[f], ranks[g])
            cells.append("\u2013" if not math.isfinite(rho) else f"{rho:+.2f}")
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines


def agreement_text(metrics: list[str], kinds: dict[str, str], table: dict[str, dict[str, float]],
                   methods: list[str]) -> str:
    """Markdown: Spearman's rho between the methods' orders under each pair of metric
    families (mean rank within the family), or of metrics when there is one family;
    the best method(s) per metric (metrics on which every method ties are left out);
    the most discordant pair of metrics. ``table``: {method: {metric: rank}}."""
    families: dict[str, list[str]] = {}
    for fam in FAMILIES:
        names = [k for k in metrics if kinds[k] == fam]
        if names:
            families[fam] = names
    per_metric = {k: [table[m][k] for m in methods] for k in metrics}
    if len(families) > 1:
        ranks = {fam: [float(np.nanmean([table[m][k] for k in names])) if any(
            math.isfinite(table[m][k]) for k in names) else math.nan for m in methods] for fam, names in families.items()}
        lines = ["Agreement between metric families (Spearman's rho between the methods' mean ranks within each "
                 "family; 1: same order, 0: unrelated, -1: reversed):", ""] + _rho_table(list(families), ranks)
    else:
        lines = ["Agreement between metrics (Spearman's rho between the methods' ranks; 1: same order, 0: unrelated, "
                 "-1: reversed):", ""] + _rho_table(list(metrics), per_metric)
    winners, ties = [], []
    for k in metrics:
        finite = [r for r in per_metric[k] if math.isfinite(r)]
        if not finite:
            continue
        if len(set(finite)) == 1:
            ties.append(f"`{k}`")
            continue
        best = [m for m in methods if table[m][k] == min(finite)]
        winners.append(f"`{k}`: " + (", ".join(f"`{m}`" for m in best) if len(best) <= 3 else f"{len(best)} methods tie"))
    lines += ["", "Best method per metric: " + "; ".join(winners) + "."]
    if ties:
        lines.append(f"Every method ties on {', '.join(ties)}.")
    worst = None
    for k1, k2 in itertools.combinations(metrics, 2):
        rho = _spearman(per_metric[k1], per_metric[k2])
        if math.isfinite(rho) and (worst is None or rho < worst[0]):
            worst = (rho, k1, k2)
    if worst is not None:
        lines.append(f"Most discordant pair of metrics: `{worst[1]}` and `{worst[2]}` (rho {worst[0]:+.2f}).")
    return "\n".join(lines)


def run(name: str, model: Any, images: Any, ground_truth: Any, metrics: list[str] | None,
        method_params: dict[str, dict[str, Any]], metric_params: dict[str, dict[str, Any]],
        methods: list[str] | None = None) -> BenchmarkResult:
    if methods is not None:
        method_params = {m: p for m, p in method_params.items() if m in methods}
    start, load = time.perf_counter(), os.getloadavg()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BenchmarkWarning)
        result = xw.benchmark(model, images, methods=methods, metrics=metrics, ground_truth=ground_truth,
                              method_params=method_params, metric_params=metric_params, progress=True)
    for w in caught:
        if issubclass(w.category, BenchmarkWarning):
            print(f"  warning: {w.message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    result.load = (load, os.getloadavg()[0])  # type: ignore[attr-defined]
    print(f"{name}: {result!r} in {seconds:.0f} s", file=sys.stderr)
    result.wall_seconds = seconds  # type: ignore[attr-defined]
    return result


def section(title: str, result: BenchmarkResult, setting: str, command: str) -> str:
    minutes = getattr(result, "wall_seconds", math.nan) / 60
    load = getattr(result, "load", (math.nan, math.nan))
    return "\n".join([
        f"## Leaderboard: {title}",
        "",
        setting,
        f"Machine: {machine()}; 1-minute load average {load[0]:.1f} at the start and {load[1]:.1f} at the end, on "
        f"{os.cpu_count()} cores" + (" (the CPU was shared with other jobs, so the \"Maps (s)\" column and the total "
        "are inflated and only comparable within this table)" if max(load) > (os.cpu_count() or 1) else "")
        + f"; {minutes:.1f} min for this table, maps and metrics. The scores are deterministic (seeded) and do not "
        "depend on the load.",
        f"Run: `{command}`",
        "",
        result.to_markdown(digits=3),
        agreement(result),
    ])


def write(name: str, body: str) -> None:
    """write_section under a lock: the three settings can run as separate processes."""
    import fcntl
    import tempfile

    with open(os.path.join(tempfile.gettempdir(), "xwidgets_bench_results.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_section(name, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="toy_cnn,toy_vit,efficientnet_lite0",
                        help="comma-separated subset of toy_cnn, toy_vit, efficientnet_lite0")
    parser.add_argument("--per-class", type=int, default=1,
                        help="held-out images per class for (a), (b) (1: 7 images; 2 doubles the time)")
    parser.add_argument("--randomise-layers", type=int, default=4,
                        help="layers randomised by model_randomisation, from the output down (default 4)")
    parser.add_argument("--road", choices=("drop", "reduced", "full"), default="drop",
                        help="ROAD on (c): drop it, 3 percentages (0.2, 0.5, 0.8), or the published 9")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a loaded 2-core machine two threads are much slower)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods (default: every registered method that runs on the model)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    only = args.only.split(",")
    methods = args.methods.split(",") if args.methods else None
    command = "python bench/bench_leaderboard.py " + " ".join(sys.argv[1:])
    randomisation = {"model_randomisation": {"layers": args.randomise_layers}}

    for name in ("toy_cnn", "toy_vit"):
        if name not in only:
            continue
        samples = test_samples(args.per_class)
        reduced = ("one image per class (two were planned; on the loaded machine one table took about an hour), "
                   if args.per_class == 1 else "")
        model = getattr(xw.models, name)()
        result = run(name, model, None, samples, None, TOY_PARAMS, randomisation, methods)
        setting = (f"`{name}` (the bundled 64 px {'CNN' if name == 'toy_cnn' else 'ViT'}) on {len(samples)} held-out "
                   f"synthetic test images (`SyntheticParts(seed={TEST_SEED})`, the first "
                   f"{'image' if args.per_class == 1 else f'{args.per_class} images'} of each of the {len(CLASSES)} "
                   "classes), target: the prediction; every registered method that runs on it "
                   "and every registered metric (`spurious_cue_share` is empty: clean images carry no corner tag; "
                   "`background_independence` checks the model, so every method gets the same score). Reduced for "
                   f"the CPU: {reduced}the costly methods' iterations / samples / masks "
                   "(listed under the table) and `model_randomisation` cut to the top "
                   f"{args.randomise_layers} layers (the full cascade re-runs each method once per layer). "
                   + CAVEAT)
        body = section(f"{name} on the synthetic test set", result, setting, command)
        print(body)
        if not args.no_write:
            write(f"leaderboard_{name}", body)

    if "efficientnet_lite0" in only:
        model = xw.models.efficientnet_lite0()
        photos = xw.data.sample_images()
        metrics = [s.name for s in xw.list_metrics("faithfulness")]
        metric_params: dict[str, dict[str, Any]] = {}
        if args.road == "drop":
            metrics = [k for k in metrics if not k.startswith("road")]
        elif args.road == "reduced":
            metric_params = {k: {"percentages": (0.2, 0.5, 0.8)} for k in ("road_morf", "road_lerf")}
        result = run("efficientnet_lite0", model, list(photos.values()), None, metrics, PHOTO_PARAMS, metric_params,
                     methods)
        road = {"drop": "ROAD left out: its exact imputation (one sparse solve per copy, on the host) took 2.5 s per "
                        "224 px copy on this loaded CPU, about 30 s per method at 3 percentages, and the conjugate-"
                        "gradient solver was slower still on the CPU (`--road reduced` or `full` to include it).",
                "reduced": "ROAD at 3 percentages (0.2, 0.5, 0.8) instead of the published 9 (its imputation is slow "
                           "at 224 px on a CPU).",
                "full": "ROAD at its published 9 percentages."}[args.road]
        setting = (f"`efficientnet_lite0` (ImageNet, 224 px) on the {len(photos)} bundled photos "
                   f"({', '.join(photos)}), target: the prediction; every registered method that runs on it, the "
                   f"faithfulness metrics only (the photos have no masks). {road} Reduced for the CPU: the costly "
                   "methods' iterations / samples / masks and the occlusion grid (listed under the table). " + CAVEAT + " "
                   "Four images make a noisy ranking: read it as an illustration of the protocol, not a verdict.")
        body = section("efficientnet_lite0 on the bundled photos", result, setting, command)
        print(body)
        if not args.no_write:
            write("leaderboard_efficientnet_lite0", body)


if __name__ == "__main__":
    main()
