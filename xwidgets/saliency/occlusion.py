"""Occlusion (Zeiler and Fergus, "Visualizing and Understanding Convolutional
Networks", ECCV 2014).

A window of ``window`` pixels slides over the image with step ``stride``; each
position is replaced by the baseline and the drop of the target score is credited to
the pixels the window covered:

    map(p) = mean over the windows W containing p of (S^c(x) - S^c(x with W occluded))

The windows and their averaging follow Captum's ``Occlusion`` exactly, so
``method="occlusion"`` equals ``Occlusion(model).attribute(x, sliding_window_shapes=
(3, window, window), strides=(3, stride, stride), baselines=b, target=c)`` in every
channel (all channels are occluded together, so Captum's three channel maps are
equal). In each axis the windows start at 0, stride, 2 stride, ... up to
ceil((H - window) / stride) stride, the last one clipped at the border.

Defaults: a 15 x 15 window with stride 8 (the values of Captum's occlusion tutorial;
Captum itself has no default window and a default stride of 1) and the baseline
"zero": a zero model input, which for mean-normalised models is the dataset's mean
colour, close to the paper's grey square. "black" occludes with black pixels
(pixel value 0 under the model's preprocessing); a number is a constant model input.
Every occluded copy of every image goes through the model in batches of
``internal_batch_size`` copies, (ceil((H - window) / stride) + 1) x (the same for W)
forwards per image, with no per-image loop.

Perturbed copies are scored with :class:`~xwidgets.saliency.targets.FixedTargets`
(classes fixed by the clean pass), as in RISE and Score-CAM.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._chunks import AUTO, Chunks, check_internal_batch_size
from .registry import MethodOutput, register
from .targets import TargetPlan

BASELINES = ("zero", "black")


def pair(value: Any, argument: str) -> tuple[int, int]:
    """A positive int or a (height, width) pair of them, as (height, width)."""
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
        raise bad_argument(argument, "a positive int or a (height, width) pair of positive ints", value)
    return items  # type: ignore[return-value]


def positive_int(value: Any, argument: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_argument(argument, "a positive int", value)


def substrate(model: ModelAdapter, baseline: str | float, like: torch.Tensor) -> torch.Tensor:
    """The model input that replaces occluded pixels, broadcastable to (N, 3, H, W):
    "zero" (a zero input), "black" (pixel value 0 after the model's preprocessing), or
    a constant input value."""
    if baseline == "zero":
        return torch.zeros(1, 3, 1, 1, dtype=like.dtype, device=like.device)
    if baseline == "black":
        pre = model.preprocess
        mean = torch.tensor(pre.mean, dtype=like.dtype, device=like.device)
        std = torch.tensor(pre.std, dtype=like.dtype, device=like.device)
        return (-mean / std).view(1, 3, 1, 1)
    return torch.full((1, 3, 1, 1), float(baseline), dtype=like.dtype, device=like.device)


@dataclasses.dataclass
class OcclusionParams:
    """window: occluder size, int or (height, width), in input pixels (15).
    stride: step between windows, int or (height, width), at most the window where
    the window is smaller than the image (8).
    baseline: what fills the window: "zero" (zero model input), "black" (black pixels)
    or a number (a constant model input).
    internal_batch_size: occluded copies per forward pass, or "auto" (default): the
        fastest of 8 to 64 on this device and model, timed on the first forwards
        (see ``_chunks.py``)."""

    window: int | tuple[int, int] = 15
    stride: int | tuple[int, int] = 8
    baseline: str | float = "zero"
    internal_batch_size: int | str = AUTO

    def __post_init__(self) -> None:
        pair(self.window, "window")
        pair(self.stride, "stride")
        number = isinstance(self.baseline, (int, float)) and not isinstance(self.baseline, bool)
        if not (self.baseline in BASELINES or number and math.isfinite(self.baseline)):
            raise bad_argument("baseline", '"zero", "black" or a finite number', self.baseline)
        check_internal_batch_size(self.internal_batch_size)


def window_masks(size: int, window: int, stride: int, device: torch.device) -> torch.Tensor:
    """(n, size) bool: which pixels of one axis each window position covers."""
    count = math.ceil((size - window) / stride) + 1
    starts = torch.arange(count, device=device)[:, None] * stride
    pixels = torch.arange(size, device=device)[None, :]
    return (pixels >= starts) & (pixels < starts + window)


@register(
    "occlusion",
    params=OcclusionParams,
    summary="Drop of the score when a sliding window is occluded, averaged per pixel",
    paper="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    family="perturbation",
    uses_layer=False,
)
def occlusion(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: OcclusionParams, layer: None) -> MethodOutput:
    b, _, h, w = inputs.shape
    (wh, ww), (sh, sw) = pair(params.window, "window"), pair(params.stride, "stride")
    if wh > h or ww > w:
        raise bad_argument("window", f"at most the input size ({h}, {w})", params.window)
    if (sh > wh and wh < h) or (sw > ww and ww < w):  # Captum's rule: no pixel left unoccluded
        raise bad_argument("stride", f"at most the window {(wh, ww)}, so that every pixel is occluded", params.stride)
    rows, cols = window_masks(h, wh, sh, inputs.device), window_masks(w, ww, sw, inputs.device)
    nh, nw = rows.shape[0], cols.shape[0]
    positions = nh * nw
    fill = substrate(model, params.baseline, inputs)
    with torch.no_grad():
        logits = model.logits(inputs)
        passes = plan.passes(logits)
        scores = plan.fix(logits).all_scores
        image = torch.arange(b, device=inputs.device)
        clean = scores(logits, image)  # (K, B)
        drops = torch.empty(clean.shape[0], b * positions, dtype=clean.dtype, device=inputs.device)
        for start, stop in Chunks(b * positions, params.internal_batch_size, inputs.device):
            index = torch.arange(start, stop, device=inputs.device)
            img, pos = index // positions, index % positions
            window = rows[pos // nw][:, :, None] & cols[pos % nw][:, None, :]  # (n, H, W)
            occluded = torch.where(window[:, None], fill, inputs[img])
            drops[:, start : start + len(index)] = clean[:, img] - scores(model.logits(occluded), img)
        drops = drops.view(-1, b, nh, nw)
        rows_f, cols_f = rows.to(drops.dtype), cols.to(drops.dtype)
        total = torch.einsum("kbij,ih,jw->kbhw", drops, rows_f, cols_f)
        count = rows_f.sum(0)[:, None] * cols_f.sum(0)[None, :]
    return MethodOutput(maps=total / count, logits=logits, targets=torch.stack(passes))
