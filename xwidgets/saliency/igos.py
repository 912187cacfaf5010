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
   interpolated input plus Gaussian noise N(0, sigma^2),
   d = (1/S) sum_i d f_c(Phi(I, B, (i/S) M) + n_i) / dM + d(l1 ... + l2 ...)/dM;
2. a step along -d by backtracking line search with the revised Armijo condition
   L(clamp(M - a d)) <= L(M) - c a ||d||^2 (c = 1e-4): a starts at ``step_size``
   and is multiplied by 0.2 until the condition holds or a < 1e-5; or, with
   ``optimizer="nesterov"``, a fixed step with Nesterov momentum i / (i + 3), as in
   the reference code;
3. M is clamped to [0, 1].

The map is the deleted region, 1 - M (upsampled as in the optimisation).

Defaults (METHODS.md and the authors' code, github.com/khorrams/IGOS_pp, whose
``methods.py`` also holds I-GOS, and the original github.com/zhongangqi/IGOS): a
28 x 28 mask initialised to ones, 15 iterations, S = 20 integration steps, l1 = 1,
l2 = 20, TV with exponent 2 averaged over the grid, noise sigma 0.2 in model-input
units, a baseline blurred with a 51 x 51 Gaussian kernel of sigma 50 px (for inputs
below 500 px; the code uses 151 and 201 above 500 and 800 px), the softmax score,
Armijo c = 1e-4, decay 0.2, minimum step 1e-5, initial step 200 (the original code;
the IGOS_pp code passes 1000), upsampling with ``UpsamplingBilinear2d``
(align_corners=True).

The line search evaluates L at the end of the path (t = 1, no noise, one forward per
trial), as the original I-GOS code does; the IGOS_pp code evaluates the integrated,
noisy score instead (S forwards per trial). The original code's adaptive l1 (divided
by 10, then 5, when the score has not moved by mid-run) is not implemented.

Randomness: the S noise images are drawn once per iteration from ``seed`` and shared
by every (image, target) row, so a row's result does not depend on which rows share
its batch. Batching: every row has its own mask and step; the S x rows interpolated
inputs go through the model ``internal_batch_size`` at a time; the line search
evaluates only the rows still searching. Rows that stop early (``patience``) drop
out of the forward passes.

Cost per row: 1 clean forward; per iteration S forwards and backwards (the integrated
gradient), 1 forward (L(M)) and one forward per line-search trial; 1 forward of the
final mask. ``extras`` records ``line_search_trials`` so the cost can be checked.

``extras``: ``iterations``, ``stopped_at`` (steps run per row), ``loss_history``
(L(M) before each step's update; NaN after an early stop), ``loss`` and ``score``
(L and f_c of the returned mask), ``step_history`` (the step taken at each
iteration), ``line_search_trials`` (forwards spent by the line search, per row).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._gradients import check_positive_int
from ._optimisation import (
    OPTIMISERS,
    SCORES,
    EarlyStopping,
    PairScores,
    Progress,
    armijo_steps,
    check_choice,
    check_controls,
    check_number,
    check_stopping,
    integrated_scores,
    rows_to_passes,
    truncated_blur,
)
from .occlusion import pair
from .registry import MethodOutput, register
from .targets import TargetPlan


@dataclasses.dataclass
class IGOSParams:
    """iterations: integrated-gradient descent steps (15).
    ig_steps: S, points of the integrated gradient (20).
    mask_size: the mask grid, int or (height, width) (28).
    l1: weight of mean|1 - M| (1).
    l2: weight of the total variation, mean squared differences of the grid (20).
    noise: standard deviation of the Gaussian noise added to each interpolated input,
        in model-input units (0.2; 0 = none).
    blur_kernel, blur_sigma: the blur baseline's Gaussian kernel, input pixels (51, 50).
    optimizer: "line_search" (Armijo backtracking, the paper's) or "nesterov".
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


def check_igos_params(params: Any) -> None:
    """The checks I-GOS and iGOS++ share."""
    check_controls(params)
    check_stopping(params)
    check_positive_int(params.ig_steps, "ig_steps")
    pair(params.mask_size, "mask_size")
    check_number(params.l1, "l1", minimum=0)
    check_number(params.l2, "l2", minimum=0)
    check_number(params.noise, "noise", minimum=0)
    if isinstance(params.blur_kernel, bool) or not isinstance(params.blur_kernel, int) or params.blur_kernel < 1 \
            or params.blur_kernel % 2 == 0:
        raise bad_argument("blur_kernel", "a positive odd int (pixels)", params.blur_kernel)
    check_number(params.blur_sigma, "blur_sigma", minimum=0, strict=True)
    check_choice(params.optimizer, "optimizer", OPTIMISERS)
    check_number(params.step_size, "step_size", minimum=0, strict=True)
    check_number(params.armijo_c, "armijo_c", minimum=0)
    check_number(params.step_decay, "step_decay", minimum=0, strict=True, maximum=1, maximum_strict=True)
    check_number(params.min_step, "min_step", minimum=0, strict=True)
    check_choice(params.score, "score", SCORES)
    check_positive_int(params.internal_batch_size, "internal_batch_size")


# ---------------------------------------------------------------------------- shared with iGOS++


def total_variation(m: torch.Tensor) -> torch.Tensor:
    """(n, P, h, w) -> (n,): mean squared vertical plus mean squared horizontal
    differences (the reference's ``tv_norm`` with beta = 2), summed over the P masks."""
    dy = (m[..., 1:, :] - m[..., :-1, :]).pow(2).mean(dim=(-2, -1))
    dx = (m[..., :, 1:] - m[..., :, :-1]).pow(2).mean(dim=(-2, -1))
    return (dy + dx).sum(dim=1)


class Setup:
    """What an I-GOS-type run knows before its loop: the clean pass, the targets, the
    rows, the baseline, the upsampling and the scorer."""

    def __init__(self, model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: Any) -> None:
        self.model, self.inputs, self.params = model, inputs, params
        b, _, height, width = inputs.shape
        self.size = (height, width)
        self.grid = pair(params.mask_size, "mask_size")
        device = inputs.device
        with torch.no_grad():
            self.logits = model.logits(inputs)
            self.passes = plan.passes(logits=self.logits)
            self.k = len(self.passes)
            self.scorer = PairScores(plan, self.logits)
            self.baseline = truncated_blur(inputs, params.blur_kernel, float(params.blur_sigma))
        self.kind = "logit" if params.score == "logit" or plan.is_callable else "probability"
        self.rows = b * self.k
        self.image = torch.arange(b, device=device).repeat_interleave(self.k)
        self.passes_of_rows = torch.arange(self.k, device=device).repeat(b)
        self.generator = torch.Generator().manual_seed(params.seed)  # CPU: the same draws on every device

    def up(self, m: torch.Tensor) -> torch.Tensor:
        """(n, 1, h, w) grid masks -> (n, 1, H, W), bilinear with align_corners=True."""
        return F.interpolate(m, size=self.size, mode="bilinear", align_corners=True)

    def score(self, logits: torch.Tensor, image: torch.Tensor, passes: torch.Tensor) -> torch.Tensor:
        return self.scorer(logits, image, passes, self.kind)

    def endpoint_scores(self, start: torch.Tensor, end: torch.Tensor, upsampled: torch.Tensor,
                        rows: torch.Tensor) -> torch.Tensor:
        """(n,) scores of phi(start, end, M) = end + M (start - end) for rows ``rows``,
        ``upsampled`` (n, 1, H, W), no gradient, ``internal_batch_size`` at a time."""
        out = torch.empty(rows.numel(), device=self.inputs.device)
        chunk = self.params.internal_batch_size
        with torch.no_grad():
            for lo in range(0, rows.numel(), chunk):
                r = rows[lo : lo + chunk]
                img = self.image[r]
                x = end[img] + upsampled[lo : lo + chunk] * (start[img] - end[img])
                out[lo : lo + chunk] = self.score(self.model.logits(x), img, self.passes_of_rows[r])
        return out

    def integrate(self, mask_of: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, end: torch.Tensor,
                  rows: torch.Tensor, noise: torch.Tensor | None, weight: float) -> torch.Tensor:
        """The integrated score along t M for rows ``rows`` (``mask_of`` indexes into
        them), backpropagating ``weight`` x its sum; returns it (n,)."""
        return integrated_scores(
            self.model, mask_of, start, end, self.image[rows], self.passes_of_rows[rows], self.score,
            self.params.ig_steps, noise, self.params.internal_batch_size, weight,
        )

    def noise(self) -> torch.Tensor | None:
        """The S noise images of one iteration, (S, C, H, W), shared by every row."""
        if self.params.noise <= 0:
            return None
        shape = (self.params.ig_steps, self.inputs.shape[1], *self.size)
        draw = torch.randn(shape, generator=self.generator) * float(self.params.noise)
        return draw.to(device=self.inputs.device, dtype=self.inputs.dtype)


def optimise(
    setup: Setup,
    masks: int,
    objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    direction: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor],
    maps_of: Callable[[torch.Tensor], torch.Tensor],
    name: str,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The I-GOS loop, shared with iGOS++: ``masks`` grid masks per row, all ones at
    the start; ``objective(M, rows)`` -> (n,) the loss L without gradient;
    ``direction(M, rows, noise)`` -> (n, masks, h, w) the descent direction;
    ``maps_of(M)`` -> (n, H, W) the saliency maps. Returns the final grid masks
    (rows, masks, h, w) and the extras of the loop."""
    params = setup.params
    device = setup.inputs.device
    rows = setup.rows
    state = torch.ones(rows, masks, *setup.grid, device=device, dtype=setup.inputs.dtype)
    previous = torch.zeros_like(state)  # Nesterov's previous point
    history = torch.full((params.iterations, rows), float("nan"), device=device)
    steps = torch.full((params.iterations, rows), float("nan"), device=device)
    trials = torch.zeros(rows, dtype=torch.long, device=device)
    every = torch.arange(rows, device=device)
    stopper = EarlyStopping(rows, params.patience, params.tolerance, params.iterations, device)
    progress = Progress(params, name)
    try:
        for step in range(params.iterations):
            active = stopper.rows()
            idx = every if active is None else active
            noise = setup.noise()  # drawn every iteration, whichever rows are active
            current = state if active is None else state[idx]
            base = objective(current, idx)
            d = direction(current, idx, noise)
            if params.optimizer == "line_search":
                alphas, evaluations = armijo_steps(
                    lambda candidates, r: objective(candidates, idx[r]), current, d, base,
                    float(params.step_size), float(params.armijo_c), float(params.step_decay), float(params.min_step),
                )
                updated = (current - alphas.view(-1, 1, 1, 1) * d).clamp(0, 1)
                trials[idx] += evaluations
            else:
                alphas = torch.full((idx.numel(),), float(params.step_size), device=device)
                momentum = step / (step + 3)
                point = current - float(params.step_size) * d
                updated = (point + momentum * (point - previous[idx])).clamp(0, 1)
                previous[idx] = point
            state[idx] = updated
            history[step, idx] = base
            steps[step, idx] = alphas
            going = stopper.update(step + 1, history[step])
            progress.update(step + 1, history[step], lambda: rows_to_passes(maps_of(state), setup.k))
            if not going:
                break
    finally:
        progress.close()
    extras = {
        "iterations": params.iterations,
        "stopped_at": rows_to_passes(stopper.stopped_at, setup.k),
        "loss_history": rows_to_passes(history.T, setup.k),  # (K, B, iterations)
        "step_history": rows_to_passes(steps.T, setup.k),
        "line_search_trials": rows_to_passes(trials, setup.k),
    }
    return state, extras


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
    setup = Setup(model, inputs, plan, params)

    def regulariser(m: torch.Tensor) -> torch.Tensor:
        return params.l1 * (1 - m).abs().mean(dim=(1, 2, 3)) + params.l2 * total_variation(m)

    def objective(m: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return setup.endpoint_scores(inputs, setup.baseline, setup.up(m), rows) + regulariser(m)

    def direction(m: torch.Tensor, rows: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        leaf = m.detach().clone().requires_grad_(True)
        setup.integrate(lambda r: setup.up(leaf[r]), inputs, setup.baseline, rows, noise, 1.0)
        with torch.enable_grad():
            regulariser(leaf).sum().backward()
        return leaf.grad

    def maps_of(m: torch.Tensor) -> torch.Tensor:
        return 1 - setup.up(m)[:, 0]

    final, extras = optimise(setup, 1, objective, direction, maps_of, "igos")
    with torch.no_grad():
        every = torch.arange(setup.rows, device=inputs.device)
        score = setup.endpoint_scores(inputs, setup.baseline, setup.up(final), every)
        extras["score"] = rows_to_passes(score, setup.k)
        extras["loss"] = rows_to_passes(score + regulariser(final), setup.k)
        maps = rows_to_passes(maps_of(final), setup.k)
    return MethodOutput(maps=maps, logits=setup.logits, targets=torch.stack(setup.passes), extras=extras)
