"""CAM, class activation mapping (Zhou, Khosla, Lapedriza, Oliva and Torralba,
"Learning Deep Features for Discriminative Localization", CVPR 2016).

For a network whose logits are a linear layer on the global average of a feature
map, S^c = sum_k w^c_k mean_ij A^k_ij + b^c, and the class activation map is

    M^c = sum_k w^c_k A^k

(mean_ij M^c + b^c is the logit). The head's weights are found automatically: the
last ``nn.Linear`` whose ``in_features`` equals the layer's channel count. The model
must really be global-average-pool + that linear layer on the layer's output: the
clean forward pass is checked against ``head(mean_ij A)``, and any other model fails
with an error naming it (use Grad-CAM there: on GAP + linear models it equals CAM up
to the factor 1/(h w)). No gradients through the model: one forward pass.

Targets other than a class (``Contrast``, callables) use the weights ``v @ W``, where
v = d score / d logits: exact for scores linear in the logits.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ..models.adapter import ModelAdapter
from ..models.hooks import capture
from ..models.layers import tokens_to_grid
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import Contrast, TargetPlan


@dataclasses.dataclass
class CAMParams:
    """relu: clamp the map at zero. The paper's map is the signed sum (False);
    True shows positive evidence only, as the gradient CAMs do."""

    relu: bool = False


def find_linear_head(model: ModelAdapter, channels: int, layer: str) -> tuple[str, nn.Linear]:
    """(name, module) of the last ``nn.Linear`` with ``in_features == channels``."""
    found = [(name, m) for name, m in model.model.named_modules() if isinstance(m, nn.Linear) and m.in_features == channels]
    if not found:
        raise ValueError(
            f"cam: {model.name} has no nn.Linear with in_features={channels} (the channel count of layer "
            f"{layer!r}): CAM needs a global-average-pool followed by a single linear classifier on that "
            "layer's output. Use method='gradcam' (equal to CAM up to a constant on such models), or pass "
            "the layer that feeds the pooling"
        )
    return found[-1]


@register(
    "cam",
    params=CAMParams,
    summary="Feature maps weighted by the linear classifier's weights (global-average-pool models)",
    paper="Zhou et al., Learning Deep Features for Discriminative Localization (CAM), CVPR 2016",
    family="cam",
    uses_layer=True,
)
def cam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: CAMParams, layer: str) -> MethodOutput:
    logits, activation, passes, weights = cam_channel_weights(model, inputs, plan, layer)
    maps = torch.einsum("kbc,bchw->kbhw", weights, activation.to(weights.dtype))
    return MethodOutput(maps=maps.clamp_min(0) if params.relu else maps, logits=logits, targets=torch.stack(passes))


@register_at_layer("cam")
def cam_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: CAMParams, layer: str) -> LayerOutput:
    logits, activation, passes, weights = cam_channel_weights(model, inputs, plan, layer)
    relevance = weights[:, :, :, None, None] * activation.to(weights.dtype)
    maps = relevance.sum(dim=2)
    return LayerOutput(relevance, activation, maps.clamp_min(0) if params.relu else maps, logits, torch.stack(passes))


def cam_channel_weights(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, layer: str
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """(logits (B, C), activation (B, C', h, w), the K class tensors (B,), the head's
    weights w^c_k per pass and image (K, B, C')), after checking that the logits are
    the head applied to the layer's global average."""
    with torch.no_grad(), capture(model.model, [layer], gradients=False) as records:
        logits = model.logits(inputs)
    if records[layer].activation is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    activation = tokens_to_grid(records[layer].activation)
    name, head = find_linear_head(model, activation.shape[1], layer)
    with torch.no_grad():
        predicted = F.linear(activation.mean(dim=(2, 3)).to(head.weight.dtype), head.weight, head.bias)
    scale = float(logits.abs().max().clamp_min(1.0))
    if predicted.shape != logits.shape or not torch.allclose(predicted.float(), logits.float(), rtol=1e-3, atol=1e-3 * scale):
        raise ValueError(
            f"cam: {model.name}'s logits are not {name!r} applied to the global average of layer {layer!r}: "
            "CAM needs a global-average-pool followed by a single linear classifier on that layer's output "
            f"(found nn.Linear {name!r} with in_features={activation.shape[1]}, but the model computes its "
            "logits some other way). Use method='gradcam', or pass the layer that feeds the pooling"
        )
    passes = plan.passes(logits)
    weight = head.weight.detach()
    weights = []
    for classes in passes:
        if plan.is_callable or isinstance(plan.target, Contrast):
            # weights v @ W with v = d score / d logits (exact for scores linear in the logits)
            with torch.enable_grad():
                z = logits.detach().requires_grad_(True)
                (v,) = torch.autograd.grad(plan.scores(z, classes).sum(), z, allow_unused=True)
            if v is None:  # the score does not depend on the logits
                v = torch.zeros_like(z)
            weights.append(v.to(weight.dtype) @ weight)
        else:
            weights.append(weight[classes])
    return logits, activation, passes, torch.stack(weights)
