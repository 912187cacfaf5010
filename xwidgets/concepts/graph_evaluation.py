"""Checking concept-graph explanations against the synthetic dataset's ground truth
(seed 000's claims, VRX, Ge et al., CVPR 2021, measured where the parts are known).

A node is mapped to the ground-truth part its patch shows, by the rule the concept purity
uses (:func:`node_part`; a node mostly on the body panel or the background shows no
part). From there:

* ``top_node``: the predicted class's most positive present node shows one of the class's
  defining part types (``CLASS_SPECS[c].parts``).
* ``relation_edge``: for a relation class (window over door, door over window), the
  predicted class's most positive edge joins a node on the window and a node on the
  door, in either direction. ``relation_pair_found``: how often the graph has such a
  pair at all; ``relation_edge_given_pair`` and ``relation_edge_rank_given_pair``: the
  rate and the median rank (0 = first) of the best such edge when it has one.
* ``edge_share``: the edges' share of the class's total |contribution| (nodes and edges):
  how much of the explanation the spatial relations carry. A presence, attribute or
  count class needs no relation, so its share should be small next to the relation
  classes'.
* ``why_not_negative`` / ``predicted_negative``: how often a class graph's total
  contribution to its own score is negative, for the other classes (why not) and for
  the predicted class.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._validation import bad_argument
from .result import ConceptGraph

__all__ = ["node_part", "evaluate_explanations", "relation_swap_check"]


def node_part(sample: Any, mask: np.ndarray) -> str | None:
    """The type of the ground-truth part a node's (H, W) bool ``mask`` shows, or None.

    The rule of :func:`~xwidgets.concepts.evaluation.concept_purity` (``rule="part"``):
    the part instance with the largest overlap, provided the overlap holds at least half
    of that part's pixels or at least half of the mask (a patch holding a whole part plus
    some surroundings shows that part; a patch mostly on one part shows it too)."""
    area = int(mask.sum())
    if area == 0:
        return None
    ids, overlap = np.unique(sample.instance_mask[mask], return_counts=True)
    best, best_overlap = None, 0
    for pid, ov in zip(ids.tolist(), overlap.tolist()):
        if pid == 0:
            continue
        size = int((sample.instance_mask == pid).sum())
        if (ov >= 0.5 * size or ov >= 0.5 * area) and ov > best_overlap:
            best, best_overlap = sample.part(pid).type, ov
    return best


def evaluate_explanations(explanations: Sequence[ConceptGraph], samples: Sequence[Any]) -> dict[str, Any]:
    """The checks of the module docstring over images with ground truth.

    Args:
        explanations: one :class:`ConceptGraph` per image (the predicted class's graph
            is read, plus every candidate class for the why-not rates).
        samples: the matching synthetic samples (``SyntheticParts.sample``).

    Returns:
        {"images", "top_node", "relation_edge", "relation_images", "edge_share" {kind: mean},
        "why_not_negative", "predicted_negative", "per_class" {name: {...}}}.
    """
    from ..data.synthetic import CLASS_SPECS

    if len(explanations) != len(samples) or not len(samples):
        raise bad_argument("samples", f"one sample per explanation ({len(explanations)})", samples)
    top, relation, why_not, own_neg, pair_found, rank_given_pair = [], [], [], [], [], []
    share: dict[str, list[float]] = {}
    per_class: dict[str, dict[str, list]] = {}
    for cg, sample in zip(explanations, samples):
        if not isinstance(cg, ConceptGraph):
            raise bad_argument("explanations", "ConceptGraph objects", cg)
        c = cg.predicted
        name = cg.class_names[c]
        spec = CLASS_SPECS[name]
        g = cg.graphs[c]
        nodes, edges = cg.node_contribution[c], cg.edge_contribution[c]
        present = np.flatnonzero(g.present)
        ok = False
        if len(present):
            j = int(present[np.argmax(nodes[present])])
            ok = bool(nodes[j] > 0 and node_part(sample, g.masks[j]) in spec.parts)
        top.append(ok)
        total = float(np.abs(nodes).sum() + np.abs(edges).sum())
        s = float(np.abs(edges).sum()) / total if total > 0 else 0.0
        share.setdefault(spec.kind, []).append(s)
        entry = per_class.setdefault(name, {"top_node": [], "edge_share": [], "relation_edge": []})
        entry["top_node"].append(ok)
        entry["edge_share"].append(s)
        if spec.kind == "relation":
            ranked = cg.ranked_edges(c)
            shows = {j: node_part(sample, g.masks[j]) for j in present.tolist()}
            defining = [(i, j) for i, j in ranked if {shows[i], shows[j]} == set(spec.parts)]
            hit = bool(ranked) and ranked[0] in defining
            relation.append(hit)
            pair_found.append(bool(defining))
            if defining:
                rank_given_pair.append(ranked.index(defining[0]))
            entry["relation_edge"].append(hit)
        for o in cg.classes:
            t = float(cg.node_contribution[o].sum() + cg.edge_contribution[o].sum())
            (own_neg if o == c else why_not).append(t < 0)
    mean = lambda v: round(float(np.mean(v)), 4) if len(v) else None  # noqa: E731
    return {
        "images": len(samples),
        "top_node": mean(top),
        "relation_edge": mean(relation),
        "relation_images": len(relation),
        "relation_pair_found": mean(pair_found),
        "relation_edge_given_pair": mean([r == 0 for r in rank_given_pair]),
        "relation_edge_rank_given_pair": float(np.median(rank_given_pair)) if rank_given_pair else None,
        "edge_share": {k: mean(v) for k, v in sorted(share.items())},
        "why_not_negative": mean(why_not),
        "predicted_negative": mean(own_neg),
        "per_class": {n: {k: mean(v) for k, v in d.items() if len(v)} for n, d in per_class.items()},
    }


def relation_swap_check(explainer: Any, dataset: Any, indices: Sequence[int]) -> dict[str, Any]:
    """Swap the two parts of relation images (``dataset.intervene(i, swap=True)``: same
    parts, same columns, vertical order exchanged) and measure whether the explanation
    follows: the classifier's flip rate, the reasoning network's fidelity on the swapped
    images, and the edges' share of the change of the originally predicted class's own
    graph total, mean |delta edges| / (mean |delta nodes| + mean |delta edges|). Only the
    spatial relation changed, so a network whose edges carry relations puts most of the
    change on its edges.

    Args:
        explainer: a :class:`~xwidgets.concepts.explainer.ConceptExplainer`.
        dataset: a ``SyntheticParts``.
        indices: images of relation classes in ``dataset``.
    """
    indices = list(indices)
    if not indices:
        raise bad_argument("indices", "a non-empty list of relation images", indices)
    original = np.stack([dataset.image(i) for i in indices])
    swapped = np.stack([dataset.intervene(i, swap=True).image for i in indices])
    a = explainer.explain_many(original)
    b = explainer.explain_many(swapped)
    agree = [max(cg.reasoner_scores, key=cg.reasoner_scores.get) == cg.predicted for cg in b]
    dn = [abs(float(x.node_contribution[x.predicted].sum() - y.node_contribution[x.predicted].sum())) for x, y in zip(a, b)]
    de = [abs(float(x.edge_contribution[x.predicted].sum() - y.edge_contribution[x.predicted].sum())) for x, y in zip(a, b)]
    return {
        "images": len(indices),
        "classifier_flips": round(float(np.mean([x.predicted != y.predicted for x, y in zip(a, b)])), 4),
        "fidelity_swapped": round(float(np.mean(agree)), 4),
        "edge_share_of_change": round(float(np.mean(de) / max(np.mean(dn) + np.mean(de), 1e-12)), 4),
    }
