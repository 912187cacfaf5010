#!/usr/bin/env python3
"""Structured attention graphs: the batched search against the reference way (issue 10).

SAG (Shitole, Li, Kahng, Tadepalli & Fern, NeurIPS 2021): a beam search over 7 x 7 patch
sets, greedy pruning of sufficient sets to minimal ones, removal trees under the roots. The
reference implementation scores every candidate patch set with its own forward pass (40 to
210 s per image on their GPU). ``xw.sag`` scores each round (a beam step, a pruning round or
a tree level, for every image of the call) in one batched forward, and each distinct set of
an image once.

For each model, on the same machine and in one run:

* **reference**: ``xwidgets.sag.reference_sag``, the same decisions with one forward per
  candidate (batch of one), image after image, nothing remembered between phases: the
  reference algorithm's unbatched count;
* **batched, one image at a time**: ``xw.sag`` on each image alone;
* **batched, all together**: ``xw.sag`` on all the images in one call.

All three get the same ranking map (I-GOS, 2 iterations on the 7 x 7 grid, the paper's
ranking, computed once and passed in), so the times compare the searches; the ranking's own
time per image is listed apart, and "with ranking" adds it to both sides. Every run must
find the same minimal sets and trees as the reference (checked: "same result").
Models: the bundled ``toy_cnn`` on synthetic images (64 x 64) and ``efficientnet_lite0`` on
sample photos (224 x 224). The load average of the machine is recorded before and after.

    python3 bench/bench_sag.py                 # writes the ``sag`` section of bench/RESULTS.md
    python3 bench/bench_sag.py --quick         # fewer images, prints only (unless --write)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _results import machine, write_section  # noqa: E402

import xwidgets as xw  # noqa: E402
from xwidgets.data.synthetic import SyntheticParts  # noqa: E402
from xwidgets.sag import reference_sag  # noqa: E402

SECTION = "sag"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def same(a, b) -> bool:
    """Same minimal sets and the same trees (patches, parents); probabilities to 1e-4."""
    if sorted(p for p, _ in a.minimal_sets) != sorted(p for p, _ in b.minimal_sets):
        return False
    if [(n.patches, n.parent) for n in a.nodes] != [(n.patches, n.parent) for n in b.nodes]:
        return False
    return bool(np.allclose([n.probability for n in a.nodes], [n.probability for n in b.nodes], atol=1e-4))


def batch_cost(model, rows: int = 16, repeats: int = 5) -> float:
    """Time of one forward of ``rows`` rows / (``rows`` x one forward of one row), medians
    of ``repeats`` interleaved runs: about 1/rows where batching is free (a GPU), about 1
    where a batch costs its rows (a CPU)."""
    h, w = model.preprocess.size
    x = torch.randn(rows, 3, h, w)
    one, many = [], []
    with torch.no_grad():
        model.logits(x[:1]), model.logits(x)  # first runs of each shape
        for _ in range(repeats):
            start = time.perf_counter()
            model.logits(x[:1])
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.logits(x)
            many.append(time.perf_counter() - start)
    return float(np.median(many) / (rows * np.median(one)))


def bench_model(name: str, model, images: list, label: str) -> dict:
    n = len(images)
    batching = batch_cost(model)
    log(f"{name}: ranking {n} image(s) with I-GOS (2 iterations, 7 x 7)")
    start = time.perf_counter()
    ranking = xw.explain(model, images, method="igos", iterations=2, mask_size=7)
    ranking_s = (time.perf_counter() - start) / n
    maps = ranking.maps
    load_before = load()

    log(f"{name}: batched, all {n} together")
    start = time.perf_counter()
    together = xw.sag(model, images, saliency=maps)
    together_s = (time.perf_counter() - start) / n

    log(f"{name}: reference, one forward per candidate")
    start = time.perf_counter()
    ref = reference_sag(model, images, saliency=maps)
    ref_s = (time.perf_counter() - start) / n

    log(f"{name}: batched, one image at a time")
    alone, alone_s = [], 0.0
    for i, image in enumerate(images):
        start = time.perf_counter()
        alone.append(xw.sag(model, image, saliency=maps[i:i + 1]))
        alone_s += time.perf_counter() - start
    alone_s /= n
    load_after = load()

    ok = all(same(r, t) and same(r, a) for r, t, a in zip(ref, together, alone))
    ref_forwards = sum(g.stats["forwards"] for g in ref) / n
    ref_rows = sum(g.stats["rows"] for g in ref) / n
    alone_forwards = sum(g.stats["forwards"] for g in alone) / n
    rows = sum(g.stats["rows"] for g in alone) / n
    together_forwards = together[0].stats["forwards"] / n
    roots = sum(len(g.minimal_sets) for g in ref) / n
    return dict(
        name=name, label=label, images=n, ranking_s=ranking_s, ref_s=ref_s, alone_s=alone_s, together_s=together_s,
        ref_forwards=ref_forwards, ref_rows=ref_rows, alone_forwards=alone_forwards, together_forwards=together_forwards,
        rows=rows, roots=roots, same=ok, load=f"{load_before} -> {load_after}",
        chunk=alone[0].stats.get("max_rows"), chunk_together=together[0].stats.get("max_rows"), batching=batching,
    )


def table(results: list[dict]) -> str:
    lines = [
        "| model | images | way | forwards / image | patch sets scored / image | search s / image | ratio to reference | "
        "with ranking: s / image (ratio) | same result | load (1/5/15 min) before -> after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        def row(way: str, forwards: float, rows: float, seconds: float, same: str) -> str:
            ratio = r["ref_s"] / seconds if seconds > 0 else float("nan")
            total = seconds + r["ranking_s"]
            total_ratio = (r["ref_s"] + r["ranking_s"]) / total
            return (f"| {r['name']} ({r['label']}) | {r['images']} | {way} | {forwards:.0f} | {rows:.0f} | {seconds:.2f} | "
                    f"{ratio:.1f} x | {total:.2f} ({total_ratio:.1f} x) | {same} | {r['load']} |")

        lines.append(row("reference: one forward per candidate", r["ref_forwards"], r["ref_rows"], r["ref_s"], "(reference)"))
        lines.append(row(f"batched, one image per call (chunks of {r['chunk']})", r["alone_forwards"], r["rows"],
                         r["alone_s"], "yes" if r["same"] else "NO"))
        lines.append(row(f"batched, {r['images']} images per call (chunks of {r['chunk_together']})", r["together_forwards"],
                         r["rows"], r["together_s"], "yes" if r["same"] else "NO"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images; print only unless --write")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md even with --quick")
    parser.add_argument("--images", type=int, default=7, help="synthetic images for toy_cnn (7: one per class)")
    parser.add_argument("--photos", nargs="*", default=["coffee", "rocket"], help="sample photos for efficientnet_lite0")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n_images = 2 if args.quick else args.images
    photos = args.photos[:1] if args.quick else args.photos

    images = list(SyntheticParts(n=max(7, n_images), seed=3).arrays(0, n_images)[0])
    results = [bench_model("toy_cnn", xw.models.toy_cnn(), images, "synthetic, 64 px")]
    if photos:
        pics = [xw.data.sample_image(p) for p in photos]
        results.append(bench_model("efficientnet_lite0", xw.models.efficientnet_lite0(), pics,
                                   f"{', '.join(photos)}, 224 px"))

    cores = os.cpu_count()
    body = "\n".join([
        "## SAG: batched search vs the reference's one forward per candidate",
        "",
        f"Written by `bench/bench_sag.py` on {machine()}; {cores} cores shared with other jobs (their load "
        "average is in the table: above the core count, timings are noisy).",
        "",
        "Published defaults (7 x 7 grid, beam width 3, q = 15 candidates, 90% sufficiency, overlap <= 1, "
        "3 roots shown, 3 children per node, expansion above 40%), black substrate, soft patch edges. "
        "All ways get the same I-GOS ranking map (2 iterations at 7 x 7, computed once: "
        + ", ".join(f"{r['ranking_s']:.2f} s / image for {r['name']}" for r in results)
        + "). \"forwards\" counts model calls (the clean one included); \"patch sets scored\" counts rows. "
        "The reference re-scores sets its phases share (pruning trials, tree nodes, the roots again); "
        "the batched search scores each distinct set of an image once, each round in one call, "
        "chunked by `max_rows=\"auto\"` (the fastest of 1, 4, 16, 64 rows: 3 timed passes each, the first discarded, kept for the model's later calls). "
        "Minimal sets per image (toy / photo): " + ", ".join(f"{r['roots']:.1f}" for r in results) + ".",
        "",
        table(results),
        "",
        "What a batch costs on this machine: one forward of 16 rows / (16 x one forward of one row) = "
        + ", ".join(f"{r['batching']:.2f} for {r['name']}" for r in results)
        + " (1 means a batch costs exactly its rows; a GPU gets close to 1/16). So on this CPU batching itself "
        "saves little time: the time saved is mostly the rows the reference scores again (pruning trials, tree "
        "nodes, roots) and its per-call overhead, and it shrinks to nothing when an image has no minimal set "
        "among its q candidates (no pruning, no tree: the coffee photo). The issue's 10 x target in time needs a "
        "device where a batch costs about one forward; there the forward counts above are what batching saves. "
        "No GPU was available to this run.",
    ])
    print(body)
    if not args.quick or args.write:
        write_section(SECTION, body)
        log(f"wrote the {SECTION} section of {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
