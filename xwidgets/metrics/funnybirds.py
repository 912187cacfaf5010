"""FunnyBirds part checks on the synthetic parts set (Hesse, Schaub-Meyer and Roth,
"FunnyBirds: A Synthetic Vision Dataset for a Part-Based Analysis of Explainable AI
Methods", ICCV 2023), following the authors' evaluation_protocols.py.

Part importance: the row's attribution summed inside the part's mask dilated by a
``dilation`` x ``dilation`` max-pool (5, in pixels, as the paper; our parts are ~10 px
at 64 px). A part is *important* at threshold tau when its importance exceeds
tau x the map's total attribution; taus are 80 values in [0.01, 0.5]. The parts of an
image are all its drawn parts (defining parts and distractors); interventions redraw
the scene without them (``xwidgets.data.synthetic.interventions``).

* CSDC (controlled synthetic data check): the share of the defining parts (the
  class's minimal sufficient set) that are important. Rows where target = label =
  the model's prediction and the label rests on parts.
* PC (preservation check): 1 if the prediction survives removing every part that is
  not important. DC (deletion check): 1 if it changes when the important parts are
  removed. Rows that explain the predicted class.
* D (distractibility): parts (and the corner tag, when drawn) whose single removal
  lowers the target logit by less than ``relevance`` (5%) of its size, or raises it,
  are irrelevant; D = 1 - the share of irrelevant items marked important. Rows with
  no irrelevant item are NaN.
* Completeness = ((CSDC + PC + DC) / 3 + D) / 2 at the threshold that maximises it
  over the batch (as the authors select it); ``threshold=`` fixes it instead.
  ``scores`` are per row (NaN if a component is); ``extras["dataset_score"]`` is the
  paper's aggregate, each component averaged over its own valid rows.
* Correctness = SD (single deletion): Spearman's rank correlation between the parts'
  importances and the target logit's drop when each part alone is removed, as
  0.5 * rho + 0.5.
* Contrastivity = TS (target sensitivity). In FunnyBirds an image shows parts of two
  other classes and the maps for each must favour that class's parts. Our images
  show one class's parts, so the contrast class is the model's runner-up c: when
  removing the defining parts A lowers the target's logit more than c's (the model
  check; rows that fail it are NaN), the map for the target must give A more
  importance than the map for c does (1 or 0). Maps for c are recomputed with the
  saliency's method (or ``explainer=``).
* Background independence (BI, a model check): the share of background changes
  (``backgrounds`` redraws of texture, colours and clutter) plus the corner tag's
  removal that do *not* lower the target logit by ``relevance`` or more.
* Spurious cue share (ours): the share of the map's positive attribution inside the
  corner tag's dilated box, on rows whose image carries the tag.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Sequence

import numpy as np

from ..data.synthetic.render import Sample
from ..models.adapter import ModelAdapter
from ..saliency.result import Saliency
from ._ground_truth import (
    Explainer,
    Interventions,
    box_mask,
    call_explainer,
    check_dilation,
    check_int,
    check_number,
    check_redraws,
    check_samples_match,
    dilate,
    explainer_for,
    importances,
    logits_of,
    part_masks,
    positive_share,
    removal_drops,
    row_samples,
    spearman,
)
from .registry import MetricResult, register_metric

__all__ = ["thresholds_of", "part_importances"]

PAPER = ("Hesse et al., FunnyBirds: A Synthetic Vision Dataset for a Part-Based Analysis of Explainable AI Methods, "
         "ICCV 2023")


def thresholds_of(count: int, low: float = 0.01, high: float = 0.5) -> np.ndarray:
    """FunnyBirds' thresholds: ``count`` values evenly spaced in [low, high]."""
    return np.linspace(low, high, num=count)


def part_importances(attribution: np.ndarray, sample: Sample, dilation: int = 5) -> dict[int, float]:
    """{part id: attribution summed in the part's dilated mask} for every drawn part."""
    check_dilation(dilation)
    ids = [p.id for p in sample.parts]
    return dict(zip(ids, importances(np.asarray(attribution), part_masks(sample, ids, dilation)).tolist()))


def _nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _prepare(model: ModelAdapter, saliency: Saliency, samples: Sequence[Sample], batch_size: int
             ) -> tuple[list[Sample], np.ndarray, Interventions]:
    check_samples_match(saliency, samples)
    check_redraws(samples)
    original = logits_of(model, saliency.images, batch_size)
    return row_samples(saliency, samples), original, Interventions(model, samples, original)


def _tag_mask(sample: Sample, dilation: int) -> np.ndarray:
    assert sample.spurious_cue is not None
    return dilate(box_mask(sample.spurious_cue, sample.instance_mask.shape)[None], dilation)[0]


# ----------------------------------------------------------------------------- completeness, distractibility
@dataclasses.dataclass
class CompletenessParams:
    """thresholds: how many taus in [threshold_low, threshold_high] (80 in [0.01, 0.5]).
    threshold: a fixed tau instead of the batch's best. dilation: part masks grow by a
    max-pool of this side (px). relevance: an item is relevant when its removal lowers
    the target logit by at least this fraction (5%). batch_size: images per forward."""

    thresholds: int = 80
    threshold_low: float = 0.01
    threshold_high: float = 0.5
    threshold: float | None = None
    dilation: int = 5
    relevance: float = 0.05
    batch_size: int = 64


def _check_completeness(params: CompletenessParams) -> np.ndarray:
    check_dilation(params.dilation)
    check_int(params.batch_size, "batch_size", 1)
    check_number(params.relevance, "relevance", 0.0, 1.0)
    if params.threshold is not None:
        check_number(params.threshold, "threshold", 0.0, 1.0)
        return np.array([float(params.threshold)])
    check_int(params.thresholds, "thresholds", 1)
    check_number(params.threshold_low, "threshold_low", 0.0, 1.0)
    check_number(params.threshold_high, "threshold_high", params.threshold_low, 1.0)
    return thresholds_of(params.thresholds, params.threshold_low, params.threshold_high)


def _checks(model: ModelAdapter, saliency: Saliency, params: CompletenessParams,
            samples: Sequence[Sample], only_d: bool = False) -> dict[str, Any]:
    """CSDC, PC, DC and D per row and threshold, shape (B, T) each (only D, the others
    NaN, when ``only_d``)."""
    taus = _check_completeness(params)
    rows, original, edits = _prepare(model, saliency, samples, params.batch_size)
    predictions = saliency.probabilities.argmax(axis=1)
    b, t = len(rows), len(taus)
    out = {name: np.full((b, t), np.nan) for name in ("csdc", "pc", "dc", "d")}
    plans = []
    for r, sample in enumerate(rows):
        image, target = int(saliency.image_index[r]), int(saliency.targets[r])
        attribution = saliency.maps[r].astype(np.float64)
        total = attribution.sum()
        ids = [p.id for p in sample.parts]
        imp = importances(attribution, part_masks(sample, ids, params.dilation))
        important = imp[None, :] > total * taus[:, None]  # (T, P)
        evidence = [ids.index(pid) for pid in sample.evidence.part_ids]
        if evidence and target == sample.label == predictions[image] and not only_d:
            out["csdc"][r] = important[:, evidence].mean(axis=1)
        sets = {}
        if target == predictions[image] and not only_d:
            for row in np.unique(important, axis=0):
                kept = frozenset(pid for pid, keep in zip(ids, row) if keep)
                sets[kept] = (edits.request(image, remove=set(ids) - kept), edits.request(image, remove=kept))
        singles = [edits.request(image, remove=[pid]) for pid in ids] if target >= 0 else []
        tag = sample.spurious_cue is not None and target >= 0
        if tag:
            singles.append(edits.request(image, tag=False))
            imp_items = np.append(imp, importances(attribution, _tag_mask(sample, params.dilation)[None]))
        else:
            imp_items = imp
        plans.append((r, image, target, ids, important, sets, singles, imp_items > total * taus[:, None]))
    edits.run(params.batch_size)
    for r, image, target, ids, important, sets, singles, important_items in plans:
        prediction = predictions[image]
        for k, row in enumerate(important):
            if not sets:
                break
            kept = frozenset(pid for pid, keep in zip(ids, row) if keep)
            preserve, delete = sets[kept]
            out["pc"][r, k] = float(edits.logits(preserve).argmax() == prediction)
            out["dc"][r, k] = float(edits.logits(delete).argmax() != prediction)
        if singles:
            changed = np.array([edits.logits(key)[target] for key in singles])
            irrelevant = ~removal_drops(original[image, target], changed, params.relevance)
            if irrelevant.any():
                out["d"][r] = 1.0 - important_items[:, irrelevant].sum(axis=1) / irrelevant.sum()
    out["thresholds"] = taus
    return out


def _select(checks: dict[str, Any]) -> tuple[int, dict[str, np.ndarray]]:
    """The threshold index that maximises (CSDC + PC + DC) / 3 + D over the batch (the
    authors' choice; the first of equal ones) and the per-threshold batch means."""
    means = {name: _nanmean(checks[name]) for name in ("csdc", "pc", "dc", "d")}
    objective = (means["csdc"] + means["pc"] + means["dc"]) / 3 + means["d"]
    index = int(np.nanargmax(objective)) if np.isfinite(objective).any() else 0
    return index, means


def _combine(csdc: Any, pc: Any, dc: Any, d: Any) -> Any:
    return ((csdc + pc + dc) / 3 + d) / 2


@register_metric(
    "completeness",
    params=CompletenessParams,
    summary="FunnyBirds completeness: defining parts marked important, prediction kept by the important parts "
            "and lost without them, irrelevant parts not marked ((CSDC+PC+DC)/3 + D)/2",
    paper=PAPER,
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def completeness(model: ModelAdapter, saliency: Saliency, params: CompletenessParams,
                 ground_truth: Sequence[Sample]) -> MetricResult:
    checks = _checks(model, saliency, params, ground_truth)
    k, means = _select(checks)
    parts = {name: checks[name][:, k] for name in ("csdc", "pc", "dc", "d")}
    return MetricResult(
        metric="completeness",
        scores=_combine(parts["csdc"], parts["pc"], parts["dc"], parts["d"]),
        extras={
            "threshold": float(checks["thresholds"][k]),
            "dataset_score": float(_combine(*(means[name][k] for name in ("csdc", "pc", "dc", "d")))),
            **{name: float(means[name][k]) for name in ("csdc", "pc", "dc", "d")},
            "rows": parts,
            "per_threshold": {"thresholds": checks["thresholds"], **means},
        },
    )


@register_metric(
    "distractibility",
    params=CompletenessParams,
    summary="FunnyBirds distractibility: 1 - share of irrelevant parts (removal changes the logit < 5%) that the "
            "map marks important, at completeness's threshold (or a fixed one)",
    paper=PAPER,
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def distractibility(model: ModelAdapter, saliency: Saliency, params: CompletenessParams,
                    ground_truth: Sequence[Sample]) -> MetricResult:
    checks = _checks(model, saliency, params, ground_truth, only_d=params.threshold is not None)
    k, means = _select(checks) if params.threshold is None else (0, {"d": _nanmean(checks["d"])})
    return MetricResult(
        metric="distractibility",
        scores=checks["d"][:, k],
        extras={"threshold": float(checks["thresholds"][k]), "dataset_score": float(means["d"][k]),
                "per_threshold": {"thresholds": checks["thresholds"], "d": means["d"]}},
    )


# ----------------------------------------------------------------------------- correctness
@dataclasses.dataclass
class CorrectnessParams:
    """dilation: part masks grow by a max-pool of this side (px). batch_size: images per forward."""

    dilation: int = 5
    batch_size: int = 64


@register_metric(
    "correctness",
    params=CorrectnessParams,
    summary="FunnyBirds single deletion: rank correlation of part importances with the logit drop when each "
            "part is removed (0.5*rho + 0.5)",
    paper=PAPER,
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def correctness(model: ModelAdapter, saliency: Saliency, params: CorrectnessParams,
                ground_truth: Sequence[Sample]) -> MetricResult:
    check_dilation(params.dilation)
    check_int(params.batch_size, "batch_size", 1)
    rows, original, edits = _prepare(model, saliency, ground_truth, params.batch_size)
    plans = []
    for r, sample in enumerate(rows):
        image, target = int(saliency.image_index[r]), int(saliency.targets[r])
        if target < 0:
            continue
        ids = [p.id for p in sample.parts]
        imp = importances(saliency.maps[r], part_masks(sample, ids, params.dilation))
        plans.append((r, image, target, imp, [edits.request(image, remove=[pid]) for pid in ids]))
    edits.run(params.batch_size)
    scores = np.full(len(rows), np.nan)
    drops = [None] * len(rows)
    for r, image, target, imp, keys in plans:
        drop = original[image, target] - np.array([edits.logits(key)[target] for key in keys])
        drops[r] = drop
        scores[r] = 0.5 * spearman(drop, imp) + 0.5
    return MetricResult(metric="correctness", scores=scores, extras={"logit_drops": drops})


# ----------------------------------------------------------------------------- contrastivity
@dataclasses.dataclass
class ContrastivityParams:
    """dilation: part masks grow by a max-pool of this side (px). batch_size: images
    per forward. explainer: fn(images (M,H,W,3) uint8, targets (M,)) -> maps (M,H,W)
    for the contrast class; None re-runs the saliency's method with its parameters."""

    dilation: int = 5
    batch_size: int = 64
    explainer: Explainer | None = None


@register_metric(
    "contrastivity",
    params=ContrastivityParams,
    summary="FunnyBirds target sensitivity: the map for the class gives its defining parts more importance "
            "than the map for the runner-up class does (where the model agrees)",
    paper=PAPER,
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def contrastivity(model: ModelAdapter, saliency: Saliency, params: ContrastivityParams,
                  ground_truth: Sequence[Sample]) -> MetricResult:
    check_dilation(params.dilation)
    check_int(params.batch_size, "batch_size", 1)
    explainer = explainer_for(model, saliency, params.explainer, "contrastivity", params.batch_size)
    rows, original, edits = _prepare(model, saliency, ground_truth, params.batch_size)
    predictions = saliency.probabilities.argmax(axis=1)
    plans = []
    for r, sample in enumerate(rows):
        image, target = int(saliency.image_index[r]), int(saliency.targets[r])
        evidence = sample.evidence.part_ids
        if not evidence or not target == sample.label == predictions[image]:
            continue
        order = np.argsort(-saliency.probabilities[image], kind="stable")
        other = int(next(c for c in order if c != target))
        plans.append((r, image, target, other, evidence, edits.request(image, remove=evidence)))
    edits.run(params.batch_size)
    scores = np.full(len(rows), np.nan)
    contrast = np.full(len(rows), -1, np.int64)
    passed = [p for p in plans
              if edits.logits(p[5])[p[2]] - original[p[1], p[2]] < edits.logits(p[5])[p[3]] - original[p[1], p[3]]]
    maps = call_explainer(explainer, [saliency.images[p[1]] for p in passed], [p[3] for p in passed])
    for (r, image, target, other, evidence, _), other_map in zip(passed, maps):
        masks = part_masks(rows[r], evidence, params.dilation)
        scores[r] = float(importances(saliency.maps[r], masks).sum() > importances(other_map, masks).sum())
    for r, _, _, other, _, _ in plans:
        contrast[r] = other
    return MetricResult(metric="contrastivity", scores=scores,
                        extras={"contrast_class": contrast, "model_check_passed": len(passed),
                                "model_checked": len(plans)})


# ----------------------------------------------------------------------------- background independence
@dataclasses.dataclass
class BackgroundIndependenceParams:
    """backgrounds: background redraws per image. relevance: a change matters when it
    lowers the target logit by at least this fraction (5%). batch_size: images per forward."""

    backgrounds: int = 4
    relevance: float = 0.05
    batch_size: int = 64


@register_metric(
    "background_independence",
    params=BackgroundIndependenceParams,
    summary="FunnyBirds background independence (a model check): share of background changes and corner-tag "
            "removals that leave the target logit within 5%",
    paper=PAPER,
    kind="parts",
    higher_is_better=True,
    needs_ground_truth=True,
)
def background_independence(model: ModelAdapter, saliency: Saliency, params: BackgroundIndependenceParams,
                            ground_truth: Sequence[Sample]) -> MetricResult:
    check_int(params.backgrounds, "backgrounds", 0)
    check_number(params.relevance, "relevance", 0.0, 1.0)
    check_int(params.batch_size, "batch_size", 1)
    rows, original, edits = _prepare(model, saliency, ground_truth, params.batch_size)
    plans = []
    for r, sample in enumerate(rows):
        image, target = int(saliency.image_index[r]), int(saliency.targets[r])
        keys = [edits.request(image, background=k) for k in range(params.backgrounds)]
        if sample.spurious_cue is not None:
            keys.append(edits.request(image, tag=False))
        if target >= 0 and keys:
            plans.append((r, image, target, keys))
    edits.run(params.batch_size)
    scores = np.full(len(rows), np.nan)
    relevant_total, items_total = 0, 0
    for r, image, target, keys in plans:
        relevant = removal_drops(original[image, target], np.array([edits.logits(k)[target] for k in keys]),
                                 params.relevance)
        scores[r] = 1.0 - relevant.mean()
        relevant_total += int(relevant.sum())
        items_total += len(keys)
    return MetricResult(
        metric="background_independence", scores=scores,
        extras={"dataset_score": 1.0 - relevant_total / items_total if items_total else float("nan")},
    )


# ----------------------------------------------------------------------------- the corner tag
@dataclasses.dataclass
class CueShareParams:
    """dilation: the tag's box grows by a max-pool of this side (px)."""

    dilation: int = 5


@register_metric(
    "spurious_cue_share",
    params=CueShareParams,
    summary="Share of the map's positive attribution on the spurious corner tag (its dilated box), on images "
            "that carry it: high when the model (or the map) relies on the tag",
    paper="xwidgets (part importance as in " + PAPER + ")",
    kind="parts",
    higher_is_better=False,
    needs_ground_truth=True,
)
def spurious_cue_share(model: ModelAdapter, saliency: Saliency, params: CueShareParams,
                       ground_truth: Sequence[Sample]) -> MetricResult:
    check_dilation(params.dilation)
    check_samples_match(saliency, ground_truth)
    rows = row_samples(saliency, ground_truth)
    scores = np.full(len(rows), np.nan)
    for r, sample in enumerate(rows):
        if sample.spurious_cue is not None:
            scores[r] = positive_share(saliency.maps[r], _tag_mask(sample, params.dilation))
    if np.isnan(scores).all() and len(rows):
        warnings.warn("spurious_cue_share: no image carries the corner tag (use variant='biased' or 'shifted')",
                      stacklevel=3)
    return MetricResult(metric="spurious_cue_share", scores=scores)
