"""BEE: Baseline Exploration-Exploitation (Barkan, Elisha, Weill & Koenigstein, "BEE:
Metric-Adapted Explanations via Baseline Exploration-Exploitation", AAAI 2025,
arXiv:2412.17512; seed 003).

A path integration at an intermediate layer whose baseline is random, drawn from a
learned mixture of baseline families, and whose output is the best of T maps on the
metric the user names. NOTE: BEE optimises the very metric it is then evaluated on
(it keeps the map that scores best on it), so its score on that metric is not
comparable with a method's that never saw the metric; report that next to its
scores. The metric and its value are recorded next to every map.

The map, for the activation A of ``layer`` (the CAM layer by default) and a
baseline A' there, with S interpolation points a_i = A' + (i / S)(A - A'):

    map = minmax( up( sum_i sum_channels  dS_c/da (a_i) * a_i ) )

(4 points in the official code; METHODS.md). Baseline families:

* "normal", "uniform": DDPM-style forward noising of the activation,
  A' = sqrt(abar_t) A + sqrt(1 - abar_t) std(A) eps, t ~ U{1..500}, a linear beta
  schedule from 1e-4 to 0.02, eps standard normal or uniform of unit variance. The
  noise is scaled by the activation's standard deviation (per image), so a family
  means the same at any layer of any model (our choice; the paper noises the
  activation as it is).
* "blur": the activation of the image blurred by a Gaussian of sigma ~ U(2, 20) px
  at 224 px (scaled to the input size).
* "constant": the activation of a uniform grey image, grey level ~ U(0, 1).
* "train": the activation of a random image of ``train_images`` (model inputs the
  user passes; the family is on when they are given).

The family of each draw is chosen by contextual Thompson sampling: one Bayesian
logistic regression per family on the image's context (its mean-pooled activation,
L2-normalised, plus a bias term), with a diagonal Gaussian posterior updated by the
Laplace approximation after each observation (Chapelle & Li, "An Empirical
Evaluation of Thompson Sampling", NeurIPS 2011, algorithm 3; the update of one
observation is exact in closed form up to a scalar Newton solve). Each round draws
weights w_f ~ N(m_f, diag(1 / q_f)), picks f = argmax_f w_f . x, draws a baseline
of that family, computes the map and its metric, and observes the reward +1 if the
map beats the image's best so far on the metric and -1 otherwise (the first
round, with nothing to beat, updates nothing). After ``samples`` rounds the best
map is kept.

Metrics (``metric``), all on the target's softmax probability (a callable target's
score as is), maps upsampled to the input and pixels ordered by decreasing value:
* "deletion": area under the curve of the score as the most salient pixels are
  replaced by black, in ``metric_steps`` equal chunks (lower is better);
* "insertion": the curve as the most salient pixels are inserted into a blurred
  copy (Gaussian sigma 5 px at 224, RISE's substrate) (higher is better);
* "adp": Average Drop %, 100 max(0, Y - O) / Y with O the score of the image
  multiplied by the map in pixel space (black substrate) (lower is better).
Areas are trapezoids over [0, 1]. PIC, SIC, AIC, POS and NEG of the paper are not
implemented.

Learning across images: by default each (image, target) row starts from the prior
(mean 0, precision ``prior_precision``) and learns from its own rounds only, so a
map depends on its image and the seed alone (batched = one at a time). Pass a
:class:`BEEPolicy` as ``policy`` to share what is learned: every row starts from the
policy's posterior, and after each batch the policy is updated in place with all of
the batch's observations (the paper's learned mixture; maps then depend on the
images seen before).

Defaults: S = 4 interpolation points (official code), T = 500 and beta 1e-4..0.02
(METHODS.md); ``samples`` = 16 maps per image, ``metric_steps`` = 20,
``prior_precision`` = 1 and the blur and grey ranges are ours (unverified).
Random draws (Thompson weights' noise, noise tensors, t, sigma, grey level, training
image) are made once per round from ``seed`` and shared by all rows, so an image's
result does not depend on which images share its batch.

Cost per round and row: S forwards and backwards (the layers above ``layer`` in the
backward), one forward for the image baselines, and the metric's forwards
(metric_steps + 1 for deletion and insertion, 1 for adp).

``extras`` (per Saliency row): ``metric_value`` the best map's metric,
``family_index`` the family it came from (an index into ``extras["families"]``),
``family_counts`` (n_families,) how often each family was drawn, ``metric_history``
(samples,) the metric of each round's map; and ``metric``, ``higher_is_better``,
``families`` (names) for the whole result.
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
from ..models.hooks import capture, substitute
from ..models.layers import tokens_to_grid
from ._gradients import check_positive_int
from ._optimisation import PROGRESS_THRESHOLD, PairScores, Progress, check_choice, check_number
from .fovex import from_pixels, minmax, to_pixels, truncated_blur
from .registry import MethodOutput, register
from .targets import TargetPlan

__all__ = ["BEEParams", "BEEPolicy", "bee", "FAMILIES", "METRICS", "laplace_update", "metric_scores"]

FAMILIES = ("normal", "uniform", "blur", "constant", "train")
METRICS = ("deletion", "insertion", "adp")
HIGHER_IS_BETTER = {"deletion": False, "insertion": True, "adp": False}


# ---------------------------------------------------------------------------- the bandit


def laplace_update(mean: torch.Tensor, precision: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                   newton_steps: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """One observation per posterior: N independent Bayesian logistic regressions with
    diagonal Gaussian posteriors N(mean, diag(1 / precision)), each seeing context
    ``x`` (N, d) with label ``y`` (N,) in {-1, +1} (0: no observation, unchanged).

    The MAP w of 1/2 sum q (w - m)^2 + log(1 + exp(-y w.x)) lies on m + c x / q; the
    scalar s = w.x solves s = m.x + y v sigmoid(-y s), v = sum x^2 / q, by Newton's
    method (the left side minus the right is increasing in s). Then the Laplace
    approximation: mean <- w, precision <- q + x^2 p (1 - p), p = sigmoid(w.x)."""
    y = y.to(mean.dtype)
    v = (x * x / precision).sum(dim=-1)
    a = (mean * x).sum(dim=-1)
    s = a.clone()
    for _ in range(newton_steps):
        sig = torch.sigmoid(-y * s)
        h = s - a - y * v * sig
        s = s - h / (1 + v * sig * (1 - sig))
    w = mean + (y * torch.sigmoid(-y * s))[..., None] * x / precision
    p = torch.sigmoid((w * x).sum(dim=-1))
    q = precision + x * x * (p * (1 - p))[..., None]
    observed = (y != 0)[..., None]
    return torch.where(observed, w, mean), torch.where(observed, q, precision)


class BEEPolicy:
    """The learned mixture of baseline families: one Bayesian logistic regression per
    family on the image context, shared across calls. Pass it as ``policy`` to
    ``explain(..., method="bee")``; it is updated in place after every batch.

    ``mean``, ``precision``: (n_families, d) once the first batch has set d (the
    context size: the layer's channels plus one); ``families``: their names;
    ``observations``: how many rewards it has seen."""

    def __init__(self, families: tuple[str, ...] | None = None, prior_precision: float = 1.0) -> None:
        check_number(prior_precision, "prior_precision", minimum=0, strict=True)
        if families is not None:
            _check_families(families)
        self.families = None if families is None else tuple(families)
        self.prior_precision = float(prior_precision)
        self.mean: torch.Tensor | None = None
        self.precision: torch.Tensor | None = None
        self.observations = 0

    def start(self, families: tuple[str, ...], d: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if self.families is None:
            self.families = tuple(families)
        if tuple(families) != self.families:
            raise bad_argument("policy", f"a BEEPolicy over the families {families}", f"one over {self.families}")
        if self.mean is None:
            self.mean = torch.zeros(len(families), d)
            self.precision = torch.full((len(families), d), self.prior_precision)
        if self.mean.shape[1] != d:
            raise bad_argument("policy", f"a BEEPolicy for contexts of size {d} (this layer)", f"one of size {self.mean.shape[1]}")
        return self.mean.to(device), self.precision.to(device)

    def learn(self, contexts: torch.Tensor, families: torch.Tensor, rewards: torch.Tensor) -> None:
        """Sequential Laplace updates, one observation at a time, in order:
        ``contexts`` (n, d), ``families`` (n,) indices, ``rewards`` (n,) in {-1, 0, +1}."""
        mean, precision = self.mean.clone(), self.precision.clone()
        contexts, families, rewards = contexts.detach().cpu().float(), families.cpu(), rewards.cpu()
        for x, f, y in zip(contexts, families.tolist(), rewards):
            if float(y) == 0:
                continue
            m, q = laplace_update(mean[f][None], precision[f][None], x[None], y[None])
            mean[f], precision[f] = m[0], q[0]
            self.observations += 1
        self.mean, self.precision = mean, precision

    def probabilities(self, context: torch.Tensor) -> torch.Tensor:
        """(n, n_families) sigmoid(m_f . x): each family's posterior-mean reward probability."""
        if self.mean is None:
            raise ValueError("policy: has not seen any image yet")
        return torch.sigmoid(context.float().cpu() @ self.mean.T)

    def __repr__(self) -> str:
        d = None if self.mean is None else self.mean.shape[1]
        return f"BEEPolicy(families={self.families}, d={d}, observations={self.observations})"


def _check_families(families: Any) -> None:
    if (not isinstance(families, (tuple, list)) or not families or any(f not in FAMILIES for f in families)
            or len(set(families)) != len(families)):
        raise bad_argument("families", f"a non-empty tuple of distinct names from {', '.join(FAMILIES)}", families)


# ---------------------------------------------------------------------------- parameters


@dataclasses.dataclass
class BEEParams:
    """Parameters of BEE (see the module docstring for sources).

    metric: what the kept map is best at: "deletion", "insertion" or "adp".
    samples: T, maps drawn per image (16, ours).
    steps: interpolation points S of each map (4, official code).
    families: the baseline families to mix (None: normal, uniform, blur, constant,
        and train when ``train_images`` is given).
    train_images: (N, 3, H, W) model inputs for the "train" family, or None.
    diffusion_steps, beta_start, beta_end: the DDPM schedule of the noise families
        (500, 1e-4, 0.02).
    blur_sigma: (low, high) range of the blur family's sigma in px at 224 (2, 20; ours).
    prior_precision: the prior precision of each logistic weight (1.0; ours).
    metric_steps: chunks of the deletion and insertion curves (20; ours).
    policy: a :class:`BEEPolicy` shared across calls (learned in place), or None.
    internal_batch_size: rows per forward pass of the interpolation and the metric (64).
    seed: seed of every random draw.
    progress, callback, callback_every: a tqdm.auto bar over the rounds (None: when
        samples x steps > 50, as with the defaults) and ``callback(round, maps)`` with the
        (K, B, h, w) best maps so far, every ``callback_every`` rounds.
    """

    metric: str = "deletion"
    samples: int = 16
    steps: int = 4
    families: tuple[str, ...] | None = None
    train_images: torch.Tensor | None = None
    diffusion_steps: int = 500
    beta_start: float = 1e-4
    beta_end: float = 0.02
    blur_sigma: tuple[float, float] = (2.0, 20.0)
    prior_precision: float = 1.0
    metric_steps: int = 20
    policy: BEEPolicy | None = None
    internal_batch_size: int = 64
    seed: int = 0
    progress: bool | None = None
    callback: Callable[[int, torch.Tensor], Any] | None = None
    callback_every: int = 1

    def __post_init__(self) -> None:
        check_choice(self.metric, "metric", METRICS)
        check_positive_int(self.samples, "samples")
        check_positive_int(self.steps, "steps")
        if self.train_images is not None:
            t = self.train_images
            if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 4 or t.shape[1] != 3 or t.shape[0] < 1:
                raise bad_argument("train_images", "a float tensor (N, 3, H, W) of preprocessed model inputs", t)
        if self.families is None:
            self.families = FAMILIES if self.train_images is not None else FAMILIES[:-1]
        _check_families(self.families)
        self.families = tuple(self.families)
        if "train" in self.families and self.train_images is None:
            raise bad_argument("train_images", 'model inputs (N, 3, H, W) for the "train" family', None)
        check_positive_int(self.diffusion_steps, "diffusion_steps")
        check_number(self.beta_start, "beta_start", minimum=0, strict=True, maximum=1, maximum_strict=True)
        check_number(self.beta_end, "beta_end", minimum=0, strict=True, maximum=1, maximum_strict=True)
        sigma = self.blur_sigma
        if (not isinstance(sigma, (tuple, list)) or len(sigma) != 2
                or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in sigma)
                or sigma[0] > sigma[1]):
            raise bad_argument("blur_sigma", "(low, high) positive pixel sigmas with low <= high", sigma)
        check_number(self.prior_precision, "prior_precision", minimum=0, strict=True)
        check_positive_int(self.metric_steps, "metric_steps")
        if self.policy is not None and not isinstance(self.policy, BEEPolicy):
            raise bad_argument("policy", "None or a BEEPolicy", self.policy)
        check_positive_int(self.internal_batch_size, "internal_batch_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)
        if self.progress is not None and not isinstance(self.progress, bool):
            raise bad_argument("progress", "True, False or None (on above 50 steps)", self.progress)
        if self.callback is not None and not callable(self.callback):
            raise bad_argument("callback", "None or a callable(round, maps)", self.callback)
        check_positive_int(self.callback_every, "callback_every")


# ---------------------------------------------------------------------------- metrics


def metric_scores(
    model: ModelAdapter, inputs: torch.Tensor, maps: torch.Tensor, image: torch.Tensor, passes: torch.Tensor,
    scorer: PairScores, metric: str, steps: int, chunk: int,
) -> torch.Tensor:
    """(N,) values of ``metric`` for N maps (N, h, w); map n explains image ``image[n]``
    (of ``inputs`` (B, 3, H, W)) for target pass ``passes[n]``."""
    n = maps.shape[0]
    _, _, height, width = inputs.shape
    maps = F.interpolate(maps[:, None].float(), size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    pixels = to_pixels(model, inputs)
    with torch.no_grad():
        if metric == "adp":
            clean = scorer(model.logits(inputs[image]), image, passes, "probability")
            masked = from_pixels(model, pixels[image] * minmax(maps)[:, None])
            kept = scorer(model.logits(masked), image, passes, "probability")
            return 100 * (clean - kept).clamp_min(0) / clean.clamp_min(1e-12)
        if metric == "deletion":
            start, end = inputs, from_pixels(model, torch.zeros_like(pixels))
        else:
            size = min(height, width) / 224
            # insertion: from a blurred copy towards the image
            start, end = from_pixels(model, truncated_blur(pixels, 2 * max(1, round(5 * size)) + 1, 5 * size)), inputs
        count = height * width
        order = maps.reshape(n, count).argsort(dim=1, descending=True, stable=True)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(count, device=maps.device).expand(n, -1).contiguous())
        done = torch.round(torch.arange(steps + 1, device=maps.device) * count / steps).long()
        curve = torch.empty(n, steps + 1, device=maps.device)
        total = n * (steps + 1)
        for lo in range(0, total, chunk):
            index = torch.arange(lo, min(lo + chunk, total), device=maps.device)
            row, step = index // (steps + 1), index % (steps + 1)
            changed = (rank[row] < done[step][:, None]).view(-1, 1, height, width)
            x = torch.where(changed, end[image[row]], start[image[row]])
            curve[row, step] = scorer(model.logits(x), image[row], passes[row], "probability").float()
        return (curve[:, 1:] + curve[:, :-1]).sum(dim=1) / (2 * steps)


# ---------------------------------------------------------------------------- the method


def _layer_activation(model: ModelAdapter, inputs: torch.Tensor, layer: str) -> torch.Tensor:
    with torch.no_grad(), capture(model.model, [layer], gradients=False) as records:
        model.logits(inputs)
    if records[layer].activation is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    return records[layer].activation


def _alpha_bars(params: BEEParams, device: torch.device) -> torch.Tensor:
    betas = torch.linspace(params.beta_start, params.beta_end, params.diffusion_steps, device=device, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0).float()


@register(
    "bee",
    params=BEEParams,
    summary="Path integration at a layer from baselines drawn by Thompson sampling; best of T maps on a chosen metric",
    paper="Barkan et al., BEE: Metric-Adapted Explanations via Baseline Exploration-Exploitation, AAAI 2025",
    family="gradient",
    uses_layer=True,
)
def bee(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: BEEParams, layer: str) -> MethodOutput:  # noqa: C901
    b, _, height, width = inputs.shape
    device = inputs.device
    families = params.families
    n_fam = len(families)
    with torch.no_grad(), capture(model.model, [layer], gradients=False) as records:
        logits = model.logits(inputs)
    activation = records[layer].activation
    if activation is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    scorer = PairScores(plan, logits)
    k = scorer.classes.shape[0]
    rows = k * b  # pass-major: row r is pass r // b of image r % b
    image = torch.arange(rows, device=device) % b
    passes = torch.arange(rows, device=device) // b
    higher = HIGHER_IS_BETTER[params.metric]

    pooled = tokens_to_grid(activation).float().mean(dim=(2, 3))
    context = torch.cat([torch.ones(b, 1, device=device), F.normalize(pooled, dim=1)], dim=1)[image]  # (R, d)
    d = context.shape[1]
    if params.policy is not None:
        mean0, precision0 = params.policy.start(families, d, device)
    else:
        mean0 = torch.zeros(n_fam, d, device=device)
        precision0 = torch.full((n_fam, d), float(params.prior_precision), device=device)
    mean = mean0[None].repeat(rows, 1, 1)  # (R, F, d)
    precision = precision0[None].repeat(rows, 1, 1)

    generator = torch.Generator(device=device).manual_seed(params.seed)
    alpha_bars = _alpha_bars(params, device)
    act_std = activation.float().flatten(1).std(dim=1).view(b, *[1] * (activation.ndim - 1))
    train = None if params.train_images is None else params.train_images.to(device=device, dtype=inputs.dtype)
    if train is not None and tuple(train.shape[-2:]) != (height, width):
        raise bad_argument("train_images", f"model inputs of spatial size {(height, width)}", train)
    pixels = to_pixels(model, inputs.detach())
    fractions = torch.arange(1, params.steps + 1, device=device, dtype=activation.dtype) / params.steps
    scale = min(height, width) / 224

    best_map = None
    best_value = torch.full((rows,), -math.inf if higher else math.inf, device=device)
    best_family = torch.full((rows,), -1, dtype=torch.long, device=device)
    counts = torch.zeros(rows, n_fam, device=device)
    history, observed = [], []
    show = params.progress if params.progress is not None else params.samples * params.steps > PROGRESS_THRESHOLD
    progress = Progress(
        SimpleNamespace(iterations=params.samples, progress=show, callback=params.callback,
                        callback_every=params.callback_every),
        "BEE samples",
    )
    try:
        for t in range(params.samples):
            # ---- Thompson sampling: shared noise, per-row posteriors
            z = torch.randn(n_fam, d, generator=generator, device=device)
            weights = mean + z[None] / precision.sqrt()
            choice = (weights * context[:, None]).sum(dim=-1).argmax(dim=1)  # (R,)
            # ---- one draw of every family, shared random numbers
            eps_shape = activation.shape[1:]
            eps_normal = torch.randn(eps_shape, generator=generator, device=device)
            eps_uniform = (torch.rand(eps_shape, generator=generator, device=device) * 2 - 1) * math.sqrt(3)
            step_t = torch.randint(0, params.diffusion_steps, (1,), generator=generator, device=device)
            sigma = torch.rand(1, generator=generator, device=device) * (params.blur_sigma[1] - params.blur_sigma[0]) + params.blur_sigma[0]
            grey = torch.rand(1, generator=generator, device=device)
            pick = torch.randint(0, 1 if train is None else train.shape[0], (1,), generator=generator, device=device)
            abar = alpha_bars[step_t]
            candidates = []
            image_rows = []
            for name in families:
                if name in ("normal", "uniform"):
                    eps = eps_normal if name == "normal" else eps_uniform
                    candidates.append(abar.sqrt() * activation + (1 - abar).sqrt() * act_std * eps[None])
                elif name == "blur":
                    sig = float(sigma) * scale
                    image_rows.append((name, from_pixels(model, truncated_blur(pixels, 2 * max(1, round(3 * sig)) + 1, sig))))
                    candidates.append(None)
                elif name == "constant":
                    image_rows.append((name, from_pixels(model, grey.view(1, 1, 1, 1).expand(1, 3, height, width))))
                    candidates.append(None)
                else:
                    image_rows.append((name, train[pick]))
                    candidates.append(None)
            if image_rows:
                acts = _layer_activation(model, torch.cat([x for _, x in image_rows]), layer)
                at = 0
                for name, x in image_rows:
                    part = acts[at:at + x.shape[0]]
                    at += x.shape[0]
                    candidates[families.index(name)] = part.expand_as(activation) if part.shape[0] == 1 else part
            stacked = torch.stack(candidates)  # (F, B, ...)
            baseline = stacked[choice, image]  # (R, ...)

            # ---- the path integral at the layer, rows x steps in chunks
            target = activation[image]
            delta = target - baseline
            total = torch.zeros(rows, *tokens_to_grid(activation[:1]).shape[-2:], device=device)
            pairs = rows * params.steps
            for lo in range(0, pairs, params.internal_batch_size):
                index = torch.arange(lo, min(lo + params.internal_batch_size, pairs), device=device)
                row, step = index // params.steps, index % params.steps
                a = baseline[row] + fractions[step].view(-1, *[1] * (activation.ndim - 1)) * delta[row]
                leaf = a.detach().requires_grad_(True)
                with torch.enable_grad(), substitute(model.model, layer, leaf):
                    out = model.logits(inputs[image[row]])
                    score = scorer(out, image[row], passes[row], "logit").sum()
                    (grad,) = torch.autograd.grad(score, leaf, allow_unused=True)
                if grad is None:
                    grad = torch.zeros_like(leaf)
                contribution = tokens_to_grid(grad * leaf.detach()).sum(dim=1)  # (n, h, w)
                total.index_add_(0, row, contribution.float())
            maps = minmax(total)

            # ---- the metric, the reward, the posterior update
            value = metric_scores(model, inputs, maps, image, passes, scorer, params.metric, params.metric_steps,
                                  params.internal_batch_size)
            better = value > best_value if higher else value < best_value
            reward = torch.where(better, 1.0, -1.0) if t > 0 else torch.zeros(rows, device=device)
            chosen_mean, chosen_precision = laplace_update(
                mean[torch.arange(rows, device=device), choice], precision[torch.arange(rows, device=device), choice],
                context, reward,
            )
            mean[torch.arange(rows, device=device), choice] = chosen_mean
            precision[torch.arange(rows, device=device), choice] = chosen_precision
            best_value = torch.where(better, value, best_value)
            best_family = torch.where(better, choice, best_family)
            best_map = maps if best_map is None else torch.where(better[:, None, None], maps, best_map)
            counts[torch.arange(rows, device=device), choice] += 1
            history.append(value)
            observed.append((choice, reward))
            progress.update(t + 1, value, lambda: best_map.view(k, b, *best_map.shape[-2:]).clone())
    finally:
        progress.close()

    if params.policy is not None:  # the shared mixture learns from every observation of the batch, in order
        contexts = torch.cat([context for _ in observed])
        params.policy.learn(contexts, torch.cat([c for c, _ in observed]), torch.cat([r for _, r in observed]))

    extras = {
        "metric": params.metric,
        "higher_is_better": higher,
        "families": list(families),
        "metric_value": best_value.view(k, b),
        "family_index": best_family.view(k, b),
        "family_counts": counts.view(k, b, n_fam),
        "metric_history": torch.stack(history, dim=1).view(k, b, params.samples),
    }
    return MethodOutput(maps=best_map.view(k, b, *best_map.shape[-2:]), logits=logits.detach(), targets=scorer.classes,
                        extras=extras)
