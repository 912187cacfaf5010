"""Aspect recognition models (seed 001, the aspect-presence patent, FIGS. 3b and 4a-4b).

An aspect recognition model says whether a characteristic (an "aspect": a wheel, a
nodule, a corner tag) is present in an input, as a score (a *presence classifier*), a
per-pixel mask (a *segmenter*) or boxes (a *detector*); one model may cover several
aspects. The patent splits it at a *target layer* into a first part ARM-1 (input ->
target representation) and a second part ARM-2 (target representation -> presence
indicator), so that a masked representation mapped from the explained model can be fed
to ARM-2 (:mod:`xwidgets.aspects.presence`).

:class:`AspectModel` is that interface around any ``nn.Module``: its ``kind`` says how
the module's output reads (``"presence"``: (N, A) logits; ``"segmentation"``: (N, A, h, w)
logits; ``"boxes"``: (N, A, K, 5) boxes ``x0, y0, x1, y1, score`` in input pixels, score
in [0, 1], 0 for padding). Layers are dotted submodule names, or ``"input"``. ARM-2 runs
the module with the target layer's output replaced (a forward hook) and a blank input
below it, so nothing of the original image reaches the output except through the target
representation: the module must be a chain through that layer (no connection that
bypasses it, as U-Net skips would).

:func:`aspect_segmenter` is a small trained multi-aspect segmenter for the synthetic
parts dataset (every part type and the corner tag), an encoder-decoder without skips;
:func:`aspect_detector` and :func:`aspect_classifier` read the same network as a box
detector and as a presence classifier.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import bad_argument
from ..models.hooks import capture, frozen_eval, substitute
from ..models.inputs import Images, prepare_images
from ..models.layers import get_layer
from ..models.preprocess import Preprocess

__all__ = [
    "ASPECT_KINDS", "INPUT_LAYER", "AspectIndication", "AspectModel", "AspectSegmenter", "aspect_segmenter",
    "aspect_detector", "aspect_classifier", "SEGMENTER_LAYERS", "SEGMENTER_WEIGHTS", "segmenter_card",
]

#: How an aspect model's output reads.
ASPECT_KINDS = ("presence", "segmentation", "boxes")
#: The name of the input layer of any model (the source or target layer may be it).
INPUT_LAYER = "input"

#: The shipped segmenter's weights and its training card (command, held-out scores).
SEGMENTER_WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "zoo" / "weights" / "aspect_segmenter.pt"


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(eq=False)
class AspectIndication:
    """What an aspect model says about N images, for A aspects.

    Attributes:
        aspects: the aspect names.
        kind: the model's kind (:data:`ASPECT_KINDS`).
        scores: (N, A) float32 in [0, 1]: how strongly each aspect is present.
        masks: (N, A, H, W) float32 in [0, 1] at the input's size (segmenters; boxes
            filled with their score for detectors), or None (presence classifiers).
        boxes: per image, per aspect, ``[(x0, y0, x1, y1, score), ...]`` (x1, y1
            exclusive) for segmenters (connected regions of the thresholded mask) and
            detectors; None for presence classifiers.
        threshold: the score at or above which an aspect counts as present.
    """

    aspects: list[str]
    kind: str
    scores: np.ndarray
    masks: np.ndarray | None
    boxes: list[list[list[tuple[int, int, int, int, float]]]] | None
    threshold: float = 0.5

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __repr__(self) -> str:
        n, a = self.scores.shape
        return f"AspectIndication(kind={self.kind!r}, images={n}, aspects={a}, present={int(self.present().sum())})"

    def present(self) -> np.ndarray:
        """(N, A) bool: the aspects indicated to be present."""
        return self.scores >= self.threshold

    def present_names(self, image: int) -> list[str]:
        """Names of the aspects present in ``image``, strongest first."""
        if isinstance(image, bool) or not isinstance(image, (int, np.integer)) or not 0 <= image < len(self):
            raise bad_argument("image", f"an image position in [0, {len(self)})", image)
        order = np.argsort(-self.scores[image], kind="stable")
        return [self.aspects[a] for a in order if self.scores[image, a] >= self.threshold]


# ----------------------------------------------------------------------------- interface
class AspectModel:
    """An aspect recognition model: a ``nn.Module`` with its aspects, kind, input
    preprocessing and candidate target layers (seed 001, claim 1).

    Args:
        module: the network. Its output is read as ``kind`` says (module docstring).
        aspects: one name per output channel (aspect).
        kind: "presence", "segmentation" or "boxes".
        preprocess: how raw images become its inputs (a
            :class:`~xwidgets.models.Preprocess`).
        layers: candidate target layers from shallow to deep (default: ``"input"`` and
            the module's top-level children whose output is a (N, C, h, w) feature map,
            except the last). Used by :func:`~xwidgets.aspects.fit_mappings`.
        threshold: the score at or above which an aspect is present.
        min_pixels: segmenters: an aspect's score is the ``min_pixels``-th largest pixel
            probability, so it is present where at least that many pixels are.
        name: a display name.
    """

    def __init__(
        self,
        module: nn.Module,
        aspects: Sequence[str],
        kind: str,
        preprocess: Preprocess,
        *,
        layers: Sequence[str] | None = None,
        threshold: float = 0.5,
        min_pixels: int = 6,
        name: str | None = None,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise bad_argument("module", "a torch.nn.Module", module)
        if isinstance(aspects, str) or not isinstance(aspects, Sequence) or not aspects:
            raise bad_argument("aspects", "a non-empty list of aspect names", aspects)
        if not all(isinstance(a, str) and a for a in aspects) or len(set(aspects)) != len(aspects):
            raise bad_argument("aspects", "distinct non-empty str names", aspects)
        if kind not in ASPECT_KINDS:
            raise bad_argument("kind", f"one of {', '.join(map(repr, ASPECT_KINDS))}", kind)
        if not isinstance(preprocess, Preprocess):
            raise bad_argument("preprocess", "an xwidgets.models.Preprocess", preprocess)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise bad_argument("threshold", "a number in (0, 1)", threshold)
        if isinstance(min_pixels, bool) or not isinstance(min_pixels, int) or min_pixels < 1:
            raise bad_argument("min_pixels", "a positive int", min_pixels)
        self.module = module
        self.aspects = list(aspects)
        self.kind = kind
        self.preprocess = preprocess
        self.threshold = float(threshold)
        self.min_pixels = min_pixels
        self.name = name or type(module).__name__
        if layers is None:
            layers = [INPUT_LAYER, *self._spatial_children()[:-1]]
        layers = list(layers)
        for layer in layers:
            self.check_layer(layer, "layers")
        self.layers = layers

    def __repr__(self) -> str:
        return f"AspectModel({self.name}, kind={self.kind!r}, aspects={len(self.aspects)}, layers={self.layers})"

    # ------------------------------------------------------------------ basics
    @property
    def device(self) -> torch.device:
        for tensor in self.module.parameters():
            return tensor.device
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> "AspectModel":
        self.module.to(device)
        return self

    def check_layer(self, layer: str, argument: str = "layer") -> str:
        """``layer`` if it is ``"input"`` or a submodule's dotted name (else a clear error)."""
        if not isinstance(layer, str):
            raise bad_argument(argument, "a layer name (str)", layer)
        if layer != INPUT_LAYER:
            get_layer(self.module, layer)  # unknown names fail with suggestions
        return layer

    def prepare(self, images: Images) -> tuple[torch.Tensor, np.ndarray]:
        """(inputs on the model's device, display pixels (N, H, W, 3) uint8)."""
        return prepare_images(images, self.preprocess, self.device)

    def _spatial_children(self) -> list[str]:
        h, w = self.preprocess.size
        names = [name for name, _ in self.module.named_children()]
        with capture(self.module, names, gradients=False) as records, frozen_eval(self.module), torch.no_grad():
            self.module(torch.zeros(1, 3, h, w, device=self.device))
        return [n for n in names if records[n].activation is not None and records[n].activation.ndim == 4]

    # ------------------------------------------------------------------ the two parts
    @torch.no_grad()
    def representation(self, inputs: torch.Tensor, layer: str) -> torch.Tensor:
        """ARM-1: the target representation of (preprocessed) ``inputs`` at ``layer``."""
        self.check_layer(layer)
        if layer == INPUT_LAYER:
            return inputs
        with frozen_eval(self.module), capture(self.module, [layer], gradients=False) as records:
            self.module(inputs)
        out = records[layer].activation
        if out is None:
            raise RuntimeError(f"layer: {layer!r} was not called during {self.name}'s forward pass")
        return out

    @torch.no_grad()
    def forward_from(self, representation: torch.Tensor, layer: str) -> torch.Tensor:
        """ARM-2: the module's raw output when ``layer``'s output is ``representation``
        (the layers below run on a blank input and are overridden)."""
        self.check_layer(layer)
        with frozen_eval(self.module):
            if layer == INPUT_LAYER:
                return self.module(representation)
            h, w = self.preprocess.size
            blank = torch.zeros(representation.shape[0], 3, h, w, device=representation.device)
            with substitute(self.module, layer, representation) as state:
                out = self.module(blank)
        if not state["called"]:
            raise RuntimeError(f"layer: {layer!r} was not called during {self.name}'s forward pass")
        return out

    # ------------------------------------------------------------------ reading outputs
    def decode(self, output: torch.Tensor, size: tuple[int, int] | None = None) -> AspectIndication:
        """The :class:`AspectIndication` of the module's raw ``output``."""
        size = tuple(size or self.preprocess.size)
        a = len(self.aspects)
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"{self.name}: expected a tensor output; got {type(output).__name__}")
        output = output.detach().float()
        if self.kind == "presence":
            if output.ndim != 2 or output.shape[1] != a:
                raise ValueError(
                    f"{self.name}: a presence model must output (N, {a}) logits; got {tuple(output.shape)}")
            scores = torch.sigmoid(output)
            return AspectIndication(self.aspects, self.kind, scores.cpu().numpy(), None, None, self.threshold)
        if self.kind == "segmentation":
            if output.ndim != 4 or output.shape[1] != a:
                raise ValueError(
                    f"{self.name}: a segmenter must output (N, {a}, h, w) logits; got {tuple(output.shape)}")
            probs = torch.sigmoid(output)
            if tuple(probs.shape[-2:]) != size:
                probs = F.interpolate(probs, size=size, mode="bilinear", align_corners=False)
            k = min(self.min_pixels, size[0] * size[1])
            scores = probs.flatten(2).topk(k, dim=2).values[..., -1]
            masks = probs.cpu().numpy()
            scores_np = scores.cpu().numpy()
            return AspectIndication(self.aspects, self.kind, scores_np, masks,
                                    _regions(masks, scores_np, self.threshold, self.min_pixels), self.threshold)
        if output.ndim != 4 or output.shape[1] != a or output.shape[3] != 5:
            raise ValueError(f"{self.name}: a detector must output (N, {a}, K, 5) boxes; got {tuple(output.shape)}")
        box_scores = output[..., 4].clamp(0, 1)
        scores = box_scores.max(dim=2).values if output.shape[2] else torch.zeros(output.shape[:2])
        n = output.shape[0]
        masks = np.zeros((n, a, *size), np.float32)
        boxes: list[list[list[tuple[int, int, int, int, float]]]] = []
        rows = output.cpu().numpy()
        for i in range(n):
            per_aspect = []
            for j in range(a):
                found = []
                for x0, y0, x1, y1, s in rows[i, j]:
                    if s < self.threshold:
                        continue
                    box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)), float(s))
                    found.append(box)
                    region = masks[i, j, max(box[1], 0):box[3], max(box[0], 0):box[2]]
                    np.maximum(region, float(s), out=region)
                per_aspect.append(found)
            boxes.append(per_aspect)
        return AspectIndication(self.aspects, self.kind, scores.cpu().numpy(), masks, boxes, self.threshold)

    def indicate(self, images: Images) -> AspectIndication:
        """Plain presence: the model applied to ``images`` themselves."""
        inputs, _ = self.prepare(images)
        return self.decode(self.forward_from(inputs, INPUT_LAYER))

    def indicate_from(self, representation: torch.Tensor, layer: str) -> AspectIndication:
        """Presence read from a target representation at ``layer`` (ARM-2, then decode)."""
        return self.decode(self.forward_from(representation, layer))


def _regions(masks: np.ndarray, scores: np.ndarray, threshold: float, min_pixels: int):
    """Boxes of the connected regions of each present aspect's thresholded mask."""
    from scipy import ndimage

    out = []
    for i in range(masks.shape[0]):
        per_aspect = []
        for a in range(masks.shape[1]):
            found: list[tuple[int, int, int, int, float]] = []
            if scores[i, a] >= threshold:
                labelled, count = ndimage.label(masks[i, a] >= threshold)
                for k, sl in enumerate(ndimage.find_objects(labelled), start=1):
                    if sl is None:
                        continue
                    region = labelled[sl] == k
                    if int(region.sum()) < min_pixels:
                        continue
                    score = float(masks[i, a][sl][region].max())
                    found.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop, score))
            per_aspect.append(found)
        out.append(per_aspect)
    return out


# ----------------------------------------------------------------------------- the synthetic segmenter
def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class AspectSegmenter(nn.Module):
    """A small encoder-decoder segmenter without skip connections (seed 001, FIG. 3b: a
    contracting part ``stem`` (64 px), ``down1`` (32), ``down2`` (16) and an expansive
    part ``up1`` (32), ``up2`` (64), then a 1x1 ``head``): one logit map per aspect.

    No skips, so every layer's output alone determines the output: any of them can be
    the target layer of a mapping.
    """

    def __init__(self, num_aspects: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(*_conv_bn_relu(3, w), *_conv_bn_relu(w, w))
        self.down1 = nn.Sequential(nn.MaxPool2d(2), *_conv_bn_relu(w, 2 * w), *_conv_bn_relu(2 * w, 2 * w))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), *_conv_bn_relu(2 * w, 4 * w), *_conv_bn_relu(4 * w, 4 * w))
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv_bn_relu(4 * w, 2 * w),
                                 *_conv_bn_relu(2 * w, 2 * w))
        self.up2 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv_bn_relu(2 * w, w),
                                 *_conv_bn_relu(w, w))
        self.head = nn.Conv2d(w, num_aspects, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.up2(self.up1(self.down2(self.down1(self.stem(x))))))


#: The segmenter's candidate target layers, shallow to deep.
SEGMENTER_LAYERS = (INPUT_LAYER, "stem", "down1", "down2", "up1", "up2")


def segmenter_card() -> dict[str, Any]:
    """The shipped segmenter's training card (command, data, held-out scores, time)."""
    path = SEGMENTER_WEIGHTS.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/train_aspect_models.py`")
    return json.loads(path.read_text(encoding="utf-8"))


def _toy_preprocess() -> Preprocess:
    from ..models.zoo.toy import TOY_INPUT_SIZE, TOY_MEAN, TOY_STD

    return Preprocess(size=(TOY_INPUT_SIZE, TOY_INPUT_SIZE), resize=None, mean=TOY_MEAN, std=TOY_STD)


def aspect_segmenter(weights: str | Path | None = None) -> AspectModel:
    """The trained multi-aspect segmenter of the synthetic parts dataset: every part type
    and the corner tag (:data:`~xwidgets.aspects.synthetic.SYNTHETIC_ASPECTS`), with
    the toy models' preprocessing (so the input-to-input mapping is the identity).
    Weights ship in ``models/zoo/weights/aspect_segmenter.pt``; reproduced by
    ``scripts/train_aspect_models.py``."""
    from .synthetic import SYNTHETIC_ASPECTS

    path = Path(weights) if weights is not None else SEGMENTER_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: aspect segmenter weights not found; run `python scripts/train_aspect_models.py --segmenter`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    width = int(state["stem.0.weight"].shape[0])
    module = AspectSegmenter(len(SYNTHETIC_ASPECTS), width=width)
    module.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    return AspectModel(module.eval(), SYNTHETIC_ASPECTS, "segmentation", _toy_preprocess(),
                       layers=SEGMENTER_LAYERS, name="aspect_segmenter")


class _KthPixel(nn.Module):
    """A presence head on a segmenter: each aspect's logit is its k-th largest pixel logit."""

    def __init__(self, segmenter: nn.Module, k: int) -> None:
        super().__init__()
        self.segmenter, self.k = segmenter, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.segmenter(x).flatten(2)
        return logits.topk(min(self.k, logits.shape[2]), dim=2).values[..., -1]


class _TightBox(nn.Module):
    """A box head on a segmenter: per aspect, the tight box of the pixels whose
    probability passes ``threshold``, scored by the k-th largest pixel probability."""

    def __init__(self, segmenter: nn.Module, k: int, threshold: float) -> None:
        super().__init__()
        self.segmenter, self.k, self.threshold = segmenter, k, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.sigmoid(self.segmenter(x))
        if tuple(probs.shape[-2:]) != tuple(x.shape[-2:]):
            probs = F.interpolate(probs, size=x.shape[-2:], mode="bilinear", align_corners=False)
        on = probs >= self.threshold
        h, w = on.shape[-2:]
        ys = torch.arange(h, device=x.device).view(1, 1, h, 1).float()
        xs = torch.arange(w, device=x.device).view(1, 1, 1, w).float()
        big = float(max(h, w))
        x0 = torch.where(on, xs, big).amin(dim=(2, 3))
        y0 = torch.where(on, ys, big).amin(dim=(2, 3))
        x1 = torch.where(on, xs + 1, -1.0).amax(dim=(2, 3))
        y1 = torch.where(on, ys + 1, -1.0).amax(dim=(2, 3))
        score = probs.flatten(2).topk(min(self.k, h * w), dim=2).values[..., -1]
        score = torch.where(on.flatten(2).any(dim=2), score, torch.zeros_like(score))
        return torch.stack([x0.clamp(0, w), y0.clamp(0, h), x1.clamp(0, w), y1.clamp(0, h), score], dim=-1)[:, :, None]


def aspect_classifier(weights: str | Path | None = None) -> AspectModel:
    """The shipped segmenter read as a presence classifier ((N, A) logits: each
    aspect's ``min_pixels``-th largest pixel logit)."""
    seg = aspect_segmenter(weights)
    return AspectModel(_KthPixel(seg.module, seg.min_pixels).eval(), seg.aspects, "presence", seg.preprocess,
                       layers=[INPUT_LAYER] + [f"segmenter.{n}" for n in SEGMENTER_LAYERS[1:]],
                       name="aspect_classifier")


def aspect_detector(weights: str | Path | None = None) -> AspectModel:
    """The shipped segmenter read as a box detector: one box per aspect (the tight box
    of its thresholded mask), (N, A, 1, 5)."""
    seg = aspect_segmenter(weights)
    return AspectModel(_TightBox(seg.module, seg.min_pixels, seg.threshold).eval(), seg.aspects, "boxes",
                       seg.preprocess, layers=[INPUT_LAYER] + [f"segmenter.{n}" for n in SEGMENTER_LAYERS[1:]],
                       name="aspect_detector")
