#!/usr/bin/env python3
"""A dataset run against its limit (issue 11: "10,000 synthetic images with Grad-CAM and
one metric end to end on the CPU: images per second, and the ratio to the
forward-plus-backward limit of the same batches, at most 1.3"; "peak memory does not
grow with the dataset size, measured at 1k and 10k").

One run, the toy CNN on the synthetic parts set (64 px), batches of ``--batch``:

* ``explain_dataset``: Grad-CAM + one metric into a fresh store, everything included
  (conversion, maps, metric, thumbnails, compression, SQLite commits).
* The limit, on the same batches of the same images: the forward plus the backward
  pass of each batch for its predicted class, (a) stopped at the CAM layer, as
  Grad-CAM's own backward is (the strict limit), and (b) down to the input (the
  project's usual definition, bench_gradcam.py). The metric is map-only or scored
  against ground truth, so it needs no forward pass: the limit counts none. Each limit
  is timed before each dataset run and once after the last; medians are reported.
* ``xw.explain`` + the metric on the same batches, without the store, to show what
  the store itself costs.

The synthetic images (and their ground truth, for a ground-truth metric) are drawn up
front, outside every timed section: drawing one costs ~1.5 ms, a third of the
explanation's cost on this model, and is no part of the explanation work (its time is
printed). Peak memory ("dataset_memory" section): for each size, a fresh subprocess
runs a warm-up, resets its peak resident size (Linux ``/proc/self/clear_refs``), runs
the dataset read lazily (``SyntheticParts`` draws each image when asked) and reports
the peak total (``VmHWM``) and the peak anonymous memory (``RssAnon``, sampled), the
part a leak would grow.

    python3 bench/bench_dataset.py --images 10000 --write   # the issue's run; writes the "dataset" section
    python3 bench/bench_dataset.py --images 10000 --repeats 3 --write   # medians of 3 interleaved runs
    python3 bench/bench_dataset.py --quick --no-write        # a smoke test (320 images, memory at 200 and 1000)
    python3 bench/bench_dataset.py --memory-only --memory 1000,10000,20000 --write   # the memory section alone
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _results import machine, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.data.synthetic import SyntheticParts  # noqa: E402
from xwidgets.models import frozen_eval  # noqa: E402
from xwidgets.models.hooks import capture  # noqa: E402

#: metrics that need no forward pass (map-only or scored against ground truth), so the
#: limit honestly counts none for them
METRICS = ("energy_pointing_game", "pointing_game", "sparseness", "complexity")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def clock(fn: Callable[[], Any]) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def limit(model: xw.ModelAdapter, pixels: np.ndarray, batch: int, to_layer: bool) -> Callable[[], None]:
    """Forward + backward of each batch for its predicted class, stopped at the CAM layer
    (Grad-CAM's graph: parameters frozen, the layer's output a leaf) or down to the input."""
    layer = model.cam_layer

    def run() -> None:
        with frozen_eval(model.model):
            for lo in range(0, len(pixels), batch):
                inputs = model.preprocess.normalise(pixels[lo: lo + batch], model.device)
                if to_layer:
                    with capture(model.model, [layer], gradients=True) as records:
                        logits = model.logits(inputs)
                    torch.autograd.grad(logits.max(dim=1).values.sum(), records[layer].leaf)
                else:
                    inputs.requires_grad_(True)
                    logits = model.logits(inputs)
                    torch.autograd.grad(logits.max(dim=1).values.sum(), inputs)

    return run


def explain_only(model: xw.ModelAdapter, pixels: np.ndarray, samples: list | None, batch: int,
                 metric: str) -> Callable[[], None]:
    """xw.explain + xw.evaluate per batch, results dropped: the run without its store."""
    def run() -> None:
        for lo in range(0, len(pixels), batch):
            inputs = model.preprocess.normalise(pixels[lo: lo + batch], model.device)
            sal = xw.explain(model, inputs, "gradcam", batch_size=batch)
            sal.images = pixels[lo: lo + batch]
            xw.evaluate(model, sal, metric, ground_truth=None if samples is None else samples[lo: lo + batch])

    return run


def store_size(path: pathlib.Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def _status_kb(field: str) -> int | None:
    """A "VmRSS"/"VmHWM" line of /proc/self/status in KiB (None off Linux)."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5)."""
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    """Hand the warm-up's freed heap back to the OS (glibc ``malloc_trim``), so the
    memory before a run is what is live, not what the allocator happened to keep."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class AnonPeak:
    """The peak of the process's anonymous resident memory (``RssAnon``: heap, tensors;
    not the mapped libraries, whose pages the kernel drops and reloads as the page cache
    fills with the store's files), sampled every ``interval`` seconds by a thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peak = self.before = _status_kb("RssAnon") or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)

    def _sample(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, _status_kb("RssAnon") or 0)

    def __enter__(self) -> "AnonPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status_kb("RssAnon") or 0)


def child_memory(images: int, batch: int, metric: str) -> None:
    """(In a subprocess) one lazy run of ``images`` images: the resident memory before
    it and the peak during it, total (VmHWM reset after the warm-up, so the peak is the
    run's; ru_maxrss, the process's lifetime peak, where that reset is not available)
    and anonymous (sampled ``RssAnon``, Linux only)."""
    model = xw.models.toy_cnn().to("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        xw.explain_dataset(model, SyntheticParts(batch, seed=1), "gradcam", store=pathlib.Path(tmp) / "warm",
                           metrics=[metric], batch_size=batch, progress=False)
        _release_free_heap()
        reset = _reset_peak()
        before = _status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        with AnonPeak() as anon:
            store = xw.explain_dataset(model, SyntheticParts(images, seed=0), "gradcam",
                                       store=pathlib.Path(tmp) / "s", metrics=[metric], batch_size=batch,
                                       progress=False)
        seconds = time.perf_counter() - start
        peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert len(store) == images and not store.errors()
        size = store_size(pathlib.Path(tmp) / "s")
    print(json.dumps({"images": images, "before_kb": before, "peak_kb": peak, "anon_before_kb": anon.before,
                      "anon_peak_kb": anon.peak, "seconds": seconds, "store_bytes": size,
                      "measure": "VmHWM" if reset else "ru_maxrss"}))


def memory(images: int, batch: int, metric: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child-memory", str(images), "--batch", str(batch), "--metric",
                          metric], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--metric", choices=METRICS, default="energy_pointing_game")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats of every timed run (median)")
    parser.add_argument("--memory", default="1000,10000", help="dataset sizes whose peak memory is measured")
    parser.add_argument("--quick", action="store_true", help="320 images, memory at 200 and 1000 (a smoke test)")
    parser.add_argument("--write", dest="write", action="store_true", help='write the "dataset" section of RESULTS.md')
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument("--memory-only", action="store_true",
                        help='only the peak-memory runs (their own section, "dataset_memory"; no timing claims)')
    parser.add_argument("--child-memory", type=int, default=0, help=argparse.SUPPRESS)
    parser.set_defaults(write=False)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory, args.batch, args.metric)
        return
    if args.quick:
        args.images, args.memory = 320, "200,1000"
    sizes = [int(s) for s in args.memory.split(",") if s]
    if args.memory_only:
        write_memory(sizes, args)
        return

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = xw.models.toy_cnn().to(device)
    parts = SyntheticParts(args.images, seed=0)
    needs_truth = xw.metrics.get_metric(args.metric).needs_ground_truth
    start = time.perf_counter()
    if needs_truth:
        samples: list | None = [parts.sample(i) for i in range(args.images)]
        pixels = np.stack([s.image for s in samples])
        dataset: Any = samples
    else:
        samples = None
        pixels, labels = parts.arrays()
        dataset = list(zip(pixels, labels.tolist()))
    drawn = time.perf_counter() - start

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_dataset_"))
    warm = min(len(dataset), 2 * args.batch)
    xw.explain_dataset(model, dataset[:warm], "gradcam", store=tmp / "warm", metrics=[args.metric],
                       batch_size=args.batch, progress=False)
    to_layer = limit(model, pixels, args.batch, to_layer=True)
    to_input = limit(model, pixels, args.batch, to_layer=False)
    bare = explain_only(model, pixels, samples, args.batch, args.metric)
    for warm_up in (limit(model, pixels[:warm], args.batch, True), limit(model, pixels[:warm], args.batch, False),
                    explain_only(model, pixels[:warm], None if samples is None else samples[:warm], args.batch,
                                 args.metric)):
        warm_up()  # the first batches only
    times: dict[str, list[float]] = {"layer": [], "input": [], "bare": [], "dataset": []}
    stores: list[Any] = []

    def run_dataset() -> None:
        stores.append(xw.explain_dataset(model, dataset, "gradcam", store=tmp / f"run{len(stores)}",
                                         metrics=[args.metric], batch_size=args.batch, progress=False))

    for _ in range(args.repeats):  # interleaved, so a slower spell of a shared machine hits every run
        times["layer"].append(clock(to_layer))
        times["input"].append(clock(to_input))
        times["bare"].append(clock(bare))
        times["dataset"].append(clock(run_dataset))
    times["layer"].append(clock(to_layer))  # the limits once more after the last dataset run
    times["input"].append(clock(to_input))
    store = stores[-1]
    assert len(store) == args.images and not store.errors()
    size = store_size(tmp / "run0")

    layer_limit = float(np.median(times["layer"]))
    input_limit = float(np.median(times["input"]))
    seconds = float(np.median(times["dataset"]))
    n = args.images

    def line(name: str, t: float) -> str:
        return f"| {name} | {t:.2f} | {n / t:.0f} | {t / layer_limit:.2f} | {t / input_limit:.2f} |"

    lines = [
        f"Dataset run: {n} synthetic images (64 px) through `xw.explain_dataset` with Grad-CAM (toy CNN, layer "
        f"`{model.cam_layer}`) and `{args.metric}`, batches of {args.batch}, into a fresh store (float16 maps, 64 px "
        f"PNG thumbnails, SQLite). The images{' and their ground truth' if needs_truth else ''} were drawn up front "
        f"({drawn:.1f} s, not timed). Medians of {args.repeats} interleaved repeat(s), the limits timed once more "
        f"after the last (dataset runs: {', '.join(f'{t:.2f}' for t in times['dataset'])} s; CAM-layer limit: "
        f"{', '.join(f'{t:.2f}' for t in times['layer'])} s); {machine()}.",
        "",
        "| run | seconds | images/s | x limit (backward to the CAM layer) | x limit (backward to the input) |",
        "|---|---|---|---|---|",
        line("forward + backward to the CAM layer (strict limit)", layer_limit),
        line("forward + backward to the input", input_limit),
        line(f"xw.explain + {args.metric} per batch, no store", float(np.median(times["bare"]))),
        line("**xw.explain_dataset** (everything)", seconds),
        "",
        f"Store: {size / 2**20:.1f} MiB for {n} images ({size / n / 1024:.1f} KiB per image: map, thumbnail, rows).",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section("dataset", "## Dataset runs: explain_dataset vs the forward-plus-backward limit\n\n"
                      "Run: `python3 bench/bench_dataset.py --images 10000 --write`\n\n" + body)
    if sizes:
        write_memory(sizes, args)


def write_memory(sizes: list[int], args: argparse.Namespace) -> None:
    """Peak memory at each dataset size, each in a fresh process: printed, and written
    to the "dataset_memory" section with --write."""
    mem = [memory(size_, args.batch, args.metric) for size_ in sizes]
    lines = [
        f"Peak memory of a run of Grad-CAM + `{args.metric}` (toy CNN, batches of {args.batch}) in a fresh process "
        "per size, the dataset drawn lazily image by image (`SyntheticParts`), after a warm-up run and glibc's "
        "`malloc_trim` (the warm-up's freed heap returned, so \"before\" is live memory). **Anonymous** "
        "memory (`RssAnon`: the heap and tensors, sampled every 10 ms) is what a leak or an accumulating run would "
        "grow. The **total** resident size (peak: `VmHWM`, reset after the warm-up) also counts the pages of "
        "torch's mapped libraries, which the kernel drops and reloads as the page cache fills with the store's "
        f"files, so its starting point moves by tens of MiB between processes. {machine()}; the seconds are "
        "wall-clock and not a speed claim.",
        "",
        "| images | anonymous before (MiB) | anonymous peak (MiB) | anonymous growth (MiB) | total before (MiB) | "
        "total peak (MiB) | seconds | store (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in mem:
        lines.append(f"| {m['images']} | {m['anon_before_kb'] / 1024:.1f} | {m['anon_peak_kb'] / 1024:.1f} | "
                     f"{(m['anon_peak_kb'] - m['anon_before_kb']) / 1024:.1f} | {m['before_kb'] / 1024:.1f} | "
                     f"{m['peak_kb'] / 1024:.1f} | {m['seconds']:.1f} | {m['store_bytes'] / 2**20:.1f} |")
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section("dataset_memory", "## Dataset runs: peak memory against dataset size\n\n"
                      f"Run: `python3 bench/bench_dataset.py --memory-only --memory {','.join(map(str, sizes))} "
                      "--write`\n\n" + body)


if __name__ == "__main__":
    main()
