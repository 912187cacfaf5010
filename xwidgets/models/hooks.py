"""Hook contexts that always clean up, and the eval/requires_grad guard.

Every hook is registered inside a context manager and removed in ``finally``, so an
exception in a user's model never leaves a hook behind (the memory growth that
pytorch-grad-cam users met before its ``with`` form, PEERS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients inside; every module's mode and every
    parameter's requires_grad restored afterwards, even on error."""
    modes = [(module, module.training) for module in model.modules()]
    grads = [(param, param.requires_grad) for param in model.parameters()]
    try:
        model.eval()
        for param, _ in grads:
            param.requires_grad_(False)
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in grads:
            param.requires_grad_(requires_grad)


@dataclasses.dataclass
class LayerRecord:
    """What a capture saw at one layer: its output and, after backward, its gradient."""

    name: str
    activation: torch.Tensor | None = None
    leaf: torch.Tensor | None = None

    @property
    def gradient(self) -> torch.Tensor | None:
        return None if self.leaf is None else self.leaf.grad


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output, lambda t: t
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0], lambda t: type(output)([t, *output[1:]])
    raise TypeError(f"cannot capture a layer whose output is {type(output).__name__}")


@contextlib.contextmanager
def capture(model: nn.Module, names: list[str], *, gradients: bool) -> Iterator[dict[str, LayerRecord]]:
    """Record the outputs of the named layers during forward passes inside the context.

    With ``gradients=True`` each output becomes the start of the autograd graph: the
    layer's output is detached into a leaf that requires grad, so a backward pass
    stops there (parameters are frozen) and costs only the layers above it. Its
    gradient is ``record.gradient`` after ``backward``.
    """
    from .layers import get_layer

    records = {name: LayerRecord(name) for name in names}
    handles = []

    def make_hook(record: LayerRecord):
        def hook(module, args, output):
            tensor, rebuild = _first_tensor(output)
            if not gradients:
                record.activation = tensor.detach()
                return None
            leaf = tensor.detach().requires_grad_(True)
            record.leaf = leaf
            record.activation = leaf.detach()
            # a clone keeps in-place ops downstream (ReLU(inplace=True)) off the leaf
            return rebuild(leaf.clone())
        return hook

    try:
        for name in names:
            handles.append(get_layer(model, name).register_forward_hook(make_hook(records[name])))
        yield records
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def substitute(model: nn.Module, name: str, replacement: torch.Tensor) -> Iterator[dict[str, bool]]:
    """Inside, the named layer's output is replaced by ``replacement`` (same shape) in
    every forward pass, so the rest of the model runs on it: the model's second part
    applied to a representation of our choosing (a masked representation, or the
    interpolated activations of layer Integrated Gradients). The yielded dict's
    ``"called"`` says whether the layer ran. The hook is removed on exit."""
    from .layers import get_layer

    state = {"called": False}

    def hook(module, args, output):
        tensor, rebuild = _first_tensor(output)
        if tuple(tensor.shape) != tuple(replacement.shape):
            raise ValueError(
                f"representation: expected the shape of layer {name!r}'s output, {tuple(tensor.shape)}; "
                f"got {tuple(replacement.shape)}"
            )
        state["called"] = True
        # a clone keeps in-place ops downstream (ReLU(inplace=True)) off the caller's tensor
        return rebuild(replacement.to(dtype=tensor.dtype).clone())

    handle = get_layer(model, name).register_forward_hook(hook)
    try:
        yield state
    finally:
        handle.remove()
