"""Shared pieces of the perturbation metrics (deletion/insertion, average drop,
ROAD): protocol checks, substrates, labels, scores, pixel order and the batched
forward loop.

Conventions (METHODS.md, "Common evaluation protocol"): every perturbation happens
on the model's inputs (normalised), one map pixel covering all three channels; pixels
are ordered by the map, highest first, ties broken by position (row-major), so the
order is deterministic; perturbed copies go through the model in chunks of
``internal_batch_size`` rows (``saliency/_chunks.py``), with the model in eval mode
and no gradients.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from .._validation import bad_argument, describe
from ..models.adapter import ModelAdapter
from ..models.hooks import frozen_eval
from ..saliency._chunks import Chunks
from ..saliency.integrated_gradients import gaussian_blur
from ..saliency.occlusion import substrate as occlusion_substrate
from ..saliency.result import Saliency

#: what replaces removed pixels: black pixels, the preprocessing's mean colour (a
#: zero model input, RISE's ``torch.zeros_like`` on normalised tensors) or a blurred
#: copy of the image
SUBSTRATES = ("black", "mean", "blur")
#: which class a row is scored on: the row's target (the class its map explains) or
#: the model's top-1 prediction on the clean image
LABELS = ("target", "prediction")
#: the number read off the model: softmax probability or raw logit
SCORES = ("softmax", "logit")


def check_choice(value: Any, argument: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise bad_argument(argument, f"one of {', '.join(repr(c) for c in choices)}", value)


def check_positive_number(value: Any, argument: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise bad_argument(argument, "a positive finite number", value)


def check_fraction(value: Any, argument: str, *, closed_low: bool = False) -> None:
    """A number in (0, 1] (or [0, 1] with ``closed_low``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > 1 or value < 0 or (value == 0 and not closed_low):
        raise bad_argument(argument, f"a number in {'[' if closed_low else '('}0, 1]", value)


def check_saliency_maps(saliency: Saliency) -> None:
    """Maps at the images' size and finite: the perturbation metrics order pixels by them."""
    if tuple(saliency.maps.shape[1:]) != tuple(saliency.images.shape[1:3]):
        raise bad_argument(
            "saliency", f"maps of the images' size {tuple(saliency.images.shape[1:3])}",
            describe(saliency.maps), "Maps and images must come from the same xw.explain call",
        )
    bad = ~np.isfinite(saliency.maps).reshape(len(saliency), -1).all(axis=1)
    if bad.any():
        raise bad_argument("saliency", "finite maps", f"NaN or infinite values in row(s) {np.flatnonzero(bad).tolist()}")


def row_labels(saliency: Saliency, label: str, device: torch.device) -> torch.Tensor:
    """(B,) the class each row is scored on."""
    if label == "prediction":
        classes = saliency.predictions()[saliency.image_index]
    else:
        classes = saliency.targets
        if (classes < 0).any():
            raise bad_argument(
                "label", '"prediction" for rows explained with a callable target (their target is -1)', label,
            )
    return torch.as_tensor(np.asarray(classes), dtype=torch.long, device=device)


def substrate_inputs(model: ModelAdapter, inputs: torch.Tensor, name: str, blur_sigma: float) -> torch.Tensor:
    """The substrate of each input (N, 3, H, W), in model-input units."""
    if name == "blur":
        return gaussian_blur(inputs, float(blur_sigma))
    fill = occlusion_substrate(model, "black" if name == "black" else "zero", inputs)
    return fill.expand_as(inputs)


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """(B, H*W) long: the rank of each pixel when the map is sorted highest first
    (0 = most relevant); ties in position order."""
    flat = maps.reshape(maps.shape[0], -1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks


def class_scores(logits: torch.Tensor, labels: torch.Tensor, score: str) -> torch.Tensor:
    """(n,) softmax probability, logit, or 1/0 top-1 hit ("accuracy") of ``labels``."""
    logits = logits.float()
    if score == "accuracy":
        return (logits.argmax(dim=1) == labels).to(logits.dtype)
    values = torch.softmax(logits, dim=1) if score == "softmax" else logits
    return values.gather(1, labels[:, None])[:, 0]


def batched_scores(model: ModelAdapter, total: int, make_inputs: Callable[[torch.Tensor], torch.Tensor],
                   labels_of: Callable[[torch.Tensor], torch.Tensor], score: str,
                   internal_batch_size: int | str) -> tuple[torch.Tensor, int | None]:
    """Score ``total`` perturbed inputs: for each chunk of indices, ``make_inputs(index)``
    builds the (n, 3, H, W) inputs and ``labels_of(index)`` their classes. Returns the
    (total,) scores in float64 on the host, and the chunk size used."""
    device = model.device
    out = torch.empty(total, dtype=torch.float64, device=device)
    chunks = Chunks(total, internal_batch_size, device)
    with frozen_eval(model.model), torch.no_grad():
        for start, stop in chunks:
            index = torch.arange(start, stop, device=device)
            logits = model.logits(make_inputs(index))
            out[start:stop] = class_scores(logits, labels_of(index), score).double()
    return out.cpu(), chunks.size


def trapezoid_auc(curves: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """(B,) area under each curve by the trapezoid rule, x in [0, 1]."""
    widths = np.diff(fractions)
    return ((curves[:, 1:] + curves[:, :-1]) * 0.5 * widths).sum(axis=1)


def min_max(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled to [0, 1]; a constant map becomes zeros."""
    flat = maps.reshape(maps.shape[0], -1)
    low, high = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    span = high - low
    scaled = torch.where(span > 0, (flat - low) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(flat))
    return scaled.view_as(maps)
