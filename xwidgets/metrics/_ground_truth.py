"""Shared pieces of the metrics scored against the synthetic set's ground truth
(pointing games, FunnyBirds part checks, arrangement sensitivity): row checks, part
masks and importances, batched scoring of intervened images, re-explaining."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import bad_argument
from ..data.synthetic.render import Sample
from ..models.adapter import ModelAdapter
from ..models.hooks import frozen_eval
from ..saliency.result import Saliency

#: (images (M, H, W, 3) uint8, targets (M,) int) -> maps (M, H, W): how a metric that
#: needs new maps (another class, an intervened image) gets them
Explainer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def check_int(value: Any, argument: str, low: int) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise bad_argument(argument, f"an int >= {low}", value)


def check_number(value: Any, argument: str, low: float, high: float | None = None, *, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    ok = ok and np.isfinite(value) and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"({low}, {high}]" if open_low else f"[{low}, {'inf' if high is None else high}]"
        raise bad_argument(argument, f"a number in {bounds}", value)


def check_dilation(value: Any) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1 or value % 2 == 0:
        raise bad_argument("dilation", "an odd int >= 1 (the side of the max-pool window, 1 = none)", value)


def check_samples_match(saliency: Saliency, samples: Sequence[Sample]) -> None:
    """Each Sample must be the image it annotates: same pixels as ``saliency.images``."""
    for i, sample in enumerate(samples):
        if not isinstance(sample, Sample):
            raise bad_argument(f"ground_truth[{i}]", "a synthetic Sample (SyntheticParts.sample)", sample)
        if not np.array_equal(sample.image, saliency.images[i]):
            raise bad_argument(
                f"ground_truth[{i}]", f"the Sample of image {i} (its pixels equal saliency.images[{i}])",
                f"Sample {sample.index} of seed {sample.seed} with other pixels",
                "Explain the Samples' own images (e.g. [s.image for s in samples]) at the model's input size",
            )


def row_samples(saliency: Saliency, samples: Sequence[Sample]) -> list[Sample]:
    return [samples[int(i)] for i in saliency.image_index]


def dilate(masks: np.ndarray, size: int) -> np.ndarray:
    """(K, H, W) bool masks grown by a ``size`` x ``size`` max-pool (stride 1), as
    FunnyBirds dilates part masks before summing attribution in them."""
    masks = np.asarray(masks, dtype=bool)
    if size <= 1 or masks.size == 0:
        return masks
    t = torch.from_numpy(masks).float()[:, None]
    return (F.max_pool2d(t, size, stride=1, padding=size // 2)[:, 0] > 0).numpy()


def part_masks(sample: Sample, ids: Sequence[int], size: int) -> np.ndarray:
    """(len(ids), H, W) bool: each part's mask, dilated by ``size``."""
    masks = np.stack([sample.instance_mask == pid for pid in ids]) if len(ids) else np.zeros(
        (0, *sample.instance_mask.shape), bool)
    return dilate(masks, size)


def box_mask(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def importances(attribution: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(K,) signed attribution summed inside each (dilated) mask (FunnyBirds' part importance)."""
    return (masks.astype(np.float64) * attribution.astype(np.float64)[None]).sum(axis=(1, 2))


def positive_share(attribution: np.ndarray, region: np.ndarray) -> float:
    """Positive attribution inside ``region`` over all positive attribution; 0 when the
    map has none."""
    positive = np.clip(attribution.astype(np.float64), 0, None)
    total = positive.sum()
    return float((positive * region).sum() / total) if total > 0 else 0.0


def logits_of(model: ModelAdapter, images: np.ndarray | list[np.ndarray], batch_size: int) -> np.ndarray:
    """(M, C) float64 logits of (M, H, W, 3) uint8 images, ``batch_size`` per forward."""
    images = np.asarray(images)
    out = []
    with torch.no_grad(), frozen_eval(model.model):
        for lo in range(0, images.shape[0], batch_size):
            inputs = model.preprocess.normalise(images[lo: lo + batch_size], model.device)
            out.append(model.logits(inputs).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def explainer_for(model: ModelAdapter, saliency: Saliency, explainer: Explainer | None, metric: str,
                  batch_size: int) -> Explainer:
    """``explainer`` if given, else one that re-runs ``saliency.method`` with the same
    parameters and layer on new images/targets (for metrics that need maps of another
    class or of an intervened image)."""
    if explainer is not None:
        if not callable(explainer):
            raise bad_argument("explainer", "None or a callable (images, targets) -> maps", explainer)
        return explainer
    from ..saliency.explain import explain
    from ..saliency.registry import get_method

    try:
        spec = get_method(saliency.method)
    except ValueError:
        raise bad_argument(
            "saliency", f"a Saliency made by a registered method ({metric} recomputes maps)", saliency.method,
            "Pass explainer=fn(images, targets) -> maps",
        ) from None
    defaults = spec.params()
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(spec.params):
        if field.name not in saliency.params:
            continue
        value, default = saliency.params[field.name], getattr(defaults, field.name)
        if dataclasses.is_dataclass(default) and isinstance(value, dict):  # explain stored it as a dict
            value = type(default)(**value)
        kwargs[field.name] = value
    layer = saliency.layer if spec.uses_layer else None

    def run(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        inputs = model.preprocess.normalise(np.asarray(images), model.device)
        result = explain(model, inputs, spec.name, target=[int(t) for t in targets], layer=layer,
                         batch_size=batch_size, **kwargs)
        return result.maps

    return run


def call_explainer(explainer: Explainer, images: list[np.ndarray], targets: list[int]) -> np.ndarray:
    if not images:
        return np.zeros((0, 0, 0), np.float32)
    maps = np.asarray(explainer(np.stack(images), np.asarray(targets, dtype=np.int64)), dtype=np.float64)
    expected = (len(images), *images[0].shape[:2])
    if maps.shape != expected:
        raise bad_argument("explainer", f"maps of shape {expected} (one per image)", maps)
    return maps


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    out = np.empty(len(values), np.float64)
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            out[order[start:end]] = (start + end + 1) / 2.0
            start = end
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation; NaN when either side is constant or has < 2 values
    (FunnyBirds skips such samples)."""
    if len(a) < 2:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def removal_drops(original: float, changed: np.ndarray, relevance: float) -> np.ndarray:
    """FunnyBirds' rule: an intervention matters when it lowers the target score by at
    least ``relevance`` x |original score| (5% in the paper)."""
    changed = np.asarray(changed, dtype=np.float64)
    return (np.abs(original - changed) >= abs(relevance * original)) & (changed < original)


def check_redraws(samples: Sequence[Sample]) -> None:
    """Interventions redraw a Sample from its seed: it must be an unedited render."""
    from ..data.synthetic.interventions import intervene

    for i, sample in enumerate(samples):
        if not np.array_equal(intervene(sample).image, sample.image):
            raise bad_argument(
                f"ground_truth[{i}]", "a Sample as SyntheticParts.sample draws it (metrics redraw it with parts "
                "removed)", "a Sample whose pixels differ from its scene's", "Pass unedited samples",
            )


class Interventions:
    """Collects intervened versions of the images (deduplicated), then scores them all
    with batched forwards. A key is (image, removed ids, background, tag, swap); the
    unedited key reuses the image's own logits."""

    def __init__(self, model: ModelAdapter, samples: Sequence[Sample], original_logits: np.ndarray) -> None:
        self.model, self.samples, self.original = model, samples, original_logits
        self._keys: dict[tuple, int] = {}
        self._logits: np.ndarray | None = None
        self.edited: dict[tuple, Sample] = {}

    @staticmethod
    def key(image: int, remove: Any = (), background: int | None = None, tag: bool | None = None,
            swap: bool = False) -> tuple:
        return (int(image), frozenset(int(i) for i in remove), background, tag, bool(swap))

    def request(self, *args: Any, **kwargs: Any) -> tuple:
        key = self.key(*args, **kwargs)
        if not self._unedited(key) and key not in self._keys:
            self._keys[key] = len(self._keys)
        return key

    @staticmethod
    def _unedited(key: tuple) -> bool:
        return not key[1] and key[2] is None and key[3] is None and not key[4]

    def run(self, batch_size: int) -> None:
        from ..data.synthetic.interventions import intervene

        images = []
        for key in self._keys:
            image, remove, background, tag, swap = key
            edited = intervene(self.samples[image], remove=remove, background=background, tag=tag, swap=swap)
            self.edited[key] = edited
            images.append(edited.image)
        self._logits = logits_of(self.model, images, batch_size) if images else np.zeros((0, self.original.shape[1]))

    def logits(self, key: tuple) -> np.ndarray:
        if self._unedited(key):
            return self.original[key[0]]
        assert self._logits is not None, "call run() first"
        return self._logits[self._keys[key]]
