"""The method registry: name -> how to compute, published defaults, summary, paper.

A new method is one new file that calls :func:`register`, plus one import line in
``xwidgets/saliency/__init__.py``. Widgets and the benchmark list methods from here.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

import torch

__all__ = [
    "MethodSpec", "MethodOutput", "LayerOutput", "register", "register_at_layer", "get_method", "get_at_layer",
    "list_methods", "layer_method_names",
]


@dataclasses.dataclass
class MethodOutput:
    """What a method computes for one batch of B images and K target passes.

    ``extras``: anything else the method recorded (an optimisation's iteration count
    and final losses). A tensor whose shape starts with (K, B) is per (target, image):
    ``explain`` stores it per ``Saliency`` row, like the maps; other values are stored
    as the first batch gave them. They end up in ``Saliency.params["extras"]``.
    """

    maps: torch.Tensor  # (K, B, h, w), any resolution; the engine upsamples
    logits: torch.Tensor  # (B, C) of the clean forward pass
    targets: torch.Tensor  # (K, B) class per pass and image (-1 for a callable target)
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class LayerOutput:
    """What a method computes at an internal layer for B images and K target passes
    (``explain_layer``).

    ``relevance``: each element's relevance at the layer, (K, B, C, h, w): for the CAM
    family, the terms that the channel sum turns into the map (Grad-CAM: alpha_k A^k;
    HiResCAM: dS/dA (.) A); for gradient methods, the method's attribution with the
    layer's output in place of the input (gradient x activation, layer Integrated
    Gradients, guided backprop down to the layer).
    """

    relevance: torch.Tensor  # (K, B, C, h, w)
    activation: torch.Tensor  # (B, C, h, w): the layer's output (ViT tokens on their grid)
    maps: torch.Tensor  # (K, B, h, w): the method's map at the layer's resolution
    logits: torch.Tensor  # (B, C)
    targets: torch.Tensor  # (K, B)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    name: str
    compute: Callable[..., MethodOutput]
    params: type
    summary: str
    paper: str
    family: str
    uses_layer: bool

    def make_params(self, **overrides: Any) -> Any:
        """The parameter dataclass with the published defaults, updated by ``overrides``."""
        fields = {f.name for f in dataclasses.fields(self.params)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"expected some of: {', '.join(sorted(fields)) or '(none)'}"
            )
        return self.params(**overrides)


_REGISTRY: dict[str, MethodSpec] = {}


def register(name: str, *, params: type, summary: str, paper: str, family: str, uses_layer: bool = False):
    """Decorator registering ``compute(model, inputs, plan, params, layer) -> MethodOutput``."""
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"register({name!r}): params must be a dataclass holding the published defaults")

    def decorate(compute: Callable[..., MethodOutput]) -> Callable[..., MethodOutput]:
        if name in _REGISTRY:
            raise ValueError(f"register: a method called {name!r} is already registered")
        _REGISTRY[name] = MethodSpec(name, compute, params, summary, paper, family, uses_layer)
        return compute

    return decorate


_AT_LAYER: dict[str, Callable[..., LayerOutput]] = {}


def register_at_layer(name: str):
    """Decorator registering ``at_layer(model, inputs, plan, params, layer, **options)
    -> LayerOutput``: how method ``name`` (already registered) explains at a layer."""

    def decorate(at_layer: Callable[..., LayerOutput]) -> Callable[..., LayerOutput]:
        if name not in _REGISTRY:
            raise ValueError(f"register_at_layer: register the method {name!r} first")
        if name in _AT_LAYER:
            raise ValueError(f"register_at_layer: {name!r} already explains at a layer")
        _AT_LAYER[name] = at_layer
        return at_layer

    return decorate


def layer_method_names() -> list[str]:
    """The methods that can explain at an internal layer (``explain_layer``)."""
    return sorted(_AT_LAYER)


def get_at_layer(name: str) -> Callable[..., LayerOutput]:
    spec = get_method(name)
    if spec.name not in _AT_LAYER:
        raise ValueError(
            f"method: expected one that explains at an internal layer ({', '.join(layer_method_names())}); "
            f"got {name!r}, a {spec.family} method that works on the input only"
        )
    return _AT_LAYER[spec.name]


def get_method(name: str) -> MethodSpec:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"method: expected one of {', '.join(sorted(_REGISTRY))}; got {name!r}.{hint}")


def list_methods() -> list[MethodSpec]:
    """Every registered method, by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
