"""``explain``: the one entry point for saliency maps."""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import frozen_eval
from ..models.inputs import Images
from .registry import get_method
from .result import Saliency
from .targets import Target, TargetPlan


def explain(
    model: Any,
    images: Images,
    method: str = "gradcam",
    target: Target = "pred",
    *,
    layer: str | None = None,
    batch_size: int = 32,
    **params: Any,
) -> Saliency:
    """Saliency maps for ``images`` under ``model``.

    Args:
        model: a ModelAdapter or any classifier ``nn.Module`` (wrapped with defaults).
        images: PIL images, HxWx3 uint8 arrays, paths, or preprocessed float tensors.
        method: a registered method name (``xwidgets.saliency.list_methods()``).
        target: "pred" (top-1, from the same forward pass), a class index, one index
            per image, ``TopK(k)``, or a callable mapping (B, C) logits to (B,) scores.
        layer: the layer CAM methods read (default: the model's CAM layer).
        batch_size: images per forward pass; maps stay on the device until the end.
        **params: the method's parameters (defaults: its published ones).

    Returns:
        a :class:`Saliency` with one map per (image, target) row, image-major.
    """
    adapter: ModelAdapter = wrap(model)
    spec = get_method(method)
    method_params = spec.make_params(**params)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)
    if spec.uses_layer:
        layer = layer or adapter.cam_layer
        adapter.layer(layer)  # unknown names fail here, with suggestions
    elif layer is not None:
        raise bad_argument("layer", f"None: {method} does not read a layer", layer)
    inputs, display = adapter.prepare(images)
    return explain_prepared(adapter, inputs, display, spec.name, target, layer=layer, batch_size=batch_size,
                            method_params=method_params)


def explain_prepared(
    adapter: ModelAdapter, inputs: torch.Tensor, display: np.ndarray, method: str, target: Target = "pred", *,
    layer: str | None, batch_size: int, method_params: Any,
) -> Saliency:
    """:func:`explain` on inputs already checked and normalised (``adapter.prepare``'s
    output): the dataset runner has the pixels the inputs came from, so it skips
    re-checking them and converting the inputs back to pixels for display. ``layer``
    must already be resolved (``None`` for methods that read no layer) and
    ``method_params`` built by the method's ``make_params``."""
    spec = get_method(method)
    plan = TargetPlan(target, inputs.shape[0])

    maps, logits, targets, extras = [], [], [], []
    start = time.perf_counter()
    with frozen_eval(adapter.model):
        for lo in range(0, inputs.shape[0], batch_size):
            hi = min(lo + batch_size, inputs.shape[0])
            out = spec.compute(adapter, inputs[lo:hi], plan.subset(lo, hi), method_params, layer)
            maps.append(_to_input_size(out.maps, inputs.shape[-2:]).transpose(0, 1))  # (B, K, H, W)
            logits.append(out.logits)
            targets.append(out.targets.transpose(0, 1))  # (B, K)
            extras.append((tuple(out.targets.shape), out.extras))  # ((K, B), extras)
    all_logits = torch.cat(logits)
    all_maps = torch.cat(maps)
    all_targets = torch.cat(targets)
    bad = ~torch.isfinite(all_logits).all(dim=1)
    if bool(bad.any()):
        raise ValueError(
            f"model: produced NaN or infinite logits for image(s) {bad.nonzero().flatten().tolist()}; "
            "check the inputs and the model's preprocessing"
        )
    n, k = all_targets.shape
    result_maps = all_maps.reshape(n * k, *all_maps.shape[-2:]).float().cpu().numpy()
    probabilities = torch.softmax(all_logits.float(), dim=1).cpu().numpy()
    elapsed = time.perf_counter() - start
    return Saliency(
        maps=result_maps,
        images=display,
        image_index=torch.arange(n).repeat_interleave(k).numpy(),
        targets=all_targets.reshape(-1).cpu().numpy(),
        probabilities=probabilities,
        labels=adapter.labels,
        method=spec.name,
        params={**_params_dict(method_params), "target": _describe_target(target), **_merge_extras(extras)},
        elapsed=elapsed,
        layer=layer,
        device=str(inputs.device),
    )


def _params_dict(params: Any) -> dict[str, Any]:
    """``dataclasses.asdict``, except that callables (a baseline function, a progress
    callback that may be a widget's bound method) are kept as they are, not deep-copied."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[field.name] = dataclasses.asdict(value)
        elif callable(value):
            out[field.name] = value
        else:
            out[field.name] = copy.deepcopy(value)
    return out


def _merge_extras(batches: list[tuple[tuple[int, int], dict[str, Any]]]) -> dict[str, Any]:
    """The methods' ``MethodOutput.extras`` of every batch as ``{"extras": {...}}`` (empty
    when there are none): tensors shaped (K, B, ...) become per-row numpy arrays (rows
    image-major, like the maps), other values come from the first batch."""
    if not batches or not batches[0][1]:
        return {}
    merged: dict[str, Any] = {}
    for key, first in batches[0][1].items():
        if isinstance(first, torch.Tensor) and first.ndim >= 2:
            parts = [extras.get(key) for _, extras in batches]
            per_row = all(
                isinstance(p, torch.Tensor) and tuple(p.shape[:2]) == kb and p.shape[2:] == first.shape[2:]
                for p, (kb, _) in zip(parts, batches)
            )
            if per_row:
                rows = torch.cat([p.detach().transpose(0, 1) for p in parts])  # (N, K, ...)
                merged[key] = rows.reshape(-1, *rows.shape[2:]).float().cpu().numpy()
                continue
        merged[key] = first.detach().cpu().numpy() if isinstance(first, torch.Tensor) else first
    return {"extras": merged}


def _to_input_size(maps: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """(K, B, h, w) -> (K, B, H, W), bilinear (align_corners=False) when sizes differ."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    k, b = maps.shape[:2]
    up = F.interpolate(maps.reshape(k * b, 1, *maps.shape[-2:]).float(), size=tuple(size), mode="bilinear", align_corners=False)
    return up.reshape(k, b, *size)


def _describe_target(target: Target) -> Any:
    if isinstance(target, (str, int)):
        return target
    if dataclasses.is_dataclass(target):  # TopK, Contrast
        return repr(target)
    if callable(target):
        return getattr(target, "__name__", "callable")
    return [int(t) for t in target]
