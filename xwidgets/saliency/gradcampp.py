"""Grad-CAM++ (Chattopadhay, Sarkar, Howlader and Balasubramanian, "Grad-CAM++:
Generalized Gradient-based Visual Explanations for Deep Convolutional Networks",
WACV 2018).

With the class score written as Y^c = exp(S^c) (S^c the logit), the second and third
derivatives of Y^c are powers of the first derivative g = dS^c/dA, and the pixel
weights of the paper's Eq. 19 become

    alpha^kc_ij = g_ij^2 / (2 g_ij^2 + sum_ab A^k_ab g_ij^3)

    w^c_k = sum_ij alpha^kc_ij ReLU(g_ij)        map = ReLU(sum_k w^c_k A^k)

(the positive factor exp(S^c) of dY^c/dA only scales the map, so it is dropped).
Where the denominator is zero (g = 0) alpha is zero. Cost: one forward plus one
backward that stops at the layer, like Grad-CAM.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from .gradcam import gradient_cam, gradient_cam_at_layer
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import TargetPlan


@dataclasses.dataclass
class GradCAMPlusPlusParams:
    """relu: apply the final ReLU (the paper's choice).

    eps: added to alpha's denominator. The paper has none (0.0, with alpha set to
    zero where the denominator vanishes); pytorch-grad-cam adds 1e-6, which matters
    when gradients are small (g^2 near 1e-6, as on ImageNet models' last layer).
    """

    relu: bool = True
    eps: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps >= 0:
            raise bad_argument("eps", "a float >= 0", self.eps)


def gradcampp_weights(activation: torch.Tensor, gradient: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Grad-CAM++ channel weights w_k, shape (B, C', 1, 1), from (B, C', h, w) A and g."""
    g2 = gradient.square()
    g3 = g2 * gradient
    denominator = 2 * g2 + activation.sum(dim=(2, 3), keepdim=True) * g3 + eps
    safe = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    alpha = torch.where((denominator != 0) & (gradient != 0), g2 / safe, torch.zeros_like(g2))
    return (alpha * gradient.clamp_min(0)).sum(dim=(2, 3), keepdim=True)


@register(
    "gradcampp",
    params=GradCAMPlusPlusParams,
    summary="Feature maps weighted by positive gradients with higher-order pixel weights",
    paper="Chattopadhay et al., Grad-CAM++, WACV 2018",
    family="cam",
    uses_layer=True,
)
def gradcampp(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GradCAMPlusPlusParams, layer: str) -> MethodOutput:
    return gradient_cam(model, inputs, plan, layer, functools.partial(gradcampp_relevance, eps=params.eps), params.relu)


@register_at_layer("gradcampp")
def gradcampp_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GradCAMPlusPlusParams, layer: str) -> LayerOutput:
    relevance = functools.partial(gradcampp_relevance, eps=params.eps)
    return gradient_cam_at_layer(model, inputs, plan, layer, relevance, params.relu)


def gradcampp_relevance(activation: torch.Tensor, gradient: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """w_k A^k: the (B, C, h, w) terms whose channel sum is the Grad-CAM++ map."""
    return gradcampp_weights(activation, gradient, eps) * activation
