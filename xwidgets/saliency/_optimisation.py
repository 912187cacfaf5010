"""What the mask-optimisation methods share (meaningful and extremal perturbation,
NeuroMask, I-GOS, iGOS++).

* Argument checks whose messages name the argument (``check_number``,
  ``check_choice``, ``check_controls``, ``check_stopping``).
* Scores of perturbed copies of the images for the targets fixed by the clean pass
  (``RowScores`` for B images x R rows each, ``PairScores`` for any list of
  (image, target pass) rows, as the methods that drop finished rows need).
* The live side of a long optimisation: the tqdm.auto progress bar and the
  ``callback(step, masks)`` every ``callback_every`` steps (``Progress``), and early
  stopping when a row's loss stalls (``EarlyStopping``).
* Pieces of the integrated-gradient mask optimisations: the truncated Gaussian blur
  baseline, integrated scores along a path of masks (with their gradient), and the
  batched Armijo backtracking line search.
* The integrated-gradient descent that I-GOS and iGOS++ share (their parameter
  checks, ``total_variation``, ``IGOSSetup`` with the noise in the model's input
  units, and the loop ``integrated_descent`` with its line search on the integrated
  loss and the original code's adaptive l1).
* ``deletion_auc``: the deletion curve's area of a saliency map, batched (a small
  helper for the checks of these methods; the full metrics live elsewhere).

Rows: a method optimises one mask per (image, target pass) pair. Here a row is such
a pair, rows are image-major (row r is image r // K, pass r % K, for K passes), and
every per-row computation is independent of the other rows, so a row's result does
not depend on which rows share its batch.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.preprocess import IMAGENET_STD
from ._gradients import check_positive_int
from .integrated_gradients import _convolution_blur
from .occlusion import pair
from .targets import TargetPlan

SCORES = ("probability", "logit")
OPTIMISERS = ("line_search", "nesterov")
LINE_SEARCH_LOSSES = ("integrated", "endpoint")

#: below this many iterations the progress bar is off unless asked for
PROGRESS_THRESHOLD = 50

__all__ = [
    "SCORES", "OPTIMISERS", "PROGRESS_THRESHOLD", "check_number", "check_choice", "check_controls", "check_stopping",
    "RowScores", "PairScores", "Progress", "EarlyStopping", "truncated_blur", "integrated_scores", "armijo_steps",
    "deletion_auc", "rows_to_passes", "LINE_SEARCH_LOSSES", "check_igos_params", "total_variation", "noise_units",
    "IGOSSetup", "integrated_descent",
]


# ---------------------------------------------------------------------------- shared checks


def check_number(value: Any, argument: str, *, minimum: float | None = None, strict: bool = False,
                 maximum: float | None = None, maximum_strict: bool = False) -> None:
    """A finite real number (not a bool; numpy scalars are fine) within the given bounds."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if maximum_strict else value <= maximum
    if not ok:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if strict else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"{'<' if maximum_strict else '<='} {maximum:g}")
        raise bad_argument(argument, "a finite number" + (" " + " and ".join(bounds) if bounds else ""), value)


def check_choice(value: Any, argument: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise bad_argument(argument, f"one of {', '.join(repr(c) for c in choices)}", value)


def check_controls(params: Any) -> None:
    """The fields every mask optimisation shares: iterations, seed, progress, callback."""
    check_positive_int(params.iterations, "iterations")
    if isinstance(params.seed, bool) or not isinstance(params.seed, int):
        raise bad_argument("seed", "an int", params.seed)
    if params.progress is not None and not isinstance(params.progress, bool):
        raise bad_argument("progress", "True, False or None (on above 50 iterations)", params.progress)
    if params.callback is not None and not callable(params.callback):
        raise bad_argument("callback", "None or a callable(step, masks)", params.callback)
    check_positive_int(params.callback_every, "callback_every")


def check_stopping(params: Any) -> None:
    """``patience``: None (never stop early) or a positive int of steps; ``tolerance``:
    a finite number >= 0 (a relative improvement)."""
    if params.patience is not None:
        check_positive_int(params.patience, "patience")
    check_number(params.tolerance, "tolerance", minimum=0)


# ---------------------------------------------------------------------------- scores of perturbed rows


class RowScores:
    """Scores of perturbed copies ("rows") of B images: row ``(b, r)`` is a copy of
    image b scored for target pass ``passes_of_rows[r]``. The classes are fixed by the
    clean forward pass (a perturbed copy is scored for the clean image's class).

    ``use_probability``: softmax first (not for a callable target, which is applied to
    the logits)."""

    def __init__(self, plan: TargetPlan, clean_logits: torch.Tensor, passes_of_rows: torch.Tensor,
                 use_probability: bool) -> None:
        self.scores = plan.fix(clean_logits).all_scores
        self.use_probability = use_probability and not plan.is_callable
        self.callable = plan.is_callable
        self.passes_of_rows = passes_of_rows  # (R,)

    def __call__(self, logits: torch.Tensor, b: int) -> torch.Tensor:
        """(b * R, C) logits -> (b, R) scores."""
        rows = self.passes_of_rows.numel()
        out = logits.float().softmax(dim=1) if self.use_probability else logits.float()
        image = torch.arange(b, device=logits.device).repeat_interleave(rows)
        scores = self.scores(out, image)  # (K, b * R), or (1, b * R) for a callable target
        which = torch.zeros_like(image) if self.callable else self.passes_of_rows.to(logits.device).repeat(b)
        return scores.gather(0, which[None])[0].view(b, rows)

    def clean(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C) logits of B images -> (B, K) scores of every pass."""
        out = logits.float().softmax(dim=1) if self.use_probability else logits.float()
        scores = self.scores(out, torch.arange(logits.shape[0], device=logits.device))
        return scores.T


class PairScores:
    """Scores of N perturbed rows, each a copy of image ``image[n]`` scored for target
    pass ``passes[n]``, with the targets fixed by the clean forward pass.

    ``kind``:
      * "probability": the softmax probability of the class (Contrast: the difference
        of the two classes' probabilities);
      * "logit": the logit (Contrast: the logit difference);
      * "cross_entropy": a loss, -log softmax of the class; for a Contrast target the
        two-class cross-entropy softplus(-(z_c - z_o)).
    A callable target is applied to the raw logits whatever the kind; "cross_entropy"
    then gives softplus(-score), the score read as a logit."""

    def __init__(self, plan: TargetPlan, clean_logits: torch.Tensor) -> None:
        self.plan = plan
        self.fixed = plan.fix(clean_logits)
        self.classes = self.fixed.stacked()  # (K, B)
        self.others = self.fixed.others  # (B,) or None

    def __call__(self, logits: torch.Tensor, image: torch.Tensor, passes: torch.Tensor, kind: str) -> torch.Tensor:
        logits = logits.float()
        if self.plan.is_callable:
            score = self.plan.scores(logits, self.classes[0][image])
            return F.softplus(-score) if kind == "cross_entropy" else score
        if self.others is not None:  # Contrast
            values = logits.softmax(dim=1) if kind == "probability" else logits
            classes, others = self.classes[passes, image], self.others[image]
            score = values.gather(1, classes[:, None])[:, 0] - values.gather(1, others[:, None])[:, 0]
            return F.softplus(-score) if kind == "cross_entropy" else score
        classes = self.classes[passes, image][:, None]
        if kind == "cross_entropy":
            return -logits.log_softmax(dim=1).gather(1, classes)[:, 0]
        values = logits.softmax(dim=1) if kind == "probability" else logits
        return values.gather(1, classes)[:, 0]


def rows_to_passes(values: torch.Tensor, k: int) -> torch.Tensor:
    """(B * K, ...) image-major rows -> (K, B, ...)."""
    return values.reshape(-1, k, *values.shape[1:]).transpose(0, 1)


# ---------------------------------------------------------------------------- progress, callback, early stop


class Progress:
    """The tqdm.auto bar and the live callback of a mask optimisation."""

    def __init__(self, params: Any, description: str) -> None:
        show = params.progress if params.progress is not None else params.iterations > PROGRESS_THRESHOLD
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=params.iterations, desc=description, leave=False)
        self.callback = params.callback
        self.every = params.callback_every

    def wants_masks(self, step: int) -> bool:
        return self.callback is not None and step % self.every == 0

    def update(self, step: int, loss: torch.Tensor, masks: Callable[[], torch.Tensor] | None = None) -> None:
        """After ``step`` (1-based) iterations; ``masks()`` builds the callback's masks."""
        if self.bar is not None:
            self.bar.update(1)
            if step % 10 == 0 or step == self.bar.total:
                finite = loss[torch.isfinite(loss)]
                self.bar.set_postfix(loss=f"{float(finite.mean()) if finite.numel() else float('nan'):.4g}", refresh=False)
        if self.wants_masks(step) and masks is not None:
            self.callback(step, masks())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class EarlyStopping:
    """Per-row early stopping: a row stops once its loss has not improved on its best
    by more than ``tolerance`` (relative: ``best - loss > tolerance * |best|``) for
    ``patience`` consecutive steps. A stopped row keeps its mask and drops out of the
    forward passes; the loop ends when every row has stopped. ``patience=None``:
    never stop early (every row runs all iterations).

    ``stopped_at`` (R,): the number of steps each row ran (its mask is the one after
    that many updates)."""

    def __init__(self, rows: int, patience: int | None, tolerance: float, iterations: int, device: torch.device) -> None:
        self.patience, self.tolerance = patience, float(tolerance)
        self.active = torch.ones(rows, dtype=torch.bool, device=device)
        self.best = torch.full((rows,), math.inf, device=device)
        self.since = torch.zeros(rows, dtype=torch.long, device=device)
        self.stopped_at = torch.full((rows,), iterations, dtype=torch.long, device=device)
        self._all_active = True

    @property
    def enabled(self) -> bool:
        return self.patience is not None

    def rows(self) -> torch.Tensor | None:
        """Indices of the rows still running, or None when all of them are (no
        host synchronisation unless early stopping is on)."""
        if self._all_active:
            return None
        return self.active.nonzero()[:, 0]

    def update(self, step: int, loss: torch.Tensor) -> bool:
        """``loss`` (R,) of step ``step`` (1-based; rows that stopped are ignored).
        Returns False once every row has stopped."""
        if self.patience is None:
            return True
        loss = loss.detach().float()
        improved = loss < self.best - self.tolerance * self.best.abs().nan_to_num(posinf=0.0)
        improved &= self.active
        self.best = torch.where(self.active, torch.minimum(self.best, loss), self.best)
        self.since = torch.where(improved, torch.zeros_like(self.since), self.since + self.active.long())
        stop = self.active & (self.since >= self.patience)
        self.stopped_at = torch.where(stop, torch.full_like(self.stopped_at, step), self.stopped_at)
        self.active &= ~stop
        self._all_active = bool(self.active.all())  # one host synchronisation per step
        return bool(self.active.any())


# ---------------------------------------------------------------------------- integrated-gradient pieces


def truncated_blur(images: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur of (N, C, H, W) with a ``kernel_size`` x ``kernel_size`` kernel of
    standard deviation ``sigma`` pixels, truncated and renormalised (OpenCV's
    ``GaussianBlur(ksize, sigma)``), separable, borders replicated (OpenCV reflects;
    replication works for images smaller than the kernel)."""
    radius = kernel_size // 2
    if radius == 0 or sigma <= 0:
        return images
    return _convolution_blur(images, sigma, radius)


def integrated_scores(
    model: ModelAdapter,
    mask_of: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    end: torch.Tensor,
    image: torch.Tensor,
    passes: torch.Tensor,
    score: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    noise: torch.Tensor | None,
    chunk: int,
    weight: float | None = None,
) -> torch.Tensor:
    """The integrated score of each of N rows along the path of masks t M, t = 1/S .. 1:

        (1/S) sum_{i=1..S} score(phi(start, end, (i/S) M) + noise_i),  phi(P, Q, M) = Q + M (P - Q)

    (I-GOS's deletion path is start = image, end = baseline: from the baseline at t = 0
    to the masked image at t = 1; the insertion path swaps them).

    ``mask_of(rows)``: the upsampled masks (n, 1, H, W) of the given rows (indices into
    0..N-1), differentiable; ``start``, ``end``: (B, C, H, W) images, row n uses image
    ``image[n]`` and target pass ``passes[n]``; ``noise``: (S, C, H, W), the same for
    every row, or None. The S x N copies go through the model ``chunk`` rows at a time.
    With ``weight``, ``weight`` x the sum of the returned values is backpropagated
    chunk by chunk (the gradient lands in the masks' leaves); without, no graph is made.

    Returns (N,) integrated scores (detached)."""
    n = image.shape[0]
    total = torch.zeros(n, device=start.device)
    fractions = torch.arange(1, steps + 1, device=start.device, dtype=start.dtype) / steps
    pairs = n * steps
    grad = weight is not None
    for lo in range(0, pairs, chunk):
        index = torch.arange(lo, min(lo + chunk, pairs), device=start.device)
        row, step = index // steps, index % steps
        with torch.set_grad_enabled(grad):
            m = mask_of(row) * fractions[step].view(-1, 1, 1, 1)
            p, q = start[image[row]], end[image[row]]
            x = q + m * (p - q)
            if noise is not None:
                x = x + noise[step]
            s = score(model.logits(x), image[row], passes[row]) / steps
            if grad:
                (s.sum() * weight).backward()
        total.index_add_(0, row, s.detach())
    return total


def armijo_steps(
    loss_at: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    masks: torch.Tensor,
    direction: torch.Tensor,
    base: torch.Tensor,
    initial: float,
    c: float = 1e-4,
    decay: float = 0.2,
    minimum: float = 1e-5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backtracking (Armijo) line search for N rows at once along ``-direction``.

    Each row starts at step ``initial`` and multiplies it by ``decay`` until

        loss(clamp(M - a d, 0, 1)) <= base + c a (-||d||^2)

    or until its step falls below ``minimum`` (the last, tiny step is then kept, as in
    the I-GOS reference code). ``loss_at(candidates, rows)``: the (n,) losses of
    candidate masks (n, ...) for rows ``rows`` (indices into 0..N-1); only the rows
    still searching are evaluated. Returns (steps (N,), evaluations per row (N,))."""
    n = masks.shape[0]
    alphas = torch.full((n,), float(initial), device=masks.device)
    evaluations = torch.zeros(n, dtype=torch.long, device=masks.device)
    slope = -c * direction.flatten(1).pow(2).sum(dim=1)
    searching = torch.arange(n, device=masks.device)
    while searching.numel():
        a = alphas[searching].view(-1, *(1,) * (masks.dim() - 1))
        candidates = (masks[searching] - a * direction[searching]).clamp(0, 1)
        losses = loss_at(candidates, searching)
        evaluations[searching] += 1
        failed = losses > base[searching] + alphas[searching] * slope[searching]
        failed &= alphas[searching] >= minimum
        searching = searching[failed]  # one host synchronisation per trial
        alphas[searching] *= decay
    return alphas, evaluations


# ---------------------------------------------------------------------------- I-GOS and iGOS++: the shared descent


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
    check_choice(params.line_search_loss, "line_search_loss", LINE_SEARCH_LOSSES)
    if not isinstance(params.adaptive_l1, bool):
        raise bad_argument("adaptive_l1", "True or False", params.adaptive_l1)
    check_number(params.step_size, "step_size", minimum=0, strict=True)
    check_number(params.armijo_c, "armijo_c", minimum=0)
    check_number(params.step_decay, "step_decay", minimum=0, strict=True, maximum=1, maximum_strict=True)
    check_number(params.min_step, "min_step", minimum=0, strict=True)
    check_choice(params.score, "score", SCORES)
    check_positive_int(params.internal_batch_size, "internal_batch_size")


def total_variation(m: torch.Tensor) -> torch.Tensor:
    """(n, P, h, w) -> (n,): mean squared vertical plus mean squared horizontal
    differences (the reference's ``tv_norm`` with beta = 2), summed over the P masks."""
    dy = (m[..., 1:, :] - m[..., :-1, :]).pow(2).mean(dim=(-2, -1))
    dx = (m[..., :, 1:] - m[..., :, :-1]).pow(2).mean(dim=(-2, -1))
    return (dy + dx).sum(dim=1)


def noise_units(model: ModelAdapter, channels: int) -> torch.Tensor:
    """(channels,) model-input units per ImageNet-normalised unit, channel by channel.

    The reference codes of I-GOS and iGOS++ work on torchvision's ImageNet-normalised
    inputs ((pixel / 255 - mean) / std, std 0.229, 0.224, 0.225): their noise of
    standard deviation 0.2 is about 0.045 of the pixel range, and their bilateral
    sigma is in those units squared. For a model normalised otherwise (``preprocess``:
    (pixel x scale - mean) / std) one such unit is std_imagenet x 255 x scale / std of
    its own units: 1 for an ImageNet-normalised model, 0.46 for EfficientNet-Lite's
    (x - 127) / 128. Ones when the inputs do not have a preprocessing's 3 channels."""
    pre = model.preprocess
    if channels != 3:
        return torch.ones(channels)
    return torch.tensor([IMAGENET_STD[c] * 255.0 * pre.scale / pre.std[c] for c in range(3)])


class IGOSSetup:
    """What an I-GOS-type run knows before its loop: the clean pass, the targets, the
    rows, the blur baseline, the upsampling, the scorer and the noise."""

    def __init__(self, model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: Any) -> None:
        self.model, self.inputs, self.params = model, inputs, params
        b, channels, height, width = inputs.shape
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
        self.noise_sigma = (float(params.noise) * noise_units(model, channels)).view(1, channels, 1, 1)

    def up(self, m: torch.Tensor) -> torch.Tensor:
        """(n, 1, h, w) grid masks -> (n, 1, H, W), bilinear with align_corners=True."""
        return F.interpolate(m, size=self.size, mode="bilinear", align_corners=True)

    def score(self, logits: torch.Tensor, image: torch.Tensor, passes: torch.Tensor) -> torch.Tensor:
        return self.scorer(logits, image, passes, self.kind)

    def endpoint_scores(self, start: torch.Tensor, end: torch.Tensor, upsampled: torch.Tensor,
                        rows: torch.Tensor) -> torch.Tensor:
        """(n,) scores of phi(start, end, M) = end + M (start - end) for rows ``rows``,
        ``upsampled`` (n, 1, H, W), no gradient, no noise, ``internal_batch_size`` at a
        time."""
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
                  rows: torch.Tensor, noise: torch.Tensor | None, weight: float | None) -> torch.Tensor:
        """The integrated score along t M for rows ``rows`` (``mask_of`` indexes into
        them); with ``weight``, backpropagates ``weight`` x its sum. Returns it (n,)."""
        return integrated_scores(
            self.model, mask_of, start, end, self.image[rows], self.passes_of_rows[rows], self.score,
            self.params.ig_steps, noise, self.params.internal_batch_size, weight,
        )

    def noise(self) -> torch.Tensor | None:
        """The S noise images of one iteration, (S, C, H, W), shared by every row: a
        standard deviation of ``noise`` in ImageNet-normalised units (see
        ``noise_units``), in the model's input units."""
        if self.params.noise <= 0:
            return None
        shape = (self.params.ig_steps, self.inputs.shape[1], *self.size)
        draw = torch.randn(shape, generator=self.generator) * self.noise_sigma
        return draw.to(device=self.inputs.device, dtype=self.inputs.dtype)


#: the original I-GOS code's l1 adaptation (github.com/zhongangqi/IGOS, ``Integrated_Mask``):
#: at iteration int(T / q) a row whose score moved by at most ``tolerance`` has l1 / ``divisor``
ADAPTIVE_L1 = ((2.0, 1e-3, 10.0), (1.25, 1e-2, 5.0))


def integrated_descent(
    setup: IGOSSetup,
    masks: int,
    regulariser: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    endpoint_score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    integrated: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, bool], torch.Tensor],
    maps_of: Callable[[torch.Tensor], torch.Tensor],
    name: str,
) -> tuple[torch.Tensor, dict[str, Any], torch.Tensor]:
    """The loop I-GOS and iGOS++ share: ``masks`` grid masks per row, all ones at the
    start, descended along integrated gradients.

    * ``regulariser(M, rows, l1)`` -> (n,): the l1 and smoothness terms, ``l1`` (n,)
      the current weight of each row (differentiable in M);
    * ``endpoint_score(M, rows)`` -> (n,): the score terms of the loss L at the end of
      the paths (t = 1), without noise or gradient;
    * ``integrated(M, rows, noise, backward)`` -> (n,): the score terms integrated
      along the paths, each point with its noise image; with ``backward`` (M a leaf)
      the gradient of their sum lands in ``M.grad``: that plus the regulariser's is
      the descent direction d;
    * ``maps_of(M)`` -> (n, H, W): the saliency maps.

    The line search's loss is, with ``line_search_loss="integrated"``, the integrated
    score with this iteration's noise plus the regulariser, the function whose
    gradient d is (so a small enough step always passes the Armijo test), or with
    "endpoint" L. Returns the final grid masks (rows, masks, h, w), the extras of the
    loop, and the final l1 of each row (rows,)."""
    params = setup.params
    device = setup.inputs.device
    rows = setup.rows
    state = torch.ones(rows, masks, *setup.grid, device=device, dtype=setup.inputs.dtype)
    previous = torch.zeros_like(state)  # Nesterov's previous point
    l1 = torch.full((rows,), float(params.l1), device=device)
    history = torch.full((params.iterations, rows), float("nan"), device=device)
    scores = torch.full((params.iterations, rows), float("nan"), device=device)
    steps = torch.full((params.iterations, rows), float("nan"), device=device)
    trials = torch.zeros(rows, dtype=torch.long, device=device)
    every = torch.arange(rows, device=device)
    adapt = {}
    if params.adaptive_l1 and params.iterations > 3:
        adapt = {int(params.iterations / q): (tolerance, divisor) for q, tolerance, divisor in ADAPTIVE_L1}
    stopper = EarlyStopping(rows, params.patience, params.tolerance, params.iterations, device)
    progress = Progress(params, name)
    try:
        for step in range(params.iterations):
            active = stopper.rows()
            idx = every if active is None else active
            noise = setup.noise()  # drawn every iteration, whichever rows are active
            current = state if active is None else state[idx]
            weights = l1[idx]
            score = endpoint_score(current, idx)
            loss = score + regulariser(current, idx, weights)
            leaf = current.detach().clone().requires_grad_(True)
            path = integrated(leaf, idx, noise, True)
            with torch.enable_grad():
                regulariser(leaf, idx, weights).sum().backward()
            d = leaf.grad
            if params.optimizer == "line_search":
                if params.line_search_loss == "integrated":
                    base = path + regulariser(current, idx, weights)

                    def loss_at(candidates: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
                        scores = integrated(candidates, idx[r], noise, False)
                        return scores + regulariser(candidates, idx[r], weights[r])
                else:
                    base = loss

                    def loss_at(candidates: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
                        return endpoint_score(candidates, idx[r]) + regulariser(candidates, idx[r], weights[r])

                alphas, evaluations = armijo_steps(
                    loss_at, current, d, base,
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
            history[step, idx] = loss
            scores[step, idx] = score
            steps[step, idx] = alphas
            if step in adapt and step >= 1:  # the original code compares with the score one step back
                tolerance, divisor = adapt[step]
                still = (scores[step - 1, idx] - scores[0, idx]).abs() <= tolerance
                l1[idx] = torch.where(still, weights / divisor, weights)
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
        "score_history": rows_to_passes(scores.T, setup.k),
        "step_history": rows_to_passes(steps.T, setup.k),
        "line_search_trials": rows_to_passes(trials, setup.k),
        "l1": rows_to_passes(l1, setup.k),
    }
    return state, extras, l1


# ---------------------------------------------------------------------------- deletion metric


def deletion_auc(
    model: ModelAdapter,
    inputs: torch.Tensor,
    maps: torch.Tensor,
    classes: torch.Tensor,
    baseline: torch.Tensor,
    steps: int = 50,
    chunk: int = 64,
) -> torch.Tensor:
    """Area under the deletion curve of N saliency maps (lower is better).

    The pixels of each image are deleted (replaced by ``baseline``'s) in decreasing
    order of its map (ties: the earlier pixel first), ``steps`` equal chunks of pixels;
    the curve is the softmax probability of ``classes[n]`` after 0, 1, ..., ``steps``
    chunks, and its area is the trapezoid rule over [0, 1] (so a constant probability
    p gives p). ``inputs``, ``baseline``: (N, C, H, W) model inputs; ``maps``: (N, h, w),
    resized bilinearly to (H, W) when needed. Batched: the N x (steps + 1) deleted
    copies go through the model ``chunk`` at a time. Returns (N,) AUCs."""
    n, _, height, width = inputs.shape
    with torch.no_grad():
        if tuple(maps.shape[-2:]) != (height, width):
            maps = F.interpolate(maps[:, None].float(), size=(height, width), mode="bilinear", align_corners=False)[:, 0]
        pixels = height * width
        order = maps.reshape(n, pixels).float().argsort(dim=1, descending=True, stable=True)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(pixels, device=order.device).expand(n, -1).contiguous())
        counts = torch.round(torch.arange(steps + 1, device=inputs.device) * pixels / steps).long()
        curve = torch.empty(n, steps + 1, device=inputs.device)
        total = n * (steps + 1)
        for lo in range(0, total, chunk):
            index = torch.arange(lo, min(lo + chunk, total), device=inputs.device)
            row, step = index // (steps + 1), index % (steps + 1)
            deleted = (rank[row] < counts[step][:, None]).view(-1, 1, height, width)
            x = torch.where(deleted, baseline[row], inputs[row])
            prob = model.logits(x).float().softmax(dim=1)
            curve[row, step] = prob.gather(1, classes[row].to(prob.device)[:, None])[:, 0]
        return (curve[:, 1:] + curve[:, :-1]).sum(dim=1) / (2 * steps)
