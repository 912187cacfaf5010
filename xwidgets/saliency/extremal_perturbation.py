"""Extremal perturbation (Fong, Patrick and Vedaldi, "Understanding Deep Networks via
Extremal Perturbations and Smooth Masks", ICCV 2019).

The preservation game: for each target area a, the smooth mask m of area a that
keeps the class score highest when the rest of the image is blurred,

    max_m  f_c(perturb(x; m))  -  lambda_t mean_u (sort(m)_u - r_a(u))^2

with r_a the sorted step vector of a mask of area a (the top fraction a of its
entries one, the rest zero) and lambda_t = lambda 1.0035^t growing with the step t,
so the area constraint ends up nearly hard. The deletion game (``variant="delete"``)
instead minimises the score when the mask's region is blurred.

Mask generator (the smooth max-convolution): parameters pbar in [0, 1] on the nodes
0, step, 2 step, ... of the image, and

    m(u) = smax_i k(|u - u_i| / sigma) pbar_i,   smax(z) = sum_i z_i e^(T z_i) / sum_i e^(T z_i)

over the nodes within 2 sigma of u (beyond that the kernel is below 0.011), with
k(t) = exp(-2 max(0, t - 1/2)^2), flat up to sigma / 2, and coldness T = 20, as in
TorchRay. As in TorchRay the mask is computed over a canvas of the image plus a
margin of sigma pixels on each side (no parameters there: the masks of the border
nodes spill into it) and the area constraint is taken over the whole canvas, so a
node at the border is pushed by the constraint as much as an inner one (without the
margin, measured: the masks stick to the image borders). The image part of the canvas
is the mask. Unlike TorchRay, a is a fraction of the *image*: r_a has round(a H W)
ones, where TorchRay's has a (H + 2 sigma)(W + 2 sigma), so TorchRay's area a is this
implementation's a (H + 2 sigma)(W + 2 sigma) / (H W), 1.41 a at 224 pixels.

Perturbation: a blur pyramid of ``levels`` images blurred with
sigma_l = sigma_max (1 - l / (levels - 1)), l = 0 .. levels - 1 (the last one is the
image), read at level m (levels - 1) with linear interpolation between levels: m = 1
keeps the pixel, m = 0 blurs it by sigma_max. ``perturbation="fade"`` fades to black
pixels instead (level l = black + l / (levels - 1) (image - black)).

Score: the logit of the class (TorchRay's ``simple_reward`` is the model's output;
``score="probability"`` uses the softmax; a callable target is applied to the logits).
Jitter: the perturbed input is flipped left-right at every even step (TorchRay's code;
``jitter="random"`` flips with probability 1/2 per step, drawn from ``seed``, as
TorchRay's docstring describes; ``jitter="none"`` or False never).

Defaults, checked against TorchRay (github.com/facebookresearch/TorchRay,
``torchray/attribution/extremal_perturbation.py``, the authors' reference code):
areas [0.1], 800 iterations, step 7, sigma 21, 8 levels, sigma_max 20, lambda 300
growing by 1.0035 per step, SGD with learning rate 0.01, momentum 0.9 and dampening
0.9 (TorchRay passes dampening = momentum), parameters initialised to one and
clipped to [0, 1] after each step, the horizontal-flip jitter. Their pointing-game
runs optimise areas [0.025, 0.05, 0.1, 0.2] (VOC07; COCO [0.018, 0.025, 0.05, 0.1])
together and sum the masks, which is ``combine="sum"`` (the default; a number from
``areas`` selects that area's mask instead; mind the area convention above). The
paper's full text could not be read from this machine, so the numbers above are
TorchRay's; METHODS.md quotes the same.

Batching: all images, targets and areas are optimised together, B x K x A masks in
one forward and one backward pass per step; the blurred pyramid is computed once per
image. SGD is per-coordinate and each row's loss depends only on its own mask, so
this equals optimising them one at a time (up to floating-point rounding), and the
default jitter is deterministic. ``extras`` records per (image, target, area) the
final loss, reward, area and penalty of the returned masks, the loss at every step
(before its update), and, with several areas, the masks themselves (``masks``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ._gradients import check_positive_int
from .integrated_gradients import gaussian_blur
from .meaningful_perturbation import SCORES, Progress, RowScores, check_choice, check_controls, check_number
from .occlusion import substrate
from .registry import MethodOutput, register
from .targets import TargetPlan

VARIANTS = ("preserve", "delete")
PERTURBATIONS = ("blur", "fade")
JITTERS = ("alternate", "random", "none")


@dataclasses.dataclass
class ExtremalPerturbationParams:
    """areas: target areas, fractions of the image in (0, 1), optimised together ((0.1,);
        TorchRay's areas are fractions of the image plus a sigma margin: its 0.1 is
        0.141 here at 224 px).
    iterations: SGD steps (800).
    step: spacing of the mask parameters, input pixels (7).
    sigma: width of the smooth-max kernel, input pixels (21).
    levels: levels of the perturbation pyramid (8).
    sigma_max: blur of the most perturbed level, input pixels (20).
    area_lambda: initial weight lambda of the area constraint (300).
    area_lambda_growth: factor applied to lambda after every step (1.0035).
    lr, momentum, dampening: SGD (0.01, 0.9, 0.9).
    variant: "preserve" (the paper's preservation game) or "delete".
    perturbation: "blur" (pyramid) or "fade" (towards black pixels).
    score: "logit" (TorchRay's) or "probability".
    combine: "sum" (the map is the sum of the areas' masks) or one of ``areas`` (that
        area's mask).
    jitter: "alternate" / True (flip at even steps, TorchRay), "random", "none" / False.
    coldness: T of the smooth max (20).
    seed: seed of the "random" jitter (the defaults draw no random numbers).
    progress: a tqdm progress bar; None shows it above 50 iterations.
    callback: called as ``callback(step, masks)`` every ``callback_every`` steps, with
        ``step`` the number of steps done and ``masks`` the current masks, shape
        (K, B, A, H, W) (target pass, image, area, input size), of that step's forward
        pass, detached, on the model's device.
    callback_every: steps between callback calls (10)."""

    areas: Sequence[float] = (0.1,)
    iterations: int = 800
    step: int = 7
    sigma: float = 21.0
    levels: int = 8
    sigma_max: float = 20.0
    area_lambda: float = 300.0
    area_lambda_growth: float = 1.0035
    lr: float = 0.01
    momentum: float = 0.9
    dampening: float = 0.9
    variant: str = "preserve"
    perturbation: str = "blur"
    score: str = "logit"
    combine: str | float = "sum"
    jitter: bool | str = "alternate"
    coldness: float = 20.0
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 10

    def __post_init__(self) -> None:
        areas = self.areas.tolist() if hasattr(self.areas, "tolist") else self.areas  # numpy arrays, tensors
        if isinstance(areas, numbers.Real) and not isinstance(areas, bool):
            areas = (areas,)
        areas = () if isinstance(areas, (str, bytes)) or not hasattr(areas, "__iter__") else tuple(areas)
        if not areas:
            raise bad_argument("areas", "a non-empty sequence of fractions in (0, 1)", self.areas)
        for area in areas:
            check_number(area, "areas", minimum=0, strict=True, maximum=1, maximum_strict=True)
        if len(set(float(a) for a in areas)) != len(areas):
            raise bad_argument("areas", "distinct fractions in (0, 1)", self.areas)
        self.areas = tuple(float(a) for a in areas)
        check_controls(self)
        check_positive_int(self.step, "step")
        check_number(self.sigma, "sigma", minimum=0, strict=True)
        check_positive_int(self.levels, "levels", minimum=2)
        check_number(self.sigma_max, "sigma_max", minimum=0, strict=True)
        check_number(self.area_lambda, "area_lambda", minimum=0)
        check_number(self.area_lambda_growth, "area_lambda_growth", minimum=0, strict=True)
        check_number(self.lr, "lr", minimum=0, strict=True)
        check_number(self.momentum, "momentum", minimum=0, maximum=1, maximum_strict=True)
        check_number(self.dampening, "dampening", minimum=0, maximum=1)
        check_choice(self.variant, "variant", VARIANTS)
        check_choice(self.perturbation, "perturbation", PERTURBATIONS)
        check_choice(self.score, "score", SCORES)
        if self.combine != "sum" and (
            isinstance(self.combine, bool) or not isinstance(self.combine, numbers.Real)
            or float(self.combine) not in self.areas
        ):
            raise bad_argument("combine", f'"sum" or one of the areas {list(self.areas)}', self.combine)
        if isinstance(self.jitter, bool):
            self.jitter = "alternate" if self.jitter else "none"
        check_choice(self.jitter, "jitter", JITTERS)
        check_number(self.coldness, "coldness", minimum=0, strict=True)


# ---------------------------------------------------------------------------- smooth masks


def _kernel(t: torch.Tensor) -> torch.Tensor:
    """k(t) = exp(-2 max(0, t - 1/2)^2): one up to half a sigma, then Gaussian-like."""
    return torch.exp(-2 * (t - 0.5).clamp_min(0) ** 2)


class SmoothMaskGenerator:
    """Parameters (N, gh, gw) on nodes ``step`` pixels apart -> masks (N, H, W) by the
    smooth max-convolution ``m(u) = smax_i k(|u - u_i| / sigma) p_i``.

    Node (i, j) sits at pixel ``origin + (i, j) step``; ``grid`` nodes per axis are
    parameters (default: enough to cover the mask from ``origin = 0``) and every other
    node is fixed at zero. Per axis, pixel u reads the nodes floor((u - origin) / step)
    + o, o = -R .. R + 1 with R = ceil(2 sigma / step), and keeps those within 2 sigma
    (the smooth max is over exactly the nodes of that disc). For one pair of offsets the nodes'
    values at every pixel form a plain slice of the zero-padded parameters upsampled by
    nearest neighbour, so the forward pass and the hand-written backward pass
    (:class:`_SmoothMax`) are a loop over the pairs of elementwise operations on
    (N, H, W) tensors: memory stays at a few masks and nothing is stored per pair.
    """

    def __init__(self, size: tuple[int, int], step: int, sigma: float, coldness: float, device: torch.device,
                 origin: tuple[int, int] = (0, 0), grid: tuple[int, int] | None = None) -> None:
        self.size, self.step, self.coldness = size, step, float(coldness)
        reach = 2 * sigma
        self.radius = radius = math.ceil(reach / step)
        span = 2 * radius + 2  # node offsets per axis
        self.grid = grid or tuple((n - 1 - o) // step + 1 for n, o in zip(size, origin))
        self.before, self.after, self.starts, offsets = [], [], [], []
        for n, o, g in zip(size, origin, self.grid):
            before = radius + max(0, math.ceil(o / step))  # zero nodes before the parameters
            starts = [(before + a - radius) * step - o for a in range(span)]  # where each offset's slice starts
            self.before.append(before)
            self.after.append(max(0, math.ceil((starts[-1] + n) / step) - before - g))
            self.starts.append(starts)
            u = torch.arange(n, dtype=torch.float32, device=device)
            home = torch.div(u - o, step, rounding_mode="floor")
            node = home[None] + torch.arange(span, device=device)[:, None] - radius
            offsets.append(u[None] - (o + node * step))  # (span, n): pixel minus node position
        dy, dx = offsets
        self.pairs: list[tuple[int, int]] = []
        self.weights: list[torch.Tensor] = []
        self.within: list[torch.Tensor | None] = []  # 1 where the node is within 2 sigma (None: everywhere)
        for a in range(span):
            for b in range(span):
                distance = torch.sqrt(dy[a, :, None] ** 2 + dx[b, None, :] ** 2)  # (H, W)
                near = distance <= reach
                if bool(near.any()):
                    self.pairs.append((a, b))
                    self.weights.append(_kernel(distance / sigma))
                    self.within.append(None if bool(near.all()) else near.float())

    def upsampled(self, params: torch.Tensor) -> torch.Tensor:
        padded = F.pad(params, (self.before[1], self.after[1], self.before[0], self.after[0]))
        return padded.repeat_interleave(self.step, dim=-2).repeat_interleave(self.step, dim=-1)

    def window(self, a: int, b: int) -> tuple[slice, slice, slice]:
        """Where the upsampled parameters hold, for every pixel, its node at offsets (a, b)."""
        (h, w), (ya, xb) = self.size, (self.starts[0][a], self.starts[1][b])
        return slice(None), slice(ya, ya + h), slice(xb, xb + w)

    def __call__(self, params: torch.Tensor) -> torch.Tensor:
        return _SmoothMax.apply(params, self)


class _SmoothMax(torch.autograd.Function):
    """out = sum_i z_i e^(T z_i) / sum_i e^(T z_i), z_i = k_i p_i; d out / d z_i =
    e^(T z_i) / den (1 + T (z_i - out)). z is in [0, 1], so e^(T z) <= e^20 needs no
    max-subtraction in float32. The backward pass recomputes z pair by pair."""

    @staticmethod
    def forward(ctx, params: torch.Tensor, gen: SmoothMaskGenerator) -> torch.Tensor:  # type: ignore[override]
        up = gen.upsampled(params)
        numerator = torch.zeros(params.shape[0], *gen.size, dtype=params.dtype, device=params.device)
        denominator = torch.zeros_like(numerator)
        for (a, b), weight, within in zip(gen.pairs, gen.weights, gen.within):
            z = up[gen.window(a, b)] * weight
            e = torch.exp(z * gen.coldness)
            if within is not None:
                e = e * within
            denominator += e
            numerator.addcmul_(z, e)
        out = numerator / denominator
        ctx.gen = gen
        ctx.save_for_backward(params, out, denominator)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        params, out, denominator = ctx.saved_tensors
        gen: SmoothMaskGenerator = ctx.gen
        t = gen.coldness
        up = gen.upsampled(params)
        grad_up = torch.zeros_like(up)
        scale = grad / denominator
        base = 1 - t * out
        for (a, b), weight, within in zip(gen.pairs, gen.weights, gen.within):
            where = gen.window(a, b)
            z = up[where] * weight
            e = torch.exp(z * t) if within is None else torch.exp(z * t) * within
            grad_up[where] += scale * e * (base + t * z) * weight
        n, s, (top, left) = grad_up.shape[0], gen.step, gen.before
        grad_padded = grad_up.view(n, grad_up.shape[1] // s, s, grad_up.shape[2] // s, s).sum(dim=(2, 4))
        return grad_padded[:, top : top + gen.grid[0], left : left + gen.grid[1]], None


def perturbation_pyramid(model: ModelAdapter, inputs: torch.Tensor, params: ExtremalPerturbationParams) -> torch.Tensor:
    """(B, L, C, H, W): level 0 the most perturbed, level L - 1 the image."""
    levels = []
    black = substrate(model, "black", inputs) if params.perturbation == "fade" else None
    for level in range(params.levels):
        t = level / (params.levels - 1)
        if black is None:
            levels.append(gaussian_blur(inputs, params.sigma_max * (1 - t)) if t < 1 else inputs)
        else:
            levels.append(black + t * (inputs - black))
    return torch.stack(levels, dim=1)


def apply_masks(pyramid: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, L, C, H, W) pyramid, (B, R, H, W) masks in [0, 1] -> (B * R, C, H, W): each
    pixel read at level m (L - 1), linearly between the two nearest levels."""
    b, levels, c, h, w = pyramid.shape
    position = masks[:, :, None] * (levels - 1)  # (B, R, 1, H, W)
    lower = position.detach().floor().clamp_(0, levels - 2)
    frac = (position - lower).to(pyramid.dtype)
    out = None
    for level in range(levels):
        weight = torch.where(lower == level, 1 - frac, torch.where(lower == level - 1, frac, torch.zeros_like(frac)))
        term = weight * pyramid[:, None, level]
        out = term if out is None else out + term
    return out.reshape(-1, c, h, w)


def reference_areas(areas: Sequence[float], image_pixels: int, pixels: int, device: torch.device) -> torch.Tensor:
    """(A, pixels): the sorted (ascending) step vectors r_a over a canvas of ``pixels``,
    the last round(a image_pixels) entries one."""
    ones = torch.tensor([round(a * image_pixels) for a in areas], device=device)
    return (torch.arange(pixels, device=device)[None] >= pixels - ones[:, None]).float()


@register(
    "extremal_perturbation",
    params=ExtremalPerturbationParams,
    summary="Smooth masks of fixed areas that keep the class score highest under blur, optimised together",
    paper="Fong, Patrick & Vedaldi, Understanding Deep Networks via Extremal Perturbations and Smooth Masks, ICCV 2019",
    family="perturbation",
    uses_layer=False,
)
def extremal_perturbation(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: ExtremalPerturbationParams, layer: None
) -> MethodOutput:
    b, _, height, width = inputs.shape
    device = inputs.device
    areas = params.areas
    n_areas = len(areas)
    generator = torch.Generator().manual_seed(params.seed)

    with torch.no_grad():
        logits = model.logits(inputs)
        passes = plan.passes(logits)
        k = len(passes)
        rows = k * n_areas  # row r of an image: pass r // A, area r % A
        scorer = RowScores(plan, logits, torch.arange(k, device=device).repeat_interleave(n_areas), params.score == "probability")
        pyramid = perturbation_pyramid(model, inputs, params)
        margin = int(round(params.sigma))
        canvas = (height + 2 * margin, width + 2 * margin)
        # parameters on the image's nodes, the mask over the canvas (TorchRay's layout)
        generate = SmoothMaskGenerator(canvas, params.step, float(params.sigma), float(params.coldness), device,
                                       origin=(margin, margin), grid=((height - 1) // params.step + 1, (width - 1) // params.step + 1))
        reference = reference_areas(areas, height * width, canvas[0] * canvas[1], device).repeat(k, 1)  # (R, canvas)
    sign = 1.0 if params.variant == "preserve" else -1.0

    def evaluate(p: torch.Tensor, flip: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """masks (B, R, H, W) (the canvas cropped to the image), rewards (B, R), area penalties (B, R)."""
        full = generate(p.view(b * rows, *p.shape[-2:])).view(b, rows, *canvas)
        masks = full[:, :, margin : margin + height, margin : margin + width]
        x = apply_masks(pyramid, masks if sign > 0 else 1 - masks)
        if flip:
            x = torch.flip(x, dims=(-1,))
        reward = sign * scorer(model.logits(x), b)
        ordered = full.flatten(2).sort(dim=-1).values
        penalty = ((ordered - reference) ** 2).mean(dim=-1)
        return masks, reward, penalty

    p = torch.ones(b, rows, *generate.grid, device=device, requires_grad=True)
    optimiser = torch.optim.SGD([p], lr=params.lr, momentum=params.momentum, dampening=params.dampening)
    weight = float(params.area_lambda)
    history = torch.empty(params.iterations, b, rows, device=device)
    progress = Progress(params, "extremal_perturbation")
    try:
        with torch.enable_grad():
            for step in range(params.iterations):
                if params.jitter == "alternate":
                    flip = step % 2 == 0
                elif params.jitter == "random":
                    flip = bool(torch.rand((), generator=generator) < 0.5)
                else:
                    flip = False
                masks, reward, penalty = evaluate(p, flip)
                loss = -reward + weight * penalty  # minimise -energy
                optimiser.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimiser.step()
                with torch.no_grad():
                    p.clamp_(0, 1)
                history[step] = loss.detach()
                weight_used, weight = weight, weight * params.area_lambda_growth
                progress.update(step + 1, history[step], lambda: _per_area(masks.detach(), k, n_areas))
    finally:
        progress.close()

    with torch.no_grad():
        masks, reward, penalty = evaluate(p.detach(), False)
        loss = -reward + weight_used * penalty
        per_area = _per_area(masks, k, n_areas)  # (K, B, A, H, W)
        maps = per_area.sum(dim=2) if params.combine == "sum" else per_area[:, :, areas.index(float(params.combine))]
    extras = {
        "iterations": params.iterations,
        "areas": list(areas),
        "loss": _per_area(loss, k, n_areas),  # (K, B, A), with the last step's lambda
        "reward": _per_area(reward, k, n_areas),
        "area": _per_area(masks.mean(dim=(-2, -1)), k, n_areas),  # achieved: mean of the mask
        "area_penalty": _per_area(penalty, k, n_areas),
        "loss_history": _per_area(history.permute(1, 2, 0), k, n_areas),  # (K, B, A, iterations)
    }
    if n_areas > 1:  # with one area the map is the mask
        extras["masks"] = per_area
    return MethodOutput(maps=maps, logits=logits, targets=torch.stack(passes), extras=extras)


def _per_area(values: torch.Tensor, k: int, n_areas: int) -> torch.Tensor:
    """(B, K * A, ...) -> (K, B, A, ...)."""
    b = values.shape[0]
    return values.reshape(b, k, n_areas, *values.shape[2:]).transpose(0, 1)
