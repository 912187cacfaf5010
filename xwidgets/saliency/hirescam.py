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
from .gradcam import layer_gradients
from .registry import MethodOutput, register
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
    logits, activation, passes, gradients = layer_gradients(model, inputs, plan, layer)
    maps = []
    for gradient in gradients:
        cam = (gradient * activation).sum(dim=1)
        maps.append(cam.clamp_min(0) if params.relu else cam)
    return MethodOutput(maps=torch.stack(maps), logits=logits, targets=torch.stack(passes))
