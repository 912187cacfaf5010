"""``evaluate``: score a ``Saliency`` with one registered metric."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch

from .._validation import bad_argument, describe
from ..models.adapter import ModelAdapter
from ..saliency.result import Saliency
from .registry import MetricResult, get_metric

__all__ = ["evaluate", "model_inputs"]


def model_inputs(model: ModelAdapter, saliency: Saliency) -> torch.Tensor:
    """The model's inputs (N, 3, H, W) for ``saliency.images`` (already resized and
    cropped, so only normalised), on the model's device."""
    return model.preprocess.normalise(saliency.images, model.device)


def _check_ground_truth(ground_truth: Any, saliency: Saliency, name: str) -> list[Any]:
    n = saliency.images.shape[0]
    if ground_truth is None:
        raise bad_argument(
            "ground_truth", f"one synthetic Sample per image ({n}) for metric {name!r}", None,
            "Pass e.g. [dataset.sample(i) for i in indices] from xwidgets.data.synthetic.SyntheticParts",
        )
    samples = list(ground_truth) if isinstance(ground_truth, Sequence) else None
    if samples is None or len(samples) != n or not all(hasattr(s, "instance_mask") for s in samples):
        raise bad_argument("ground_truth", f"a list of {n} synthetic Samples, one per image", ground_truth)
    for i, sample in enumerate(samples):
        if tuple(sample.instance_mask.shape) != tuple(saliency.images.shape[1:3]):
            raise bad_argument(
                f"ground_truth[{i}]", f"a Sample of the image's size {tuple(saliency.images.shape[1:3])}",
                describe(sample.instance_mask),
            )
    return samples


def evaluate(model: ModelAdapter, saliency: Saliency, metric: str, ground_truth: Sequence[Any] | None = None,
             **params: Any) -> MetricResult:
    """Score every row of ``saliency`` with ``metric`` under its protocol (``params``
    override the published defaults; ``xw.list_metrics()`` lists them)."""
    spec = get_metric(metric)
    if not isinstance(model, ModelAdapter):
        raise bad_argument("model", "a ModelAdapter (xw.wrap(model) or a bundled model)", model)
    if not isinstance(saliency, Saliency):
        raise bad_argument("saliency", "a Saliency (the result of xw.explain)", saliency)
    fields = {f.name for f in dataclasses.fields(spec.params)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise TypeError(f"{spec.name}: unknown parameter(s) {', '.join(unknown)}; its parameters are {', '.join(sorted(fields))}")
    protocol = spec.params(**params)
    samples = _check_ground_truth(ground_truth, saliency, spec.name) if spec.needs_ground_truth else ground_truth
    result = spec.compute(model, saliency, protocol, samples)
    result.metric = spec.name
    result.higher_is_better = spec.higher_is_better
    result.params = dataclasses.asdict(protocol)
    return result
