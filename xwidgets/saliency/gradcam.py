"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks
via Gradient-based Localization", ICCV 2017).

alpha_k = mean_ij d y_c / d A^k_ij;  map = ReLU(sum_k alpha_k A^k), upsampled
bilinearly. Cost: one forward plus one backward that stops at the layer. ViT tokens
are mapped back to their patch grid automatically.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from ..models.adapter import ModelAdapter
from ..models.hooks import capture
from ..models.layers import tokens_to_grid
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import TargetPlan


@dataclasses.dataclass
class GradCAMParams:
    """Grad-CAM has no free parameters besides the layer (``layer=`` of ``explain``).

    relu: apply the final ReLU (the paper's choice; turn off to see negative evidence).
    """

    relu: bool = True


@register(
    "gradcam",
    params=GradCAMParams,
    summary="Feature maps weighted by their spatially averaged gradients",
    paper="Selvaraju et al., Grad-CAM, ICCV 2017",
    family="cam",
    uses_layer=True,
)
def gradcam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GradCAMParams, layer: str) -> MethodOutput:
    return gradient_cam(model, inputs, plan, layer, gradcam_relevance, params.relu)


@register_at_layer("gradcam")
def gradcam_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GradCAMParams, layer: str) -> LayerOutput:
    return gradient_cam_at_layer(model, inputs, plan, layer, gradcam_relevance, params.relu)


def gradcam_relevance(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """alpha_k A^k with alpha_k = mean_ij dy_c/dA^k_ij: (B, C, h, w) terms whose
    channel sum is the Grad-CAM map before its ReLU."""
    return gradient.mean(dim=(2, 3), keepdim=True) * activation


def cam_from_gradients(activation: torch.Tensor, gradient: torch.Tensor, relu: bool = True) -> torch.Tensor:
    """Grad-CAM's combination of a layer's activation A and the gradient dy_c/dA, both
    (B, C, h, w) feature maps or (B, N, C) ViT tokens: alpha_k = mean_ij dy_c/dA^k_ij,
    map = ReLU(sum_k alpha_k A^k), shape (B, h, w) at the layer's resolution.
    Shared with Guided Grad-CAM (guided.py)."""
    cam = gradcam_relevance(tokens_to_grid(activation), tokens_to_grid(gradient)).sum(dim=1)
    return cam.clamp_min(0) if relu else cam


Relevance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def gradient_cam(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, layer: str, relevance: Relevance, relu: bool
) -> MethodOutput:
    """A CAM whose map is ReLU(sum_k relevance(A, dS/dA)_k), for every target pass:
    Grad-CAM, Grad-CAM++, HiResCAM and LayerCAM differ only in ``relevance``."""
    logits, activation, passes, gradients = layer_gradients(model, inputs, plan, layer)
    maps = torch.stack([relevance(activation, gradient).sum(dim=1) for gradient in gradients])
    return MethodOutput(maps=maps.clamp_min(0) if relu else maps, logits=logits, targets=torch.stack(passes))


def gradient_cam_at_layer(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, layer: str, relevance: Relevance, relu: bool
) -> LayerOutput:
    """:func:`gradient_cam` keeping the per-element relevance at the layer."""
    logits, activation, passes, gradients = layer_gradients(model, inputs, plan, layer)
    terms = torch.stack([relevance(activation, gradient) for gradient in gradients])  # (K, B, C, h, w)
    maps = terms.sum(dim=2)
    return LayerOutput(
        relevance=terms, activation=activation, maps=maps.clamp_min(0) if relu else maps, logits=logits,
        targets=torch.stack(passes),
    )


def layer_gradients(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, layer: str
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """One forward pass, then one backward per target pass, each stopping at ``layer``;
    shared by the CAM methods that read a layer's gradient (Grad-CAM, Grad-CAM++,
    HiResCAM, LayerCAM).

    Returns (clean logits (B, C) detached, activation (B, C', h, w), the K class
    tensors (B,), the K gradients d score / d activation (B, C', h, w)). ViT tokens
    are mapped to their patch grid.
    """
    with capture(model.model, [layer], gradients=True) as records:
        logits = model.logits(inputs)
    record = records[layer]
    if record.leaf is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    passes = plan.passes(logits)
    gradients = []
    for i, classes in enumerate(passes):
        score = plan.scores(logits, classes).sum()
        (gradient,) = torch.autograd.grad(score, record.leaf, retain_graph=i < len(passes) - 1)
        gradients.append(tokens_to_grid(gradient))
    return logits.detach(), tokens_to_grid(record.activation), passes, gradients
