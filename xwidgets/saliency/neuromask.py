"""NeuroMask (Alzantot, Widdicombe, Julier and Srivastava, "NeuroMask: Explaining
Predictions of Deep Neural Networks through Mask Learning", IEEE SMARTCOMP 2019;
arXiv:1908.04389; seed document 002).

One mask per (image, target) at the input's resolution, parametrised by weights W:

    m = sigmoid(W / T),   x_masked = x (.) m   (x in [0, 1] pixels: the substrate is black)

    loss = l_p CE(f(x_masked), c) + l_sp mean|W + tau| + l_sm mean(|Laplacian * W|^q)

with c the class to explain (for "pred", argmax f(x) from one clean forward pass),
q = 2 in the official code ("squared") and q = 1 in the paper ("l1"), W initialised
uniformly in [-tau, tau], minimised by RMSProp. Both regularisers act on W, before
the sigmoid: the sparsity term pulls every weight to -tau (mask 0, pixel hidden), the
Laplacian term keeps the weights smooth. The map is the final mask m: 1 where the
pixel is kept because the class needs it.

Pixel space: model inputs are normalised, (p - mean) / std per channel for pixels p
in [0, 1]. Multiplying the pixels by m and normalising again equals
``black + m (x - black)`` with ``black`` the normalised black pixel, which is what is
computed (exactly, and differentiably, on the model's inputs).

Presets (``preset``, the official code's two configurations, github.com/nesl/neuromask):
  * "imagenet" (``NeuroMaskDemo_ImageNet.ipynb``, Inception-v3 at 299 px):
    (l_p, l_sp, l_sm) = (0.4, 0.35, 0.03), T = 0.3, a 5 x 5 Laplacian (centre 24).
  * "cifar" (``neuromask_cifar10_demo.py``, 32 px): (0.4, 0.35, 0.15), T = 1, a 3 x 3
    Laplacian (8-neighbour, centre 8), 2000 iterations.
``formulation``:
  * "code" (``neuromask.py``): tau = 10 (``weight_limit``), the squared Laplacian
    averaged over the valid positions.
  * "paper" (Section III): tau = 20 and the L1 norm of the Laplacian. The paper gives
    no loss weights and no temperature; the preset's are used.
Every field can be set on its own; a field left at None takes the preset's value.

Common to both: learning rate 0.03, the sparsity term averaged over the pixels
(``reduce_mean`` in the code; the paper writes sums), the Laplacian convolution
without padding ("VALID"), RMSProp as TensorFlow 1's ``RMSPropOptimizer`` that the
code uses: mean square initialised to one, decay rho = 0.9, epsilon = 1e-10 inside
the square root, no momentum (TensorFlow's defaults). Iterations: 2000 (the CIFAR
demo's ``num_iters``; METHODS.md quotes 2000 for ImageNet too, while the code's
``explain`` defaults to 1000: unverified for ImageNet).

Targets: a class target uses the cross-entropy of the class, as the paper; a
``Contrast`` target the two-class cross-entropy softplus(-(z_c - z_o)); a callable
target softplus(-score), the callable's score read as a logit.

Differences from the official code, on purpose: the initial weights are drawn once
per call from ``seed`` (one H x W draw shared by every image and target, so a row's
result does not depend on which rows share its batch); several images and targets
are optimised together (the code explains one image); early stopping is available
(off by default).

Batching: every (image, target) row has its own weights and RMSProp state, all
updated together, one forward and one backward pass of all active rows per step;
each row's loss depends on its own weights only, so this equals optimising them one
at a time up to floating-point rounding. Cost: 1 clean forward, then per step one
forward and one backward of the active rows, then 1 forward of the final masks.

``extras``: ``iterations`` (asked), ``stopped_at`` (per row, the steps run),
``loss_history`` (per row and step, the loss before the step's update; NaN after an
early stop), ``loss`` (the last step's), ``score`` (the softmax probability of the
target on the finally masked input, for a callable target its score) and ``area``
(the mean of the mask).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._optimisation import EarlyStopping, PairScores, Progress, check_choice, check_controls, check_number, check_stopping, rows_to_passes
from .occlusion import substrate
from .registry import MethodOutput, register
from .targets import TargetPlan

PRESETS = ("imagenet", "cifar")
FORMULATIONS = ("code", "paper")
LAPLACIANS = ("squared", "l1")

#: the official code's configurations (see the module docstring)
PRESET_VALUES: dict[str, dict[str, Any]] = {
    "imagenet": dict(iterations=2000, lambda_pred=0.4, lambda_sparse=0.35, lambda_smooth=0.03, temperature=0.3,
                     laplacian_size=5),
    "cifar": dict(iterations=2000, lambda_pred=0.4, lambda_sparse=0.35, lambda_smooth=0.15, temperature=1.0,
                  laplacian_size=3),
}
FORMULATION_VALUES: dict[str, dict[str, Any]] = {
    "code": dict(tau=10.0, laplacian="squared"),
    "paper": dict(tau=20.0, laplacian="l1"),
}


@dataclasses.dataclass
class NeuroMaskParams:
    """preset: "imagenet" or "cifar", the official code's two configurations; fields
        left at None below take its values.
    formulation: "code" (tau 10, squared Laplacian) or "paper" (tau 20, L1 Laplacian).
    iterations: RMSProp steps (2000).
    lr: RMSProp learning rate (0.03).
    lambda_pred, lambda_sparse, lambda_smooth: weights of the cross-entropy, of
        mean|W + tau| and of the Laplacian term ((0.4, 0.35, 0.03) imagenet,
        (0.4, 0.35, 0.15) cifar).
    temperature: T in m = sigmoid(W / T) (0.3 imagenet, 1 cifar).
    tau: the initial weights are uniform in [-tau, tau]; the sparsity term pulls them
        to -tau (10 code, 20 paper).
    laplacian: "squared" (code) or "l1" (paper).
    laplacian_size: 3 (8-neighbour, centre 8; cifar) or 5 (centre 24; imagenet).
    rho, eps: RMSProp's decay of the mean square and epsilon (TensorFlow 1: 0.9, 1e-10).
    mean_square_init: RMSProp's initial mean square (1, TensorFlow 1's; PyTorch and
        Keras start at 0). At 1 the first steps are tiny: with gradients g the steps
        reach their full size lr once rho^t falls below g^2, some 150 to 250 steps
        into the run for this loss. 0 gives full steps from the start, but then the
        first step of every weight is +-lr / sqrt(1 - rho) whatever the size of its
        gradient, so the sign of near-zero gradients (saturated pixels) decides it
        and float rounding shows in the maps (measured: up to 0.02 after 40 steps
        between a batch and single images; 3e-6 at 1).
    seed: seed of the initial weights.
    progress: a tqdm progress bar; None shows it above 50 iterations.
    callback: called as ``callback(step, masks)`` every ``callback_every`` steps, with
        ``masks`` the current maps m after ``step`` updates, shape (K, B, H, W)
        (target pass, image, input size), detached, on the model's device.
    callback_every: steps between callback calls (10).
    patience: stop a row once its loss has not improved for this many steps (None:
        never, the default: the published runs use a fixed number of steps).
    tolerance: the relative improvement that counts (1e-4)."""

    preset: str = "imagenet"
    formulation: str = "code"
    iterations: int | None = None
    lr: float = 0.03
    lambda_pred: float | None = None
    lambda_sparse: float | None = None
    lambda_smooth: float | None = None
    temperature: float | None = None
    tau: float | None = None
    laplacian: str | None = None
    laplacian_size: int | None = None
    rho: float = 0.9
    eps: float = 1e-10
    mean_square_init: float = 1.0
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 10
    patience: int | None = None
    tolerance: float = 1e-4

    def __post_init__(self) -> None:
        check_choice(self.preset, "preset", PRESETS)
        check_choice(self.formulation, "formulation", FORMULATIONS)
        for source in (PRESET_VALUES[self.preset], FORMULATION_VALUES[self.formulation]):
            for name, value in source.items():
                if getattr(self, name) is None:
                    setattr(self, name, value)
        check_controls(self)
        check_stopping(self)
        check_number(self.lr, "lr", minimum=0, strict=True)
        for name in ("lambda_pred", "lambda_sparse", "lambda_smooth"):
            check_number(getattr(self, name), name, minimum=0)
        check_number(self.temperature, "temperature", minimum=0, strict=True)
        check_number(self.tau, "tau", minimum=0, strict=True)
        check_choice(self.laplacian, "laplacian", LAPLACIANS)
        if self.laplacian_size not in (3, 5) or isinstance(self.laplacian_size, bool):
            raise bad_argument("laplacian_size", "3 or 5", self.laplacian_size)
        check_number(self.rho, "rho", minimum=0, maximum=1, maximum_strict=True)
        check_number(self.eps, "eps", minimum=0, strict=True)
        check_number(self.mean_square_init, "mean_square_init", minimum=0)


def laplacian_kernel(size: int, device: torch.device) -> torch.Tensor:
    """(1, 1, size, size): -1 everywhere and size^2 - 1 in the centre (sums to zero)."""
    kernel = -torch.ones(size, size, device=device)
    kernel[size // 2, size // 2] = size * size - 1
    return kernel.view(1, 1, size, size)


@register(
    "neuromask",
    params=NeuroMaskParams,
    summary="Sigmoid mask on black, learned by RMSProp to keep the prediction with sparse, smooth weights",
    paper="Alzantot et al., NeuroMask: Explaining Predictions of Deep Neural Networks through Mask Learning, SMARTCOMP 2019",
    family="perturbation",
    uses_layer=False,
)
def neuromask(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: NeuroMaskParams, layer: None) -> MethodOutput:
    b, _, height, width = inputs.shape
    device = inputs.device
    if min(height, width) < params.laplacian_size:
        raise bad_argument("laplacian_size", f"at most the input size {height}x{width}", params.laplacian_size)
    generator = torch.Generator().manual_seed(params.seed)  # CPU: the same draws on every device
    tau, temperature = float(params.tau), float(params.temperature)

    with torch.no_grad():
        logits = model.logits(inputs)
        passes = plan.passes(logits)
        k = len(passes)
        scorer = PairScores(plan, logits)
        black = substrate(model, "black", inputs)
        span = inputs - black
        kernel = laplacian_kernel(params.laplacian_size, device).to(inputs.dtype)
    rows = b * k
    image = torch.arange(b, device=device).repeat_interleave(k)
    passes_of_rows = torch.arange(k, device=device).repeat(b)

    init = (torch.rand(1, 1, height, width, generator=generator) * 2 - 1) * tau
    weights = init.to(device=device, dtype=inputs.dtype).expand(rows, 1, height, width).clone()
    mean_square = torch.full_like(weights, float(params.mean_square_init))  # TensorFlow 1: one
    history = torch.full((params.iterations, rows), float("nan"), device=device)
    stopper = EarlyStopping(rows, params.patience, params.tolerance, params.iterations, device)
    progress = Progress(params, "neuromask")

    def maps() -> torch.Tensor:
        return rows_to_passes(torch.sigmoid(weights / temperature)[:, 0], k)

    try:
        for step in range(params.iterations):
            active = stopper.rows()
            w = (weights if active is None else weights[active]).detach().requires_grad_(True)
            img = image if active is None else image[active]
            with torch.enable_grad():
                m = torch.sigmoid(w / temperature)
                pred = scorer(model.logits(black + m * span[img]), img,
                              passes_of_rows if active is None else passes_of_rows[active], "cross_entropy")
                sparse = (w + tau).abs().mean(dim=(1, 2, 3))
                curvature = F.conv2d(w, kernel)
                smooth = (curvature.pow(2) if params.laplacian == "squared" else curvature.abs()).mean(dim=(1, 2, 3))
                loss = params.lambda_pred * pred + params.lambda_sparse * sparse + params.lambda_smooth * smooth
                (grad,) = torch.autograd.grad(loss.sum(), w)
            with torch.no_grad():
                square = mean_square if active is None else mean_square[active]
                square = params.rho * square + (1 - params.rho) * grad * grad
                updated = w.detach() - params.lr * grad / torch.sqrt(square + params.eps)
                if active is None:
                    weights, mean_square = updated, square
                    history[step] = loss.detach()
                else:
                    weights[active], mean_square[active] = updated, square
                    history[step, active] = loss.detach()
            going = stopper.update(step + 1, history[step])
            progress.update(step + 1, history[step], maps)
            if not going:
                break
    finally:
        progress.close()

    with torch.no_grad():
        final = torch.sigmoid(weights / temperature)
        masked = model.logits(black + final * span[image])
        kind = "logit" if plan.is_callable else "probability"
        score = scorer(masked, image, passes_of_rows, kind)
        last = history.gather(0, (stopper.stopped_at - 1).clamp_min(0)[None])[0]
    extras = {
        "iterations": params.iterations,
        "stopped_at": rows_to_passes(stopper.stopped_at, k),  # (K, B)
        "loss": rows_to_passes(last, k),
        "score": rows_to_passes(score, k),
        "area": rows_to_passes(final.mean(dim=(1, 2, 3)), k),
        "loss_history": rows_to_passes(history.T, k),  # (K, B, iterations)
    }
    return MethodOutput(maps=rows_to_passes(final[:, 0], k), logits=logits, targets=torch.stack(passes), extras=extras)
