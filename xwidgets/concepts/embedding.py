"""Patch embeddings: a layer's output, globally average pooled, for batches of patches.

The forward pass stops at the layer (the layers above it are not run), so embedding
thousands of patches costs only the model's lower part.
"""

from __future__ import annotations

from typing import Iterable

import torch

from ..models.adapter import ModelAdapter
from ..models.hooks import frozen_eval
from ..models.layers import tokens_to_grid

__all__ = ["embed", "pool"]


class _Reached(Exception):
    """Raised by the capture hook's caller once the layer has run."""


def _rebatch(chunks: list[torch.Tensor], batch_size: int) -> Iterable[torch.Tensor]:
    """Batches of ``batch_size`` rows across a list of tensors (the last may be smaller)."""
    pending: list[torch.Tensor] = []
    count = 0
    for chunk in chunks:
        lo = 0
        while lo < chunk.shape[0]:
            take = min(batch_size - count, chunk.shape[0] - lo)
            pending.append(chunk[lo: lo + take])
            count += take
            lo += take
            if count == batch_size:
                yield torch.cat(pending) if len(pending) > 1 else pending[0]
                pending, count = [], 0
    if pending:
        yield torch.cat(pending) if len(pending) > 1 else pending[0]


def pool(activation: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) feature maps or (B, N, C) ViT tokens -> (B, C): the spatial mean."""
    return tokens_to_grid(activation).float().mean(dim=(2, 3))


@torch.no_grad()
def embed(adapter: ModelAdapter, pixels: torch.Tensor | Iterable[torch.Tensor], layer: str, batch_size: int = 64) -> torch.Tensor:
    """(M, H, W, 3) uint8 patches at the model's input size -> (M, D) float32 pooled
    activations of ``layer`` on the model's device, ``batch_size`` patches a pass."""
    module = adapter.layer(layer)
    chunks = [pixels] if isinstance(pixels, torch.Tensor) else list(pixels)
    out: list[torch.Tensor] = []
    state: dict[str, torch.Tensor] = {}

    def stop(mod, args, output):
        tensor = output[0] if isinstance(output, (tuple, list)) else output
        state["activation"] = tensor
        raise _Reached

    with frozen_eval(adapter.model):
        handle = module.register_forward_hook(stop)
        try:
            for batch in _rebatch(chunks, batch_size):
                inputs = adapter.preprocess.normalise(batch, adapter.device)
                try:
                    adapter.model(inputs)
                except _Reached:
                    pass
                else:  # the layer did not run: it is not on the forward path
                    raise ValueError(f"layer: {layer!r} did not run in the model's forward pass; pick another layer")
                out.append(pool(state.pop("activation")))
        finally:
            handle.remove()
    if not out:
        return torch.zeros((0, 0), device=adapter.device)
    return torch.cat(out)

