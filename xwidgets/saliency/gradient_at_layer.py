"""The gradient family at an internal layer: each method applied to the model's second
part, with the layer's output in place of the input (seed 001, "applying a saliency
method not to the full trained model but only to its second part"). Saliency gives
dS/dA, gradient x input becomes gradient x activation, guided backprop and deconvnet
run their modified backward down to the layer (Zeiler & Fergus), Integrated Gradients
integrates from the baseline image's activation to the image's (Captum's
LayerIntegratedGradients), SmoothGrad and VarGrad add their noise to the input and
average the layer attributions. Peers: Captum's Layer* attributions.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models.adapter import ModelAdapter
from ..models.hooks import capture
from ..models.layers import tokens_to_grid
from ._gradients import get_gradient_method, reduce_channels
from .registry import LayerOutput, register_at_layer
from .smoothgrad import NoiseParams, noise_moments
from .targets import FixedTargets, TargetPlan

BASE_METHODS = ("saliency", "gradient_x_input", "guided_backprop", "deconvnet", "integrated_gradients")


def on_grid(values: torch.Tensor) -> torch.Tensor:
    """(K, B, C, h, w) stays; (K, B, T, C) ViT tokens go onto their patch grid."""
    if values.ndim == 5:
        return values
    k, b = values.shape[:2]
    return tokens_to_grid(values.flatten(0, 1)).unflatten(0, (k, b))


def clean_pass(model: ModelAdapter, inputs: torch.Tensor, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (B, C), the layer's output on its grid (B, C', h, w)) of one forward pass."""
    with torch.no_grad(), capture(model.model, [layer], gradients=False) as records:
        logits = model.logits(inputs)
    if records[layer].activation is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    return logits, tokens_to_grid(records[layer].activation)


def _base_at_layer(name: str):
    def at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: Any, layer: str) -> LayerOutput:
        logits, activation = clean_pass(model, inputs, layer)
        targets = FixedTargets.from_logits(plan, logits)
        image_index = torch.arange(inputs.shape[0], device=inputs.device)
        relevance = on_grid(get_gradient_method(name).attribute(model, inputs, targets, image_index, params, source=layer))
        return LayerOutput(relevance, activation, reduce_channels(relevance, params.reduce), logits, targets.stacked())

    at_layer.__name__ = f"{name}_at_layer"
    at_layer.__doc__ = f"{name} with the output of ``layer`` in place of the input."
    return at_layer


def _noise_at_layer(vargrad: bool):
    def at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: NoiseParams, layer: str) -> LayerOutput:
        logits, activation = clean_pass(model, inputs, layer)
        targets = FixedTargets.from_logits(plan, logits)
        mean, variance = noise_moments(model, inputs, targets, params, second=vargrad, source=layer)
        relevance = on_grid(variance if vargrad else mean)
        maps = reduce_channels(relevance, params.effective_reduce)
        return LayerOutput(relevance, activation, maps, logits, targets.stacked())

    return at_layer


for _name in BASE_METHODS:
    register_at_layer(_name)(_base_at_layer(_name))
register_at_layer("smoothgrad")(_noise_at_layer(vargrad=False))
register_at_layer("vargrad")(_noise_at_layer(vargrad=True))
