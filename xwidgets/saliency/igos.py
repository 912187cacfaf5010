"""I-GOS (Qi, Khorram and Li, "Visualizing Deep Networks by Optimizing with Integrated
Gradients", AAAI 2020; summarised in seed document 004, Li et al., Applied AI
Letters 2021).

The deletion game of meaningful perturbation, optimised along integrated gradients
instead of plain gradients (which get stuck in local optima). A mask M on a coarse
grid (1 keeps the pixel, 0 replaces it by the baseline), upsampled bilinearly to the
input, perturbs the image as Phi(I, B, M) = I (.) M + B (.) (1 - M), with B a heavy
Gaussian blur of the image, and

    L(M) = f_c(Phi(I, B, M)) + l1 mean|1 - M| + l2 TV(M),  TV(M) = mean (dM/dy)^2 + mean (dM/dx)^2

with f_c the softmax probability of the class. Each iteration:

1. the descent direction d: the integrated gradient of f_c along the masks
   t M, t = 1/S, 2/S, ..., 1 (from the baseline at t = 0 to Phi(I, B, M)), each
   interpolated input plus Gaussian noise n_i, so d is the gradient of the
   integrated loss
       J(M) = (1/S) sum_i f_c(Phi(I, B, (i/S) M) + n_i) + l1 mean|1 - M| + l2 TV(M);
2. a step along -d by backtracking line search with the revised Armijo condition
   J(clamp(M - a d)) <= J(M) - c a ||d||^2 (c = 1e-4), J with the same noise n_i as
   d: a starts at ``step_size`` and is multiplied by 0.2 until the condition holds
   or a < 1e-5 (that last step is then taken); or, with ``optimizer="nesterov"``, a
   fixed step with Nesterov momentum i / (i + 3), as in the reference code;
3. M is clamped to [0, 1];
4. (``adaptive_l1``, the original code's) at iteration floor(T/2) (0-based, T the
   iterations, T > 3) a row whose score f_c(Phi(I, B, M)) has moved by at most 1e-3
   from its start has l1 divided by 10; at floor(T/1.25) by at most 1e-2: divided by
   5. As there, the score compared is the one after one update fewer.

The map is the deleted region, 1 - M (upsampled as in the optimisation).

Defaults (METHODS.md and the authors' code, github.com/khorrams/IGOS_pp, whose
``methods.py`` also holds I-GOS, and the original github.com/zhongangqi/IGOS): a
28 x 28 mask initialised to ones, 15 iterations, S = 20 integration steps, l1 = 1,
l2 = 20, TV with exponent 2 averaged over the grid, noise sigma 0.2 in ImageNet-
normalised units, a baseline blurred with a 51 x 51 Gaussian kernel of sigma 50 px
(for inputs below 500 px; the code uses 151 and 201 above 500 and 800 px), the
softmax score, Armijo c = 1e-4, decay 0.2, minimum step 1e-5, initial step 200 (the
original code; the IGOS_pp code passes 1000), upsampling with
``UpsamplingBilinear2d`` (align_corners=True).

Noise units. Both reference codes add N(0, 0.2^2) to the image after torchvision's
ImageNet normalisation (std 0.229, 0.224, 0.225), i.e. about 0.045 of the [0, 1]
pixel range. ``noise`` keeps that meaning for any model: it is converted through
the model's preprocessing (``_optimisation.noise_units``): unchanged for an
ImageNet-normalised model, x 0.46 for EfficientNet-Lite's (x - 127) / 128 (so 0.091
of its input units; read as model-input units, 0.2 was 2.2 times the reference's
noise there).

The line search's loss (``line_search_loss``). "integrated" (default): J above, the
function whose gradient d is, as the IGOS_pp code's line search does (it draws fresh
noise at every trial; here the iteration's noise is reused, so the test is
deterministic and a small enough step always passes it): S forwards per trial.
"endpoint": L at t = 1 without noise, as the original I-GOS code (one forward per
trial). With the noise on, d is the gradient of J, not of L, and on a real model it
need not be a descent direction of L at all: on EfficientNet-Lite0 (224 px, photos
chelsea and coffee) every trial then failed down to a < 1e-5, the loss stayed
constant and the map's mean after 15 iterations was about 3e-7 (measured; the
"endpoint" search with ``noise=0`` does move). On J the same runs take steps of 8
and 1.6 and the masks move (coffee at 15 x 20: map peak 0.17, mean 0.016, deletion
AUC 0.059 against 0.126 for random maps; 28 deletion steps to the blur).

What stays hard on that model, measured at the published settings: the steps stay
small, because the integrated gradient on the 28 x 28 grid is speckled and l2 TV
grows with the square of the step, which caps the accepted step near 10 whatever
the gradient's size (on coffee with l2 = 2 the first step, 200, passes). And the
noise can change the question: chelsea is a tiger cat at probability 0.38 among
near classes, and noise of 0.025 of the pixel range already makes Egyptian cat the
top class; its noisy directions rank the pixels no better than a random map
(15 x 20: deletion AUC 0.105 against 0.092), while ``noise=0`` ranks them well
(6 x 8: 0.058 against 0.090).

Randomness: the S noise images are drawn once per iteration from ``seed`` and shared
by every (image, target) row, so a row's result does not depend on which rows share
its batch. Batching: every row has its own mask, step and l1; the S x rows
interpolated inputs go through the model ``internal_batch_size`` at a time; the line
search evaluates only the rows still searching. Rows that stop early (``patience``)
drop out of the forward passes.

Cost per row: 1 clean forward; per iteration S forwards and backwards (the integrated
gradient, which also gives J(M)), 1 forward (L(M), for the history, early stopping
and the adaptive l1) and per line-search trial S forwards ("integrated") or 1
("endpoint"); 1 forward of the final mask. ``extras`` records ``line_search_trials``
so the cost can be checked.

``extras``: ``iterations``, ``stopped_at`` (steps run per row), ``loss_history``
(L(M) before each step's update; NaN after an early stop), ``score_history``
(f_c(Phi(I, B, M)) likewise), ``loss`` and ``score`` (L and f_c of the returned
mask, L with the final l1), ``step_history`` (the step taken at each iteration),
``line_search_trials`` (line-search trials per row), ``l1`` (each row's final l1).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch

from ..models.adapter import ModelAdapter
from ._optimisation import IGOSSetup, check_igos_params, integrated_descent, rows_to_passes, total_variation
from .registry import MethodOutput, register
from .targets import TargetPlan

Setup = IGOSSetup  # the names these pieces had when they lived here


@dataclasses.dataclass
class IGOSParams:
    """iterations: integrated-gradient descent steps (15).
    ig_steps: S, points of the integrated gradient (20).
    mask_size: the mask grid, int or (height, width) (28).
    l1: weight of mean|1 - M| (1).
    l2: weight of the total variation, mean squared differences of the grid (20).
    noise: standard deviation of the Gaussian noise added to each interpolated input,
        in ImageNet-normalised units as in the reference codes (about 0.045 of the
        pixel range), converted to the model's input units (0.2; 0 = none).
    blur_kernel, blur_sigma: the blur baseline's Gaussian kernel, input pixels (51, 50).
    optimizer: "line_search" (Armijo backtracking, the paper's) or "nesterov".
    line_search_loss: "integrated" (the integrated, noisy loss J whose gradient the
        direction is, as the IGOS_pp code) or "endpoint" (L at t = 1 without noise,
        as the original I-GOS code).
    adaptive_l1: divide l1 by 10 at mid-run, then by 5 at 80 %, for rows whose score
        has not moved, as the original I-GOS code (True).
    step_size: the line search's first step, or Nesterov's fixed step (200).
    armijo_c, step_decay, min_step: the line search's constant c (1e-4), factor per
        trial (0.2) and smallest step (1e-5).
    score: "probability" (softmax, the paper's) or "logit".
    internal_batch_size: interpolated inputs per forward and backward pass (64).
    seed: seed of the noise.
    progress: a tqdm progress bar; None shows it above 50 iterations.
    callback: called as ``callback(step, masks)`` every ``callback_every`` steps, with
        ``masks`` the current maps 1 - M after ``step`` updates, shape (K, B, H, W)
        (target pass, image, input size), detached, on the model's device.
    callback_every: steps between callback calls (1).
    patience: stop a row once L(M) has not improved for this many steps (None: never).
    tolerance: the relative improvement that counts (1e-4)."""

    iterations: int = 15
    ig_steps: int = 20
    mask_size: int | tuple[int, int] = 28
    l1: float = 1.0
    l2: float = 20.0
    noise: float = 0.2
    blur_kernel: int = 51
    blur_sigma: float = 50.0
    optimizer: str = "line_search"
    line_search_loss: str = "integrated"
    adaptive_l1: bool = True
    step_size: float = 200.0
    armijo_c: float = 1e-4
    step_decay: float = 0.2
    min_step: float = 1e-5
    score: str = "probability"
    internal_batch_size: int = 64
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 1
    patience: int | None = None
    tolerance: float = 1e-4

    def __post_init__(self) -> None:
        check_igos_params(self)


# ---------------------------------------------------------------------------- I-GOS


@register(
    "igos",
    params=IGOSParams,
    summary="Smallest smooth blur mask deleting the class, by integrated-gradient descent with a line search",
    paper="Qi, Khorram & Li, Visualizing Deep Networks by Optimizing with Integrated Gradients, AAAI 2020",
    family="perturbation",
    uses_layer=False,
)
def igos(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: IGOSParams, layer: None) -> MethodOutput:
    setup = IGOSSetup(model, inputs, plan, params)
    baseline = setup.baseline

    def regulariser(m: torch.Tensor, rows: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        return l1 * (1 - m).abs().mean(dim=(1, 2, 3)) + params.l2 * total_variation(m)

    def endpoint_score(m: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return setup.endpoint_scores(inputs, baseline, setup.up(m), rows)

    def integrated(m: torch.Tensor, rows: torch.Tensor, noise: torch.Tensor | None, backward: bool) -> torch.Tensor:
        return setup.integrate(lambda r: setup.up(m[r]), inputs, baseline, rows, noise, 1.0 if backward else None)

    def maps_of(m: torch.Tensor) -> torch.Tensor:
        return 1 - setup.up(m)[:, 0]

    final, extras, l1 = integrated_descent(setup, 1, regulariser, endpoint_score, integrated, maps_of, "igos")
    with torch.no_grad():
        every = torch.arange(setup.rows, device=inputs.device)
        score = endpoint_score(final, every)
        extras["score"] = rows_to_passes(score, setup.k)
        extras["loss"] = rows_to_passes(score + regulariser(final, every, l1), setup.k)
        maps = rows_to_passes(maps_of(final), setup.k)
    return MethodOutput(maps=maps, logits=setup.logits, targets=torch.stack(setup.passes), extras=extras)
