"""Pointing game and energy-based pointing game against the synthetic set's defining parts.

* Pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop",
  ECCV 2016 / IJCV 2018): a row is a hit when the map's maximum lies within
  ``tolerance`` pixels of the ground-truth region. The original tolerance is 15 px on
  PASCAL VOC07 / COCO images at their own size (TorchRay: the point's open disc of
  radius 15 must touch the mask). VOC07 images are about 500 x 375 px (geometric mean
  side 433 px), so 15 px is 3.5% of the side; ``tolerance=None`` keeps that fraction:
  15 * sqrt(H * W) / 433 pixels, 2.2 px at 64 x 64.
* Energy-based pointing game (Wang et al., "Score-CAM", CVPR-W 2020): the fraction of
  the map's positive energy that falls inside the region.

The region of a row is its image's defining parts (``Sample.evidence_mask``,
``region="mask"``) or the union of their boxes (``region="box"``). A row scores NaN
when there is no ground truth for it: its target is not the image's label, or the
image's label rests on no part (a "spurious" image of the biased variant).

``xwidgets.saliency.tame.pointing_game`` (T-TAME's check, a square tolerance window)
agrees with :func:`pointing_hits` at tolerance 0; it can import from here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import torch

from .._validation import bad_argument
from ..data.synthetic.render import Sample
from ..models.adapter import ModelAdapter
from ..saliency.result import Saliency
from ._ground_truth import box_mask, check_samples_match, row_samples
from .registry import MetricResult, register_metric

__all__ = ["pointing_hits", "hit_region", "energy_inside", "evidence_regions", "default_tolerance", "VOC_SIDE",
           "REGIONS"]

#: geometric mean side of PASCAL VOC07 images (500 x 375 px), where 15 px was set
VOC_SIDE = math.sqrt(500 * 375)
#: the original tolerance, in pixels of VOC07/COCO images
ORIGINAL_TOLERANCE = 15.0
REGIONS = ("mask", "box")


def default_tolerance(height: int, width: int) -> float:
    """15 px scaled from VOC07's image size to (height, width): 2.2 px at 64 x 64."""
    return ORIGINAL_TOLERANCE * math.sqrt(height * width) / VOC_SIDE


def _as_array(value: Any, argument: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.ndim != 3:
        raise bad_argument(argument, "a (N, H, W) array", value)
    return value


def _check_tolerance(tolerance: Any) -> None:
    ok = isinstance(tolerance, (int, float, np.integer, np.floating)) and not isinstance(tolerance, (bool, np.bool_))
    if not ok or not np.isfinite(tolerance) or tolerance < 0:
        raise bad_argument("tolerance", "None or a number of pixels >= 0", tolerance)


def hit_region(masks: np.ndarray, tolerance: float) -> np.ndarray:
    """(N, H, W) bool: the points that count as hits, i.e. the mask itself plus every
    pixel closer than ``tolerance`` to a mask pixel (the TorchRay disc test)."""
    masks = _as_array(masks, "masks").astype(bool)
    _check_tolerance(tolerance)
    if tolerance <= 0:
        return masks.copy()
    r = int(math.ceil(tolerance))
    dy, dx = np.mgrid[-r: r + 1, -r: r + 1]
    disc = (dy * dy + dx * dx) < tolerance * tolerance
    n, h, w = masks.shape
    padded = np.zeros((n, h + 2 * r, w + 2 * r), bool)
    padded[:, r: r + h, r: r + w] = masks
    out = np.zeros_like(masks)
    for oy, ox in zip(*np.nonzero(disc)):
        out |= padded[:, oy: oy + h, ox: ox + w]
    return out


def pointing_hits(maps: np.ndarray, masks: np.ndarray, tolerance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per map, whether its maximum lies in ``masks`` or closer than ``tolerance`` px to it.

    The first maximum in row-major order is the point (as TorchRay's argmax). Returns
    (hits (N,) bool, points (N, 2) int as (x, y)).
    """
    maps = _as_array(maps, "maps")
    masks = _as_array(masks, "masks")
    if masks.shape != maps.shape:
        raise bad_argument("masks", f"one (H, W) mask per map, shape {maps.shape}", masks)
    region = hit_region(masks, tolerance)
    flat = np.nan_to_num(maps.reshape(maps.shape[0], -1).astype(np.float64), nan=-np.inf).argmax(axis=1)
    hits = region.reshape(region.shape[0], -1)[np.arange(len(flat)), flat]
    points = np.stack([flat % maps.shape[2], flat // maps.shape[2]], axis=1)
    return hits, points


def energy_inside(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per map, the share of its positive energy inside the mask; NaN when it has none."""
    maps = _as_array(maps, "maps")
    masks = _as_array(masks, "masks")
    if masks.shape != maps.shape:
        raise bad_argument("masks", f"one (H, W) mask per map, shape {maps.shape}", masks)
    positive = np.clip(maps.astype(np.float64), 0, None)
    total = positive.sum(axis=(1, 2))
    inside = (positive * masks.astype(bool)).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def evidence_regions(saliency: Saliency, samples: Sequence[Sample], region: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row, its image's defining parts as a mask or as the union of their boxes,
    and whether the row has ground truth (target = label, at least one defining part)."""
    if region not in REGIONS:
        raise bad_argument("region", f"one of {', '.join(map(repr, REGIONS))}", region)
    check_samples_match(saliency, samples)
    rows = row_samples(saliency, samples)
    h, w = saliency.maps.shape[1:]
    masks = np.zeros((len(rows), h, w), bool)
    valid = np.zeros(len(rows), bool)
    for r, (sample, target) in enumerate(zip(rows, saliency.targets)):
        ids = sample.evidence.part_ids
        if int(target) != sample.label or not ids:
            continue
        valid[r] = True
        if region == "mask":
            masks[r] = sample.evidence_mask
        else:
            for pid in ids:
                masks[r] |= box_mask(sample.part(pid).box, (h, w))
    return masks, valid


@dataclasses.dataclass
class PointingGameParams:
    """tolerance: pixels; None scales the original 15 px (VOC07, ~433 px side) to the
    image size (2.2 px at 64 x 64). region: "mask" (the defining parts' pixels, as
    COCO's masks) or "box" (their boxes, as VOC's)."""

    tolerance: float | None = None
    region: str = "mask"


@register_metric(
    "pointing_game",
    params=PointingGameParams,
    summary="Whether the map's maximum falls on (within a tolerance of) the image's defining parts",
    paper="Zhang et al., Top-down Neural Attention by Excitation Backprop, ECCV 2016 / IJCV 2018",
    kind="localisation",
    higher_is_better=True,
    needs_ground_truth=True,
)
def pointing_game(model: ModelAdapter, saliency: Saliency, params: PointingGameParams,
                  ground_truth: Sequence[Sample]) -> MetricResult:
    h, w = saliency.maps.shape[1:]
    tolerance = default_tolerance(h, w) if params.tolerance is None else params.tolerance
    _check_tolerance(tolerance)
    masks, valid = evidence_regions(saliency, ground_truth, params.region)
    hits, points = pointing_hits(saliency.maps, masks, tolerance)
    accepted = hit_region(masks, tolerance)
    return MetricResult(
        metric="pointing_game",
        scores=np.where(valid, hits.astype(np.float64), np.nan),
        extras={
            "tolerance": float(tolerance),
            "points": points,
            # a point drawn uniformly at random hits with this probability
            "chance": np.where(valid, accepted.mean(axis=(1, 2)), np.nan),
        },
    )


@dataclasses.dataclass
class EnergyPointingGameParams:
    """region: "box" (the defining parts' boxes, as Score-CAM's bounding boxes) or
    "mask" (their pixels)."""

    region: str = "box"


@register_metric(
    "energy_pointing_game",
    params=EnergyPointingGameParams,
    summary="Share of the map's positive energy inside the defining parts' boxes (or masks)",
    paper="Wang et al., Score-CAM: Score-Weighted Visual Explanations for CNNs, CVPR-W 2020",
    kind="localisation",
    higher_is_better=True,
    needs_ground_truth=True,
)
def energy_pointing_game(model: ModelAdapter, saliency: Saliency, params: EnergyPointingGameParams,
                         ground_truth: Sequence[Sample]) -> MetricResult:
    masks, valid = evidence_regions(saliency, ground_truth, params.region)
    energy = energy_inside(saliency.maps, masks)
    return MetricResult(
        metric="energy_pointing_game",
        scores=np.where(valid, energy, np.nan),
        # a map of i.i.d. values puts this share inside, in expectation
        extras={"chance": np.where(valid, masks.mean(axis=(1, 2)), np.nan)},
    )
