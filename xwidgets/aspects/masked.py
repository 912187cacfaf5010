"""Masked source representations (seed 001, claim 4 and the description of FIG. 4b).

A saliency method says which elements of the explained model's representation at a
*source layer* were relevant to its output; the *masked source representation* keeps
only those. At the input layer the image itself is masked by the method's map; at an
internal layer the activations are masked by the map at that layer, by a map computed
elsewhere and resampled to the layer's grid (for instance Grad-CAM's map at the last
conv block used to mask an earlier layer, or an input-layer map), or each element is
multiplied by its weight (Grad-CAM and CAM: the channel weights alpha_k times A^k,
Selvaraju et al. 2017, section 3). The map is scaled to [0, 1] per image and then
either multiplied in (``how="map"``) or thresholded (``how="threshold"``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import capture, frozen_eval
from ..models.inputs import Images
from ..saliency.targets import Target
from .recognisers import INPUT_LAYER

__all__ = ["MaskedRepresentation", "masked_representation", "MASKINGS"]

#: How the map masks the representation.
MASKINGS = ("map", "threshold", "relevance")


@dataclasses.dataclass(eq=False)
class MaskedRepresentation:
    """The masked source representation of N images at one layer.

    Attributes:
        values: (N, C, h, w) float32 tensor: the masked representation (the model's
            preprocessed input at ``"input"``).
        source: (N, C, h, w) float32 tensor: the unmasked representation.
        maps: (N, h, w) float32 in [0, 1]: the mask applied (the map scaled per image;
            for ``how="threshold"`` 0 or 1; for ``"relevance"`` the channel-summed
            relevance, scaled, for display).
        layer: the source layer (``"input"`` or a dotted name).
        method, how, threshold: how it was made; map_layer: where the map was computed.
        targets: (N,) the class explained per image; probabilities: (N, K); labels.
        images: (N, H, W, 3) uint8, the images as the model saw them.
    """

    values: torch.Tensor
    source: torch.Tensor
    maps: np.ndarray
    layer: str
    method: str
    how: str
    threshold: float
    map_layer: str
    targets: np.ndarray
    probabilities: np.ndarray
    labels: list[str]
    images: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __repr__(self) -> str:
        n, c, h, w = self.values.shape
        return (f"MaskedRepresentation(layer={self.layer!r}, method={self.method!r}, how={self.how!r}, "
                f"images={n}, channels={c}, grid={h}x{w})")

    @property
    def kept(self) -> np.ndarray:
        """(N,) the fraction of the mask's mass per image (1: nothing removed)."""
        return self.maps.reshape(len(self), -1).mean(axis=1)


def _scaled(maps: torch.Tensor) -> torch.Tensor:
    """Min-max scale each (h, w) map to [0, 1]; a constant map becomes zeros."""
    flat = maps.flatten(1)
    lo = flat.min(dim=1, keepdim=True).values
    span = flat.max(dim=1, keepdim=True).values - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    out = torch.where(span > 0, (flat - lo) / safe, torch.zeros_like(flat))
    return out.view_as(maps)


def _check_one_row_per_image(targets: np.ndarray, n: int, target: Any) -> None:
    if targets.shape[0] != n:
        raise bad_argument("target", "one class per image ('pred', an int or one int per image)", target)


def masked_representation(
    model: Any,
    images: Images,
    layer: str = INPUT_LAYER,
    method: str = "gradcam",
    *,
    how: str = "threshold",
    threshold: float = 0.5,
    target: Target = "pred",
    map_layer: str | None = None,
    batch_size: int = 32,
    **params: Any,
) -> MaskedRepresentation:
    """The masked source representation of ``images`` at ``layer`` of ``model`` (seed 001).

    Args:
        model: a classifier (ModelAdapter or nn.Module).
        images: anything ``xw.explain`` takes.
        layer: the source layer: ``"input"`` (mask the preprocessed image) or a dotted
            layer name (mask its activations).
        method: a saliency method. At ``"input"`` any registered method (its map at the
            input's size); at an internal layer a method ``xw.explain_layer`` knows.
        how: ``"threshold"`` (keep elements whose scaled map is at least ``threshold``),
            ``"map"`` (multiply by the scaled map) or ``"relevance"`` (each element times
            its weight; internal layers, with the map at the layer itself).
        threshold: for ``how="threshold"``, in [0, 1].
        target: the output explained: "pred", a class index or one per image.
        map_layer: where the map is computed, when not at ``layer``: ``"input"`` or a
            layer name (e.g. the CAM layer); it is resampled (bilinear, area for
            downsampling) to ``layer``'s grid.
        batch_size, **params: passed to the saliency method.
    """
    from ..saliency import explain, explain_layer

    adapter: ModelAdapter = wrap(model)
    if how not in MASKINGS:
        raise bad_argument("how", f"one of {', '.join(map(repr, MASKINGS))}", how)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise bad_argument("threshold", "a number in [0, 1]", threshold)
    if not isinstance(layer, str):
        raise bad_argument("layer", "'input' or a layer name (str)", layer)
    if layer != INPUT_LAYER:
        adapter.layer(layer)
    if map_layer is not None and not isinstance(map_layer, str):
        raise bad_argument("map_layer", "None, 'input' or a layer name (str)", map_layer)
    map_layer = map_layer or layer
    if map_layer != INPUT_LAYER:
        adapter.layer(map_layer)
    if how == "relevance" and (layer == INPUT_LAYER or map_layer != layer):
        raise bad_argument("how", "'map' or 'threshold' ('relevance' needs the method's weights at the source "
                           "layer itself: an internal layer and no other map_layer)", how)

    inputs, display = adapter.prepare(images)
    n = inputs.shape[0]
    if map_layer == INPUT_LAYER:
        sal = explain(adapter, inputs, method, target, batch_size=batch_size, **params)
        _check_one_row_per_image(sal.targets, n, target)
        raw_maps = torch.from_numpy(sal.maps)
        targets, probabilities, relevance = sal.targets, sal.probabilities, None
    else:
        ls = explain_layer(adapter, inputs, method, map_layer, target, batch_size=batch_size, **params)
        _check_one_row_per_image(ls.targets, n, target)
        raw_maps = torch.from_numpy(ls.maps)
        targets, probabilities = ls.targets, ls.probabilities
        relevance = torch.from_numpy(ls.relevance) if how == "relevance" else None

    source = inputs.detach().float() if layer == INPUT_LAYER else _activations(adapter, inputs, layer, batch_size)
    grid = tuple(source.shape[-2:])
    if how == "relevance":
        assert relevance is not None
        values = relevance.to(source.device)
        shown = _scaled(relevance.sum(dim=1))
    else:
        scaled = _scaled(raw_maps.float())
        if tuple(scaled.shape[-2:]) != grid:
            mode = "area" if scaled.shape[-1] > grid[-1] else "bilinear"
            kwargs = {} if mode == "area" else {"align_corners": False}
            scaled = F.interpolate(scaled[:, None], size=grid, mode=mode, **kwargs)[:, 0].clamp(0, 1)
        shown = (scaled >= threshold).float() if how == "threshold" else scaled
        values = source * shown[:, None].to(source.device)
    return MaskedRepresentation(
        values=values.float(), source=source, maps=shown.cpu().numpy().astype(np.float32), layer=layer,
        method=method, how=how, threshold=float(threshold), map_layer=map_layer,
        targets=np.asarray(targets), probabilities=np.asarray(probabilities), labels=list(adapter.labels),
        images=display,
    )


@torch.no_grad()
def _activations(adapter: ModelAdapter, inputs: torch.Tensor, layer: str, batch_size: int) -> torch.Tensor:
    """The layer's output (N, C, h, w) for preprocessed inputs."""
    parts = []
    with frozen_eval(adapter.model):
        for lo in range(0, inputs.shape[0], batch_size):
            with capture(adapter.model, [layer], gradients=False) as records:
                adapter.logits(inputs[lo: lo + batch_size])
            out = records[layer].activation
            if out is None:
                raise RuntimeError(f"layer: {layer!r} was not called during the forward pass")
            if out.ndim != 4:
                raise bad_argument("layer", "a layer whose output is a (N, C, h, w) feature map", layer)
            parts.append(out.float())
    return torch.cat(parts)
