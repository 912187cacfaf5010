"""RISE, randomized input sampling for explanation (Petsiuk, Das and Saenko, "RISE:
Randomized Input Sampling for Explanation of Black-box Models", BMVC 2018).

N binary s x s grids with P(cell = 1) = p1 are upsampled bilinearly to
(s + 1) x cell (cell = ceil(H / s)), shifted by a random offset in [0, cell) in each
axis and cropped to H x W: N smooth masks M_i. The map is the masks weighted by the
score of the masked image,

    S^c = 1 / (N p1) sum_i f_c(I (.) M_i) M_i

f_c is the softmax probability of the class (the paper's confidence score;
``score="logit"`` uses the logit; a callable target is applied to the logits).

Substrate: black. The image is masked in pixel space, I (.) M, so a masked-out pixel
is black (pixel value 0 under the model's preprocessing), not a zero model input.

Defaults N = 8000, s = 7, p1 = 0.5 (TorchRay; the official notebook uses N = 6000,
s = 8, p1 = 0.1). The grids and shifts are drawn once per call from a
``torch.Generator`` on the model's device seeded with ``seed``, so the same seed gives
the same masks (for every image of the call, whatever ``internal_batch_size``); the
masks are upsampled chunk by chunk, so memory stays at about ``internal_batch_size``
images. Cost: N forwards per image, batched.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._chunks import AUTO, Chunks, check_internal_batch_size
from .occlusion import positive_int, substrate
from .registry import MethodOutput, register
from .targets import TargetPlan

SCORES = ("probability", "logit")


@dataclasses.dataclass
class RISEParams:
    """n_masks: N, the number of random masks (8000).
    s: cells per side of the random grid (7).
    p1: probability that a cell is kept, in (0, 1] (0.5).
    seed: seed of the mask generator.
    score: "probability" (softmax, the paper's) or "logit".
    internal_batch_size: masked images per forward pass (a chunk may hold part of a
        mask's images), or "auto" (default): the fastest of 8 to 64 on this device and
        model, timed on the first forwards."""

    n_masks: int = 8000
    s: int = 7
    p1: float = 0.5
    seed: int = 0
    score: str = "probability"
    internal_batch_size: int | str = AUTO

    def __post_init__(self) -> None:
        positive_int(self.n_masks, "n_masks")
        positive_int(self.s, "s")
        if isinstance(self.p1, bool) or not isinstance(self.p1, (int, float)) or not 0 < self.p1 <= 1:
            raise bad_argument("p1", "a probability in (0, 1]", self.p1)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)
        if self.score not in SCORES:
            raise bad_argument("score", f"one of {', '.join(repr(s) for s in SCORES)}", self.score)
        check_internal_batch_size(self.internal_batch_size)


def random_grids(params: RISEParams, size: tuple[int, int], device: torch.device, dtype: torch.dtype):
    """The N low-resolution grids (N, 1, s, s) and their shifts (N,) in y and x."""
    h, w = size
    generator = torch.Generator(device=device).manual_seed(params.seed)
    grids = (torch.rand(params.n_masks, 1, params.s, params.s, generator=generator, device=device) < params.p1).to(dtype)
    shift_y = torch.randint(0, math.ceil(h / params.s), (params.n_masks,), generator=generator, device=device)
    shift_x = torch.randint(0, math.ceil(w / params.s), (params.n_masks,), generator=generator, device=device)
    return grids, shift_y, shift_x


def upsample_masks(grids: torch.Tensor, shift_y: torch.Tensor, shift_x: torch.Tensor, size: tuple[int, int], s: int) -> torch.Tensor:
    """(n, 1, s, s) grids -> (n, H, W) masks: bilinear to (s+1) cells, shifted, cropped."""
    h, w = size
    up = F.interpolate(grids, size=((s + 1) * math.ceil(h / s), (s + 1) * math.ceil(w / s)), mode="bilinear", align_corners=False)
    rows = shift_y[:, None] + torch.arange(h, device=grids.device)  # (n, H)
    cols = shift_x[:, None] + torch.arange(w, device=grids.device)  # (n, W)
    which = torch.arange(len(grids), device=grids.device)[:, None, None]
    return up[which, 0, rows[:, :, None], cols[:, None, :]]


@register(
    "rise",
    params=RISEParams,
    summary="Random smooth masks weighted by the score of the masked image",
    paper="Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    family="perturbation",
    uses_layer=False,
)
def rise(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: RISEParams, layer: None) -> MethodOutput:
    b, _, h, w = inputs.shape
    black = substrate(model, "black", inputs)
    with torch.no_grad():
        logits = model.logits(inputs)
        passes = plan.passes(logits)
        scores = plan.fix(logits).all_scores
        use_probability = params.score == "probability" and not plan.is_callable
        grids, shift_y, shift_x = random_grids(params, (h, w), inputs.device, inputs.dtype)
        saliency = torch.zeros(len(passes), b, h * w, dtype=inputs.dtype, device=inputs.device)
        difference = inputs - black
        # rows are (mask, image) pairs, mask-major: a chunk may split a mask's images, so
        # the chunk size is free of the batch size (32 images no longer force 32 rows)
        for first_row, last_row in Chunks(params.n_masks * b, params.internal_batch_size, inputs.device):
            rows = torch.arange(first_row, last_row, device=inputs.device)
            start, stop = first_row // b, (last_row - 1) // b + 1  # masks [start, stop) the chunk touches
            masks = upsample_masks(grids[start:stop], shift_y[start:stop], shift_x[start:stop], (h, w), params.s)
            mask_index, image = rows // b - start, rows % b
            masked = torch.addcmul(black, masks[mask_index, None], difference[image])  # (rows, 3, H, W)
            out = model.logits(masked)
            if use_probability:
                out = out.softmax(dim=1)
            weights = torch.zeros(len(passes), b, stop - start, dtype=inputs.dtype, device=inputs.device)
            weights[:, image, mask_index] = scores(out, image)  # (K, B, masks), zero where a row is elsewhere
            saliency += weights @ masks.reshape(stop - start, h * w)
    maps = saliency.view(len(passes), b, h, w) / (params.n_masks * params.p1)
    return MethodOutput(maps=maps, logits=logits, targets=torch.stack(passes))
