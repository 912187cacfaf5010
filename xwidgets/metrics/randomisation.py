"""Model-parameter randomisation sanity check (Adebayo, Gilmer, Muelly, Goodfellow,
Hardt & Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018).

Cascading randomisation from the top: the model's parameterised layers (modules
with their own parameters and a ``reset_parameters``, as torch initialises them) are
re-initialised one after another, starting at the output layer. After each one the
map is recomputed with the saliency's method, parameters, layer and targets, and
compared with the original map. A map that explains the model must change as its
weights are destroyed: a low similarity is better (``higher_is_better=False``).

Similarity: Spearman rank correlation of the two maps (of their absolute values by
default, as the paper's main figures), or SSIM (scikit-image) of the two maps
min-max scaled to [0, 1]. The row's score is the similarity after the last
randomised layer; ``curves`` hold it after 0, 1, ..., L layers (0: the unchanged
copy, 1 for a deterministic method). Everything runs on a deep copy of the model:
the user's model is never touched. Cost: L + 1 calls of the method.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..saliency.explain import explain
from ..saliency.registry import get_method
from ..saliency.result import Saliency
from ._perturb import check_choice
from .evaluate import model_inputs
from .registry import MetricResult, register_metric

__all__ = ["RandomisationParams", "randomisable_layers", "spearman", "ssim"]

SIMILARITIES = ("spearman", "ssim")


@dataclasses.dataclass
class RandomisationParams:
    """layers: how many parameterised layers to randomise, from the output down
        (None: all of them, the paper's full cascade).
    similarity: "spearman" (rank correlation) or "ssim".
    absolute: compare absolute values of the maps (True, the paper's main setting) or
        signed maps.
    seed: seeds the re-initialisation (layer i uses seed + i).
    batch_size: rows per call of the method."""

    layers: int | None = None
    similarity: str = "spearman"
    absolute: bool = True
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.layers is not None and (isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 0):
            raise bad_argument("layers", "None (all) or an int >= 0", self.layers)
        check_choice(self.similarity, "similarity", SIMILARITIES)
        if not isinstance(self.absolute, bool):
            raise bad_argument("absolute", "True or False", self.absolute)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise bad_argument("batch_size", "a positive int", self.batch_size)


def randomisable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of the layers the cascade re-initialises, output layer first:
    modules with parameters of their own and a ``reset_parameters`` method."""
    layers = [
        (name, module) for name, module in model.named_modules()
        if callable(getattr(module, "reset_parameters", None)) and any(True for _ in module.parameters(recurse=False))
    ]
    return layers[::-1]


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row pair of (B, n) arrays (average ranks for
    ties); 1 where both rows are constant, 0 where only one is."""
    ra = np.apply_along_axis(rankdata, 1, a)
    rb = np.apply_along_axis(rankdata, 1, b)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    na, nb = np.sqrt((ra ** 2).sum(axis=1)), np.sqrt((rb ** 2).sum(axis=1))
    both, either = (na == 0) & (nb == 0), (na == 0) | (nb == 0)
    rho = (ra * rb).sum(axis=1) / np.where(either, 1.0, na * nb)
    return np.where(both, 1.0, np.where(either, 0.0, rho))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM (scikit-image) of each pair of (B, H, W) maps, each min-max scaled to [0, 1]."""
    from skimage.metrics import structural_similarity

    def scaled(m: np.ndarray) -> np.ndarray:
        span = m.max() - m.min()
        return (m - m.min()) / span if span > 0 else np.zeros_like(m)

    side = min(a.shape[1:])
    window = min(7, side if side % 2 else side - 1)
    return np.array([
        structural_similarity(scaled(x), scaled(y), data_range=1.0, win_size=window) for x, y in zip(a, b)
    ])


def _similarity(original: np.ndarray, other: np.ndarray, params: RandomisationParams) -> np.ndarray:
    a, b = original.astype(np.float64), other.astype(np.float64)
    if params.absolute:
        a, b = np.abs(a), np.abs(b)
    if params.similarity == "ssim":
        return ssim(a, b)
    return spearman(a.reshape(len(a), -1), b.reshape(len(b), -1))


@register_metric(
    "model_randomisation",
    params=RandomisationParams,
    summary="Similarity of the map to the map of a model whose layers are re-initialised from the top (lower is better)",
    paper="Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018",
    kind="sanity",
    higher_is_better=False,
)
def model_randomisation(model: ModelAdapter, saliency: Saliency, params: RandomisationParams,
                        ground_truth: Any = None) -> MetricResult:
    if (saliency.targets < 0).any():
        raise bad_argument(
            "saliency", "rows with class targets (the maps are recomputed for them)",
            "rows made for a callable target (-1)",
        )
    spec = get_method(saliency.method)
    fields = {f.name for f in dataclasses.fields(spec.params)}
    method_params = {k: v for k, v in saliency.params.items() if k in fields}
    clone = copy.deepcopy(model.model)
    adapter = ModelAdapter(clone, preprocess=model.preprocess, labels=model._labels, cam_layer=model._cam_layer, name=model.name)
    layers = randomisable_layers(clone)
    count = len(layers) if params.layers is None else params.layers
    if count > len(layers):
        raise bad_argument("layers", f"None or at most {len(layers)}, the model's parameterised layers", params.layers)
    inputs = model_inputs(model, saliency)[torch.as_tensor(saliency.image_index, device=model.device)]
    targets = [int(t) for t in saliency.targets]

    def recompute() -> np.ndarray:
        result = explain(adapter, inputs, saliency.method, target=targets, layer=saliency.layer,
                         batch_size=params.batch_size, **method_params)
        return result.maps

    device = adapter.device
    similarities, maps = [], saliency.maps
    for step in range(count + 1):
        if step:
            with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                torch.manual_seed(params.seed + step)
                layers[step - 1][1].reset_parameters()
        maps = recompute()
        similarities.append(_similarity(saliency.maps, maps, params))
    curves = np.stack(similarities, axis=1)
    return MetricResult(
        metric="model_randomisation",
        scores=curves[:, -1],
        curves=curves,
        extras={"layers": [name for name, _ in layers[:count]], "randomised_maps": maps},
    )
