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
    node is fixed at zero. Per axis, pixel u = origin + h step + f has its home node h
    and phase f in [0, step); it reads the nodes h + o, o = -R .. R + 1 with
    R = ceil(2 sigma / step), and keeps those within 2 sigma (the smooth max is over
    exactly the nodes of that disc).

    The pixel-to-node offset, hence the kernel weight and whether the node is in the
    disc, depends on the phase and the node offset only. So the mask is computed on
    blocks of step x step pixels (one per home node, phases last), node by node: for
    offset pair o, parameter node j gives z = p_j k_o(f) to block j - o, an outer
    product of the parameters and a (step^2,) vector of weights, computed for chunks of
    offset pairs at once and summed into the blocks by ``index_add_``. A node fixed at
    zero gives z = 0, i.e. e^(T z) = 1 to the denominator and nothing to the numerator,
    so the zero nodes are a constant count per pixel, computed once, and only the
    parameter nodes are evaluated. The hand-written backward pass (:class:`_SmoothMax`)
    recomputes the terms chunk by chunk: memory stays at a few masks.
    """

    #: elements of one chunk's (offset pairs, nodes, N, step^2) tensors
    CHUNK_ELEMENTS = 1 << 16

    def __init__(self, size: tuple[int, int], step: int, sigma: float, coldness: float, device: torch.device,
                 origin: tuple[int, int] = (0, 0), grid: tuple[int, int] | None = None) -> None:
        self.size, self.step, self.coldness = size, step, float(coldness)
        reach = 2 * sigma
        self.radius = radius = math.ceil(reach / step)
        span = 2 * radius + 2  # node offsets per axis
        self.grid = grid or tuple((n - 1 - o) // step + 1 for n, o in zip(size, origin))
        self.blocks, self.lead, targets, offsets = [], [], [], []
        for n, o, g in zip(size, origin, self.grid):
            first, last = (0 - o) // step, (n - 1 - o) // step  # home nodes of the first and last pixel
            blocks = last - first + 1
            self.blocks.append(blocks)
            self.lead.append(o + first * step)  # pixel of the first block's phase 0 (<= 0)
            # offset a: block I reads node I + first + a - R, so node j feeds block j - first - a + R
            block = torch.arange(g)[None] - first - torch.arange(span)[:, None] + radius  # (span, g)
            targets.append(torch.where((block >= 0) & (block < blocks), block, torch.full_like(block, -1)))
            offsets.append(torch.arange(step, dtype=torch.float64)[None]
                           + (radius - torch.arange(span, dtype=torch.float64))[:, None] * step)  # (span, step)
        dy, dx = offsets
        distance = torch.sqrt(dy[:, None, :, None] ** 2 + dx[None, :, None, :] ** 2).reshape(span * span, step * step)
        near = distance <= reach
        (by, bx), (ty, tx) = self.blocks, targets
        # (span^2, gh * gw): the block each node feeds at each offset pair, or by * bx (a dummy) off the blocks
        target = ty[:, None, :, None] * bx + tx[None, :, None, :]
        target = torch.where((ty[:, None, :, None] < 0) | (tx[None, :, None, :] < 0), torch.full_like(target, by * bx),
                             target).reshape(span * span, -1)
        reaches = (target < by * bx).any(dim=1)
        full, partial = near.all(dim=1) & reaches, near.any(dim=1) & ~near.all(dim=1) & reaches
        order = torch.cat([full.nonzero()[:, 0], partial.nonzero()[:, 0]])  # no mask needed first
        self.complete = int(full.sum())  # pairs [0, complete) are within 2 sigma of every phase
        self._target = target[order]  # (P, nodes)
        self._weight = torch.where(near, _kernel(distance / sigma), torch.zeros_like(distance))[order]  # (P, step^2)
        self._within = near[order].double()  # (P, step^2): node within 2 sigma of the phase
        # per block and phase, the zero nodes within 2 sigma: all of them less the parameter nodes
        parameters = torch.zeros(by * bx + 1, step * step, dtype=torch.float64)
        parameters.index_add_(0, self._target.reshape(-1), self._within[:, None].expand(-1, self._target.shape[1], -1).reshape(-1, step * step))
        self._zeros = near.sum(dim=0).double() - parameters[:-1]  # (blocks, step^2)
        self._device = device
        self._tables: dict[torch.dtype, tuple[torch.Tensor, ...]] = {}
        self.target = self._target.to(device)

    def tables(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """In ``dtype``: (P, step^2) weights k, T k and the 0/1 mask of the nodes within
        2 sigma (a mask, not an exponent of -inf: exp is many times slower on arguments
        whose result underflows), and (blocks, step^2) the count of zero nodes within
        2 sigma."""
        if dtype not in self._tables:
            weight = self._weight.to(self._device, dtype)
            self._tables[dtype] = (weight, weight * self.coldness, self._within.to(self._device, dtype),
                                   self._zeros.to(self._device, dtype))
        return self._tables[dtype]

    def chunks(self, rows: int) -> list[tuple[slice, bool]]:
        """Slices of the offset pairs of about CHUNK_ELEMENTS elements each, and whether
        the slice holds pairs that need the mask (a slice does not mix the two kinds)."""
        per_pair = rows * self.grid[0] * self.grid[1] * self.step * self.step
        size = max(1, self.CHUNK_ELEMENTS // per_pair)
        out = []
        for begin, end, masked in ((0, self.complete, False), (self.complete, self.target.shape[0], True)):
            out += [(slice(start, min(start + size, end)), masked) for start in range(begin, end, size)]
        return out

    def terms(self, nodes: torch.Tensor, chunk: slice, masked: bool) -> torch.Tensor:
        """(2, pairs, nodes, N, step^2): e^(s) and s e^(s), s = T z, for the offset pairs
        of ``chunk`` and every parameter node; ``nodes``: (nodes, N) parameters."""
        _, scaled, within, _ = self.tables(nodes.dtype)
        s = nodes[None, :, :, None] * scaled[chunk, None, None]  # (pairs, nodes, N, step^2)
        out = s.new_empty(2, *s.shape)
        e = torch.exp(s, out=out[0])
        if masked:
            e.mul_(within[chunk, None, None])
        torch.mul(s, e, out=out[1])
        return out

    def to_canvas(self, blocks: torch.Tensor) -> torch.Tensor:
        """(blocks, N, step^2) -> (N, H, W)."""
        (by, bx), s, (h, w), (ly, lx) = self.blocks, self.step, self.size, self.lead
        pixels = blocks.view(by, bx, -1, s, s).permute(2, 0, 3, 1, 4).reshape(-1, by * s, bx * s)
        return pixels[:, -ly : -ly + h, -lx : -lx + w]

    def from_canvas(self, pixels: torch.Tensor) -> torch.Tensor:
        """The adjoint of :meth:`to_canvas`: (N, H, W) -> (blocks, N, step^2), zero off the canvas."""
        (by, bx), s, (h, w), (ly, lx) = self.blocks, self.step, self.size, self.lead
        padded = F.pad(pixels, (-lx, bx * s - w + lx, -ly, by * s - h + ly))
        return padded.view(-1, by, s, bx, s).permute(1, 3, 0, 2, 4).reshape(by * bx, -1, s * s)

    def __call__(self, params: torch.Tensor) -> torch.Tensor:
        return _SmoothMax.apply(params, self)


class _SmoothMax(torch.autograd.Function):
    """out = sum_i z_i e^(T z_i) / sum_i e^(T z_i), z_i = k_i p_i; d out / d z_i =
    e^(T z_i) / den (1 + T (z_i - out)). Computed with s_i = T z_i (out = sum_i s_i
    e^(s_i) / (T den)); z is in [0, 1], so e^(T z) <= e^20 needs no max-subtraction in
    float32. The backward pass recomputes the terms chunk by chunk."""

    @staticmethod
    def forward(ctx, params: torch.Tensor, gen: SmoothMaskGenerator) -> torch.Tensor:  # type: ignore[override]
        zeros = gen.tables(params.dtype)[3]
        n, f = params.shape[0], gen.step * gen.step
        nodes = params.reshape(n, -1).T
        # per block (and the dummy block of the nodes off the canvas)
        denominator = params.new_zeros(zeros.shape[0] + 1, n, f)
        denominator[:-1] += zeros[:, None]
        numerator = torch.zeros_like(denominator)
        for chunk, masked in gen.chunks(n):
            terms = gen.terms(nodes, chunk, masked)
            target = gen.target[chunk].reshape(-1)
            denominator.index_add_(0, target, terms[0].view(-1, n, f))
            numerator.index_add_(0, target, terms[1].view(-1, n, f))
        denominator = denominator[:-1]
        out = numerator[:-1].div_(denominator * gen.coldness)  # (blocks, N, step^2)
        ctx.gen = gen
        ctx.save_for_backward(params, out, denominator)
        return gen.to_canvas(out).contiguous()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        params, out, denominator = ctx.saved_tensors
        gen: SmoothMaskGenerator = ctx.gen
        weight = gen.tables(params.dtype)[0]
        n, f = params.shape[0], gen.step * gen.step
        nodes = params.reshape(n, -1).T
        scale = gen.from_canvas(grad.to(params.dtype)).div_(denominator)  # (blocks, N, step^2)
        # d loss / d z_i = e_i scale (1 - T out + s_i) = e_i shifted + s_i e_i scale; the dummy block: 0
        factors = params.new_zeros(2, out.shape[0] + 1, n * f)
        torch.mul(1 - gen.coldness * out, scale, out=factors[0, :-1].view_as(out))
        factors[1, :-1] = scale.view(out.shape[0], -1)
        grad_nodes = torch.zeros_like(nodes)
        for chunk, masked in gen.chunks(n):
            terms = gen.terms(nodes, chunk, masked)  # (2, pairs, nodes, N, step^2)
            target = gen.target[chunk].reshape(-1)
            shifted = torch.index_select(factors[0], 0, target).view(terms.shape[1:])
            dz = terms[0].mul_(shifted).addcmul_(terms[1], torch.index_select(factors[1], 0, target).view_as(shifted))
            pairs = dz.shape[0]
            grad_nodes += torch.bmm(dz.view(pairs, -1, f), weight[chunk, :, None]).view(pairs, -1, n).sum(dim=0)
        return grad_nodes.T.reshape(params.shape), None


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
    pixel read at level m (L - 1), linearly between the two nearest levels,
    (1 - f) P_l + f P_(l+1) with l = min(floor(m (L - 1)), L - 2) and f the rest (the
    two levels are gathered, so the cost does not grow with L)."""
    b, levels, c, h, w = pyramid.shape
    rows = masks.shape[1]
    position = masks[:, :, None] * (levels - 1)  # (B, R, 1, H, W)
    lower = position.detach().floor().clamp_(0, levels - 2)
    frac = (position - lower).to(pyramid.dtype)
    index = lower.long()[:, :, None].expand(b, rows, 1, c, h, w)  # (B, R, 1, C, H, W)
    source = pyramid[:, None].expand(b, rows, levels, c, h, w)
    below = source.gather(2, index)[:, :, 0]
    above = source.gather(2, index + 1)[:, :, 0]
    return ((1 - frac) * below + frac * above).reshape(-1, c, h, w)


def area_penalty(masks: torch.Tensor, ones: Sequence[int]) -> torch.Tensor:
    """(B, R, pixels) masks, counts K_r (R,) -> (B, R) mean_u (sort(m)_u - r(u))^2, r
    with its last K_r entries one. Without the sort: the sorted mask meets r's ones at
    its K_r largest entries, so the penalty is mean_i (m_i - t_i)^2 with t_i = 1 on the
    K_r largest entries of m (``topk``) and 0 elsewhere; same value and gradient (up to
    which of several equal entries count as the largest: the sort's order of ties is
    arbitrary too). One ``topk`` per distinct K, so which tied entries are picked does
    not depend on the other rows."""
    target = torch.zeros_like(masks)
    for count in sorted(set(ones)):
        rows = [r for r, k in enumerate(ones) if k == count]
        if count == 0:
            continue
        if rows == list(range(rows[0], rows[-1] + 1)):
            part = slice(rows[0], rows[-1] + 1)
        else:
            part = torch.tensor(rows, device=masks.device)
        top = masks[:, part].detach().topk(count, dim=-1, sorted=False).indices
        target[:, part] = target[:, part].scatter_(-1, top, 1.0)
    return (masks - target).square().mean(dim=-1)


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
        ones = [round(a * height * width) for a in areas] * k  # per row: the ones of r_a
    sign = 1.0 if params.variant == "preserve" else -1.0

    def evaluate(p: torch.Tensor, flip: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """masks (B, R, H, W) (the canvas cropped to the image), rewards (B, R), area penalties (B, R)."""
        full = generate(p.view(b * rows, *p.shape[-2:])).view(b, rows, *canvas)
        masks = full[:, :, margin : margin + height, margin : margin + width]
        x = apply_masks(pyramid, masks if sign > 0 else 1 - masks)
        if flip:
            x = torch.flip(x, dims=(-1,))
        reward = sign * scorer(model.logits(x), b)
        penalty = area_penalty(full.flatten(2), ones)
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
