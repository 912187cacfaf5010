"""The `LayerSaliency` result: a method's explanation at an internal layer.

Seed 001 (aspect presence) needs, besides a map, the *masked source representation*:
the layer's activations A keeping only what the saliency method found relevant to
the output, to be passed on to another model. ``masked()`` gives it in the three
ways the seed describes: the activations point-multiplied by the map scaled to
[0, 1], kept where the scaled map passes a threshold, or each element multiplied by
its weight (for Grad-CAM: alpha_k A^k).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from .._validation import bad_argument

__all__ = ["LayerSaliency", "MASKINGS"]

#: How ``LayerSaliency.masked`` turns the activations into a masked representation.
MASKINGS = ("map", "threshold", "relevance")


@dataclasses.dataclass(eq=False)
class LayerSaliency:
    """A method's explanation at layer ``layer`` for (image, target) rows.

    Attributes:
        maps: ``(R, h, w)`` float32, the method's map at the layer's resolution.
        relevance: ``(R, C, h, w)`` float32, each element's relevance (the terms the
            map is made of: alpha_k A^k for Grad-CAM, gradient x activation, ...).
        activations: ``(N, C, h, w)`` float32, the layer's output per image (ViT tokens
            on their patch grid, class token dropped): the source representation.
        images, image_index, targets, probabilities, labels, method, params, elapsed,
        device: as in :class:`~xwidgets.saliency.result.Saliency`.
        layer: the layer explained.
    """

    maps: np.ndarray
    relevance: np.ndarray
    activations: np.ndarray
    images: np.ndarray
    image_index: np.ndarray
    targets: np.ndarray
    probabilities: np.ndarray
    labels: list[str]
    method: str
    layer: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    elapsed: float = 0.0
    device: str = "cpu"

    def __len__(self) -> int:
        return int(self.maps.shape[0])

    def __repr__(self) -> str:
        r, c, h, w = self.relevance.shape
        return f"LayerSaliency(method={self.method!r}, layer={self.layer!r}, rows={r}, channels={c}, grid={h}x{w})"

    def scaled_maps(self) -> np.ndarray:
        """The maps min-max scaled to [0, 1] per row (a constant map becomes zeros)."""
        lo = self.maps.min(axis=(1, 2), keepdims=True)
        span = self.maps.max(axis=(1, 2), keepdims=True) - lo
        return np.where(span > 0, (self.maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)

    def masked(self, how: str = "map", threshold: float = 0.5) -> np.ndarray:
        """The masked source representation, ``(R, C, h, w)``: each row's image's
        activations with what the method found irrelevant removed (seed 001).

        how: "map": activations point-multiplied by the map scaled to [0, 1];
            "threshold": activations where the scaled map is at least ``threshold``,
            zero elsewhere; "relevance": each element times its weight, i.e.
            :attr:`relevance` (Grad-CAM/CAM: alpha_k A^k).
        """
        if how not in MASKINGS:
            raise bad_argument("how", f"one of {', '.join(repr(m) for m in MASKINGS)}", how)
        if how == "relevance":
            return self.relevance.copy()
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise bad_argument("threshold", "a number in [0, 1]", threshold)
        scaled = self.scaled_maps()
        mask = scaled if how == "map" else (scaled >= threshold).astype(np.float32)
        return self.activations[self.image_index] * mask[:, None]

    def to_saliency(self):
        """The maps upsampled (bilinear) to the images' size as a
        :class:`~xwidgets.saliency.result.Saliency`, for ``plot``, widgets and reports."""
        import torch
        import torch.nn.functional as F

        from .result import Saliency

        size = tuple(self.images.shape[1:3])
        maps = torch.from_numpy(self.maps)[:, None]
        up = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()
        return Saliency(
            maps=up, images=self.images, image_index=self.image_index, targets=self.targets,
            probabilities=self.probabilities, labels=self.labels, method=self.method,
            params={**self.params, "at_layer": self.layer}, elapsed=self.elapsed, layer=self.layer, device=self.device,
        )

    def plot(self, rows: Sequence[int] | None = None, **kwargs: Any):
        """:meth:`Saliency.plot` of :meth:`to_saliency`."""
        return self.to_saliency().plot(rows, **kwargs)
