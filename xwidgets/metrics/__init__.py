"""Metrics: faithfulness, localisation against ground truth, complexity, sanity checks
and FunnyBirds-style part checks, each registered with its protocol (registry.py).

A metric is one file that calls ``register_metric``, plus one import line here.
"""

from .registry import KINDS, MetricResult, MetricSpec, get_metric, list_metrics, register_metric
from .evaluate import evaluate, model_inputs
from . import deletion_insertion, confidence_drop, road, complexity, randomisation  # noqa: F401,E402  (register)
from . import pointing_game, funnybirds, arrangement  # noqa: F401,E402  (register: ground truth)

__all__ = ["KINDS", "MetricResult", "MetricSpec", "get_metric", "list_metrics", "register_metric", "evaluate",
           "model_inputs"]
