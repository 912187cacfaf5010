"""Meaningful perturbation (Fong and Vedaldi, "Interpretable Explanations of Black
Boxes by Meaningful Perturbation", ICCV 2017).

The deletion game: find the smallest, smoothest region whose perturbation removes
the evidence for the class,

    min_m  l1 ||1 - m||_1  +  l2 TV_beta(m)  +  f_c(x (.) M + blur(x) (.) (1 - M))

with m a ``mask_size`` grid of values in [0, 1] (1 keeps the pixel, 0 replaces it
by the blurred image), M = m upsampled bilinearly to the input size and smoothed by
a Gaussian of ``mask_blur`` pixels, ||1 - m||_1 and
TV_beta(m) = sum_u (|m(u + e_y) - m(u)|^2 + |m(u + e_x) - m(u)|^2)^(beta / 2) both
*sums* over the grid cells (so the weights below are relative to a 28 x 28 grid).
f_c is the softmax probability of the class (``score="logit"`` uses the logit; a
callable target is applied to the logits as is). The map is the deleted region,
``1 - M``.

Defaults, checked against the authors' code (github.com/ruthcfong/perturb_explanations,
``code/caffe/python/defaults.py`` and ``optimize_mask.py``, the reference for the
paper's GoogLeNet figures; the paper's implementation paragraph gives the same
numbers): Adam (betas 0.9, 0.999, eps 1e-8) with learning rate 0.1, 300 iterations,
lambda1 = 1e-4, lambda2 = 1e-2, beta = 3 (so METHODS.md's "(unverified)" values are
the published ones), a 28 x 28 mask for 224-pixel inputs (upsampling factor 8), the
upsampled mask blurred with sigma_m = 5 px, the blur perturbation with sigma_0 = 10 px,
the score taken at the softmax ("prob" layer), the mask clipped to [0, 1] after every
step, jitter 4 (the image is shifted under the mask by a random offset in [0, 4) px in
each axis at every step), mask noise off by default (``noise``: the standard deviation
of Gaussian noise added to the mask at each step, an option of the authors' code),
and the mask initialised as the smallest centred circle whose deletion lowers the
score by 99 % of what deleting the whole image does ("circle"; the radii 0, 5, ...,
170 px of a 224-pixel image, scaled to the input size). Their localisation variant
(lambda1 = 1e-3, beta = 2) is reachable through ``l1`` and ``beta``.

Differences from the authors' code, on purpose: the mask is upsampled bilinearly
(theirs: nearest neighbour, then the sigma_m blur), the jitter is a pure shift with
replicated borders (theirs resizes the image to H + 4 and crops), and the random
jitter offsets and mask noise are drawn once per step and shared by every image, so
an image's map does not depend on which images share its batch. Pixel quantities
(``blur_sigma``, ``mask_blur``, ``jitter``) are in input pixels and were chosen for
224-pixel inputs; scale them for other sizes.

Batching: every (image, target) pair has its own mask and all of them are optimised
together, one forward and one backward pass of all of them per step (Adam is
per-coordinate and each row's loss depends only on its own mask, so this equals
optimising them one at a time, up to floating-point rounding). ``extras`` records
the iteration count, the final loss and score of the returned mask, and the loss of
every step (before its update), per (image, target).

The helpers the mask-optimisation methods share (argument checks, scores of many
perturbed rows, the progress bar and the live callback) live in ``_optimisation.py``
and are still importable from here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._optimisation import (  # noqa: F401  (the shared pieces lived here; kept importable from here)
    PROGRESS_THRESHOLD,
    SCORES,
    Progress,
    RowScores,
    check_choice,
    check_controls,
    check_number,
)
from .integrated_gradients import gaussian_blur
from .occlusion import pair, substrate
from .registry import MethodOutput, register
from .targets import TargetPlan

INITS = ("circle", "ones", "random")
PERTURBATIONS = ("blur", "black")


# ---------------------------------------------------------------------------- parameters


@dataclasses.dataclass
class MeaningfulPerturbationParams:
    """iterations: Adam steps (300).
    lr: Adam learning rate (0.1).
    l1: lambda1, weight of ||1 - m||_1 summed over the mask grid (1e-4).
    l2: lambda2, weight of TV_beta(m) summed over the mask grid (1e-2).
    beta: exponent of the total variation (3).
    mask_size: the mask grid, int or (height, width) (28, for 224-pixel inputs).
    blur_sigma: sigma_0 of the blur perturbation, input pixels (10).
    mask_blur: sigma_m smoothing the upsampled mask, input pixels (5; 0 = none).
    jitter: the image is shifted under the mask by a random offset in [0, jitter)
        pixels per axis at every step (4; 0 or 1 = none).
    noise: standard deviation of Gaussian noise added to the mask grid at every step,
        clipped to [0, 1] (0 = none, the default of the authors' code).
    init: "circle" (the paper's: the smallest centred circle deleting 99 % of the
        score), "ones" (nothing deleted) or "random" (uniform in [0, 1], one draw
        shared by every image).
    perturbation: "blur" (the paper's) or "black" (black pixels, 0 under the model's
        preprocessing).
    score: "probability" (softmax, the paper's) or "logit".
    seed: seed of the jitter offsets, the mask noise and the "random" init.
    progress: a tqdm progress bar; None shows it above 50 iterations.
    callback: called as ``callback(step, masks)`` every ``callback_every`` steps, with
        ``step`` the number of steps done and ``masks`` the current maps (the
        deleted region 1 - M, shape (K, B, H, W): target pass, image, input size) of
        that step's forward pass, detached, on the model's device.
    callback_every: steps between callback calls (10)."""

    iterations: int = 300
    lr: float = 0.1
    l1: float = 1e-4
    l2: float = 1e-2
    beta: float = 3.0
    mask_size: int | tuple[int, int] = 28
    blur_sigma: float = 10.0
    mask_blur: float = 5.0
    jitter: int = 4
    noise: float = 0.0
    init: str = "circle"
    perturbation: str = "blur"
    score: str = "probability"
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 10

    def __post_init__(self) -> None:
        check_controls(self)
        check_number(self.lr, "lr", minimum=0, strict=True)
        check_number(self.l1, "l1", minimum=0)
        check_number(self.l2, "l2", minimum=0)
        check_number(self.beta, "beta", minimum=0, strict=True)
        pair(self.mask_size, "mask_size")
        check_number(self.blur_sigma, "blur_sigma", minimum=0)
        check_number(self.mask_blur, "mask_blur", minimum=0)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int) or self.jitter < 0:
            raise bad_argument("jitter", "an int >= 0 (pixels)", self.jitter)
        check_number(self.noise, "noise", minimum=0)
        check_choice(self.init, "init", INITS)
        check_choice(self.perturbation, "perturbation", PERTURBATIONS)
        check_choice(self.score, "score", SCORES)


# ---------------------------------------------------------------------------- the mask


def total_variation(m: torch.Tensor, beta: float) -> torch.Tensor:
    """(..., h, w) -> (...): sum_u (dy(u)^2 + dx(u)^2)^(beta / 2), forward differences
    (zero past the last row and column). The squared norm is clamped at 1e-12 before
    the power so that beta < 2 has a finite gradient at flat regions."""
    dy = F.pad(m[..., 1:, :] - m[..., :-1, :], (0, 0, 0, 1))
    dx = F.pad(m[..., :, 1:] - m[..., :, :-1], (0, 1, 0, 0))
    return (dy * dy + dx * dx).clamp_min(1e-12).pow(beta / 2).sum(dim=(-2, -1))


def upsample_mask(m: torch.Tensor, size: tuple[int, int], mask_blur: float) -> torch.Tensor:
    """(B, R, h, w) grid -> (B, R, H, W): bilinear (align_corners=False), then the
    Gaussian smoothing of ``mask_blur`` pixels (replicated borders)."""
    b, r, h, w = m.shape
    up = F.interpolate(m.reshape(b * r, 1, h, w), size=size, mode="bilinear", align_corners=False)
    if mask_blur > 0:
        up = gaussian_blur(up, mask_blur)
    return up.view(b, r, *size)


def circle_grids(size: tuple[int, int], grid: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred circles of the "circle" init on the mask grid: (radii (n,) in input
    pixels, masks (n, h, w) with 0 inside the circle, i.e. deleted, and 1 outside).
    The radii are those of the authors' code, 0, 5, ..., 170 px for 224 px inputs,
    scaled to the input size."""
    (height, width), (h, w) = size, grid
    radii = torch.arange(35, dtype=torch.float32, device=device) * (5.0 * max(height, width) / 224.0)
    ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) * height / h - 0.5
    xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) * width / w - 0.5
    dist = torch.hypot(ys[:, None] - (height - 1) / 2, xs[None, :] - (width - 1) / 2)
    return radii, (dist[None] > radii[:, None, None]).float()


@register(
    "meaningful_perturbation",
    params=MeaningfulPerturbationParams,
    summary="Smallest smooth blur mask that deletes the class evidence, found by gradient descent",
    paper="Fong & Vedaldi, Interpretable Explanations of Black Boxes by Meaningful Perturbation, ICCV 2017",
    family="perturbation",
    uses_layer=False,
)
def meaningful_perturbation(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: MeaningfulPerturbationParams, layer: None
) -> MethodOutput:
    b, c, height, width = inputs.shape
    size = (height, width)
    grid = pair(params.mask_size, "mask_size")
    device = inputs.device
    generator = torch.Generator().manual_seed(params.seed)  # CPU: the same draws on every device

    with torch.no_grad():
        logits = model.logits(inputs)
        passes = plan.passes(logits)
        k = len(passes)
        scorer = RowScores(plan, logits, torch.arange(k, device=device), params.score == "probability")
        if params.perturbation == "blur":
            fill = gaussian_blur(inputs, float(params.blur_sigma))
        else:
            fill = substrate(model, "black", inputs).expand_as(inputs)
        shift = max(params.jitter - 1, 0)  # offsets in [0, jitter)
        image_pad = F.pad(inputs, (0, shift, 0, shift), mode="replicate") if shift else inputs
        fill_pad = F.pad(fill, (0, shift, 0, shift), mode="replicate") if shift else fill

        def perturbed(masks: torch.Tensor, dy: int = 0, dx: int = 0) -> torch.Tensor:
            """(B, R, H, W) masks -> (B * R, C, H, W) inputs: image where 1, fill where 0."""
            image = image_pad[:, :, dy : dy + height, dx : dx + width]
            base = fill_pad[:, :, dy : dy + height, dx : dx + width]
            x = base[:, None] + masks[:, :, None].to(inputs.dtype) * (image - base)[:, None]
            return x.reshape(-1, c, height, width)

        extras: dict[str, Any] = {}
        if params.init == "circle":
            init, radius = _circle_init(model, inputs, logits, scorer, perturbed, size, grid, params.mask_blur)
            extras["init_radius"] = radius.T  # (K, B) pixels
        elif params.init == "ones":
            init = torch.ones(b, k, *grid, device=device)
        else:
            init = torch.rand(1, 1, *grid, generator=generator).to(device).expand(b, k, *grid).clone()

    m = init.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([m], lr=params.lr)  # betas (0.9, 0.999), eps 1e-8: the authors'
    history = torch.empty(params.iterations, b, k, device=device)
    progress = Progress(params, "meaningful_perturbation")
    shown = None  # the masks handed to the callback
    try:
        with torch.enable_grad():
            for step in range(params.iterations):
                dy, dx = (torch.randint(0, params.jitter, (2,), generator=generator).tolist() if shift else (0, 0))
                seen = m
                if params.noise > 0:
                    noise = torch.randn(1, 1, *grid, generator=generator).to(device) * params.noise
                    seen = (m + noise).clamp(0, 1)
                masks = upsample_mask(seen, size, params.mask_blur)
                score = scorer(model.logits(perturbed(masks, dy, dx)), b)  # (B, K)
                loss = params.l1 * (1 - m).abs().sum(dim=(-2, -1)) + params.l2 * total_variation(m, params.beta) + score
                optimiser.zero_grad(set_to_none=True)
                loss.sum().backward()
                if progress.wants_masks(step + 1):  # the step's masks, before its update, without noise
                    shown = masks.detach() if params.noise == 0 else upsample_mask(m.detach(), size, params.mask_blur)
                optimiser.step()
                with torch.no_grad():
                    m.clamp_(0, 1)
                history[step] = loss.detach()
                progress.update(step + 1, history[step], lambda: _as_maps(shown))
    finally:
        progress.close()

    with torch.no_grad():
        final = m.detach()
        masks = upsample_mask(final, size, params.mask_blur)
        score = scorer(model.logits(perturbed(masks)), b)
        loss = params.l1 * (1 - final).abs().sum(dim=(-2, -1)) + params.l2 * total_variation(final, params.beta) + score
    extras.update(
        iterations=params.iterations,
        loss=loss.T,  # (K, B): the returned mask, without jitter or noise
        score=score.T,
        loss_history=history.permute(2, 1, 0),  # (K, B, iterations)
    )
    return MethodOutput(maps=_as_maps(masks), logits=logits, targets=torch.stack(passes), extras=extras)


def _as_maps(masks: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) preservation masks M -> (K, B, H, W) maps 1 - M (the deleted region)."""
    return (1 - masks.detach()).transpose(0, 1)


def _circle_init(model, inputs, logits, scorer, perturbed, size, grid, mask_blur):
    """The paper's init, per (image, target): the smallest centred circle whose deletion
    brings the score within 1 % of the fully perturbed image's score, relative to the
    clean one; the largest circle when none does. One forward of the B images per radius,
    stopping once every row has its circle. Returns ((B, K, h, w) grids, (B, K) radii)."""
    b = inputs.shape[0]
    radii, circles = circle_grids(size, grid, inputs.device)
    clean = scorer.clean(logits)  # (B, K)
    nothing = torch.zeros(b, 1, *size, device=inputs.device)
    full = scorer.clean(model.logits(perturbed(nothing)))
    span = clean - full
    chosen = torch.full_like(clean, len(radii) - 1, dtype=torch.long)
    found = torch.zeros_like(clean, dtype=torch.bool)
    for index in range(len(radii)):
        masks = upsample_mask(circles[index].expand(b, 1, *grid), size, mask_blur)
        score = scorer.clean(model.logits(perturbed(masks)))
        safe = span.abs() > 1e-12  # a target the perturbation does not move: radius 0
        relative = torch.where(safe, (score - full) / torch.where(safe, span, torch.ones_like(span)), torch.zeros_like(span))
        new = (relative < 0.01) & ~found
        chosen[new] = index
        found |= new
        if bool(found.all()):
            break
    return circles[chosen].clone(), radii[chosen]
