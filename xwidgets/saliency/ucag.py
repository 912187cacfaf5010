"""UCAG: Unfold and Conquer Attribution Guidance (Hong, Nam, Jeon & Lee, "Towards
Better Visualizing the Decision Basis of Networks via Unfold and Conquer
Attribution Guidance", AAAI 2023, arXiv:2312.14201; seed 003).

A wrapper around any base explainer. The image is unfolded into a 6 x 6 grid of
overlapping crops (124 px of 224 with stride 20), every crop is resized up to the
model's input size and explained by the base method (default Grad-CAM) for the
image's target class, each crop map is resized back onto its crop and optionally
weighted by the crop's confidence, w_i = exp(p_i) / max_j exp(p_j) with p_i the
crop's softmax probability of the class (a callable target's score as is); the
weighted maps are accumulated, divided by the number of crops covering each pixel,
min-max normalised and smoothed by a 5 x 5 Gaussian of sigma 3 px:

    UCAG(x) = blur_{5,3}( minmax( sum_i w_i R_i(up(crop_i(x))) / count ) )

R_i(.) is the base map of crop i resized back to the crop (bilinear). The crops'
targets are fixed by the clean pass of the whole image (a crop is explained for the
image's predicted class, not for its own), and all B x 36 crops go through the base
method in batches of ``crop_batch_size``.

Defaults, METHODS.md: 36 crops of 124/224 of the side, stride 20 px at 224 (here:
``crops_per_side=6`` crops spread evenly from the first to the last position, which
is stride 20 exactly at 224 and scales with the input), blur 5 x 5 sigma 3,
confidence weighting on (METHODS.md: "optionally"; on is our default, unverified),
base Grad-CAM. The paper upsamples each crop by 2.6; a classifier with a fixed input
size (a ViT, or any model whose head expects one size) cannot take 124 x 2.6 = 322
px, so by default a crop is resized to the model's input size (x 1.81 at 224);
``upsample`` sets the paper's factor for models that accept other sizes.

Checks: with ``crops_per_side=1, crop_fraction=1.0`` the single crop is the whole
image, and UCAG returns the base map (upsampled to the input as ``explain`` does),
min-max normalised and blurred; with ``blur_kernel=1`` too, exactly the base map
min-max normalised. Cost: 36 base explanations per image and target (36 x (1F+1B)
for Grad-CAM), batched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._gradients import check_positive_int
from ._optimisation import check_number
from .fovex import minmax, truncated_blur
from .registry import MethodOutput, get_method, register
from .targets import TargetPlan

__all__ = ["UCAGParams", "ucag", "crop_boxes"]


@dataclasses.dataclass
class UCAGParams:
    """Parameters of UCAG (defaults: METHODS.md and the paper, see the module docstring).

    base: the base explainer, any registered method name ("gradcam").
    base_params: the base method's parameters (its published defaults otherwise).
    crops_per_side: crops along each side (6: 36 crops).
    crop_fraction: crop side / image side (124 / 224).
    upsample: None resizes each crop to the model's input size; a number > 0 resizes
        it by that factor (the paper: 2.6), only for models that accept other sizes.
    weighting: weight each crop's map by exp(p) / max exp(p) over the image's crops (True).
    blur_kernel, blur_sigma: the final Gaussian blur (5, 3.0; 1 or 0 turns it off).
    crop_batch_size: crops per call of the base method (64).
    """

    base: str = "gradcam"
    base_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    crops_per_side: int = 6
    crop_fraction: float = 124 / 224
    upsample: float | None = None
    weighting: bool = True
    blur_kernel: int = 5
    blur_sigma: float = 3.0
    crop_batch_size: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.base, str):
            raise bad_argument("base", "the name of a registered method", self.base)
        if self.base == "ucag":
            raise bad_argument("base", "a method other than ucag itself", self.base)
        try:
            spec = get_method(self.base)
        except ValueError as error:
            raise bad_argument("base", "the name of a registered method", self.base, str(error)) from None
        if not isinstance(self.base_params, dict):
            raise bad_argument("base_params", "a dict of the base method's parameters", self.base_params)
        try:
            spec.make_params(**self.base_params)
        except TypeError as error:
            raise bad_argument("base_params", f"parameters of {self.base}", self.base_params, str(error)) from None
        check_positive_int(self.crops_per_side, "crops_per_side")
        check_number(self.crop_fraction, "crop_fraction", minimum=0, strict=True, maximum=1)
        if self.upsample is not None:
            check_number(self.upsample, "upsample", minimum=0, strict=True)
        if not isinstance(self.weighting, bool):
            raise bad_argument("weighting", "True or False", self.weighting)
        if isinstance(self.blur_kernel, bool) or not isinstance(self.blur_kernel, int) or self.blur_kernel < 0:
            raise bad_argument("blur_kernel", "an int >= 0 (0 or 1: no blur)", self.blur_kernel)
        check_number(self.blur_sigma, "blur_sigma", minimum=0)
        check_positive_int(self.crop_batch_size, "crop_batch_size")


def crop_boxes(height: int, width: int, params: UCAGParams) -> list[tuple[int, int, int, int]]:
    """The crops as (top, left, crop height, crop width), row by row: ``crops_per_side``
    positions per axis spread evenly from 0 to side - crop (stride 20 at 224 px)."""
    ch = max(1, round(height * params.crop_fraction))
    cw = max(1, round(width * params.crop_fraction))
    n = params.crops_per_side
    tops = torch.linspace(0, height - ch, n).round().long().tolist() if n > 1 else [(height - ch) // 2]
    lefts = torch.linspace(0, width - cw, n).round().long().tolist() if n > 1 else [(width - cw) // 2]
    return [(t, left, ch, cw) for t in tops for left in lefts]


def _crop_plans(plan: TargetPlan, classes: torch.Tensor, others: torch.Tensor | None, crop_image: torch.Tensor) -> TargetPlan:
    """The target plan of a chunk of crops for one pass: the classes fixed on the whole
    images (a Contrast becomes the fixed logit difference; a callable stays as is)."""
    n = crop_image.numel()
    if plan.is_callable:
        return TargetPlan(plan.target, n)
    chosen = classes[crop_image]
    if others is None:
        return TargetPlan(chosen, n)
    other = others[crop_image]

    def contrast(logits: torch.Tensor) -> torch.Tensor:
        return logits.gather(1, chosen[:, None].to(logits.device))[:, 0] - logits.gather(1, other[:, None].to(logits.device))[:, 0]

    return TargetPlan(contrast, n)


@register(
    "ucag",
    params=UCAGParams,
    summary="A base method run on 36 overlapping upsampled crops, confidence-weighted and merged",
    paper="Hong et al., Unfold and Conquer Attribution Guidance (UCAG), AAAI 2023",
    family="wrapper",
    uses_layer=True,
)
def ucag(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: UCAGParams, layer: str | None) -> MethodOutput:
    spec = get_method(params.base)
    base_params = spec.make_params(**params.base_params)
    base_layer = layer if spec.uses_layer else None
    b, _, height, width = inputs.shape
    device = inputs.device
    with torch.no_grad():
        logits = model.logits(inputs)
    fixed = plan.fix(logits)
    classes = fixed.stacked()  # (K, B)
    k = classes.shape[0]
    boxes = crop_boxes(height, width, params)
    n_crops = len(boxes)
    if params.upsample is None:
        size = (height, width)
    else:
        size = (max(1, round(boxes[0][2] * params.upsample)), max(1, round(boxes[0][3] * params.upsample)))

    # crop rows are image-major: row i * n_crops + j is crop j of image i
    total = b * n_crops
    crop_image = torch.arange(total, device=device) // n_crops
    crop_maps = torch.zeros(k, total, boxes[0][2], boxes[0][3], device=device)
    crop_scores = torch.zeros(k, total, device=device)
    for lo in range(0, total, params.crop_batch_size):
        hi = min(lo + params.crop_batch_size, total)
        crops = _cut(inputs, boxes, lo, hi, n_crops)
        if tuple(crops.shape[-2:]) != size:
            crops = F.interpolate(crops, size=size, mode="bilinear", align_corners=False)
        for p in range(k):
            crop_plan = _crop_plans(plan, classes[p], fixed.others, crop_image[lo:hi])
            out = spec.compute(model, crops, crop_plan, base_params, base_layer)
            maps = out.maps[0].float()
            if tuple(maps.shape[-2:]) != tuple(crop_maps.shape[-2:]):
                maps = F.interpolate(maps[:, None], size=tuple(crop_maps.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
            crop_maps[p, lo:hi] = maps.detach()
            crop_scores[p, lo:hi] = _confidence(plan, crop_plan, classes[p][crop_image[lo:hi]], out.logits.detach().float())

    scores = crop_scores.view(k, b, n_crops)
    if params.weighting:
        weights = torch.exp(scores - scores.amax(dim=2, keepdim=True))  # exp(p) / max exp(p)
    else:
        weights = torch.ones_like(scores)
    weighted = crop_maps.view(k, b, n_crops, *crop_maps.shape[-2:]) * weights[..., None, None]
    total_map = torch.zeros(k, b, height, width, device=device)
    count = torch.zeros(height, width, device=device)
    for j, (top, left, ch, cw) in enumerate(boxes):
        total_map[:, :, top:top + ch, left:left + cw] += weighted[:, :, j]
        count[top:top + ch, left:left + cw] += 1
    merged = minmax(total_map / count.clamp_min(1))
    if params.blur_kernel > 1 and params.blur_sigma > 0:
        merged = truncated_blur(merged.view(k * b, 1, height, width), params.blur_kernel, params.blur_sigma).view(k, b, height, width)
    extras = {
        "crop_weights": weights,  # (K, B, n_crops)
        "crop_scores": scores,  # (K, B, n_crops)
        "crop_boxes": torch.tensor(boxes, dtype=torch.long),  # (n_crops, 4): top, left, height, width
    }
    return MethodOutput(maps=merged, logits=logits.detach(), targets=classes, extras=extras)


def _cut(inputs: torch.Tensor, boxes: list[tuple[int, int, int, int]], lo: int, hi: int, n_crops: int) -> torch.Tensor:
    """Crop rows lo..hi-1 (image-major) as one (hi - lo, 3, ch, cw) batch."""
    return torch.stack([
        inputs[r // n_crops, :, boxes[r % n_crops][0]:boxes[r % n_crops][0] + boxes[r % n_crops][2],
               boxes[r % n_crops][1]:boxes[r % n_crops][1] + boxes[r % n_crops][3]]
        for r in range(lo, hi)
    ])


def _confidence(plan: TargetPlan, crop_plan: TargetPlan, classes: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """p of each crop: the softmax probability of its class (a Contrast's target
    class); for a callable target, the callable's score of the crop."""
    if plan.is_callable:
        return crop_plan.scores(logits, classes.to(logits.device)).detach()
    return logits.softmax(dim=1).gather(1, classes.to(logits.device)[:, None])[:, 0]
