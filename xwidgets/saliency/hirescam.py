"""HiResCAM (Draelos and Carin, "Use HiResCAM instead of Grad-CAM for faithful
explanations of convolutional neural networks", arXiv:2011.08891, 2020).

Grad-CAM without the spatial averaging of the gradient: the gradient multiplies the
feature maps element-wise,

    map = ReLU(sum_k dS^c/dA^k (.) A^k)

For a head that is a linear layer on the flattened feature map, the signed map
(``relu=False``) sums to the score minus the bias: each location's exact share of
the score, which Grad-CAM's averaged weights do not give. Cost: one forward plus one
backward that stops at the layer.
"""

from __future__ import annotations

import dataclasses

import torch

from ..models.adapter import ModelAdapter
from .gradcam import gradient_cam, gradient_cam_at_layer
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import TargetPlan


@dataclasses.dataclass
class HiResCAMParams:
    """relu: apply the final ReLU, as Grad-CAM (and pytorch-grad-cam's HiResCAM) do;
    False keeps the signed map (negative evidence, and the exact-sum property)."""

    relu: bool = True


@register(
    "hirescam",
    params=HiResCAMParams,
    summary="Feature maps multiplied element-wise by their gradients, summed over channels",
    paper="Draelos & Carin, HiResCAM, arXiv:2011.08891, 2020",
    family="cam",
    uses_layer=True,
)
def hirescam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: HiResCAMParams, layer: str) -> MethodOutput:
    return gradient_cam(model, inputs, plan, layer, hirescam_relevance, params.relu)


@register_at_layer("hirescam")
def hirescam_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: HiResCAMParams, layer: str) -> LayerOutput:
    return gradient_cam_at_layer(model, inputs, plan, layer, hirescam_relevance, params.relu)


def hirescam_relevance(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """dS/dA^k (.) A^k: the (B, C, h, w) terms whose channel sum is the map."""
    return gradient * activation
