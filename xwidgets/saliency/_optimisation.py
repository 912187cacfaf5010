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
from ._gradients import check_positive_int
from .targets import TargetPlan

SCORES = ("probability", "logit")
OPTIMISERS = ("line_search", "nesterov")

#: below this many iterations the progress bar is off unless asked for
PROGRESS_THRESHOLD = 50

__all__ = [
    "SCORES", "OPTIMISERS", "PROGRESS_THRESHOLD", "check_number", "check_choice", "check_controls", "check_stopping",
    "RowScores", "PairScores", "Progress", "EarlyStopping", "truncated_blur", "integrated_scores", "armijo_steps",
    "deletion_auc", "rows_to_passes",
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
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (0, 0, radius, radius), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    out = F.pad(out, (radius, radius, 0, 0), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


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
