"""Backward passes with modified ReLU gradients: guided backpropagation (Springenberg,
Dosovitskiy, Brox & Riedmiller, "Striving for Simplicity: The All Convolutional
Net", ICLR Workshop 2015), deconvnet (Zeiler & Fergus, "Visualizing and
Understanding Convolutional Networks", ECCV 2014), and Guided Grad-CAM (Selvaraju
et al., ICCV 2017: guided backprop times the upsampled Grad-CAM map).

At every ReLU (also ReLU6 and hardtanh(0, t), as in EfficientNet-Lite and
MobileNets), for the upstream gradient g and the unit's local gradient mask m:
guided backprop passes max(g, 0) * m, deconvnet passes max(g, 0). The rules apply to
``nn.ReLU``/``nn.ReLU6`` modules (in place or not) and to functional calls
(``F.relu``, ``torch.relu``, ``x.relu()``) alike, through a context that attaches
nothing to the model (``_gradients.modified_relu``). A model without ReLUs (GELU,
SiLU) gets a warning: its map is the plain gradient.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.hooks import _first_tensor, capture
from ..models.layers import tokens_to_grid
from ._gradients import (
    check_reduce, input_gradients, modified_relu, reduce_channels, register_gradient_method,
    warn_if_no_relu,
)
from .gradcam import cam_from_gradients
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import FixedTargets, TargetPlan


@dataclasses.dataclass
class GuidedParams:
    """reduce: "abs_max" (default, max over channels of |.| as Simonyan et al.), or
    "sum" (signed), "l2", "abs_sum"."""

    reduce: str = "abs_max"

    def __post_init__(self) -> None:
        check_reduce(self.reduce)


@dataclasses.dataclass
class GuidedGradCAMParams:
    """relu: the Grad-CAM map's final ReLU (the paper's choice).
    interpolation: how the Grad-CAM map is upsampled to the input, "bilinear" as the
        paper (Captum's GuidedGradCam defaults to "nearest").
    reduce: "abs_max" (default), "sum", "l2" or "abs_sum", applied to the 3-channel
        product."""

    relu: bool = True
    interpolation: str = "bilinear"
    reduce: str = "abs_max"

    def __post_init__(self) -> None:
        check_reduce(self.reduce)
        if self.interpolation not in ("bilinear", "nearest", "bicubic"):
            raise bad_argument("interpolation", '"bilinear", "nearest" or "bicubic"', self.interpolation)


@register_gradient_method("guided_backprop", GuidedParams)
def guided_backprop_attribution(
    model: ModelAdapter, rows: torch.Tensor, targets: FixedTargets, image_index: torch.Tensor, params: GuidedParams,
    source: str | None = None,
) -> torch.Tensor:
    return input_gradients(model, rows, targets, image_index, rule="guided", method="guided_backprop", source=source)[0]


@register_gradient_method("deconvnet", GuidedParams)
def deconvnet_attribution(
    model: ModelAdapter, rows: torch.Tensor, targets: FixedTargets, image_index: torch.Tensor, params: GuidedParams,
    source: str | None = None,
) -> torch.Tensor:
    return input_gradients(model, rows, targets, image_index, rule="deconvnet", method="deconvnet", source=source)[0]


@register(
    "guided_backprop",
    params=GuidedParams,
    summary="Input gradient in which every ReLU passes back only positive gradients of active units",
    paper="Springenberg, Dosovitskiy, Brox & Riedmiller, Striving for Simplicity: The All Convolutional Net, ICLR Workshop 2015",
    family="gradient",
)
def guided_backprop(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GuidedParams, layer: str | None) -> MethodOutput:
    grads, logits, targets = input_gradients(model, inputs, plan, rule="guided", method="guided_backprop")
    return MethodOutput(maps=reduce_channels(grads, params.reduce), logits=logits, targets=targets.stacked())


@register(
    "deconvnet",
    params=GuidedParams,
    summary="Backward pass in which every ReLU passes back the positive part of the signal (deconvolution network)",
    paper="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    family="gradient",
)
def deconvnet(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GuidedParams, layer: str | None) -> MethodOutput:
    grads, logits, targets = input_gradients(model, inputs, plan, rule="deconvnet", method="deconvnet")
    return MethodOutput(maps=reduce_channels(grads, params.reduce), logits=logits, targets=targets.stacked())


@contextlib.contextmanager
def _keep_output(module: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Keep ``module``'s output inside the autograd graph (not detached, unlike
    ``hooks.capture``), so that one forward pass serves a backward to the layer and
    one to the input. Downstream layers get a clone, so in-place operations after
    the layer leave the kept tensor intact. The hook is removed on exit."""
    kept: dict[str, torch.Tensor] = {}

    def hook(mod, args, output):
        tensor, rebuild = _first_tensor(output)
        kept["output"] = tensor
        return rebuild(tensor.clone())

    handle = module.register_forward_hook(hook)
    try:
        yield kept
    finally:
        handle.remove()


@register(
    "guided_gradcam",
    params=GuidedGradCAMParams,
    summary="Guided backpropagation times the upsampled Grad-CAM map: fine-grained and class-discriminative",
    paper="Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra, Grad-CAM, ICCV 2017",
    family="gradient",
    uses_layer=True,
)
def guided_gradcam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GuidedGradCAMParams, layer: str) -> MethodOutput:
    """One forward pass; per target pass, a plain backward down to the layer (Grad-CAM,
    through gradcam.py's ``cam_from_gradients``) and a guided backward to the input."""
    x = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        with modified_relu("plain") as state, _keep_output(model.layer(layer)) as kept:
            logits = model.logits(x)
        warn_if_no_relu(state, "guided_gradcam")
        if "output" not in kept:
            raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
        activation = kept["output"]
        if not activation.requires_grad:
            raise RuntimeError(f"guided_gradcam: the output of layer {layer!r} does not depend on the input through autograd")
        targets = FixedTargets.from_logits(plan, logits)
        maps = []
        for k in range(targets.num_passes):
            score = targets.scores(logits, k).sum()
            state.rule = "plain"  # Grad-CAM reads the true gradient at the layer
            (layer_grad,) = torch.autograd.grad(score, activation, retain_graph=True)
            cam = cam_from_gradients(activation.detach(), layer_grad, relu=params.relu)  # (B, h, w)
            state.rule = "guided"
            (guided,) = torch.autograd.grad(score, x, retain_graph=k < targets.num_passes - 1, allow_unused=True)
            guided = torch.zeros_like(x) if guided is None else guided
            align = False if params.interpolation in ("bilinear", "bicubic") else None
            cam = F.interpolate(cam[:, None], size=tuple(x.shape[-2:]), mode=params.interpolation, align_corners=align)
            maps.append(reduce_channels(guided * cam, params.reduce))
    return MethodOutput(maps=torch.stack(maps), logits=logits.detach(), targets=targets.stacked())


@register_at_layer("guided_gradcam")
def guided_gradcam_at_layer(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: GuidedGradCAMParams, layer: str, cam_layer: str
) -> LayerOutput:
    """Guided Grad-CAM down to ``layer`` (seed 001's example of a masked source
    representation): guided backprop from the score to the layer's output, times the
    Grad-CAM map of ``cam_layer`` (at or above ``layer``) resized to the layer's grid."""
    with torch.enable_grad():
        with modified_relu("plain") as state, capture(model.model, [layer], gradients=True) as records, \
                _keep_output(model.layer(cam_layer)) as kept:
            logits = model.logits(inputs)
        warn_if_no_relu(state, "guided_gradcam")
        leaf = records[layer].leaf
        if leaf is None:
            raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
        if "output" not in kept:
            raise RuntimeError(f"cam_layer: {cam_layer!r} was not called during the forward pass, so it has no activation")
        activation = kept["output"]
        if not activation.requires_grad:
            raise ValueError(
                f"cam_layer: expected a layer at or above layer {layer!r} (Grad-CAM is read above the layer the "
                f"guided backward stops at); got {cam_layer!r}, which runs before it"
            )
        targets = FixedTargets.from_logits(plan, logits)
        terms = []
        for k in range(targets.num_passes):
            score = targets.scores(logits, k).sum()
            state.rule = "plain"
            (layer_grad,) = torch.autograd.grad(score, activation, retain_graph=True)
            cam = cam_from_gradients(activation.detach(), layer_grad, relu=params.relu)
            state.rule = "guided"
            (guided,) = torch.autograd.grad(score, leaf, retain_graph=k < targets.num_passes - 1, allow_unused=True)
            guided = tokens_to_grid(torch.zeros_like(leaf) if guided is None else guided)
            align = False if params.interpolation in ("bilinear", "bicubic") else None
            cam = F.interpolate(cam[:, None], size=tuple(guided.shape[-2:]), mode=params.interpolation, align_corners=align)
            terms.append(guided * cam)
    relevance = torch.stack(terms)
    return LayerOutput(
        relevance, tokens_to_grid(leaf.detach()), reduce_channels(relevance, params.reduce), logits.detach(),
        targets.stacked(),
    )
