#!/usr/bin/env python3
"""Fit the concept-graph explainer shipped for the bundled toy CNN (seed 000; VRX).

One call to ``ConceptExplainer.fit``: concept discovery on ``--per-class`` synthetic
images per class (seed ``--seed``), structural concept graphs of those images and of
``--extra-seeds`` (``--extra`` images each, unlabelled for the distillation) and of the
relation scenes' counterfactuals (``--counterfactuals``), and ``--members`` graph
reasoning networks distilled from the classifier's logits and averaged (a
ReasonerEnsemble). None of these seeds trained the model (its training seeds are
>= 10,000). Then it measures, on held-out images (seeds ``--eval-seeds``,
``--eval-images`` each), the checks of issue 6: fidelity, the top node, the relation
edge, the edges' share, why-not signs, and the seconds per explained image; and writes
into ``--out`` (default the package's weights folder):

* ``concepts_toy_cnn.npz``: the ConceptBank,
* ``concepts_toy_cnn.pt``: the reasoning networks' state dicts,
* ``concepts_toy_cnn.json``: its config, this command, the settings, seconds and checks.

    python scripts/fit_concept_explainer.py                  # -> xwidgets/models/zoo/weights/
    python scripts/fit_concept_explainer.py --out /tmp/cx    # elsewhere

``ConceptExplainer.pretrained("toy_cnn")`` loads the shipped files. CPU, one torch
thread by default (on a shared machine one thread is the fastest).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import xwidgets as xw  # noqa: E402
from xwidgets.concepts.explainer import ConceptExplainer  # noqa: E402
from xwidgets.concepts.graph_evaluation import evaluate_explanations, relation_swap_check  # noqa: E402
from xwidgets.data.synthetic import CLASSES, SyntheticParts  # noqa: E402

#: discovery settings of the shipped explainer (chosen on the held-out seeds 5 and 4, checked on
#: seed 9, which played no part in any choice): layer3, not layer4. At layer4 door patches lie
#: among the body-panel patches, so the window-over-door bank had no door concept (its 12 slots
#: went to colour variants of the window and to the body panel) and a ladder node was found in
#: only 65% of held-out ladder trucks; at layer3 a node on a defining part is found in 98% of
#: held-out images (ladders 100%) and a window and a door node both in 82% of the relation
#: images (53% at layer4). 80 images per class and popularity 0.1 keep the colour and
#: orientation variants of a part as concepts; radii x 1.5. 16 concepts per class from 30
#: clusters (was 12 from 40): door variants get concepts of their own, so a window and a door
#: node are both found in 85-100% of the held-out relation images (75-90% with 12)
DISCOVER = dict(layer="layer3", threshold=0.3, n_clusters=30, top_k=16, min_popularity=0.1, absent_quantile=0.95,
                n_examples=6, thumbnail=32)
RADIUS_SCALE = 1.5
#: nested matches suppressed (overlap over the smaller mask), the counterfactual distillation
#: images (all three kinds), and an ensemble of 5 reasoning networks (network seeds 2-6): the
#: relation edge first in 0.75 / 0.95 / 0.95 / 0.95 of the relation images of held-out seeds
#: 5 / 4 / 9 / 11 (0.90 pooled; seed 5 is capped by the pair being found in 17 of its 20),
#: top node 0.971 / 0.914 / 0.929 / 0.886, fidelity 1.0 / 0.957 / 0.957 / 0.957. Chosen on
#: seeds 5, 4 and 11 with members 0-4 in a harness (0.80 / 0.95 / 0.95); this fit's members
#: 2-6 and seed 9 played no part in the choice. See the experiments below.
MAX_OVERLAP = 0.5
COUNTERFACTUALS_DEFAULT = "all"
MEMBERS = 5
#: the graph reasoning network and its distillation. cross_l1 0.1 (was 0.01) keeps each class
#: explained by its own graph: on the layer3 bank with 0.01, the relation classes' scores leaned
#: on the other classes' graphs for some initialisation seeds (network seeds 0, 1, 2: the
#: defining edge first in 20% / 45% / 55% of seed 5's relation images, 30% / 65% / 50% of seed
#: 4's); with 0.1, 55% / 55% / 55% and 45% / 65% / 70%, at the same or a higher fidelity
REASONER = dict(hidden=32, edge_hidden=16, node_out=8, edge_out=4, layers=2, node_readout="input",
                edge_readout="pair", edge_pool=True, epochs=100, batch_size=128, lr=0.005, temperature=2.0,
                mse_weight=1.0, edge_l1=0.1, cross_l1=0.1, weight_decay=0.003)
#: Experiments before the ensemble (issue 6 goal 0.8; the single network shipped until session 8,
#: 12 concepts, no suppression, no counterfactuals: 0.55 / 0.70 / 0.75 on seeds 5 / 4 / 9):
#: --counterfactuals with the swapped scenes only (same bank, reasoner refitted on cached graphs):
#: 0.70 / 0.75 on seeds 5 / 4 (window-door edge first given the pair 0.93 / 0.83; the pair is still
#: found in only 75% / 90%). --counterfactuals (all three) with top_k 16, n_clusters 30 (the pair
#: found in 90% / 95% / 100%: door variants get their own concepts): 0.45 / 0.45 / 0.50, the door's
#: edges to the body panel and to a second door node now outrank door -> window. Causes: at
#: discovery the door splits into many small clusters of low occlusion importance (7 door clusters
#: for window_over_door, 3 in the top 12, next to 8 window clusters), and every extra node adds
#: edges that compete with the defining one.
#: A later session (cached patches and features, one reasoner seed, 2; seeds 5 / 4 only, seed 9
#: not looked at; the same settings as shipped measured 0.60 / 0.75 there, so +-0.05 is noise),
#: relation edge first (pair found, edge first given the pair); fidelity 0.89-1.0, mostly >= 0.95:
#: * non-maximum suppression of a class graph's nodes after the matching (of two present nodes
#:   whose masks overlap by > 0.5 of the smaller mask, the one with the larger distance / radius
#:   is made absent): 0.55 / 0.55 (0.70 / 0.80 pair; it also drops door nodes nested in larger
#:   body patches). With top_k 16, n_clusters 30: 0.10 / 0.30 (pair 0.85 / 0.95): the door's
#:   edges to the many body-panel nodes and two window fragments (disjoint SLIC pieces of one
#:   window, which overlap-NMS cannot merge) split the edge contribution into ~0.1 slices.
#:   Same with --counterfactuals swap: 0.65 / 0.70; with --counterfactuals all: 0.70 / 0.80
#:   (pair 0.85 / 0.95, given the pair 0.82 / 0.84). It hangs on the network's initialisation:
#:   reasoner seeds 0 / 1 / 2 give 0.55 / 0.85 / 0.70 on seed 5, 0.65 / 0.95 / 0.80 on seed 4 and
#:   0.70 / 0.95 / not run on a further held-out seed 11 (seed 1: the defining edge first in 100% of
#:   the images with the pair, but the top node a defining part in only 0.914 / 0.886 of seeds
#:   4 / 11). Overlap > 0.3 instead of 0.5: 0.55 / 0.80 / 0.85 (seeds 5 / 4 / 11). No single
#:   network reached 0.8 on seeds 5 and 4 for more than one initialisation; picking the seed on
#:   them would be a draw. Picking one of five networks by a label-free criterion failed too (the
#:   highest distillation fidelity picked the worst, 0.05 / 0.30 / 0.25). Averaging the five
#:   (seeds 0-4): 0.80 / 0.95 / 0.95; every 4-member subset >= 0.8 on all three seeds, 4 of the
#:   10 three-member subsets not: hence MEMBERS = 5.
#:   NMS by IoU > 0.5 instead of overlap over the smaller mask (16 / 30, all): 0.40 / 0.50.
#: * --counterfactuals all on the shipped bank: 0.55 / 0.80 (pair 0.75 / 0.90, given the pair
#:   0.73 / 0.89): the door-removed scenes teach that window -> body-panel edges are not enough,
#:   but seed 5 is capped by the pair being found in 75% of its relation images.
#: * edges' absolute positions (x_i, y_i, x_j, y_j) zeroed, relative geometry only: 0.50 / 0.65.
#: * edge read-out from the nodes' input encodings instead of their states after message passing
#:   (so a window's relation evidence cannot leak into all its edges): 0.20 / 0.25; with
#:   --counterfactuals all 0.35 / 0.55. The edge window -> body panel then carries the window's
#:   (absolute) position as well as window -> door does.
#: In the failures the top edge nearly always starts at the window node and ends on a body-panel
#: or background node (a part-less class concept): "window high on the body" separates the two
#: relation classes as well as "window above door" does for the classifier's logits, so
#: distillation alone has no reason to prefer the defining edge.
NAME = "concepts_toy_cnn"


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


COUNTERFACTUALS = ("none", "swap", "all")


def counterfactuals(data: SyntheticParts, kinds: str = "all") -> np.ndarray:
    """Distillation images that only an arrangement-aware reasoner can fit: every relation
    scene of ``data`` with its window and door swapped and (``kinds="all"``) with the door
    removed and with the window removed (the classifier labels them; no ground truth is used)."""
    out = []
    for i in range(len(data)):
        sample = data.sample(i)
        if sample.evidence.kind != "relation":
            continue
        ids = {p.type: p.id for p in sample.parts if p.role == "evidence"}
        out.append(data.intervene(i, swap=True).image)
        if kinds == "all":
            out.append(data.intervene(i, remove=[ids["door"]]).image)
            out.append(data.intervene(i, remove=[ids["window"]]).image)
    return np.stack(out)


def fit(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    model = xw.models.toy_cnn()
    data = SyntheticParts(len(CLASSES) * args.per_class, seed=args.seed)
    images, labels = data.arrays()
    by_class = {name: images[labels == k] for k, name in enumerate(CLASSES)}
    extra = [SyntheticParts(args.extra, seed=s).arrays()[0] for s in args.extra_seeds]
    if args.counterfactuals != "none":
        kinds = args.counterfactuals
        extra += [counterfactuals(SyntheticParts(len(CLASSES) * args.per_class, seed=args.seed), kinds)]
        extra += [counterfactuals(SyntheticParts(args.extra, seed=s), kinds) for s in args.extra_seeds]
    discover = {**DISCOVER, **args.discover}
    reasoner = {**REASONER, **args.reasoner}
    start = time.perf_counter()
    explainer = ConceptExplainer.fit(model, by_class, extra_images=np.concatenate(extra) if extra else None,
                                     discover=discover, reasoner=reasoner, radius_scale=args.radius_scale,
                                     max_overlap=args.max_overlap, members=args.members, seed=args.seed,
                                     progress=not args.quiet)
    fit_seconds = time.perf_counter() - start

    checks = {}
    for seed in args.eval_seeds:
        test = SyntheticParts(args.eval_images, seed=seed)
        samples = [test.sample(i) for i in range(len(test))]
        pixels = np.stack([s.image for s in samples])
        t = time.perf_counter()
        explanations = explainer.explain_many(pixels, true_classes=[s.label for s in samples])
        batch_seconds = (time.perf_counter() - t) / len(samples)
        result = evaluate_explanations(explanations, samples)
        agree = [cg.reasoner_scores[cg.predicted] >= max(cg.reasoner_scores.values()) for cg in explanations]
        result["fidelity"] = round(float(np.mean(agree)), 4)
        result["classifier_accuracy"] = round(float(np.mean([cg.predicted == s.label for cg, s in
                                                             zip(explanations, samples)])), 4)
        result["seconds_per_image_batched"] = round(batch_seconds, 3)
        relation = [i for i, s in enumerate(samples) if s.evidence.kind == "relation"]
        result["relation_swap"] = relation_swap_check(explainer, test, relation)
        checks[f"seed_{seed}"] = result
    # one image at a time, as xw.concept_graph is used (warm: the first call is not counted)
    single = SyntheticParts(args.timing_images + 1, seed=args.eval_seeds[0]).arrays()[0]
    explainer.explain(single[0])
    t = time.perf_counter()
    for image in single[1:]:
        explainer.explain(image)
    per_image = (time.perf_counter() - t) / args.timing_images

    info = dict(explainer.info)
    info.update({
        "command": "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0])] + sys.argv[1:]),
        "threads": args.threads, "torch": torch.__version__,
        "data": {"discovery": {"seed": args.seed, "per_class": args.per_class},
                 "extra": {"seeds": args.extra_seeds, "images_each": args.extra},
                 "counterfactuals": args.counterfactuals, "size": 64},
        "discover": discover, "radius_scale": args.radius_scale, "max_overlap": args.max_overlap,
        "members": args.members, "reasoner": reasoner,
        "fit_seconds": round(fit_seconds, 1),
        "explain_seconds_per_image": round(per_image, 3),
        "timing_note": "CPU, one torch thread, on a 2-core machine shared with other jobs; 1/5/15-minute load "
                       f"averages after the timing: {', '.join(f'{v:.1f}' for v in os.getloadavg())}",
        "checks": checks,
    })
    explainer.info = info
    out = Path(args.out)
    explainer.save(out, name=NAME)
    sizes = {p.name: p.stat().st_size for p in sorted(out.glob(f"{NAME}.*"))}
    info["files"] = sizes
    explainer.save(out, name=NAME)  # again, with the file sizes in the json
    summary = {k: v for k, v in info.items() if k not in ("reasoner", "discover", "model_fingerprint")}
    for value in summary.get("checks", {}).values():
        value.pop("per_class", None)
    print(json.dumps(summary, indent=2), flush=True)
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=80, help="discovery images per class (default 80)")
    parser.add_argument("--seed", type=int, default=2, help="discovery data seed, k-means and network seed (default 2)")
    parser.add_argument("--extra-seeds", type=int, nargs="*", default=[6, 7],
                        help="synthetic seeds of the extra distillation images (default 6 7)")
    parser.add_argument("--extra", type=int, default=280, help="extra images per extra seed (default 280)")
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[5, 4, 9],
                        help="held-out seeds (default 5 4 9; the settings were chosen on 5 and 4)")
    parser.add_argument("--eval-images", type=int, default=70, help="held-out images per seed (default 70)")
    parser.add_argument("--timing-images", type=int, default=20, help="images explained one by one for the timing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default=str(ROOT / "xwidgets" / "models" / "zoo" / "weights"),
                        help="output folder (default: the package's weights folder)")
    parser.add_argument("--discover", type=json.loads, default={},
                        help="JSON overrides of the discovery settings, e.g. '{\"top_k\": 8}'")
    parser.add_argument("--reasoner", type=json.loads, default={},
                        help="JSON overrides of the reasoning network's settings, e.g. '{\"epochs\": 100}'")
    parser.add_argument("--radius-scale", type=float, default=RADIUS_SCALE,
                        help=f"multiplies the concepts' absent radii (default {RADIUS_SCALE})")
    parser.add_argument("--max-overlap", type=float, default=MAX_OVERLAP,
                        help=f"suppress nested matches overlapping by more than this fraction of the smaller mask "
                             f"(default {MAX_OVERLAP}; 1 keeps them all)")
    parser.add_argument("--members", type=int, default=MEMBERS,
                        help=f"reasoning networks in the ensemble, one initialisation seed each (default {MEMBERS})")
    parser.add_argument("--counterfactuals", choices=COUNTERFACTUALS, default=COUNTERFACTUALS_DEFAULT,
                        help="add the relation scenes' counterfactuals to the distillation images: swapped "
                             "(swap), or swapped, door removed and window removed (all)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    for name in ("discover", "reasoner"):
        if not isinstance(getattr(args, name), dict):
            parser.error(f"--{name}: expected a JSON object; got {getattr(args, name)!r}")
    for name in ("per_class", "extra", "eval_images", "timing_images", "threads", "members"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected an int >= 1; got {getattr(args, name)}")
    used = {args.seed, *args.extra_seeds}
    if used & set(args.eval_seeds) or any(s >= 10000 for s in used | set(args.eval_seeds)):
        parser.error("--eval-seeds must differ from the fitting seeds, and every seed must be < 10000 "
                     "(the model's training seeds)")
    return args


if __name__ == "__main__":
    fit(parse_args())
