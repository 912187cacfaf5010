"""Arrangement sensitivity (xwidgets' relational check): does the explanation change
when only the arrangement of the parts changes?

FunnyBirds (Hesse et al., ICCV 2023) removes parts; relations between parts are not
annotated there. Our relation classes (``window_over_door``, ``door_over_window``) are
defined by which part is on top, so swapping the two parts' vertical order
(``intervene(sample, swap=True)``: same parts, same columns, nothing else changed)
turns an image into the other class.

Definition. Take a row whose target t is the image's label and the model's
prediction, for a relation image x. Let x' be x with its two defining parts swapped
(class t'). The model check: the model must predict t' on x' (else the row is NaN:
this model does not use the arrangement here, and the explanation need not change).
With E(x, t) the map for t on x and share(E, x) the share of E's positive
attribution inside the defining parts of x (masks dilated by ``dilation``; 0 for a
map with no positive attribution),

    arrangement_sensitivity = share(E(x, t), x) - share(E(x', t), x'),

in [-1, 1]. An explanation that credits the parts for t only when they stand in t's
arrangement scores 1; one that highlights the same parts whatever their arrangement
(a presence detector) scores about 0. Maps E(x', t) are recomputed with the
saliency's method and parameters (or ``explainer=``).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ..data.synthetic.render import Sample
from ..models.adapter import ModelAdapter
from ..saliency.result import Saliency
from ._ground_truth import (
    Explainer,
    Interventions,
    call_explainer,
    check_dilation,
    check_int,
    check_redraws,
    check_samples_match,
    explainer_for,
    logits_of,
    part_masks,
    positive_share,
    row_samples,
)
from .registry import MetricResult, register_metric


@dataclasses.dataclass
class ArrangementParams:
    """dilation: part masks grow by a max-pool of this side (px). batch_size: images per
    forward. explainer: fn(images (M,H,W,3) uint8, targets (M,)) -> maps (M,H,W) for
    the swapped images; None re-runs the saliency's method with its parameters."""

    dilation: int = 5
    batch_size: int = 64
    explainer: Explainer | None = None


def _evidence_region(sample: Sample, dilation: int) -> np.ndarray:
    return part_masks(sample, sample.evidence.part_ids, dilation).any(axis=0)


@register_metric(
    "arrangement_sensitivity",
    params=ArrangementParams,
    summary="Drop in the share of attribution on a relation's parts when only their arrangement is swapped "
            "(and the model's prediction follows the swap)",
    paper="xwidgets (relational extension of Hesse et al., FunnyBirds, ICCV 2023)",
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def arrangement_sensitivity(model: ModelAdapter, saliency: Saliency, params: ArrangementParams,
                            ground_truth: Sequence[Sample]) -> MetricResult:
    check_dilation(params.dilation)
    check_int(params.batch_size, "batch_size", 1)
    explainer = explainer_for(model, saliency, params.explainer, "arrangement_sensitivity", params.batch_size)
    check_samples_match(saliency, ground_truth)
    check_redraws(ground_truth)
    rows = row_samples(saliency, ground_truth)
    original = logits_of(model, saliency.images, params.batch_size)
    edits = Interventions(model, ground_truth, original)
    predictions = saliency.probabilities.argmax(axis=1)
    plans = []
    for r, sample in enumerate(rows):
        image, target = int(saliency.image_index[r]), int(saliency.targets[r])
        if sample.evidence.kind == "relation" and target == sample.label == predictions[image]:
            plans.append((r, image, target, edits.request(image, swap=True)))
    edits.run(params.batch_size)
    passed = [p for p in plans if edits.logits(p[3]).argmax() == edits.edited[p[3]].label]
    swapped = [edits.edited[p[3]] for p in passed]
    maps = call_explainer(explainer, [s.image for s in swapped], [p[2] for p in passed])
    scores = np.full(len(rows), np.nan)
    before = np.full(len(rows), np.nan)
    after = np.full(len(rows), np.nan)
    for (r, image, target, key), moved, swapped_map in zip(passed, swapped, maps):
        before[r] = positive_share(saliency.maps[r], _evidence_region(rows[r], params.dilation))
        after[r] = positive_share(swapped_map, _evidence_region(moved, params.dilation))
        scores[r] = before[r] - after[r]
    return MetricResult(
        metric="arrangement_sensitivity", scores=scores,
        extras={"share_before": before, "share_after": after, "model_check_passed": len(passed),
                "model_checked": len(plans)},
    )
