"""Deletion and insertion (Petsiuk et al., "RISE: Randomized Input Sampling for
Explanation of Black-box Models", BMVC 2018).

Pixels are ordered by the map, most relevant first. *Deletion* replaces them by the
substrate in steps and records the class score after each step: a faithful map makes
the score fall fast (low area under the curve). *Insertion* starts from the
substrate and puts the image's pixels back in the same order: the score should rise
fast (high area). Each curve has S + 1 points, from 0 to all pixels perturbed; the
AUC is the trapezoid rule over the fraction of pixels perturbed (x in [0, 1]), so a
softmax AUC lies in [0, 1].

Defaults follow RISE's evaluation code: deletion fills with zero model inputs (the
preprocessing's mean colour, "mean"), insertion starts from a Gaussian blur of the
image (sigma 5 px; RISE used an 11 x 11 kernel with sigma 5, here the radius is
ceil(3 sigma) with replicated borders), softmax score of the row's class. RISE
stepped 224 px at a time on 224 x 224 images (224 steps); the default here is 2% of
the image per step (50 steps), the protocol of the issue's benchmark.

Every (row, step) copy is built on the device and all of them go through the model
in chunks of ``internal_batch_size`` copies: B x (S + 1) forwards, no per-row loop.

Against Quantus's ``PixelFlipping`` (same pixel order, ``features_in_step`` = 3 x the
pixels per step): Quantus's curve omits the unperturbed point and its AUC is
``np.trapz`` with dx = 1, so ours = (Quantus AUC + (s0 + s1) / 2) / S when every step
has the same size (s0: clean score, s1: first step).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..saliency._chunks import AUTO, check_internal_batch_size
from ..saliency.result import Saliency
from ._perturb import (
    LABELS, SCORES, SUBSTRATES, batched_scores, check_choice, check_positive_number, check_saliency_maps,
    pixel_ranks, row_labels, substrate_inputs, trapezoid_auc,
)
from .evaluate import model_inputs
from .registry import MetricResult, register_metric

__all__ = ["DeletionParams", "InsertionParams", "step_counts"]

_STEP_HELP = "an int number of pixels per step (>= 1) or a float fraction of the image per step in (0, 1]"


def _check_step(step: Any) -> None:
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        raise bad_argument("step", _STEP_HELP, step)
    if isinstance(step, int) and step < 1:
        raise bad_argument("step", _STEP_HELP, step)
    if isinstance(step, float) and not (math.isfinite(step) and 0 < step <= 1):
        raise bad_argument("step", _STEP_HELP, step)


def step_counts(step: int | float, pixels: int) -> np.ndarray:
    """How many pixels are perturbed at each point of the curve: 0, step, 2 step, ...
    up to ``pixels`` (the last step may be smaller). A float ``step`` is a fraction of
    the image, rounded to whole pixels."""
    _check_step(step)
    if isinstance(step, int):
        counts = np.minimum(np.arange(math.ceil(pixels / step) + 1) * step, pixels)
    else:
        n = math.ceil(1 / step - 1e-9)
        counts = np.minimum(np.round(np.arange(n + 1) * step * pixels), pixels).astype(np.int64)
        counts[-1] = pixels
    return np.unique(counts)


@dataclasses.dataclass
class _CurveParams:
    """step: pixels perturbed per step: a float fraction of the image (0.02: 50 steps)
        or an int number of pixels (RISE: 224 on 224 x 224 images).
    substrate: what removed pixels become: "black", "mean" (a zero model input: the
        preprocessing's mean colour) or "blur" (a Gaussian blur of the image);
        default "mean" for deletion and "blur" for insertion, as in RISE's code.
    blur_sigma: the blur's sigma in pixels (RISE: 5).
    score: "softmax" (probability) or "logit".
    label: the class scored: "target" (the row's target: the prediction for the
        default target, or the ground truth if the map was made for it) or
        "prediction" (the model's top-1 class on the clean image).
    internal_batch_size: perturbed copies per forward pass, or "auto" (the fastest of
        8 to 64 on this device and model)."""

    step: int | float = 0.02
    substrate: str = "mean"
    blur_sigma: float = 5.0
    score: str = "softmax"
    label: str = "target"
    internal_batch_size: int | str = AUTO

    def __post_init__(self) -> None:
        _check_step(self.step)
        check_choice(self.substrate, "substrate", SUBSTRATES)
        check_positive_number(self.blur_sigma, "blur_sigma")
        check_choice(self.score, "score", SCORES)
        check_choice(self.label, "label", LABELS)
        check_internal_batch_size(self.internal_batch_size)


@dataclasses.dataclass
class DeletionParams(_CurveParams):
    __doc__ = _CurveParams.__doc__
    substrate: str = "mean"


@dataclasses.dataclass
class InsertionParams(_CurveParams):
    __doc__ = _CurveParams.__doc__
    substrate: str = "blur"


def perturbation_curves(model: ModelAdapter, saliency: Saliency, params: _CurveParams, insertion: bool) -> MetricResult:
    """The deletion (or insertion) curve and AUC of every row of ``saliency``."""
    check_saliency_maps(saliency)
    device = model.device
    inputs = model_inputs(model, saliency)  # (N, 3, H, W)
    fill = substrate_inputs(model, inputs, params.substrate, params.blur_sigma)
    b, (h, w) = len(saliency), inputs.shape[-2:]
    counts_np = step_counts(params.step, h * w)
    counts = torch.as_tensor(counts_np, device=device)
    points = counts.numel()
    ranks = pixel_ranks(torch.as_tensor(saliency.maps, device=device))  # (B, H*W)
    image = torch.as_tensor(saliency.image_index, device=device)
    labels = row_labels(saliency, params.label, device)

    def make_inputs(index: torch.Tensor) -> torch.Tensor:
        row, point = index // points, index % points
        changed = (ranks[row] < counts[point][:, None]).view(-1, 1, h, w)
        img = image[row]
        if insertion:
            return torch.where(changed, inputs[img], fill[img])
        return torch.where(changed, fill[img], inputs[img])

    scores, chunk = batched_scores(
        model, b * points, make_inputs, lambda index: labels[index // points], params.score, params.internal_batch_size,
    )
    curves = scores.view(b, points).numpy()
    fractions = counts_np / float(h * w)
    return MetricResult(
        metric="insertion" if insertion else "deletion",
        scores=trapezoid_auc(curves, fractions),
        curves=curves,
        extras={"fractions": fractions, "pixels": counts_np, "forwards": b * points, "internal_batch_size": chunk},
    )


@register_metric(
    "deletion",
    params=DeletionParams,
    summary="Area under the class score as the most relevant pixels are removed first (lower is better)",
    paper="Petsiuk, Das & Saenko, RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    kind="faithfulness",
    higher_is_better=False,
)
def deletion(model: ModelAdapter, saliency: Saliency, params: DeletionParams, ground_truth: Any = None) -> MetricResult:
    return perturbation_curves(model, saliency, params, insertion=False)


@register_metric(
    "insertion",
    params=InsertionParams,
    summary="Area under the class score as the most relevant pixels are inserted first into the substrate (higher is better)",
    paper="Petsiuk, Das & Saenko, RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    kind="faithfulness",
    higher_is_better=True,
)
def insertion(model: ModelAdapter, saliency: Saliency, params: InsertionParams, ground_truth: Any = None) -> MetricResult:
    return perturbation_curves(model, saliency, params, insertion=True)
