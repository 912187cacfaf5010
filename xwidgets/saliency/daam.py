"""DAAM, the Dynamic Accumulated Attention Map (Liao, Gao & Zhang, "Dynamic Accumulated
Attention Map for Interpreting Evolution of Decision-Making in Vision Transformer",
Pattern Recognition 2025, arXiv:2503.14640; seed 003).

For each block b of a ViT (METHODS.md, seed 003):

* semantic map (the paper's decomposition module): A_b = (class-token query row of the
  attention, per head) * V, i.e. A_b[p, (h, d)] = P_h[0, p] v_h[p, d], shape (B, N, C):
  the contribution of token p to the class token's attention output, channel by channel;
* channel weights: w_b = ReLU(d y_c / d z_b[0]), where z_b is the input of the block's
  attention output projection (the heads' concatenated context) and [0] the class token;
* block map: cam_b = ReLU(sum_c w_bc A_b[p, c]) over the patch tokens p, on the patch
  grid, min-max normalised per image to [0, 1].

The accumulated flow at block L is the un-normalised sum S_L = sum_{b <= L} cam_b; the
last one, S_last = sum of all block maps, is what the issue checks. For display (a step
after the accumulation, not part of it) each S_L is divided by the global maximum (the
maximum of S_last, per image and target), passed through the sigmoid-type mapping
sigmoid(k x) - 0.5 with k = 5 and min-max normalised (``mapping="sigmoid"``, as
METHODS.md describes and the official code's non-linear option does); with
``mapping="global_max"`` it is only divided by the global maximum, so the flow's growth
from block to block stays visible.

The result: ``Saliency.maps`` holds the final DAAM map (the display-mapped S_last), and
``params["extras"]`` holds, per row, ``block_maps`` (blocks, h, w): every cam_b;
``accumulated`` (blocks, h, w): every S_L, un-normalised; ``flow`` (blocks, h, w): every
S_L display-mapped (its last entry is the map); and ``blocks``: the attention modules'
names. The AttentionFlowViewer widget shows them with a block slider.

Deviations: only the supervised form is implemented (the paper's dimension-wise weights
for self-supervised ViTs need a self-supervised objective); the official code runs one
image and one class at a time on timm models, this runs a batch of images and K target
passes (one forward, one backward per pass) on torchvision, timm and Hugging Face ViTs.
Cost: 1F + K x 1B (the attention is recomputed from each block's input inside a hook).
"""

from __future__ import annotations

import dataclasses

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.attention import capture_attention, find_attention_blocks, patch_grid, prefix_tokens
from .registry import MethodOutput, register
from .targets import TargetPlan

MAPPINGS = ("sigmoid", "global_max")


@dataclasses.dataclass
class DAAMParams:
    """DAAM's display options (the per-block maps and their sum have no free parameters).

    mapping: how each accumulated map is displayed: "sigmoid" (divide by the global
        maximum, sigmoid(k x) - 0.5, min-max; METHODS.md and the official code's
        non-linear mapping) or "global_max" (divide by the global maximum only).
    k: the sigmoid's slope (5 in the official code).
    """

    mapping: str = "sigmoid"
    k: float = 5.0

    def __post_init__(self) -> None:
        if self.mapping not in MAPPINGS:
            raise bad_argument("mapping", f"one of {', '.join(map(repr, MAPPINGS))}", self.mapping)
        if isinstance(self.k, bool) or not isinstance(self.k, (int, float)) or not float(self.k) > 0:
            raise bad_argument("k", "a positive number", self.k)


def minmax(maps: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each map (last dimension) scaled to [0, 1]: (x - min) / (max - min + eps)."""
    low = maps.amin(dim=-1, keepdim=True)
    shifted = maps - low
    return shifted / (shifted.amax(dim=-1, keepdim=True) + eps)


def display_flow(accumulated: torch.Tensor, mapping: str = "sigmoid", k: float = 5.0) -> torch.Tensor:
    """The displayed DAAM maps from the un-normalised accumulated maps (..., L, P): each
    divided by the global maximum (the maximum of the last, complete sum), then
    ``sigmoid(k x) - 0.5`` and min-max normalised (``"sigmoid"``), or left there
    (``"global_max"``)."""
    peak = accumulated[..., -1:, :].amax(dim=-1, keepdim=True).clamp_min(1e-12)
    x = accumulated / peak
    if mapping == "global_max":
        return x
    return minmax(torch.sigmoid(k * x) - 0.5)


@register(
    "daam",
    params=DAAMParams,
    summary="Per-block class-token attention x values weighted by ReLU gradients, accumulated block by block",
    paper="Liao, Gao & Zhang, Dynamic Accumulated Attention Map (DAAM), Pattern Recognition 2025",
    family="attention",
)
def daam(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: DAAMParams, layer: None) -> MethodOutput:
    blocks = find_attention_blocks(model.model)
    with capture_attention(model.model, blocks, gradients=True, values=True, reduce=lambda p: p[:, :, 0]) as records:
        logits = model.logits(inputs)
    fixed = plan.fix(logits)
    probes = [r.probe for r in records]
    if any(p is None for p in probes):
        raise RuntimeError("model: an attention block was not called during the forward pass")
    prefix, rows, cols = patch_grid(records[0].attention.shape[-1], tuple(inputs.shape[-2:]), prefix_tokens(model.model))
    if prefix == 0:
        raise ValueError(
            "model: expected a vision transformer with a class token for DAAM (its maps read the class "
            f"token's attention); got {type(model.model).__name__}, whose tokens are all patches"
        )
    # contribution of each patch token to the class token's context, per head and channel
    cls_rows = torch.stack([r.attention[..., prefix:] for r in records], dim=1)  # (B, L, H, P)
    values = torch.stack([r.values[:, :, prefix:] for r in records], dim=1)  # (B, L, H, P, D)
    heads, head_dim = values.shape[2], values.shape[4]

    block_maps = []
    passes = fixed.num_passes
    for k in range(passes):
        score = fixed.scores(logits, k).sum()
        grads = torch.autograd.grad(score, probes, retain_graph=k < passes - 1)
        weights = torch.stack([g[:, 0] for g in grads], dim=1).clamp_min(0)  # (B, L, C)
        weights = weights.reshape(*weights.shape[:2], heads, head_dim)  # (B, L, H, D)
        cam = torch.einsum("blhp,blhpd,blhd->blp", cls_rows, values, weights).clamp_min(0)
        block_maps.append(minmax(cam.float()))
    cams = torch.stack(block_maps)  # (K, B, L, P)
    accumulated = cams.cumsum(dim=2)
    flow = display_flow(accumulated, params.mapping, float(params.k))
    grid = (*cams.shape[:3], rows, cols)
    return MethodOutput(
        maps=flow[:, :, -1].reshape(passes, -1, rows, cols),
        logits=logits.detach(),
        targets=fixed.stacked(),
        extras={
            "block_maps": cams.reshape(grid),
            "accumulated": accumulated.reshape(grid),
            "flow": flow.reshape(grid),
            "blocks": [b.name for b in blocks],
        },
    )
