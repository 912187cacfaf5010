"""Shared machinery of the gradient family: input gradients for a batch and K target
passes, targets fixed from a clean forward pass, channel reductions, modified-ReLU
backward rules (guided backprop, deconvnet), and the table of gradient methods that
SmoothGrad and VarGrad can wrap.

Every image's score depends only on that image, so one backward pass of the summed
scores gives every image's gradient: a batch of N inputs costs one forward and one
backward per target pass, with no per-image loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from .targets import FixedTargets, TargetPlan

__all__ = [
    "REDUCTIONS", "check_reduce", "reduce_channels", "input_gradients", "source_gradients", "modified_relu",
    "GradientMethod", "register_gradient_method", "get_gradient_method", "gradient_method_names",
    "check_positive_int",
]

# ---------------------------------------------------------------------------- reductions

#: How a (3, H, W) attribution becomes an (H, W) map.
#: "sum": signed sum over channels (attribution methods: the map sums to the total attribution);
#: "abs_max": max over channels of the absolute value (Simonyan et al. 2014);
#: "l2": Euclidean norm over channels; "abs_sum": sum of absolute values (Smilkov et al.'s code).
REDUCTIONS = ("sum", "abs_max", "l2", "abs_sum")


def check_reduce(value: Any, argument: str = "reduce", allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if value not in REDUCTIONS:
        choices = ", ".join(repr(r) for r in REDUCTIONS) + (" or None (the base method's)" if allow_none else "")
        raise bad_argument(argument, f"one of {choices}", value)


def reduce_channels(attributions: torch.Tensor, how: str) -> torch.Tensor:
    """(..., C, H, W) -> (..., H, W), combining the channels as ``how`` says."""
    if how == "sum":
        return attributions.sum(dim=-3)
    if how == "abs_max":
        return attributions.abs().amax(dim=-3)
    if how == "l2":
        return attributions.norm(dim=-3)
    if how == "abs_sum":
        return attributions.abs().sum(dim=-3)
    check_reduce(how)
    raise AssertionError  # unreachable


def check_positive_int(value: Any, argument: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise bad_argument(argument, expected, value)


# ---------------------------------------------------------------------------- modified ReLU rules

_RULES = ("plain", "guided", "deconvnet")


class _RuleState:
    """Which backward rule the modified ReLUs apply; read at backward time, so one
    forward pass can serve a plain and a guided backward (Guided Grad-CAM)."""

    def __init__(self, rule: str) -> None:
        if rule not in _RULES:
            raise bad_argument("rule", f"one of {', '.join(_RULES)}", rule)
        self.rule = rule
        self.count = 0  # ReLU calls replaced during the forward pass


class _ModifiedClampedReLU(torch.autograd.Function):
    """Forward: ReLU, or ReLU6 / hardtanh(0, upper) when ``upper`` is given, in place
    when the model asked for it (the same forward semantics as the call it replaces).
    Backward, for the upstream gradient g and the unit's local mask
    m = 1[0 < x (< upper)]: plain: g * m (the true gradient); guided (Springenberg et
    al. 2015): max(g, 0) * m; deconvnet (Zeiler & Fergus 2014): max(g, 0), whatever
    the input was.

    Cost as the unmodified activation's: the forward is one clamp and saves its output
    (which the next layer saves anyway, so no extra memory); the mask is read off the
    output (0 < out (< upper) exactly where 0 < x (< upper)) by ATen's fused threshold /
    hardtanh backward, and guided's max(., 0) is applied in place after it
    (max(g m, 0) = max(g, 0) m for m in {0, 1}). A boolean mask built in the forward and
    multiplied in the backward cost efficientnet_lite0's guided backprop 1.5 x its limit."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float | None, state: _RuleState, inplace: bool) -> torch.Tensor:  # type: ignore[override]
        ctx.upper = upper
        ctx.state = state
        if inplace:
            x.clamp_(0, upper)
            ctx.mark_dirty(x)
            out = x
        else:
            out = x.clamp(0, upper)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        rule = ctx.state.rule
        if rule == "deconvnet":
            return grad.clamp_min(0), None, None, None
        (out,) = ctx.saved_tensors
        if ctx.upper is None:
            masked = torch.ops.aten.threshold_backward(grad, out, 0)
        else:
            masked = torch.ops.aten.hardtanh_backward(grad, out, 0, ctx.upper)
        if rule == "guided":
            masked.clamp_min_(0)
        return masked, None, None, None


def _relu_functions() -> dict[Callable, tuple[str, bool]]:
    """function -> (kind, always in place)."""
    table: dict[Callable, tuple[str, bool]] = {}
    for fn in (F.relu, torch.relu, torch.Tensor.relu):
        table[fn] = ("relu", False)
    for fn in (F.relu_, torch.relu_, torch.Tensor.relu_):
        table[fn] = ("relu", True)
    table[F.relu6] = ("relu6", False)
    table[F.hardtanh] = ("hardtanh", False)
    table[F.hardtanh_] = ("hardtanh", True)
    return table


class _ReluMode(TorchFunctionMode):
    """Routes every ReLU, ReLU6 and hardtanh(0, t) call (``nn.ReLU``, ``nn.ReLU6``,
    ``F.relu``, ``torch.relu``, ``x.relu()``, ``x.relu_()``, in place or not) to the
    modified function, keeping in-place calls in place."""

    _table: dict[Callable, tuple[str, bool]] | None = None

    def __init__(self, state: _RuleState) -> None:
        super().__init__()
        self.state = state
        if _ReluMode._table is None:
            _ReluMode._table = _relu_functions()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            entry = self._table.get(func) if self._table is not None else None
        except TypeError:  # an unhashable callable: not one of ours
            entry = None
        if entry is not None and args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
            kind, inplace = entry
            inplace = inplace or bool(kwargs.get("inplace", False))
            upper: float | None = None
            if kind == "relu6":
                upper = 6.0
            elif kind == "hardtanh":
                low = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
                high = args[2] if len(args) > 2 else kwargs.get("max_val", 1.0)
                if float(low) != 0.0:
                    return func(*args, **kwargs)
                upper = float(high)
            self.state.count += 1
            return _ModifiedClampedReLU.apply(args[0], upper, self.state, inplace)
        return func(*args, **kwargs)


@contextlib.contextmanager
def modified_relu(rule: str) -> Iterator[_RuleState]:
    """Inside, every ReLU-type activation the model calls gets the backward ``rule``
    ("guided", "deconvnet" or "plain"); the forward values are unchanged. The rule
    can be switched between backward passes through the yielded state's ``rule``.
    Nothing is attached to the model: the interception is a torch function mode,
    popped on exit, also when the model raises."""
    state = _RuleState(rule)
    with _ReluMode(state):
        yield state


def warn_if_no_relu(state: _RuleState, method: str) -> None:
    if state.count == 0:
        warnings.warn(
            f"{method}: the model called no ReLU, ReLU6 or hardtanh(0, t), so its backward rule changed "
            "nothing and the map is the plain gradient",
            stacklevel=3,
        )


# ---------------------------------------------------------------------------- input gradients


def input_gradients(
    model: ModelAdapter,
    inputs: torch.Tensor,
    targets: FixedTargets | TargetPlan,
    image_index: torch.Tensor | None = None,
    rule: str | None = None,
    method: str = "gradient",
    source: str | None = None,
    row_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, FixedTargets]:
    """Gradients of the target scores with respect to ``inputs`` (N, 3, H, W), or,
    with ``source``, with respect to that layer's output; with ``row_weights`` (N,),
    row n's gradient times its weight (the weights enter the backward pass, so a
    quadrature rule costs no extra pass over the gradients).

    One forward pass, then one backward pass per target pass (K of them, reusing the
    graph). With a ``TargetPlan`` the targets ("pred", TopK, ...) come from this very
    forward pass; with ``FixedTargets`` the rows are scored for classes fixed earlier,
    row n for image ``image_index[n]``. ``rule`` selects a modified-ReLU backward
    ("guided", "deconvnet").

    Returns ``(gradients (K, N, ...), logits (N, C) detached, targets)``.
    """
    grads, _, logits, fixed = source_gradients(model, inputs, targets, image_index, rule, method, source, row_weights)
    return grads, logits, fixed


def source_gradients(
    model: ModelAdapter,
    inputs: torch.Tensor,
    targets: FixedTargets | TargetPlan,
    image_index: torch.Tensor | None = None,
    rule: str | None = None,
    method: str = "gradient",
    source: str | None = None,
    row_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, FixedTargets]:
    """:func:`input_gradients`, also returning the values the gradients are taken
    with respect to: the inputs, or the ``source`` layer's output (B, C, h, w) feature
    maps or (B, T, C) tokens. With a source layer the graph starts there (its output
    becomes a leaf), so the backward pass stops at the layer and modified-ReLU rules
    act only above it (Zeiler & Fergus's deconvnet down to a layer).

    Returns ``(gradients (K, N, ...), source values (N, ...), logits (N, C), targets)``.
    """
    from ..models.hooks import capture

    x = inputs.detach().requires_grad_(source is None)
    rules = modified_relu(rule) if rule is not None else contextlib.nullcontext()
    layers = capture(model.model, [source], gradients=True) if source is not None else contextlib.nullcontext()
    with torch.enable_grad():
        with rules as state, layers as records:
            logits = model.logits(x)
        if state is not None and rule != "plain":
            warn_if_no_relu(state, method)
        if records is not None:
            leaf = records[source].leaf
            if leaf is None:
                raise RuntimeError(f"layer: {source!r} was not called during the forward pass, so it has no activation")
            x = leaf
        fixed = FixedTargets.from_logits(targets, logits) if isinstance(targets, TargetPlan) else targets
        grads = []
        for k in range(fixed.num_passes):
            score = fixed.scores(logits, k, image_index)
            if not score.requires_grad:
                raise RuntimeError(
                    f"{method}: the target score does not depend on the input through autograd "
                    "(does the model or the target callable detach its output?)"
                )
            total = score.sum() if row_weights is None else (score * row_weights).sum()
            (grad,) = torch.autograd.grad(total, x, retain_graph=k < fixed.num_passes - 1, allow_unused=True)
            grads.append(torch.zeros_like(x) if grad is None else grad)
    stacked = grads[0].unsqueeze(0) if len(grads) == 1 else torch.stack(grads)  # one pass: no copy
    return stacked, x.detach(), logits.detach(), fixed


# ---------------------------------------------------------------------------- the table of gradient methods


@dataclasses.dataclass(frozen=True)
class GradientMethod:
    """A method giving 3-channel input attributions, so that SmoothGrad and VarGrad
    can average them over noisy copies before the channel reduction.

    ``attribute(model, rows (N,3,H,W), targets, image_index (N,), params, source=None)
    -> (K,N,3,H,W)``; with ``source`` (a layer name) the attributions are those of the
    layer's output, (K, N, C, h, w) or (K, N, T, C) for tokens.
    """

    name: str
    attribute: Callable[..., torch.Tensor]
    params: type

    def make_params(self, overrides: dict[str, Any], argument: str = "base_params") -> Any:
        if not isinstance(overrides, dict):
            raise bad_argument(argument, f"a dict of {self.name}'s parameters", overrides)
        fields = {f.name for f in dataclasses.fields(self.params)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise bad_argument(argument, f"parameters of {self.name} ({', '.join(sorted(fields))})", overrides,
                               f"Unknown: {', '.join(unknown)}")
        return self.params(**overrides)


_GRADIENT_METHODS: dict[str, GradientMethod] = {}


def register_gradient_method(name: str, params: type):
    """Decorator adding ``attribute`` to the methods SmoothGrad and VarGrad can wrap."""

    def decorate(attribute: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if name in _GRADIENT_METHODS:
            raise ValueError(f"register_gradient_method: {name!r} is already registered")
        _GRADIENT_METHODS[name] = GradientMethod(name, attribute, params)
        return attribute

    return decorate


def gradient_method_names() -> list[str]:
    return sorted(_GRADIENT_METHODS)


def get_gradient_method(name: Any, argument: str = "base") -> GradientMethod:
    if isinstance(name, str) and name in _GRADIENT_METHODS:
        return _GRADIENT_METHODS[name]
    raise bad_argument(argument, f"the name of a gradient method, one of {', '.join(gradient_method_names())}", name)
