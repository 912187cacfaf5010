"""The aspects of the synthetic parts dataset and their ground truth.

Seed 001 (the aspect-presence patent) explains a classifier's output by the presence
of characteristics a domain expert knows. On the synthetic dataset those are the part
types (``PART_TYPES``: wheel, window, headlight, ... and the distractors grille,
mirror, stripe, antenna) and the biased variant's spurious corner tag
(``"corner_tag"``). This module turns a :class:`~xwidgets.data.synthetic.render.Sample`
into per-aspect masks, draws the images an aspect model is trained on, and draws the
random smooth masks used to make aspect models and mapping models see masked inputs
during training (the masked representations they are applied to later).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..data.synthetic import SyntheticParts
from ..data.synthetic.render import Sample
from ..data.synthetic.vocabulary import CLASS_SPECS, PART_TYPES

__all__ = [
    "TAG_ASPECT", "SYNTHETIC_ASPECTS", "defining_aspects", "aspect_masks", "aspect_dataset", "synthetic_images",
    "random_smooth_masks",
]

#: The aspect name of the biased variant's corner tag.
TAG_ASPECT = "corner_tag"
#: Aspects of the synthetic dataset: every part type, then the corner tag.
SYNTHETIC_ASPECTS: tuple[str, ...] = (*PART_TYPES, TAG_ASPECT)


def defining_aspects(class_name: str) -> tuple[str, ...]:
    """The part types that define ``class_name`` (``CLASS_SPECS``), without repeats."""
    if class_name not in CLASS_SPECS:
        raise bad_argument("class_name", f"a synthetic class ({', '.join(CLASS_SPECS)})", class_name)
    return tuple(dict.fromkeys(CLASS_SPECS[class_name].parts))


def aspect_masks(sample: Sample, aspects: Sequence[str] = SYNTHETIC_ASPECTS) -> np.ndarray:
    """(A, H, W) bool: where each aspect is drawn in ``sample`` (its parts of that type,
    the corner tag's box for ``"corner_tag"``)."""
    if not isinstance(sample, Sample):
        raise bad_argument("sample", "a synthetic Sample (SyntheticParts.sample(i))", sample)
    h, w = sample.instance_mask.shape
    out = np.zeros((len(aspects), h, w), bool)
    ids_by_type: dict[str, list[int]] = {}
    for part in sample.parts:
        ids_by_type.setdefault(part.type, []).append(part.id)
    for a, name in enumerate(aspects):
        if name == TAG_ASPECT:
            if sample.spurious_cue is not None:
                x0, y0, x1, y1 = sample.spurious_cue
                out[a, y0:y1, x0:x1] = True
        elif name in PART_TYPES:
            if name in ids_by_type:
                out[a] = np.isin(sample.instance_mask, ids_by_type[name])
        else:
            raise bad_argument("aspects", f"names among {', '.join(SYNTHETIC_ASPECTS)}", name)
    return out


def aspect_dataset(n: int, seed: int, tag_fraction: float = 0.5, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic images with their aspect masks: ((n, H, W, 3) uint8,
    (n, A, H, W) bool over :data:`SYNTHETIC_ASPECTS`). About ``tag_fraction`` of the
    images carry the corner tag, in every class (so the tag is an aspect on its own,
    not a proxy for one class)."""
    if isinstance(tag_fraction, bool) or not isinstance(tag_fraction, (int, float)) or not 0 <= tag_fraction <= 1:
        raise bad_argument("tag_fraction", "a number in [0, 1]", tag_fraction)
    data = SyntheticParts(n, seed=seed, size=size)
    rng = np.random.default_rng([seed, 1001])
    tagged = rng.random(n) < tag_fraction
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, len(SYNTHETIC_ASPECTS), size, size), bool)
    for i in range(n):
        sample = data.intervene(i, tag=bool(tagged[i]))
        images[i] = sample.image
        masks[i] = aspect_masks(sample)
    return images, masks


def synthetic_images(n: int, seed: int, tag_fraction: float = 0.5, size: int = 64) -> np.ndarray:
    """``n`` unlabelled synthetic images, (n, H, W, 3) uint8, about ``tag_fraction`` of them
    with the corner tag (in every class): what mapping models are trained on."""
    if isinstance(tag_fraction, bool) or not isinstance(tag_fraction, (int, float)) or not 0 <= tag_fraction <= 1:
        raise bad_argument("tag_fraction", "a number in [0, 1]", tag_fraction)
    data = SyntheticParts(n, seed=seed, size=size)
    tagged = np.random.default_rng([seed, 1001]).random(n) < tag_fraction
    images = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        images[i] = data.intervene(i, tag=bool(tagged[i])).image
    return images


def random_smooth_masks(n: int, size: int, generator: torch.Generator | None = None, *,
                        grid: int = 4, keep: tuple[float, float] = (0.2, 0.8),
                        device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, 1, size, size) float masks in [0, 1]: a random ``grid`` x ``grid`` field,
    upsampled bicubically and pushed through a steep sigmoid so that a fraction
    (drawn from ``keep``) of each image is kept. They look like thresholded saliency
    maps: a few soft-edged blobs."""
    field = torch.rand(n, 1, grid, grid, generator=generator).to(device)
    field = F.interpolate(field, size=(size, size), mode="bicubic", align_corners=False)
    fraction = torch.empty(n, 1, 1, 1).uniform_(*keep, generator=generator).to(device)
    flat = field.flatten(1)
    ranked = flat.sort(dim=1, descending=True).values
    k = (fraction.flatten() * flat.shape[1]).long().clamp(1, flat.shape[1]) - 1
    cut = ranked.gather(1, k[:, None]).view(n, 1, 1, 1)
    spread = flat.std(dim=1).view(n, 1, 1, 1).clamp_min(1e-6)
    return torch.sigmoid((field - cut) / (0.08 * spread))
