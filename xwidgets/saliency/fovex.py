"""FovEx: foveation-based explanations (Panda, Tiezzi, Vilas, Roig, Eskofier & Zanca,
"FovEx: Human-inspired Explanations for Vision Transformers and Convolutional Neural
Networks", 2024, arXiv:2408.02123; seed 003).

The model looks at the image the way an eye does: sharp at a fixation, blurred
elsewhere, with a memory of where it has already looked. For an image x in [0, 1]
pixel space (the adapter's ``Preprocess`` takes the model inputs to pixels and back):

    blur_delta = GaussBlur(41 x 41, sigma 10)(x) - x
    g_p(u)     = exp(-||u - p||^2 / 0.15)              u, p in [-1, 1]^2 (row, column)
    seen(p)    = x + blur_delta * clip(1 - (memory + g_p), 0, 1)

For each of 10 fixations the position p starts at the centre and takes 20
sign-gradient steps p <- p - 0.1 sign(d CE(f(seen(p)), c) / dp) towards a lower
cross-entropy for the target class c (the prediction by default); the best position
seen is kept, and a position whose loss did not improve on the best is restarted at
a random point of [-1, 1]^2. Then memory <- 0.1 memory + g_best. The heatmap is the
sum of the fixations' Gaussians, min-max normalised.

Defaults (the authors' code, FovEx.py and its notebook, as METHODS.md lists them):
10 fixations, 20 iterations, lr 0.1, foveation width 0.15, blur kernel 41 and sigma
10 px, memory decay ("forgetting") 0.1, random restarts on; the heatmap uses the
fixations' Gaussians of the same width with no forgetting (``heatmap_width``: our
reading, unverified).

Differences from the authors' code, on purpose:
* the best position recorded is the one whose loss was measured (their loop stores
  the position after the following step);
* positions are clamped to [-1, 1]^2 after each step, so every fixation lies on the
  image (theirs may drift up to 2 units away);
* the random restart positions are drawn once per (fixation, iteration) from
  ``seed`` and shared by every image, so an image's fixations do not depend on
  which images share its batch (theirs draws per image from the global generator);
* blur sizes were published for 224-pixel inputs; with ``blur_reference=224`` (the
  default) kernel and sigma are scaled by min(H, W) / 224, so the periphery is
  blurred as much, relative to the image, at any input size (None: use them as given).

Batched: every (image, target pass) row has its own position and memory, and all
rows take each step together (one forward and one backward of all rows per step;
the sign of each row's gradient depends on that row only). Cost: fixations x
iterations forward and backward passes per row (200 with the defaults).

``extras`` (per Saliency row): ``fixations`` (n_fix, 2) the fixation sequence as
(x, y) pixel coordinates (column, row) of the image as the model sees it, in order;
``fixation_loss`` (n_fix,) the cross-entropy at each kept fixation;
``fixation_score`` (n_fix,) exp(-loss), the probability of the class at that
fixation (a callable target's score is read as a logit).

This module also holds the pixel-space helpers that UCAG and Feature CAM share
(``to_pixels``, ``from_pixels``, ``truncated_blur``).
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._gradients import check_positive_int
from ._optimisation import PROGRESS_THRESHOLD, PairScores, Progress, check_number
from .registry import MethodOutput, register
from .targets import TargetPlan

__all__ = ["FovExParams", "fovex", "to_pixels", "from_pixels", "truncated_blur", "foveation", "position_grid"]


# ---------------------------------------------------------------------------- pixel-space helpers


def _affine(model: ModelAdapter, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    pre = model.preprocess
    mean = torch.tensor(pre.mean, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return mean, std, 255.0 * pre.scale


def to_pixels(model: ModelAdapter, inputs: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) model inputs -> pixels in [0, 1] (0 black, 1 white), differentiable
    and not clipped (the inverse of the adapter's normalisation)."""
    mean, std, full = _affine(model, inputs)
    return (inputs * std + mean) / full


def from_pixels(model: ModelAdapter, pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) pixels in [0, 1] -> model inputs, differentiable."""
    mean, std, full = _affine(model, pixels)
    return (pixels * full - mean) / std


def truncated_blur(images: torch.Tensor, kernel_size: int, sigma: float, border: str = "reflect") -> torch.Tensor:
    """Gaussian blur of (N, C, H, W) with a ``kernel_size`` x ``kernel_size`` kernel of
    standard deviation ``sigma`` pixels, truncated and renormalised (OpenCV's
    ``GaussianBlur(ksize, sigma)``), separable. Borders: "reflect" (mirror without
    repeating the edge pixel, OpenCV's default BORDER_REFLECT_101) where the image is
    larger than the kernel's radius, else replicated."""
    radius = int(kernel_size) // 2
    if radius == 0 or sigma <= 0:
        return images
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    mode_h = border if border == "reflect" and radius < images.shape[-2] else "replicate"
    mode_w = border if border == "reflect" and radius < images.shape[-1] else "replicate"
    out = F.pad(images, (0, 0, radius, radius), mode=mode_h)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    out = F.pad(out, (radius, radius, 0, 0), mode=mode_w)
    return F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def position_grid(height: int, width: int, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows (H, 1), columns (1, W)) coordinates in [-1, 1] of every pixel centre
    (pixel 0 at -1, the last pixel at +1, as in the authors' code)."""
    rows = torch.linspace(-1, 1, height, device=device, dtype=dtype).view(height, 1)
    cols = torch.linspace(-1, 1, width, device=device, dtype=dtype).view(1, width)
    return rows, cols


def foveation(positions: torch.Tensor, grid: tuple[torch.Tensor, torch.Tensor], width: float) -> torch.Tensor:
    """(N, 2) positions (row, column) in [-1, 1] -> (N, 1, H, W) Gaussians
    exp(-||u - p||^2 / width)."""
    rows, cols = grid
    d2 = (rows[None] - positions[:, 0, None, None]) ** 2 + (cols[None] - positions[:, 1, None, None]) ** 2
    return torch.exp(-d2 / width)[:, None]


def to_pixel_xy(positions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(..., 2) (row, column) positions in [-1, 1] -> (..., 2) (x, y) pixel coordinates."""
    y = (positions[..., 0] + 1) / 2 * (height - 1)
    x = (positions[..., 1] + 1) / 2 * (width - 1)
    return torch.stack([x, y], dim=-1)


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each (..., H, W) map to [0, 1] (a constant map becomes 0)."""
    flat = maps.flatten(-2)
    lo = flat.amin(dim=-1, keepdim=True)
    span = flat.amax(dim=-1, keepdim=True) - lo
    out = (flat - lo) / torch.where(span > 0, span, torch.ones_like(span))
    return out.view_as(maps)


# ---------------------------------------------------------------------------- parameters


@dataclasses.dataclass
class FovExParams:
    """Parameters of FovEx (defaults: the authors' code, see the module docstring).

    fixations: fixations per image (10).
    iterations: sign-gradient steps per fixation (20).
    lr: step of each sign-gradient update, in [-1, 1] units (0.1).
    foveation_width: w in g_p(u) = exp(-||u - p||^2 / w) (0.15).
    memory_decay: memory <- memory_decay * memory + g_best after each fixation (0.1).
    random_restarts: restart a position that did not improve on its best at a random
        point (True); False jitters it by U(-lr/2, lr/2) instead (the code's other mode).
    blur_kernel, blur_sigma: the peripheral blur, in pixels at ``blur_reference`` (41, 10).
    blur_reference: the input size the blur sizes are given for (224); None: use them
        as pixels of any input.
    heatmap_width: width of the Gaussians summed into the heatmap (0.15; unverified).
    seed: seed of the random restart positions.
    progress: a tqdm.auto bar over the fixations (None: when fixations x iterations > 50,
        as with the defaults).
    callback: ``callback(fixation, heatmaps)`` after every ``callback_every``
        fixations, with the (K, B, H, W) heatmaps of the fixations so far.
    """

    fixations: int = 10
    iterations: int = 20
    lr: float = 0.1
    foveation_width: float = 0.15
    memory_decay: float = 0.1
    random_restarts: bool = True
    blur_kernel: int = 41
    blur_sigma: float = 10.0
    blur_reference: int | None = 224
    heatmap_width: float = 0.15
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 1

    def __post_init__(self) -> None:
        check_positive_int(self.fixations, "fixations")
        check_positive_int(self.iterations, "iterations")
        check_number(self.lr, "lr", minimum=0, strict=True)
        check_number(self.foveation_width, "foveation_width", minimum=0, strict=True)
        check_number(self.memory_decay, "memory_decay", minimum=0)
        if not isinstance(self.random_restarts, bool):
            raise bad_argument("random_restarts", "True or False", self.random_restarts)
        check_positive_int(self.blur_kernel, "blur_kernel")
        check_number(self.blur_sigma, "blur_sigma", minimum=0)
        if self.blur_reference is not None:
            check_positive_int(self.blur_reference, "blur_reference")
        check_number(self.heatmap_width, "heatmap_width", minimum=0, strict=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)
        if self.progress is not None and not isinstance(self.progress, bool):
            raise bad_argument("progress", "True, False or None (on above 50 steps)", self.progress)
        if self.callback is not None and not callable(self.callback):
            raise bad_argument("callback", "None or a callable(fixation, heatmaps)", self.callback)
        check_positive_int(self.callback_every, "callback_every")


def blur_size(params: Any, height: int, width: int) -> tuple[int, float]:
    """(kernel size, sigma) in input pixels, scaled from ``blur_reference`` when set."""
    if params.blur_reference is None:
        return int(params.blur_kernel), float(params.blur_sigma)
    factor = min(height, width) / params.blur_reference
    radius = round((int(params.blur_kernel) // 2) * factor)
    return 2 * radius + 1, float(params.blur_sigma) * factor


# ---------------------------------------------------------------------------- the method


@register(
    "fovex",
    params=FovExParams,
    summary="Fixations found by foveated sign-gradient search; heatmap = sum of their Gaussians",
    paper="Panda et al., FovEx: Human-inspired Explanations for Vision Transformers and CNNs, 2024",
    family="perturbation",
)
def fovex(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: FovExParams, layer: str | None) -> MethodOutput:
    b, _, height, width = inputs.shape
    device = inputs.device
    with torch.no_grad():
        logits = model.logits(inputs)
    scorer = PairScores(plan, logits)
    k = scorer.classes.shape[0]
    rows = k * b  # pass-major: row r is pass r // b of image r % b
    image = torch.arange(rows, device=device) % b
    passes = torch.arange(rows, device=device) // b

    pixels = to_pixels(model, inputs.detach().float())
    kernel, sigma = blur_size(params, height, width)
    delta = truncated_blur(pixels, kernel, sigma) - pixels  # (B, 3, H, W)
    grid = position_grid(height, width, device)
    generator = torch.Generator(device=device).manual_seed(params.seed)
    # shared by every row: an image's fixations do not depend on its batch
    restarts = torch.rand(params.fixations, params.iterations, 2, generator=generator, device=device) * 2 - 1
    jitter = (torch.rand(params.fixations, params.iterations, 2, generator=generator, device=device) - 0.5) * params.lr

    memory = torch.zeros(rows, 1, height, width, device=device)
    heat = torch.zeros(rows, 1, height, width, device=device)
    fixations, losses = [], []
    show = params.progress if params.progress is not None else params.fixations * params.iterations > PROGRESS_THRESHOLD
    progress = Progress(
        SimpleNamespace(iterations=params.fixations, progress=show, callback=params.callback,
                        callback_every=params.callback_every),
        "FovEx fixations",
    )
    try:
        for f in range(params.fixations):
            position = torch.zeros(rows, 2, device=device)
            best = torch.zeros(rows, 2, device=device)
            best_loss = torch.full((rows,), math.inf, device=device)
            for t in range(params.iterations):
                leaf = position.detach().requires_grad_(True)
                with torch.enable_grad():
                    g = foveation(leaf, grid, params.foveation_width)
                    seen = pixels[image] + delta[image] * (1 - (memory + g)).clamp(0, 1)
                    loss = scorer(model.logits(from_pixels(model, seen)), image, passes, "cross_entropy")
                    (grad,) = torch.autograd.grad(loss.sum(), leaf)
                loss = loss.detach()
                improved = loss < best_loss
                best_loss = torch.where(improved, loss, best_loss)
                best = torch.where(improved[:, None], position, best)
                position = (position - params.lr * grad.sign()).clamp(-1, 1)
                other = restarts[f, t] if params.random_restarts else (position + jitter[f, t]).clamp(-1, 1)
                position = torch.where(improved[:, None], position, other.expand_as(position))
            kept = foveation(best, grid, params.foveation_width)
            memory = params.memory_decay * memory + kept
            heat = heat + foveation(best, grid, params.heatmap_width)
            fixations.append(best)
            losses.append(best_loss)
            progress.update(f + 1, best_loss, lambda: minmax(heat[:, 0]).view(k, b, height, width).clone())
    finally:
        progress.close()

    loss_seq = torch.stack(losses, dim=1)  # (R, n_fix)
    path = to_pixel_xy(torch.stack(fixations, dim=1), height, width)  # (R, n_fix, 2)
    extras = {
        "fixations": path.view(k, b, params.fixations, 2),
        "fixation_loss": loss_seq.view(k, b, params.fixations),
        "fixation_score": torch.exp(-loss_seq).view(k, b, params.fixations),
    }
    return MethodOutput(
        maps=minmax(heat[:, 0]).view(k, b, height, width), logits=logits.detach(), targets=scorer.classes, extras=extras,
    )
