#!/usr/bin/env python3
"""Deletion and insertion against the forwards they need (issue 5: "deletion/insertion
for 64 images with 50 steps costs at most 1.2 x the forwards it needs").

Same model, same images, one run. A curve of S steps scores S + 1 copies of each
image (0 to all pixels perturbed), so B images need B x (S + 1) forwards. The *limit*
is exactly those forwards, of ready-made inputs, in batches of the same size the
metric uses (``--chunk``), with the model in eval mode and no gradients: everything
the metric does beyond it (ordering pixels, building the perturbed copies on the
device, the blur substrate, scores, AUC, bringing curves to the host) is overhead.
The metric is also timed with ``internal_batch_size="auto"`` (the chunk it picks is
shown). Timings interleave (limit, deletion, insertion, ... per repeat) after one
warm-up of each; the median of the repeats is reported.

    python3 bench/bench_metrics.py                                  # 64 images, 50 steps, efficientnet-lite0
    python3 bench/bench_metrics.py --images 4 --steps 5 --repeats 1  # smoke test
    python3 bench/bench_metrics.py --model toy_cnn                   # the bundled 64 px CNN

Prints a markdown table; ``--write`` also writes the ``metrics_speed`` section of
bench/RESULTS.md (run that on a quiet machine).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from typing import Any, Callable

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _results import machine, model_layout, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.models import frozen_eval  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def clock(fn: Callable[[], Any]) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def load(name: str, count: int, device: str) -> tuple[xw.ModelAdapter, Any]:
    if name == "toy_cnn":
        from xwidgets.data.synthetic import SyntheticParts

        model = xw.models.toy_cnn().to(device)
        images, _ = SyntheticParts(count, seed=0).arrays()
        return model, images
    model = xw.models.efficientnet_lite0().to(device)
    photos = list(xw.data.sample_images().values())
    return model, (photos * count)[:count]


def forwards(model: xw.ModelAdapter, inputs: torch.Tensor, total: int, chunk: int) -> Callable[[], None]:
    """The limit: ``total`` forwards in batches of ``chunk`` ready-made inputs."""
    batch = model_layout(inputs[torch.arange(chunk, device=inputs.device) % inputs.shape[0]])
    last = total - chunk * (math.ceil(total / chunk) - 1)

    def run() -> None:
        with frozen_eval(model.model), torch.no_grad():
            for start in range(0, total, chunk):
                model.logits(batch if start + chunk <= total else batch[:last])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["efficientnet_lite0", "toy_cnn"], default="efficientnet_lite0")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=64, help="rows per forward for the limit and the fixed-chunk runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-auto", action="store_true", help='skip the internal_batch_size="auto" runs')
    parser.add_argument("--write", action="store_true", help="write the metrics_speed section of bench/RESULTS.md")
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, images = load(args.model, args.images, device)
    saliency = xw.explain(model, images, "gradcam")  # any maps will do: the cost does not depend on them
    inputs = xw.metrics.model_inputs(model, saliency)
    step = 1.0 / args.steps
    total = args.images * (args.steps + 1)

    runs: dict[str, Callable[[], Any]] = {"forwards (limit)": forwards(model, inputs, total, args.chunk)}
    chunks: dict[str, Any] = {"forwards (limit)": args.chunk}
    sizes: list[int | str] = [args.chunk] + ([] if args.no_auto else ["auto"])
    for metric in ("deletion", "insertion"):
        for size in sizes:
            key = f"{metric}, chunk {size}"
            runs[key] = (lambda metric=metric, size=size, key=key: chunks.__setitem__(
                key, xw.evaluate(model, saliency, metric, step=step, internal_batch_size=size)))
    for fn in runs.values():  # warm-up (and a check that the curves have S + 1 points)
        fn()
    for key, result in chunks.items():
        if isinstance(result, xw.metrics.MetricResult):
            assert result.curves.shape == (args.images, args.steps + 1), result.curves.shape
            assert result.extras["forwards"] == total
    # the limit at every chunk size the metrics used, so each run is compared with the
    # same forwards in the same batches (on a CPU small batches can be faster per row)
    used_sizes = {r.extras["internal_batch_size"] for r in chunks.values() if isinstance(r, xw.metrics.MetricResult)}
    # (the auto size is chosen again in every call, so time the limit at the sizes it picks from)
    used_sizes |= {8, 16, 32}
    for size in sorted(used_sizes - {args.chunk}):
        runs[f"forwards (limit), chunk {size}"] = forwards(model, inputs, total, size)
        chunks[f"forwards (limit), chunk {size}"] = size
        runs[f"forwards (limit), chunk {size}"]()  # its warm-up
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            times[key].append(clock(fn))
    limits = {size: statistics.median(times["forwards (limit)" if size == args.chunk else f"forwards (limit), chunk {size}"])
              for size in used_sizes | {args.chunk}}
    best = min(limits.values())

    lines = [
        f"Deletion and insertion, {args.images} images x {args.steps} steps = {total} forwards of {args.model} "
        f"({'x'.join(map(str, inputs.shape[-2:]))} px), gradcam maps, default protocols (deletion: mean substrate; "
        f"insertion: blur sigma 5; softmax of the target). Limit: the {total} forwards of ready-made inputs in batches "
        f"of the same size as the run (\"x limit\"), and the fastest of those batch sizes (\"x best limit\"). "
        f"Median of {args.repeats} after a warm-up; {machine()}.",
        "",
        "| run | rows per forward | seconds | x limit | x best limit |",
        "|---|---|---|---|---|",
    ]
    for key, values in times.items():
        t = statistics.median(values)
        result = chunks[key]
        used = result.extras["internal_batch_size"] if isinstance(result, xw.metrics.MetricResult) else result
        same = f"{t / limits[used]:.2f}" if used in limits else "n/a"
        lines.append(f"| {key} | {used} | {t:.3f} | {same} | {t / best:.2f} |")
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section("metrics_speed", "## Metrics: deletion and insertion vs the forwards they need\n\n" + body)


if __name__ == "__main__":
    main()
