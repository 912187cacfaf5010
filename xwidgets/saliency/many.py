"""Several methods on the same images, for side-by-side views and benchmarks."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..models.adapter import wrap
from ..models.inputs import Images
from .explain import explain
from .registry import get_method
from .result import Saliency
from .targets import Target


def explain_many(
    model: Any,
    images: Images,
    methods: Sequence[str],
    target: Target = "pred",
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 32,
) -> dict[str, Saliency]:
    """``{method: Saliency}`` for each method on the same images and targets.

    ``params`` maps a method name to its parameters (``{"rise": {"n_masks": 2000}}``).
    The images are converted once; a ``CompareGrid`` or ``SaliencyViewer`` takes the
    returned dict directly.
    """
    if isinstance(methods, str) or not methods:
        raise ValueError(f"methods: expected a non-empty list of method names; got {methods!r}")
    params = dict(params or {})
    unknown = sorted(set(params) - set(methods))
    if unknown:
        raise ValueError(f"params: expected keys among the methods {list(methods)}; got {unknown}")
    for name in methods:
        get_method(name)  # fail before any work on a misspelt name
    adapter = wrap(model)
    inputs, _ = adapter.prepare(images)
    return {name: explain(adapter, inputs, method=name, target=target, batch_size=batch_size, **params.get(name, {})) for name in methods}
