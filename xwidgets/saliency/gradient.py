"""Vanilla gradient ("saliency", Simonyan et al. 2014) and gradient x input
(Shrikumar et al. 2016). Each costs one forward and one backward pass per target
pass, for the whole batch.
"""

from __future__ import annotations

import dataclasses

import torch

from ..models.adapter import ModelAdapter
from ._gradients import check_reduce, input_gradients, reduce_channels, register_gradient_method, source_gradients
from .registry import MethodOutput, register
from .targets import FixedTargets, TargetPlan


@dataclasses.dataclass
class SaliencyParams:
    """reduce: how the 3 channels of the gradient become one map; "abs_max" (default)
    is Simonyan et al.'s max over channels of |dS_c/dx|. Others: "sum" (signed),
    "l2", "abs_sum"."""

    reduce: str = "abs_max"

    def __post_init__(self) -> None:
        check_reduce(self.reduce)


@dataclasses.dataclass
class GradientXInputParams:
    """reduce: "sum" (default) keeps the sign and makes the map sum to the total
    attribution; "abs_max", "l2", "abs_sum" drop the sign."""

    reduce: str = "sum"

    def __post_init__(self) -> None:
        check_reduce(self.reduce)


@register_gradient_method("saliency", SaliencyParams)
def saliency_attribution(
    model: ModelAdapter, rows: torch.Tensor, targets: FixedTargets, image_index: torch.Tensor, params: SaliencyParams,
    source: str | None = None,
) -> torch.Tensor:
    return input_gradients(model, rows, targets, image_index, method="saliency", source=source)[0]


@register_gradient_method("gradient_x_input", GradientXInputParams)
def gradient_x_input_attribution(
    model: ModelAdapter, rows: torch.Tensor, targets: FixedTargets, image_index: torch.Tensor, params: GradientXInputParams,
    source: str | None = None,
) -> torch.Tensor:
    """Gradient x input; at a ``source`` layer, gradient x activation (Captum's
    LayerGradientXActivation)."""
    grads, values, _, _ = source_gradients(model, rows, targets, image_index, method="gradient_x_input", source=source)
    return grads * values


@register(
    "saliency",
    params=SaliencyParams,
    summary="Gradient of the class score with respect to the input pixels",
    paper="Simonyan, Vedaldi & Zisserman, Deep Inside Convolutional Networks, ICLR Workshop 2014",
    family="gradient",
)
def saliency(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: SaliencyParams, layer: str | None) -> MethodOutput:
    grads, logits, targets = input_gradients(model, inputs, plan, method="saliency")
    return MethodOutput(maps=reduce_channels(grads, params.reduce), logits=logits, targets=targets.stacked())


@register(
    "gradient_x_input",
    params=GradientXInputParams,
    summary="Input times its gradient: a first-order estimate of each pixel's contribution",
    paper="Shrikumar, Greenside, Shcherbina & Kundaje, Not Just a Black Box, arXiv:1605.01713, 2016",
    family="gradient",
)
def gradient_x_input(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GradientXInputParams, layer: str | None) -> MethodOutput:
    grads, logits, targets = input_gradients(model, inputs, plan, method="gradient_x_input")
    return MethodOutput(maps=reduce_channels(grads * inputs, params.reduce), logits=logits, targets=targets.stacked())
