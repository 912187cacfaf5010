"""``explain_layer``: a method's map, element relevance and masked representation at
an internal layer (issue 3, item 3; seed 001, the aspect-presence patent)."""

from __future__ import annotations

import inspect
import time
from typing import Any

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import capture, frozen_eval, substitute
from ..models.inputs import Images
from . import gradient_at_layer  # noqa: F401  (registers the gradient family at a layer)
from .explain import _describe_target, _params_dict
from .layer_result import LayerSaliency
from .registry import get_at_layer, get_method
from .targets import Target, TargetPlan

__all__ = ["explain_layer", "forward_from_layer"]


def explain_layer(
    model: Any,
    images: Images,
    method: str = "gradcam",
    layer: str | None = None,
    target: Target = "pred",
    *,
    cam_layer: str | None = None,
    batch_size: int = 32,
    **params: Any,
) -> LayerSaliency:
    """Explain at an internal layer: the map at the layer's resolution, each element's
    relevance, and (``.masked()``) the masked source representation of seed 001.

    Args:
        model, images, target, batch_size, **params: as in :func:`explain`.
        method: a CAM method (the layer is where it reads its feature maps) or a
            gradient method (applied to the model's second part, the layer's output
            in place of the input); ``xwidgets.saliency.layer_method_names()`` lists them.
        layer: the internal layer (default: the model's CAM layer).
        cam_layer: Guided Grad-CAM only: where its Grad-CAM factor is read (default:
            the model's CAM layer; must be at or above ``layer``).
    """
    adapter: ModelAdapter = wrap(model)
    at_layer = get_at_layer(method)
    spec = get_method(method)
    method_params = spec.make_params(**params)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)
    layer = layer or adapter.cam_layer
    adapter.layer(layer)  # unknown names fail here, with suggestions
    options: dict[str, Any] = {}
    if "cam_layer" in inspect.signature(at_layer).parameters:
        options["cam_layer"] = cam_layer or adapter.cam_layer
        adapter.layer(options["cam_layer"])
    elif cam_layer is not None:
        raise bad_argument("cam_layer", f"None: {method} reads one layer only (pass it as layer=)", cam_layer)
    inputs, display = adapter.prepare(images)
    plan = TargetPlan(target, inputs.shape[0])

    parts: dict[str, list[torch.Tensor]] = {"relevance": [], "activation": [], "maps": [], "logits": [], "targets": []}
    start = time.perf_counter()
    with frozen_eval(adapter.model):
        for lo in range(0, inputs.shape[0], batch_size):
            hi = min(lo + batch_size, inputs.shape[0])
            out = at_layer(adapter, inputs[lo:hi], plan.subset(lo, hi), method_params, layer, **options)
            parts["relevance"].append(out.relevance.detach().transpose(0, 1))  # (B, K, C, h, w)
            parts["maps"].append(out.maps.detach().transpose(0, 1))
            parts["targets"].append(out.targets.transpose(0, 1))
            parts["activation"].append(out.activation.detach())
            parts["logits"].append(out.logits.detach())
    logits = torch.cat(parts["logits"])
    bad = ~torch.isfinite(logits).all(dim=1)
    if bool(bad.any()):
        raise ValueError(
            f"model: produced NaN or infinite logits for image(s) {bad.nonzero().flatten().tolist()}; "
            "check the inputs and the model's preprocessing"
        )
    targets = torch.cat(parts["targets"])
    n, k = targets.shape
    as_rows = lambda t: t.reshape(n * k, *t.shape[2:]).float().cpu().numpy()  # noqa: E731
    return LayerSaliency(
        maps=as_rows(torch.cat(parts["maps"])),
        relevance=as_rows(torch.cat(parts["relevance"])),
        activations=torch.cat(parts["activation"]).float().cpu().numpy(),
        images=display,
        image_index=torch.arange(n).repeat_interleave(k).numpy(),
        targets=targets.reshape(-1).cpu().numpy(),
        probabilities=torch.softmax(logits.float(), dim=1).cpu().numpy(),
        labels=adapter.labels,
        method=spec.name,
        layer=layer,
        params={**_params_dict(method_params), "target": _describe_target(target), **options},
        elapsed=time.perf_counter() - start,
        device=str(inputs.device),
    )


def forward_from_layer(model: Any, images: Images, layer: str, representation: Any) -> torch.Tensor:
    """The model's logits, (N, C), when ``layer``'s output is replaced by
    ``representation`` (N, ...) (a masked representation from ``LayerSaliency.masked``,
    say): the model's second part applied to it. ``images`` feed the layers below and
    any connection that bypasses ``layer``; for a model that is a chain through the
    layer they do not change the result. ``representation`` is shaped like the layer's
    output, or on the patch grid (N, C, h, w) for a ViT layer that outputs tokens."""
    adapter: ModelAdapter = wrap(model)
    adapter.layer(layer)
    inputs, _ = adapter.prepare(images)
    values = torch.as_tensor(representation, device=inputs.device)
    if not values.is_floating_point():
        raise bad_argument("representation", "a float array shaped like the layer's output", f"dtype {values.dtype}")
    if values.shape[0] != inputs.shape[0]:
        raise bad_argument(
            "representation", f"one row per image ({inputs.shape[0]})", f"shape {tuple(values.shape)}"
        )
    with frozen_eval(adapter.model), torch.no_grad():
        values = _like_layer_output(adapter, inputs, layer, values)
        with substitute(adapter.model, layer, values) as state:
            logits = adapter.logits(inputs)
    if not state["called"]:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass")
    return logits


def _like_layer_output(adapter: ModelAdapter, inputs: torch.Tensor, layer: str, values: torch.Tensor) -> torch.Tensor:
    """Grid-shaped (N, C, h, w) values for a layer that outputs (N, T, C) tokens become
    tokens, the prefix tokens (class token) taken from the clean pass."""
    if values.ndim != 4:
        return values
    with capture(adapter.model, [layer], gradients=False) as records:
        adapter.logits(inputs)
    tokens = records[layer].activation
    if tokens is None or tokens.ndim != 3:
        return values
    n, c, h, w = values.shape
    prefix = tokens.shape[1] - h * w
    if prefix < 0 or tokens.shape[2] != c:
        raise bad_argument(
            "representation", f"the layer's tokens {tuple(tokens.shape)} or their grid", f"shape {tuple(values.shape)}"
        )
    tokens = tokens.clone()
    tokens[:, prefix:, :] = values.to(tokens.dtype).flatten(2).transpose(1, 2)
    return tokens
