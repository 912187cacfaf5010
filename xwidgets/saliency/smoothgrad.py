"""SmoothGrad (Smilkov, Thorat, Kim, Viegas & Wattenberg, "SmoothGrad: removing noise
by adding noise", 2017) and VarGrad (Adebayo, Gilmer, Goodfellow & Kim, "Local
Explanation Methods for Deep Neural Networks Lack Sensitivity to Parameter Values",
ICLR Workshop 2018; also Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

Both wrap a gradient method (``base``, by name): its 3-channel attributions at
``n_samples`` noisy copies x + N(0, sigma^2) are averaged (SmoothGrad) or their
population variance taken (VarGrad), then the channels are reduced. The targets are
fixed from the clean image's forward pass. sigma is, as in the paper, a fraction
(0.15) of each image's value range (max - min over its model-input values), or an
absolute standard deviation in model-input units (``sigma_mode="absolute"``, Captum's
``stdevs``). Noisy copies are batched ``internal_batch_size`` rows at a time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from . import gradient, guided, integrated_gradients  # noqa: F401  (register the base methods)
from ._gradients import check_positive_int, check_reduce, get_gradient_method, reduce_channels
from .registry import MethodOutput, register
from .targets import FixedTargets, TargetPlan

SIGMA_MODES = ("range", "absolute")


@dataclasses.dataclass
class NoiseParams:
    """Parameters of SmoothGrad and VarGrad.

    base: the gradient method averaged over noise: "saliency" (default),
        "gradient_x_input", "integrated_gradients", "guided_backprop", "deconvnet".
    base_params: the base method's parameters (e.g. ``{"steps": 20}`` for IG).
    n_samples: noisy copies per image (50, the paper's choice).
    sigma: noise standard deviation; with sigma_mode "range" (default) a fraction of
        each image's value range, 0.15 as in the paper; with "absolute", in
        model-input units.
    sigma_mode: "range" or "absolute".
    internal_batch_size: noisy rows (image x sample) per forward pass; samples are
        drawn in groups of max(1, internal_batch_size // batch) per image.
    seed: seed of the noise (None: torch's global generator).
    reduce: channel reduction applied after averaging; None (default) takes the
        base method's ("abs_max" for saliency and guided methods, "sum" for
        gradient x input and IG).
    """

    base: str = "saliency"
    base_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    n_samples: int = 50
    sigma: float = 0.15
    sigma_mode: str = "range"
    internal_batch_size: int = 64
    seed: int | None = None
    reduce: str | None = None

    def __post_init__(self) -> None:
        method = get_gradient_method(self.base, "base")
        self._base_params = method.make_params(self.base_params, "base_params")
        check_positive_int(self.n_samples, "n_samples")
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not self.sigma >= 0:
            raise bad_argument("sigma", "a non-negative number", self.sigma)
        if self.sigma_mode not in SIGMA_MODES:
            raise bad_argument("sigma_mode", f"one of {', '.join(SIGMA_MODES)}", self.sigma_mode)
        check_positive_int(self.internal_batch_size, "internal_batch_size")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise bad_argument("seed", "an int or None", self.seed)
        check_reduce(self.reduce, allow_none=True)

    @property
    def effective_reduce(self) -> str:
        return self.reduce if self.reduce is not None else self._base_params.reduce


def noise_moments(
    model: ModelAdapter, inputs: torch.Tensor, targets: FixedTargets, params: NoiseParams, second: bool,
    source: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean and (when ``second``) population variance over the noisy samples of the
    base method's attributions, each (K, B, 3, H, W); with ``source`` (a layer name)
    the noise is still added to the input, and the attributions are the layer's,
    shaped like its output."""
    base = get_gradient_method(params.base)
    base_params = params._base_params
    b = inputs.shape[0]
    if params.sigma_mode == "range":
        flat = inputs.flatten(1)
        sigma = params.sigma * (flat.amax(dim=1) - flat.amin(dim=1))  # (B,)
    else:
        sigma = torch.full((b,), float(params.sigma), dtype=inputs.dtype, device=inputs.device)
    generator = None if params.seed is None else torch.Generator(device=inputs.device).manual_seed(params.seed)
    per_chunk = max(1, params.internal_batch_size // b)
    total: torch.Tensor | None = None
    squares: torch.Tensor | None = None
    for lo in range(0, params.n_samples, per_chunk):
        s = min(per_chunk, params.n_samples - lo)
        # image-major rows: image 0's s samples, then image 1's, ...
        image_index = torch.arange(b, device=inputs.device).repeat_interleave(s)
        noise = torch.randn((b * s, *inputs.shape[1:]), generator=generator, device=inputs.device, dtype=inputs.dtype)
        rows = inputs[image_index] + noise * sigma[image_index].view(-1, 1, 1, 1)
        attributions = base.attribute(model, rows, targets, image_index, base_params, source=source)  # (K, B*s, ...)
        attributions = attributions.reshape(targets.num_passes, b, s, *attributions.shape[2:])
        if total is None:
            total = torch.zeros_like(attributions[:, :, 0])
            squares = torch.zeros_like(total) if second else None
        total += attributions.sum(dim=2)
        if squares is not None:
            squares += (attributions * attributions).sum(dim=2)
    assert total is not None  # n_samples >= 1
    mean = total / params.n_samples
    variance = None if squares is None else (squares / params.n_samples - mean * mean).clamp_min(0)
    return mean, variance


def _run(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: NoiseParams, vargrad: bool) -> MethodOutput:
    with torch.no_grad():
        logits = model.logits(inputs)
    targets = FixedTargets.from_logits(plan, logits)
    mean, variance = noise_moments(model, inputs, targets, params, second=vargrad)
    attributions = variance if vargrad else mean
    return MethodOutput(
        maps=reduce_channels(attributions, params.effective_reduce), logits=logits.detach(), targets=targets.stacked()
    )


@register(
    "smoothgrad",
    params=NoiseParams,
    summary="A gradient method averaged over noisy copies of the input",
    paper="Smilkov, Thorat, Kim, Viegas & Wattenberg, SmoothGrad: removing noise by adding noise, arXiv:1706.03825, 2017",
    family="gradient",
)
def smoothgrad(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: NoiseParams, layer: str | None) -> MethodOutput:
    return _run(model, inputs, plan, params, vargrad=False)


@register(
    "vargrad",
    params=NoiseParams,
    summary="The variance of a gradient method over noisy copies of the input",
    paper="Adebayo, Gilmer, Goodfellow & Kim, Local Explanation Methods for Deep Neural Networks Lack "
    "Sensitivity to Parameter Values, ICLR Workshop 2018",
    family="gradient",
)
def vargrad(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: NoiseParams, layer: str | None) -> MethodOutput:
    return _run(model, inputs, plan, params, vargrad=True)
