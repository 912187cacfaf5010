"""LayerCAM (Jiang, Zhang, Hou, Cheng and Wei, "LayerCAM: Exploring Hierarchical
Class Activation Maps for Localization", IEEE Transactions on Image Processing 30,
2021).

Each location of each feature map is weighted by its own positive gradient,

    map = ReLU(sum_k ReLU(dS^c/dA^k) (.) A^k)

so, unlike Grad-CAM, it stays faithful at shallow, high-resolution layers. (The paper
also rescales shallow-layer maps with tanh(2 M / max M) before fusing several layers;
this module computes one layer's map and leaves fusion to the caller.) Cost: one
forward plus one backward that stops at the layer.
"""

from __future__ import annotations

import dataclasses

import torch

from ..models.adapter import ModelAdapter
from .gradcam import gradient_cam, gradient_cam_at_layer
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import TargetPlan


@dataclasses.dataclass
class LayerCAMParams:
    """relu: apply the final ReLU (the paper's choice)."""

    relu: bool = True


@register(
    "layercam",
    params=LayerCAMParams,
    summary="Feature maps weighted location by location by their positive gradients",
    paper="Jiang et al., LayerCAM, IEEE TIP 2021",
    family="cam",
    uses_layer=True,
)
def layercam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: LayerCAMParams, layer: str) -> MethodOutput:
    return gradient_cam(model, inputs, plan, layer, layercam_relevance, params.relu)


@register_at_layer("layercam")
def layercam_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: LayerCAMParams, layer: str) -> LayerOutput:
    return gradient_cam_at_layer(model, inputs, plan, layer, layercam_relevance, params.relu)


def layercam_relevance(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """ReLU(dS/dA^k) (.) A^k: the (B, C, h, w) terms whose channel sum is the map."""
    return gradient.clamp_min(0) * activation
