"""Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers",
ACL 2020), for vision transformers (Dosovitskiy et al. 2021 used it for ViT's figures).

Per block l the heads' attention matrices (softmax(q k^T / sqrt(d)), rows = queries)
are fused into one N x N matrix W_l (mean over heads, as in the paper; max or min as in
common implementations), the residual connection is accounted for by adding the identity,
A_l = W_l + I, and the rows are renormalised to sum to one (= 0.5 W_l + 0.5 I when W_l is
row-stochastic). The rollout multiplies them: R = A_L ... A_2 A_1. The map is the class
token's row of R over the patch tokens, on the patch grid: the share of the class
token's rolled-out attention that comes from each patch (the rows of R sum to one).
Optionally the weakest ``discard_ratio`` of each fused matrix's entries are set to zero
before the identity is added (never the class token's attention to itself), as the
common implementation does (J. Gildenblat's vit-explain).

Rollout is class-agnostic: it reads attention only, so every target gets the same map.
The targets are still recorded with the map (what the model predicted or what was asked).
A model without a class token (global average pooling) gets the mean row over all tokens.

Cost: one forward pass (the attention is recomputed from each block's input in a hook,
so the model's fused attention kernels are left alone). Works with torchvision, timm and
Hugging Face ViTs (``xwidgets.models.attention``).
"""

from __future__ import annotations

import dataclasses

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..models.attention import capture_attention, find_attention_blocks, patch_grid, prefix_tokens
from .registry import MethodOutput, register
from .targets import TargetPlan

HEAD_FUSIONS = ("mean", "max", "min")


@dataclasses.dataclass
class AttentionRolloutParams:
    """Attention rollout's options.

    head_fusion: how a block's heads are fused: "mean" (Abnar & Zuidema 2020, the
        published method), "max" or "min" (options of the common vit-explain
        implementation, whose command-line default is "max"; unverified).
    discard_ratio: fraction of each fused matrix's smallest entries set to zero before
        the identity is added. 0 in the paper (no discarding); vit-explain uses 0.9
        (unverified).
    """

    head_fusion: str = "mean"
    discard_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.head_fusion not in HEAD_FUSIONS:
            raise bad_argument("head_fusion", f"one of {', '.join(map(repr, HEAD_FUSIONS))}", self.head_fusion)
        ratio = self.discard_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= float(ratio) < 1.0:
            raise bad_argument("discard_ratio", "a number in [0, 1)", ratio)


def fuse_heads(probs: torch.Tensor, how: str) -> torch.Tensor:
    """(B, H, N, N) -> (B, N, N): mean, max or min over the heads."""
    if how == "mean":
        return probs.mean(dim=1)
    return probs.amax(dim=1) if how == "max" else probs.amin(dim=1)


def discard_weakest(fused: torch.Tensor, ratio: float) -> torch.Tensor:
    """``fused`` (B, N, N) with the ``ratio`` smallest entries of each matrix set to 0,
    except entry (0, 0) (the class token's attention to itself)."""
    b, n, _ = fused.shape
    count = int(n * n * ratio)
    if count == 0:
        return fused
    flat = fused.reshape(b, n * n)
    weakest = flat.topk(count, dim=1, largest=False).indices
    out = flat.scatter(1, weakest, 0.0)
    out[:, 0] = flat[:, 0]
    return out.reshape(b, n, n)


def rollout(fused: list[torch.Tensor], discard_ratio: float = 0.0) -> torch.Tensor:
    """The rollout R = A_L ... A_1 of head-fused attention matrices (B, N, N), first block
    first, with A_l = rownorm(W_l + I) (after discarding the weakest entries)."""
    result = None
    for w in fused:
        w = discard_weakest(w.float(), discard_ratio)
        a = w + torch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else torch.bmm(a, result)
    assert result is not None
    return result


@register(
    "attention_rollout",
    params=AttentionRolloutParams,
    summary="The class token's attention multiplied through the blocks, with the residual (class-agnostic)",
    paper="Abnar & Zuidema, Quantifying Attention Flow in Transformers, ACL 2020",
    family="attention",
)
def attention_rollout(
    model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: AttentionRolloutParams, layer: None
) -> MethodOutput:
    blocks = find_attention_blocks(model.model)
    how = params.head_fusion
    with capture_attention(model.model, blocks, reduce=lambda p: fuse_heads(p, how)) as records, torch.no_grad():
        logits = model.logits(inputs)
    targets = plan.fix(logits).stacked()  # (K, B); validates a callable target
    fused = [r.attention for r in records]
    if any(f is None for f in fused):
        raise RuntimeError("model: an attention block was not called during the forward pass")
    joint = rollout(fused, float(params.discard_ratio))  # (B, N, N)
    prefix, rows, cols = patch_grid(joint.shape[-1], tuple(inputs.shape[-2:]), prefix_tokens(model.model))
    source = joint[:, 0] if prefix > 0 else joint.mean(dim=1)  # (B, N)
    maps = source[:, prefix:].reshape(-1, rows, cols)
    return MethodOutput(
        maps=maps.unsqueeze(0).expand(targets.shape[0], -1, -1, -1),
        logits=logits.detach(),
        targets=targets,
    )
