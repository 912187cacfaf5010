"""Layers by dotted name: lookup with close-name suggestions, default-layer
detection for CNNs and ViTs, and mapping ViT tokens back to their patch grid."""

from __future__ import annotations

import difflib
import math

import torch
from torch import nn

_NOT_FEATURE_MAPS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten)


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (dotted, as in ``named_modules``).

    An unknown name raises a KeyError listing the closest names.
    """
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(
        f"layer: expected the dotted name of a submodule of {type(model).__name__}; got {name!r}.{hint}"
        " (model.named_modules() lists them all)"
    )


def vit_blocks(model: nn.Module) -> list[tuple[str, str, str]] | None:
    """(block name, pre-attention norm name, attention name) per transformer block,
    for torchvision, timm and Hugging Face ViTs; None for other models."""
    names = dict(model.named_modules())
    found: list[tuple[str, str, str]] = []
    for name, module in names.items():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)):
            continue
        blocks = []
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            for norm, attn in (("ln_1", "self_attention"), ("norm1", "attn"), ("layernorm_before", "attention")):
                if hasattr(child, norm) and hasattr(child, attn):
                    blocks.append((full, f"{full}.{norm}", f"{full}.{attn}"))
                    break
        if blocks and len(blocks) == len(list(module.children())):
            found = blocks
    return found or None


def detect_cam_layer(model: nn.Module, example: torch.Tensor) -> str:
    """The natural CAM layer: a ViT's last pre-attention norm, else the outermost module
    producing the last spatial (B,C,h,w) feature map with h*w > 1."""
    blocks = vit_blocks(model)
    if blocks:
        return blocks[-1][1]
    order: list[tuple[str, torch.Tensor]] = []

    def record(name: str):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-1] * output.shape[-2] > 1:
                order.append((name, output))
        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.named_modules()
        if name and not isinstance(module, _NOT_FEATURE_MAPS)
    ]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    if not order:
        raise ValueError(
            f"layer: {type(model).__name__} produces no spatial feature map (B,C,h,w) and has no attention "
            "blocks, so there is no default CAM layer; pass layer='...' explicitly"
        )
    last = order[-1][1]
    # Containers and their last child return the same tensor: prefer the outermost name.
    same = [name for name, output in order if output is last or output.data_ptr() == last.data_ptr() and output.shape == last.shape]
    return min(same, key=lambda n: (n.count("."), len(n)))


def tokens_to_grid(tokens: torch.Tensor, prefix_tokens: int | None = None) -> torch.Tensor:
    """(B, N, C) transformer tokens -> (B, C, h, w) on the patch grid.

    Leading class/register tokens are dropped: ``prefix_tokens`` of them, or, when
    None, the first of 1 (class token), 0, 5 and 9 (class token plus 4 or 8
    registers) that leaves a square grid.
    """
    if tokens.ndim == 4:
        return tokens
    if tokens.ndim != 3:
        raise ValueError(f"layer output: expected (B,C,h,w) feature maps or (B,N,C) tokens; got shape {tuple(tokens.shape)}")
    n = tokens.shape[1]
    candidates = [prefix_tokens] if prefix_tokens is not None else [1, 0, 5, 9]
    for prefix in candidates:
        side = math.isqrt(max(n - prefix, 0))
        if side > 0 and side * side == n - prefix:
            grid = tokens[:, prefix:, :]
            return grid.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)
    raise ValueError(
        f"layer output: {n} tokens do not form a square patch grid after removing {candidates} prefix tokens; "
        "pick a layer that outputs tokens or feature maps"
    )
