"""Score-CAM (Wang, Wang, Du, Yang, Zhang, Ding, Mardziel and Hu, "Score-CAM:
Score-Weighted Visual Explanations for Convolutional Neural Networks", CVPR
Workshops 2020).

Each channel A^k of the layer is upsampled bilinearly to the input size and min-max
normalised to H^k in [0, 1]; the input is masked by it, X (.) H^k, and the score of
the masked input weighs the channel:

    w_k = f_c(X (.) H^k) [- f_c(X_b)]        map = ReLU(sum_k w_k A^k)

weights="probability" (default): f_c is the softmax probability of the class, as in
the authors' code ("softmax score"); with ``baseline=True`` the probability of the
baseline X_b is subtracted (the paper's channel-wise increase of confidence).
weights="channel_softmax": w = softmax over the channels k of the target logits
(minus the baseline's), as pytorch-grad-cam and torch-cam read the softmax of the
paper's Algorithm 1 (unverified here); the baseline then only shifts all channels
equally, so it changes nothing. A callable target's output is used as the score in
both modes.

Substrate: the input is masked in model-input space, as in the paper's code, so
a masked-out pixel is a zero model input (the dataset's mean colour for
mean-normalised models); the baseline X_b is that all-zero input.

Constant channels (min = max: a dead ReLU channel, say) have no normalised mask (0/0):
they get weight 0 and are left out of the channel softmax, instead of NaN. No
gradients: B x C masked forwards (C channels at the layer), in batches of
``internal_batch_size`` (image, channel) pairs; every target of ``TopK`` is read from
the same forwards. Choose a layer with few channels, or a GPU, for big models.
(``internal_batch_size``, Captum's name, because ``explain``'s own ``batch_size`` is
the number of images per call.)
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.hooks import capture
from ..models.layers import tokens_to_grid
from ._chunks import AUTO, Chunks, check_internal_batch_size
from .registry import LayerOutput, MethodOutput, register, register_at_layer
from .targets import TargetPlan

WEIGHTS = ("probability", "channel_softmax")


@dataclasses.dataclass
class ScoreCAMParams:
    """internal_batch_size: masked inputs per forward pass, or "auto" (default): the
    fastest of 8 to 64 on this device and model, timed on the first forwards.
    baseline: subtract the score of the all-zero input (False).
    weights: "probability" (softmax probability per masked input) or
    "channel_softmax" (softmax of the target logits over the channels).
    align_corners: of the bilinear upsampling of the channels (the authors' code:
    False; pytorch-grad-cam: True).
    relu: apply the final ReLU (the paper's choice)."""

    internal_batch_size: int | str = AUTO
    baseline: bool = False
    weights: str = "probability"
    align_corners: bool = False
    relu: bool = True

    def __post_init__(self) -> None:
        check_internal_batch_size(self.internal_batch_size)
        if self.weights not in WEIGHTS:
            raise bad_argument("weights", f"one of {', '.join(repr(w) for w in WEIGHTS)}", self.weights)
        for name in ("baseline", "align_corners", "relu"):
            if not isinstance(getattr(self, name), bool):
                raise bad_argument(name, "True or False", getattr(self, name))


@register(
    "scorecam",
    params=ScoreCAMParams,
    summary="Feature maps weighted by the score of the input masked by each of them",
    paper="Wang et al., Score-CAM, CVPR Workshops 2020",
    family="cam",
    uses_layer=True,
)
def scorecam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: ScoreCAMParams, layer: str) -> MethodOutput:
    logits, activation, passes, weights = scorecam_channel_weights(model, inputs, plan, params, layer)
    maps = torch.einsum("kbc,bchw->kbhw", weights, activation.to(weights.dtype))
    return MethodOutput(maps=maps.clamp_min(0) if params.relu else maps, logits=logits, targets=torch.stack(passes))


@register_at_layer("scorecam")
def scorecam_at_layer(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: ScoreCAMParams, layer: str) -> LayerOutput:
    logits, activation, passes, weights = scorecam_channel_weights(model, inputs, plan, params, layer)
    relevance = weights[:, :, :, None, None] * activation.to(weights.dtype)
    maps = relevance.sum(dim=2)
    return LayerOutput(relevance, activation, maps.clamp_min(0) if params.relu else maps, logits, torch.stack(passes))


def scorecam_channel_weights(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: ScoreCAMParams, layer: str
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """(logits, activation (B, C', h, w), the K class tensors, channel weights (K, B, C'))."""
    with torch.no_grad(), capture(model.model, [layer], gradients=False) as records:
        logits = model.logits(inputs)
    if records[layer].activation is None:
        raise RuntimeError(f"layer: {layer!r} was not called during the forward pass, so it has no activation")
    activation = tokens_to_grid(records[layer].activation)
    b, c, h, w = activation.shape
    size = tuple(inputs.shape[-2:])
    probability = params.weights == "probability" and not plan.is_callable
    with torch.no_grad():
        passes = plan.passes(logits)
        scores = plan.fix(logits).all_scores
        flat = activation.reshape(b * c, 1, h, w).to(inputs.dtype)
        raw = torch.empty(len(passes), b * c, dtype=inputs.dtype, device=inputs.device)
        valid = torch.empty(b * c, dtype=torch.bool, device=inputs.device)
        for start, stop in Chunks(b * c, params.internal_batch_size, inputs.device):
            up = F.interpolate(flat[start:stop], size=size, mode="bilinear", align_corners=params.align_corners)
            lo, hi = up.amin(dim=(2, 3), keepdim=True), up.amax(dim=(2, 3), keepdim=True)
            ok = hi > lo
            masks = torch.where(ok, (up - lo) / torch.where(ok, hi - lo, torch.ones_like(hi)), torch.zeros_like(up))
            image = torch.arange(start, stop, device=inputs.device) // c
            out = model.logits(inputs[image] * masks)
            raw[:, start:stop] = scores(out.softmax(dim=1) if probability else out, image)
            valid[start:stop] = ok.view(-1)
        raw, valid = raw.view(-1, b, c), valid.view(b, c)
        if params.baseline:
            out = model.logits(torch.zeros_like(inputs))
            raw = raw - scores(out.softmax(dim=1) if probability else out, torch.arange(b, device=inputs.device))[:, :, None]
        if params.weights == "probability":
            weights = raw * valid
        else:
            shifted = raw.masked_fill(~valid, float("-inf"))
            top = shifted.amax(dim=2, keepdim=True)
            exp = (shifted - torch.where(torch.isfinite(top), top, torch.zeros_like(top))).exp()
            weights = exp / exp.sum(dim=2, keepdim=True).clamp_min(torch.finfo(exp.dtype).tiny)
    return logits, activation, passes, weights
