"""How concentrated a map is: sparseness (Chalasani et al., "Concise Explanations of
Neural Networks using Adversarial Training", ICML 2020) and complexity (Bhatt,
Weller & Moura, "Evaluating and Aggregating Feature-based Model Explanations",
IJCAI 2020). Neither needs the model.

With a_1 <= ... <= a_n the sorted map values (absolute values by default) over the
n pixels:

    sparseness = sum_i (2 i - n - 1) a_i / (n sum_i a_i)     Gini index, in [0, 1), higher is sparser
    complexity = -sum_i p_i ln p_i,  p_i = a_i / sum_j a_j    entropy, in [0, ln n], lower is simpler

Quantus's ``Sparseness`` and ``Complexity`` compute the same numbers (they add 1e-7
to a before the Gini index and 1e-12 inside the log). An all-zero map counts as
spread evenly: sparseness 0, complexity ln n.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..saliency.result import Saliency
from .registry import MetricResult, register_metric

__all__ = ["ComplexityParams", "gini", "entropy"]


@dataclasses.dataclass
class ComplexityParams:
    """absolute: use |map| (True, as Chalasani et al., Bhatt et al. and Quantus), or
    only the positive part of the map (False: negative evidence counts as zero)."""

    absolute: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.absolute, bool):
            raise bad_argument("absolute", "True or False", self.absolute)


def _magnitudes(saliency: Saliency, absolute: bool) -> np.ndarray:
    maps = saliency.maps.reshape(len(saliency), -1).astype(np.float64)
    if not np.isfinite(maps).all():
        bad = np.flatnonzero(~np.isfinite(maps).all(axis=1))
        raise bad_argument("saliency", "finite maps", f"NaN or infinite values in row(s) {bad.tolist()}")
    return np.abs(maps) if absolute else np.maximum(maps, 0.0)


def gini(values: np.ndarray) -> np.ndarray:
    """Gini index of each row of non-negative ``values`` (B, n); 0 for an all-zero row."""
    a = np.sort(values, axis=1)
    n = a.shape[1]
    total = a.sum(axis=1)
    weights = 2 * np.arange(1, n + 1) - n - 1
    return np.where(total > 0, (a * weights).sum(axis=1) / (n * np.where(total > 0, total, 1.0)), 0.0)


def entropy(values: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of non-negative ``values`` (B, n) read as a
    distribution; ln n for an all-zero row."""
    total = values.sum(axis=1, keepdims=True)
    p = np.where(total > 0, values / np.where(total > 0, total, 1.0), 1.0 / values.shape[1])
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=1)


@register_metric(
    "sparseness",
    params=ComplexityParams,
    summary="Gini index of the map's magnitudes: how few pixels hold the attribution (higher is sparser)",
    paper="Chalasani et al., Concise Explanations of Neural Networks using Adversarial Training, ICML 2020",
    kind="complexity",
    higher_is_better=True,
)
def sparseness(model: ModelAdapter, saliency: Saliency, params: ComplexityParams, ground_truth: Any = None) -> MetricResult:
    return MetricResult(metric="sparseness", scores=gini(_magnitudes(saliency, params.absolute)))


@register_metric(
    "complexity",
    params=ComplexityParams,
    summary="Entropy of the map's fractional contributions (lower is simpler)",
    paper="Bhatt, Weller & Moura, Evaluating and Aggregating Feature-based Model Explanations, IJCAI 2020",
    kind="complexity",
    higher_is_better=False,
)
def complexity(model: ModelAdapter, saliency: Saliency, params: ComplexityParams, ground_truth: Any = None) -> MetricResult:
    return MetricResult(metric="complexity", scores=entropy(_magnitudes(saliency, params.absolute)))
