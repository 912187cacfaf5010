"""Aspect presence relevant to the output (seed 001, claim 1 and FIG. 4b).

For each image: the explained model's output, a masked source representation holding
what a saliency method found relevant to it (:mod:`~xwidgets.aspects.masked`), its
mapping to the aspect model's target layer (:mod:`~xwidgets.aspects.mapping`), and the
aspect model's second part applied to that: a score, a mask and boxes per aspect that
say which characteristics are present *insofar as they were relevant to the output*.
Next to it, plain presence (the aspect model on the image itself), so that an aspect can
be told apart as present and relevant, or present but ignored by the model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .._validation import bad_argument
from ..models.adapter import wrap
from ..models.inputs import Images
from ..saliency.registry import get_method
from ..saliency.targets import Target
from .mapping import AspectMapping, _PixelConversion
from .masked import masked_representation
from .recognisers import INPUT_LAYER, AspectIndication, AspectModel

__all__ = ["AspectPresence", "aspect_presence"]


def _concat(parts: list[AspectIndication]) -> AspectIndication:
    first = parts[0]
    boxes = None if first.boxes is None else [b for p in parts for b in (p.boxes or [])]
    masks = None if first.masks is None else np.concatenate([p.masks for p in parts])  # type: ignore[misc]
    return AspectIndication(first.aspects, first.kind, np.concatenate([p.scores for p in parts]), masks, boxes,
                            first.threshold)


@dataclasses.dataclass(eq=False)
class AspectPresence:
    """Relevant and plain aspect presence for N images.

    Attributes:
        aspects: the aspect names (A).
        relevant: the aspect model applied to the mapped masked representation: presence
            relevant to the output.
        plain: the aspect model applied to the images themselves (None if not asked).
        maps: (N, h, w) the mask applied at the source layer.
        targets: (N,) the class explained per image; labels: the class names;
            probabilities: (N, K) the model's softmax.
        images: (N, H, W, 3) uint8.
        source_layer, target_layer, method, how, threshold, map_layer: how it was made
            (``map_layer``: where the saliency map was computed).
    """

    aspects: list[str]
    relevant: AspectIndication
    plain: AspectIndication | None
    maps: np.ndarray
    targets: np.ndarray
    labels: list[str]
    probabilities: np.ndarray
    images: np.ndarray
    source_layer: str
    target_layer: str
    method: str
    how: str
    threshold: float
    map_layer: str = ""

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __repr__(self) -> str:
        return (f"AspectPresence(images={len(self)}, aspects={len(self.aspects)}, method={self.method!r}, "
                f"{self.source_layer!r} -> {self.target_layer!r}, relevant={int(self.relevant.present().sum())}"
                + (f", present={int(self.plain.present().sum())})" if self.plain is not None else ")"))

    def _image(self, image: int) -> int:
        if isinstance(image, bool) or not isinstance(image, (int, np.integer)) or not 0 <= image < len(self):
            raise bad_argument("image", f"an image position in [0, {len(self)})", image)
        return int(image)

    def relevant_names(self, image: int) -> list[str]:
        """The aspects present and relevant to the output for ``image``, strongest first."""
        return self.relevant.present_names(self._image(image))

    def present_names(self, image: int) -> list[str]:
        """The aspects present in ``image`` (plain presence), strongest first."""
        if self.plain is None:
            raise ValueError("plain: this AspectPresence was computed with plain=False")
        return self.plain.present_names(self._image(image))

    def ignored_names(self, image: int) -> list[str]:
        """Aspects present in ``image`` but not relevant to the model's output."""
        relevant = set(self.relevant_names(image))
        return [a for a in self.present_names(image) if a not in relevant]

    def table(self, image: int) -> list[dict[str, Any]]:
        """One row per aspect: its plain and relevant score and whether each passes."""
        i = self._image(image)
        rows = []
        for a, name in enumerate(self.aspects):
            row: dict[str, Any] = {"aspect": name, "relevant_score": float(self.relevant.scores[i, a]),
                                   "relevant": bool(self.relevant.present()[i, a])}
            if self.plain is not None:
                row.update(present_score=float(self.plain.scores[i, a]), present=bool(self.plain.present()[i, a]))
            rows.append(row)
        return rows

    def report(self, **kwargs: Any):
        """The dataset view (:func:`~xwidgets.aspects.report.aspect_report`)."""
        from .report import aspect_report

        return aspect_report(self, **kwargs)

    def plot(self, image: int = 0, aspects: list[str] | None = None):
        """A matplotlib figure: the image, the source mask, and each aspect's relevant mask
        (plain presence in the title) for the aspects present or relevant."""
        import matplotlib.pyplot as plt

        i = self._image(image)
        if aspects is None:
            shown = set(self.relevant_names(i)) | (set(self.present_names(i)) if self.plain is not None else set())
            aspects = [a for a in self.aspects if a in shown]
        cols = 2 + len(aspects)
        fig, axes = plt.subplots(1, cols, figsize=(2.2 * cols, 2.4), squeeze=False)
        axes = axes[0]
        axes[0].imshow(self.images[i])
        axes[0].set_title(f"{self.labels[int(self.targets[i])]}", fontsize=9)
        axes[1].imshow(self.maps[i], cmap="viridis", vmin=0, vmax=1)
        axes[1].set_title(f"mask at {self.source_layer}", fontsize=9)
        for ax, name in zip(axes[2:], aspects):
            a = self.aspects.index(name)
            ax.imshow(self.images[i])
            if self.relevant.masks is not None:
                ax.imshow(self.relevant.masks[i, a], cmap="magma", alpha=0.6, vmin=0, vmax=1)
            mark = "relevant" if self.relevant.present()[i, a] else "not relevant"
            ax.set_title(f"{name}: {mark}", fontsize=8)
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        return fig


def aspect_presence(
    model: Any,
    images: Images,
    aspect_model: AspectModel,
    mapping: AspectMapping | None = None,
    *,
    method: str = "gradcam",
    how: str = "threshold",
    threshold: float = 0.5,
    target: Target = "pred",
    map_layer: str | None = None,
    plain: bool = True,
    batch_size: int = 64,
    **params: Any,
) -> AspectPresence:
    """Which aspects are present in each image insofar as they were relevant to
    ``model``'s output (seed 001, claim 1).

    Args:
        model: the explained classifier.
        images: anything ``xw.explain`` takes.
        aspect_model: an :class:`~xwidgets.aspects.AspectModel`.
        mapping: an :class:`~xwidgets.aspects.AspectMapping` (``fit_mappings``): its chosen
            pair gives the source and target layers. None: both input layers (the image
            masked by the map; identity, or a conversion between preprocessings).
        method, how, threshold, map_layer, **params: the masked source representation
            (:func:`~xwidgets.aspects.masked_representation`). Default ``map_layer``: at
            an internal source layer, a CAM method's map is read at the model's CAM layer
            and resampled to the source grid (Grad-CAM is meant for the last convolutional
            layer, Selvaraju et al. 2017; computed at an early layer it is mostly noise);
            other methods' maps are computed at the source layer itself.
        target: the output explained ("pred", a class index, one per image).
        plain: also apply the aspect model to the images themselves.
        batch_size: images per pass.
    """
    adapter = wrap(model)
    if not isinstance(aspect_model, AspectModel):
        raise bad_argument("aspect_model", "an xwidgets.aspects.AspectModel", aspect_model)
    if mapping is not None and not isinstance(mapping, AspectMapping):
        raise bad_argument("mapping", "None or an AspectMapping (from fit_mappings or AspectMapping.load)", mapping)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)
    if mapping is None:
        source_layer = target_layer = INPUT_LAYER
        same = adapter.preprocess == aspect_model.preprocess
        convert = None if same else _PixelConversion(adapter.preprocess, aspect_model.preprocess)

        def to_target(values: torch.Tensor) -> torch.Tensor:
            return values if convert is None else convert.to(values.device)(values)
    else:
        source_layer, target_layer = mapping.chosen
        aspect_model.check_layer(target_layer, "mapping.target_layer")
        if map_layer is None and source_layer != INPUT_LAYER and get_method(method).uses_layer:
            map_layer = adapter.cam_layer

        def to_target(values: torch.Tensor) -> torch.Tensor:
            return mapping(values)

    inputs, display = adapter.prepare(images)
    relevant_parts, plain_parts, maps, targets, probs = [], [], [], [], []
    used_map_layer = map_layer or source_layer
    for lo in range(0, inputs.shape[0], batch_size):
        chunk = inputs[lo: lo + batch_size]
        per_image = isinstance(target, (list, tuple, np.ndarray))
        chunk_target = list(target)[lo: lo + batch_size] if per_image else target
        m = masked_representation(adapter, chunk, source_layer, method, how=how, threshold=threshold,
                                  target=chunk_target, map_layer=map_layer, batch_size=batch_size, **params)
        mapped = to_target(m.values.to(aspect_model.device)).to(aspect_model.device)
        relevant_parts.append(aspect_model.indicate_from(mapped, target_layer))
        if plain:
            if adapter.preprocess == aspect_model.preprocess:
                aspect_inputs = chunk.to(aspect_model.device)
            else:
                aspect_inputs = _PixelConversion(adapter.preprocess, aspect_model.preprocess).to(chunk.device)(chunk)
            plain_parts.append(aspect_model.indicate_from(aspect_inputs.to(aspect_model.device), INPUT_LAYER))
        maps.append(m.maps)
        targets.append(m.targets)
        probs.append(m.probabilities)
    return AspectPresence(
        aspects=list(aspect_model.aspects), relevant=_concat(relevant_parts),
        plain=_concat(plain_parts) if plain else None, maps=np.concatenate(maps), targets=np.concatenate(targets),
        labels=list(adapter.labels), probabilities=np.concatenate(probs), images=display,
        source_layer=source_layer, target_layer=target_layer, method=method, how=how, threshold=float(threshold),
        map_layer=used_map_layer,
    )
