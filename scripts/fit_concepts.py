#!/usr/bin/env python3
"""Fit the concept bank of the bundled toy CNN on the synthetic parts dataset.

Discovers 4 concepts per class for all 7 classes from ``--per-class`` images each
(synthetic seed ``--seed``, not a training seed of the model: those are >= 10,000),
then checks the bank against the ground truth and writes

* ``<out>``: the ConceptBank (``ConceptBank.load(path)``), and
* ``<out>.json`` next to it: the command, the settings, seconds, the purity of the
  concepts against the part labels, and graph checks on held-out images.

    python scripts/fit_concepts.py                       # -> toy_cnn_concepts.npz
    python scripts/fit_concepts.py --out /tmp/bank.npz --per-class 20

The discovery settings (layer3, top 30% of the Grad-CAM map, 40 k-means clusters)
were chosen on seed 2 and checked on seeds 3-7 (tests/test_concepts.py). CPU, one
torch thread by default (on a shared machine one thread is the fastest).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import xwidgets as xw  # noqa: E402
from xwidgets.concepts import build_graphs, concept_purity, discover_concepts  # noqa: E402
from xwidgets.data.synthetic import CLASS_SPECS, CLASSES, PART_TYPES, SyntheticParts  # noqa: E402

#: the toy CNN's discovery settings (chosen on seed 2)
SETTINGS = dict(layer="layer3", threshold=0.3, n_clusters=40, top_k=4, min_popularity=0.2, absent_quantile=0.95)
GRAPH_SEED = 4  # held-out images for the graph checks
NAMES = ["background", *PART_TYPES]


def _type_labels(sample) -> np.ndarray:
    out = np.zeros(sample.instance_mask.shape, np.int64)
    for part in sample.parts:
        out[sample.instance_mask == part.id] = 1 + PART_TYPES.index(part.type)
    return out


def _lands_on(sample, mask: np.ndarray, part_type: str) -> bool:
    ids, overlap = np.unique(sample.instance_mask[mask], return_counts=True)
    return any(
        pid and sample.part(pid).type == part_type
        and (ov >= 0.5 * (sample.instance_mask == pid).sum() or ov >= 0.5 * mask.sum())
        for pid, ov in zip(ids.tolist(), overlap.tolist())
    )


def fit(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    model = xw.models.toy_cnn()
    data = SyntheticParts(len(CLASSES) * args.per_class, seed=args.seed)
    samples = [data.sample(i) for i in range(len(data))]
    by = {name: [s for s in samples if s.class_name == name] for name in CLASSES}
    pixels = {name: np.stack([s.image for s in group]) for name, group in by.items()}

    start = time.perf_counter()
    bank = discover_concepts(model, pixels, seed=args.seed, progress=not args.quiet, **SETTINGS)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bank.save(out)

    labels = {name: np.stack([_type_labels(s) for s in group]) for name, group in by.items()}
    instances = {name: np.stack([s.instance_mask for s in group]) for name, group in by.items()}
    part = concept_purity(bank, pixels, labels, NAMES, instances_by_class=instances, rule="part")
    majority = concept_purity(bank, pixels, labels, NAMES)
    report = {
        "bank": out.name, "bank_bytes": out.stat().st_size, "fit_seconds": round(seconds, 1),
        "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
        "threads": args.threads, "data": {"seed": args.seed, "per_class": args.per_class, "size": 64},
        "settings": SETTINGS,
        "purity": {
            "part_rule": round(part.overall, 4), "pixel_majority_rule": round(majority.overall, 4),
            "concepts_labelled_a_part": round(part.part_fraction, 4),
            "per_concept": {f"{c}/{j}": {"label": v[0], "purity": round(v[1], 3), "members": v[2]}
                            for (c, j), v in part.per_concept.items()},
        },
        "torch": torch.__version__,
    }
    if args.graph_images:
        test = SyntheticParts(args.graph_images, seed=GRAPH_SEED)
        held = [test.sample(i) for i in range(len(test))]
        start = time.perf_counter()
        graphs = build_graphs(model, np.stack([s.image for s in held]), bank, progress=not args.quiet)
        graph_seconds = time.perf_counter() - start
        landed, absent, own = [], [], []
        for sample, graph in zip(held, graphs):
            types = {p.type for p in sample.parts}
            for scg in graph.values():
                for j in range(len(scg)):
                    kind = part.per_concept[(scg.class_name, j)][0]
                    if kind == "background":
                        continue
                    if scg.present[j] and kind in types:
                        landed.append(_lands_on(sample, scg.masks[j], kind))
                    if kind not in types:
                        absent.append(not scg.present[j])
            scg = graph[sample.label]
            own.append(any(scg.present[j] and any(_lands_on(sample, scg.masks[j], t) for t in CLASS_SPECS[sample.class_name].parts)
                           for j in range(len(scg))))
        report["graphs"] = {
            "seed": GRAPH_SEED, "images": len(held), "seconds": round(graph_seconds, 1),
            "present_nodes_on_their_part_type": round(float(np.mean(landed)), 4),
            "missing_part_types_marked_absent": round(float(np.mean(absent)), 4),
            "own_class_images_with_a_defining_part_found": round(float(np.mean(own)), 4),
        }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "purity"} | {
        "purity": {k: v for k, v in report["purity"].items() if k != "per_concept"}}, indent=2), flush=True)
    return report


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=40, help="discovery images per class (default 40)")
    parser.add_argument("--seed", type=int, default=2, help="synthetic data seed and k-means seed (default 2)")
    parser.add_argument("--graph-images", type=int, default=70,
                        help=f"held-out images (seed {GRAPH_SEED}) for the graph checks, 0 to skip (default 70)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default="toy_cnn_concepts.npz", help="the bank's path (default toy_cnn_concepts.npz)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.per_class < 2:
        parser.error(f"--per-class: expected an int >= 2; got {args.per_class}")
    if args.graph_images < 0:
        parser.error(f"--graph-images: expected an int >= 0; got {args.graph_images}")
    return args


if __name__ == "__main__":
    fit(parse_args())
