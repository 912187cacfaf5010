"""iGOS++ (Khorram, Lawson and Fuxin, "iGOS++: Integrated Gradient Optimized Saliency
by Bilateral Perturbations", ACM CHIL 2021, arXiv:2012.15783; summarised in seed
document 004, Li et al., Applied AI Letters 2021).

I-GOS (see ``igos.py``) with two masks per (image, target): a deletion mask M_d and
an insertion mask M_i on the same grid (both 0 on the evidence, 1 elsewhere),
optimised together and output as their product. With Phi(P, Q, M) = Q + M (P - Q),
I the image and B the blur baseline,

    del(M) =  f_c(Phi(I, B, M))      the score left when the region M = 0 is blurred
    ins(M) = -f_c(Phi(B, I, M))      minus the score when only the region M = 0 is shown

    L(M_d, M_i) = 1/2 [del(M_d) + ins(M_i) + del(M_d M_i) + ins(M_d M_i)]
                  + l1 mean|1 - M_d M_i| + l2 BTV(M_d M_i)

with the bilateral total variation of a grid mask M upsampled to u(M),

    BTV(M) = 1/2 [TV(M) + mean_u exp(-||dI(u)||^2 / s) (du(M)/dy)^2 + (same along x)]

(TV as in I-GOS; ||dI||^2 the squared difference of neighbouring input pixels, mean
over channels, in model-input units; s = 0.01): edges of the mask are cheap where
the image has edges. The descent direction integrates the gradients of the four
score terms along their paths: deletion terms from the baseline (t = 0) to
Phi(I, B, t M) at t = 1, insertion terms from the image (t = 0) to Phi(B, I, t M), S
points each with Gaussian noise, plus the gradient of the regulariser. The step is
the I-GOS line search with one step for both masks of a row (or Nesterov momentum).
The map is 1 - u(M_d) u(M_i).

Defaults (METHODS.md and the authors' code, github.com/khorrams/IGOS_pp): 28 x 28
masks initialised to ones, 15 iterations, S = 20, l1 = 1, l2 = 20, s = 0.01, noise
sigma 0.2, blur 51 x 51 with sigma 50, the softmax score, the line search starting
at step 1000 (``--alpha``) with c = 1e-4, decay 0.2, minimum 1e-5.

Known bugs of the reference code, avoided: its ``main.py`` passes ``iterations`` and
``ig_iter`` swapped (so it runs 20 iterations of 15 integration points; here
``iterations`` = 15 and ``ig_steps`` = 20 mean what they say); the deletion AUC adds
``num_pixels - pixels`` instead of the last chunk's score (see
``_optimisation.deletion_auc`` for the metric used here); masks are optimised one
image at a time in Python loops (here all rows together); ``.cuda()`` is hard-coded
(here the model's device).

Other differences, on purpose: the reference halves the gradient of the four score
terms but not their loss in the line search; here L itself has the 1/2, so the
Armijo condition matches the direction. Its line search evaluates the integrated,
noisy scores (4 S forwards per trial); here L at the end of the paths, without
noise, 4 forwards per trial, as I-GOS's original line search. Its bilateral term
takes the channel mean of the difference before squaring along y and after along
x; here after, along both. One noise draw per iteration serves all four paths and
every row (the reference draws per path and per image).

Cost per row: 1 clean forward; per iteration 4 S forwards and backwards, 4 forwards
(L) and 4 per line-search trial; 5 forwards of the final masks (L and the score).

``extras``: as I-GOS's (``loss_history``, ``stopped_at``, ``step_history``,
``line_search_trials``, ``loss``, ``score``: the product mask's deletion score
f_c(Phi(I, B, u(M_d) u(M_i)))), plus ``deletion_map`` and ``insertion_map``: 1 - M_d
and 1 - M_i on the mask grid.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch

from ._optimisation import check_number, rows_to_passes
from .igos import Setup, check_igos_params, optimise, total_variation
from .registry import MethodOutput, register
from .targets import TargetPlan
from ..models.adapter import ModelAdapter


@dataclasses.dataclass
class IGOSPlusPlusParams:
    """iterations: integrated-gradient descent steps (15).
    ig_steps: S, points of each integrated gradient (20).
    mask_size: the grid of both masks, int or (height, width) (28).
    l1: weight of mean|1 - M_d M_i| (1).
    l2: weight of the bilateral total variation of M_d M_i (20).
    bilateral_sigma: s in exp(-||dI||^2 / s), model-input units (0.01).
    noise: standard deviation of the Gaussian noise added to each interpolated input,
        in model-input units (0.2; 0 = none).
    blur_kernel, blur_sigma: the blur baseline's Gaussian kernel, input pixels (51, 50).
    optimizer: "line_search" (Armijo backtracking) or "nesterov".
    step_size: the line search's first step, or Nesterov's fixed step (1000).
    armijo_c, step_decay, min_step: the line search's constant c (1e-4), factor per
        trial (0.2) and smallest step (1e-5).
    score: "probability" (softmax, the paper's) or "logit".
    internal_batch_size: interpolated inputs per forward and backward pass (64).
    seed: seed of the noise.
    progress: a tqdm progress bar; None shows it above 50 iterations.
    callback: called as ``callback(step, masks)`` every ``callback_every`` steps, with
        ``masks`` the current maps 1 - u(M_d) u(M_i) after ``step`` updates, shape
        (K, B, H, W) (target pass, image, input size), detached, on the model's device.
    callback_every: steps between callback calls (1).
    patience: stop a row once L has not improved for this many steps (None: never).
    tolerance: the relative improvement that counts (1e-4)."""

    iterations: int = 15
    ig_steps: int = 20
    mask_size: int | tuple[int, int] = 28
    l1: float = 1.0
    l2: float = 20.0
    bilateral_sigma: float = 0.01
    noise: float = 0.2
    blur_kernel: int = 51
    blur_sigma: float = 50.0
    optimizer: str = "line_search"
    step_size: float = 1000.0
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
        check_number(self.bilateral_sigma, "bilateral_sigma", minimum=0, strict=True)


@register(
    "igos_pp",
    params=IGOSPlusPlusParams,
    summary="Deletion and insertion masks optimised together by integrated gradients; their product, bilateral TV",
    paper="Khorram, Lawson & Fuxin, iGOS++: Integrated Gradient Optimized Saliency by Bilateral Perturbations, CHIL 2021",
    family="perturbation",
    uses_layer=False,
)
def igos_pp(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: IGOSPlusPlusParams, layer: None) -> MethodOutput:
    setup = Setup(model, inputs, plan, params)
    baseline = setup.baseline
    with torch.no_grad():  # the bilateral weights of each image, (B, 1, H - 1, W) and (B, 1, H, W - 1)
        sigma = float(params.bilateral_sigma)
        weight_y = torch.exp(-(inputs[:, :, 1:] - inputs[:, :, :-1]).pow(2).mean(dim=1, keepdim=True) / sigma)
        weight_x = torch.exp(-(inputs[..., 1:] - inputs[..., :-1]).pow(2).mean(dim=1, keepdim=True) / sigma)

    def regulariser(product: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """(n, 1, h, w) grid product M_d M_i -> (n,)."""
        up = setup.up(product)
        img = setup.image[rows]
        bilateral = (weight_y[img] * (up[:, :, 1:] - up[:, :, :-1]).pow(2)).mean(dim=(1, 2, 3)) \
            + (weight_x[img] * (up[..., 1:] - up[..., :-1]).pow(2)).mean(dim=(1, 2, 3))
        btv = 0.5 * (total_variation(product) + bilateral)
        return params.l1 * (1 - product).abs().mean(dim=(1, 2, 3)) + params.l2 * btv

    def objective(m: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        up_d, up_i = setup.up(m[:, :1]), setup.up(m[:, 1:])
        both = up_d * up_i
        scores = (
            setup.endpoint_scores(inputs, baseline, up_d, rows)
            - setup.endpoint_scores(baseline, inputs, up_i, rows)
            + setup.endpoint_scores(inputs, baseline, both, rows)
            - setup.endpoint_scores(baseline, inputs, both, rows)
        )
        return 0.5 * scores + regulariser(m[:, :1] * m[:, 1:], rows)

    def direction(m: torch.Tensor, rows: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        leaf = m.detach().clone().requires_grad_(True)

        def deletion(r: torch.Tensor) -> torch.Tensor:
            return setup.up(leaf[r, :1])

        def insertion(r: torch.Tensor) -> torch.Tensor:
            return setup.up(leaf[r, 1:])

        def product(r: torch.Tensor) -> torch.Tensor:
            return setup.up(leaf[r, :1]) * setup.up(leaf[r, 1:])

        setup.integrate(deletion, inputs, baseline, rows, noise, 0.5)
        setup.integrate(insertion, baseline, inputs, rows, noise, -0.5)
        setup.integrate(product, inputs, baseline, rows, noise, 0.5)
        setup.integrate(product, baseline, inputs, rows, noise, -0.5)
        with torch.enable_grad():
            regulariser(leaf[:, :1] * leaf[:, 1:], rows).sum().backward()
        return leaf.grad

    def maps_of(m: torch.Tensor) -> torch.Tensor:
        return 1 - (setup.up(m[:, :1]) * setup.up(m[:, 1:]))[:, 0]

    final, extras = optimise(setup, 2, objective, direction, maps_of, "igos_pp")
    with torch.no_grad():
        every = torch.arange(setup.rows, device=inputs.device)
        both = setup.up(final[:, :1]) * setup.up(final[:, 1:])
        extras["score"] = rows_to_passes(setup.endpoint_scores(inputs, baseline, both, every), setup.k)
        extras["loss"] = rows_to_passes(objective(final, every), setup.k)
        extras["deletion_map"] = rows_to_passes(1 - final[:, 0], setup.k)  # (K, B, h, w)
        extras["insertion_map"] = rows_to_passes(1 - final[:, 1], setup.k)
        maps = rows_to_passes(1 - both[:, 0], setup.k)
    return MethodOutput(maps=maps, logits=setup.logits, targets=torch.stack(setup.passes), extras=extras)
