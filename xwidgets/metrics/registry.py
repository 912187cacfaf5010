"""The metric registry: name -> how to score saliency maps, protocol defaults, summary,
paper, and which way is better.

A metric is one file that calls :func:`register_metric` on a function

    fn(model: ModelAdapter, saliency: Saliency, params, ground_truth) -> MetricResult

where ``saliency`` holds B rows (map, image, target) and ``ground_truth`` is None or one
synthetic ``Sample`` per image of ``saliency.images`` (metrics with
``needs_ground_truth`` get a clear error without it). The parameter dataclass holds
the protocol (substrate, label, softmax or logit, step size ...) with its published
defaults, so that a table of results states the protocol it was measured under
(METHODS.md, "Common evaluation protocol"). ``xw.evaluate`` and ``xw.benchmark`` list
and call metrics from here; widgets read ``higher_is_better`` to sort.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

import numpy as np

from .._validation import bad_argument

__all__ = ["MetricSpec", "MetricResult", "register_metric", "unregister_metric", "get_metric", "list_metrics",
           "KINDS"]

#: what a metric measures: faithfulness to the model, agreement with ground-truth
#: locations, how compact a map is, a sanity check, or FunnyBirds-style part checks
KINDS = ("faithfulness", "localisation", "complexity", "sanity", "parts")


@dataclasses.dataclass
class MetricResult:
    """Scores of one metric for the B rows of a ``Saliency``.

    scores: (B,) float64, one per row (NaN where a row has no score, e.g. no ground
        truth part); ``mean()`` ignores NaNs.
    curves: (B, S) for curve metrics (deletion, insertion, ROAD), else None; the x axis
        is in ``extras["fractions"]`` when it is not uniform.
    params: the protocol, as a plain dict.
    extras: anything else the metric recorded (per-row arrays have B rows).
    """

    metric: str
    scores: np.ndarray
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    curves: np.ndarray | None = None
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if self.curves is not None:
            self.curves = np.asarray(self.curves, dtype=np.float64)
            if self.curves.ndim != 2 or self.curves.shape[0] != self.scores.shape[0]:
                raise ValueError(
                    f"MetricResult: curves must have shape (B, S) with B = {self.scores.shape[0]}; "
                    f"got shape {self.curves.shape}"
                )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def mean(self) -> float:
        """The mean score over rows, ignoring NaNs (NaN when every row is NaN)."""
        finite = self.scores[~np.isnan(self.scores)]
        return float(finite.mean()) if finite.size else float("nan")

    def __repr__(self) -> str:
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        return f"MetricResult({self.metric}: mean {self.mean():.4g} over {len(self)} rows, {arrow})"


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    name: str
    compute: Callable[..., MetricResult]
    params: type
    summary: str
    paper: str
    kind: str
    higher_is_better: bool
    needs_ground_truth: bool = False

    def defaults(self) -> dict[str, Any]:
        """The protocol's published defaults, as a plain dict."""
        return dataclasses.asdict(self.params())


_REGISTRY: dict[str, MetricSpec] = {}


def register_metric(name: str, *, params: type, summary: str, paper: str, kind: str, higher_is_better: bool,
                    needs_ground_truth: bool = False) -> Callable[[Callable[..., MetricResult]], Callable[..., MetricResult]]:
    """Decorator: register ``fn`` as metric ``name`` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"register_metric: kind must be one of {KINDS}; got {kind!r}")
    if not dataclasses.is_dataclass(params):
        raise ValueError(f"register_metric: params must be a dataclass; got {params!r}")

    def decorate(fn: Callable[..., MetricResult]) -> Callable[..., MetricResult]:
        if name in _REGISTRY:
            raise ValueError(f"register_metric: {name!r} is already registered")
        _REGISTRY[name] = MetricSpec(name, fn, params, summary, paper, kind, higher_is_better, needs_ground_truth)
        return fn

    return decorate


def unregister_metric(name: str) -> MetricSpec:
    """Remove metric ``name`` from the registry and return its spec (tests register
    throwaway metrics and remove them after); a ValueError naming ``metric`` if unknown."""
    spec = get_metric(name)
    del _REGISTRY[spec.name]
    return spec


def get_metric(name: Any) -> MetricSpec:
    """The metric called ``name``; a ValueError naming ``metric`` (with close names) otherwise."""
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3)
    hint = f"Did you mean: {', '.join(close)}?" if close else ""
    raise bad_argument("metric", f"one of {', '.join(sorted(_REGISTRY))}", name, hint)


def list_metrics(kind: str | None = None) -> list[MetricSpec]:
    """Every registered metric (of one ``kind`` if given), sorted by name."""
    if kind is not None and kind not in KINDS:
        raise bad_argument("kind", f"None or one of {', '.join(KINDS)}", kind)
    return [spec for name, spec in sorted(_REGISTRY.items()) if kind is None or spec.kind == kind]
