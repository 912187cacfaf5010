"""Average drop and increase in confidence (Chattopadhay et al., "Grad-CAM++:
Generalized Gradient-based Visual Explanations for Deep Convolutional Networks",
WACV 2018), at the top 100%, 50% or 15% of the map as in T-TAME (Ntrougkas et al.,
"T-TAME: Trainable Attention Mechanism for Explaining Convolutional Networks and
Vision Transformers", IEEE Access 2024).

Each map is min-max normalised to [0, 1] (a constant map becomes zeros), its values
outside the top ``keep`` fraction of pixels are set to zero (kept values are not
binarised), and the image is multiplied by it: x' = s + m (x - s), s the substrate.
With the default "mean" substrate (s = 0 in model inputs) this is T-TAME's
``normalised image * map``; "black" multiplies the pixels (Grad-CAM++'s E * I).
With Y the softmax probability of the row's class on the image and O on x':

    average drop             = 100 / N  sum_i max(0, Y_i - O_i) / Y_i   (lower is better)
    increase in confidence   = 100 / N  sum_i 1[O_i > Y_i]             (higher is better)

Each row's score is its term (the mean over rows is the paper's number). One clean
forward per image plus one per row, batched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ..models.adapter import ModelAdapter
from ..saliency._chunks import AUTO, check_internal_batch_size
from ..saliency.result import Saliency
from ._perturb import (
    LABELS, SUBSTRATES, batched_scores, check_choice, check_fraction, check_positive_number, check_saliency_maps,
    min_max, pixel_ranks, row_labels, substrate_inputs,
)
from .evaluate import model_inputs
from .registry import MetricResult, register_metric

__all__ = ["ConfidenceParams", "confidence_change"]


@dataclasses.dataclass
class ConfidenceParams:
    """keep: the fraction of the map's pixels kept, most relevant first (T-TAME
        reports 1.0, 0.5 and 0.15); the rest of the map is set to zero.
    substrate: what a zero of the map turns a pixel into: "mean" (a zero model input,
        T-TAME), "black" (Grad-CAM++) or "blur".
    blur_sigma: the blur's sigma in pixels (substrate "blur").
    label: the class scored: "target" (the row's target) or "prediction" (the model's
        top-1 class on the clean image; T-TAME's protocol).
    internal_batch_size: masked copies per forward pass, or "auto".

    The score is always the softmax probability (the metric is a ratio of them)."""

    keep: float = 1.0
    substrate: str = "mean"
    blur_sigma: float = 5.0
    label: str = "target"
    internal_batch_size: int | str = AUTO

    def __post_init__(self) -> None:
        check_fraction(self.keep, "keep")
        check_choice(self.substrate, "substrate", SUBSTRATES)
        check_positive_number(self.blur_sigma, "blur_sigma")
        check_choice(self.label, "label", LABELS)
        check_internal_batch_size(self.internal_batch_size)


def confidence_change(model: ModelAdapter, saliency: Saliency, params: ConfidenceParams) -> tuple[np.ndarray, np.ndarray, Any]:
    """(Y, O, chunk): the clean and the masked softmax probability of each row's class."""
    check_saliency_maps(saliency)
    device = model.device
    inputs = model_inputs(model, saliency)
    fill = substrate_inputs(model, inputs, params.substrate, params.blur_sigma)
    b, (h, w) = len(saliency), inputs.shape[-2:]
    maps = min_max(torch.as_tensor(saliency.maps, device=device)).view(b, -1)
    kept = pixel_ranks(maps) < round(params.keep * h * w)
    maps = torch.where(kept, maps, torch.zeros_like(maps)).view(b, 1, h, w)
    image = torch.as_tensor(saliency.image_index, device=device)
    labels = row_labels(saliency, params.label, device)

    def make_inputs(index: torch.Tensor) -> torch.Tensor:
        row = index % b
        img = image[row]
        masked = fill[img] + maps[row] * (inputs[img] - fill[img])
        return torch.where((index < b).view(-1, 1, 1, 1), inputs[img], masked)

    scores, chunk = batched_scores(
        model, 2 * b, make_inputs, lambda index: labels[index % b], "softmax", params.internal_batch_size,
    )
    return scores[:b].numpy(), scores[b:].numpy(), chunk


def _result(name: str, model: ModelAdapter, saliency: Saliency, params: ConfidenceParams) -> MetricResult:
    clean, masked, chunk = confidence_change(model, saliency, params)
    if name == "average_drop":
        scores = 100.0 * np.maximum(0.0, clean - masked) / np.maximum(clean, np.finfo(np.float64).tiny)
    else:
        scores = 100.0 * (masked > clean)
    return MetricResult(metric=name, scores=scores, extras={"clean": clean, "masked": masked, "internal_batch_size": chunk})


_PAPER = ("Chattopadhay et al., Grad-CAM++, WACV 2018; protocol at 100/50/15% of the map: Ntrougkas et al., "
          "T-TAME, IEEE Access 2024")


@register_metric(
    "average_drop",
    params=ConfidenceParams,
    summary="Relative drop (%) of the class probability when the image is multiplied by its map (lower is better)",
    paper=_PAPER,
    kind="faithfulness",
    higher_is_better=False,
)
def average_drop(model: ModelAdapter, saliency: Saliency, params: ConfidenceParams, ground_truth: Any = None) -> MetricResult:
    return _result("average_drop", model, saliency, params)


@register_metric(
    "increase_in_confidence",
    params=ConfidenceParams,
    summary="Share (%) of rows whose class probability rises when the image is multiplied by its map (higher is better)",
    paper=_PAPER,
    kind="faithfulness",
    higher_is_better=True,
)
def increase_in_confidence(model: ModelAdapter, saliency: Saliency, params: ConfidenceParams,
                           ground_truth: Any = None) -> MetricResult:
    return _result("increase_in_confidence", model, saliency, params)
