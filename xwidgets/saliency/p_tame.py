"""P-TAME (Ntrougkas, Mezaris and Patras, "P-TAME: Explain Any Image Classifier with
Trained Perturbations", IEEE Open Journal of Signal Processing 2025).

T-TAME's attention mechanism on the features of an auxiliary, frozen feature
extractor instead of the classifier's own layers, so any classifier can be explained
without knowing its inside: the paper reads ``layer1``..``layer4`` of an ImageNet
ResNet-18, brings them to the resolution of ``layer1`` by repeated x2 bilinear
upsampling, fuses them without a bias, and trains against the classifier's
prediction on the input with its pixels multiplied by the map (removed pixels turn
black). At inference the map is the sigmoid, min-max normalised. Details in
``tame.py``; the loss weights were tuned per classifier in the paper
(``TAMETraining.p_tame("resnet50" | "vgg16" | "vit_b_16")``).

No ImageNet ResNet-18 weights are available offline, so the extractor is an argument
(any ``nn.Module`` with named layers, or a ``ModelAdapter`` when its preprocessing
differs from the classifier's). For the bundled toy models the shipped explainers use
the toy CNN (``layer1``..``layer4``, trained on the same synthetic images, as the
paper's extractor was trained on ImageNet) as the auxiliary extractor, for
``toy_vit`` and for ``toy_cnn`` itself (where the extractor is therefore the
classifier: P-TAME then differs from T-TAME by its layers, its cascade, its masking
and its training, not by its feature source).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from .registry import MethodOutput, register
from .tame import TAMEExplainer, TAMETraining, build_explainer, explain_maps, train_tame
from .targets import TargetPlan

__all__ = ["PTAMEParams", "build_p_tame", "train_p_tame"]


@dataclasses.dataclass
class PTAMEParams:
    """explainer: a trained P-TAME ``TAMEExplainer`` for this classifier, or the path
        of a saved one; None uses the shipped one of a bundled toy model (else a
        ValueError says how to train one).
    extractor: the auxiliary feature extractor, needed when ``explainer`` is a path
        (a saved explainer does not hold it) or to attach another copy of it.
    normalise: min-max normalise each map (True, the paper's; False: the sigmoid map)."""

    explainer: TAMEExplainer | str | Path | None = None
    extractor: nn.Module | ModelAdapter | None = None
    normalise: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.normalise, bool):
            raise bad_argument("normalise", "True or False", self.normalise)
        if self.extractor is not None and not isinstance(self.extractor, (nn.Module, ModelAdapter)):
            raise bad_argument("extractor", "None or an nn.Module (or ModelAdapter) whose layers P-TAME reads",
                               self.extractor)


@register(
    "p_tame",
    params=PTAMEParams,
    summary="Learned attention on an auxiliary network's features: explains any classifier in one forward pass",
    paper="Ntrougkas, Mezaris & Patras, P-TAME: Explain Any Image Classifier with Trained Perturbations, IEEE OJSP 2025",
    family="learned",
    uses_layer=False,
)
def p_tame(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: PTAMEParams, layer: None) -> MethodOutput:
    return explain_maps("p_tame", model, inputs, plan, params.explainer, params.extractor, params.normalise)


def build_p_tame(model: Any, extractor: nn.Module | ModelAdapter, layers: Sequence[str] | None = None, *,
                 seed: int = 0) -> TAMEExplainer:
    """An untrained P-TAME explainer for ``model`` reading ``layers`` of ``extractor``
    (default: ``layer1``..``layer4`` when it has them, else its last four stage
    outputs). seed: initial weights."""
    return build_explainer("p_tame", model, layers, extractor=extractor, seed=seed)


def train_p_tame(model: Any, data: Any, extractor: nn.Module | ModelAdapter, layers: Sequence[str] | None = None, *,
                 backbone: str = "resnet50", config: TAMETraining | None = None, checkpoint: str | Path | None = None,
                 resume: bool = True, progress: bool | None = None, callback=None, callback_every: int = 10,
                 float_pixels: bool = False, steps_per_epoch: int | None = None, **overrides: Any) -> TAMEExplainer:
    """Build and train a P-TAME explainer for ``model`` on ``data`` with ``extractor``
    as the auxiliary feature extractor. Published defaults
    (``TAMETraining.p_tame(backbone)``: AdamW, lr 1e-4, batch 32, 1 epoch, the loss
    weights tuned for ``backbone``) unless ``config`` or keyword ``overrides`` say
    otherwise. ``checkpoint``: saved after every epoch and resumed from."""
    if config is not None and overrides:
        raise bad_argument("config", "None when training settings are passed as keywords", config)
    config = config or TAMETraining.p_tame(backbone, **overrides)
    explainer = build_p_tame(model, extractor, layers, seed=config.seed)
    return train_tame(explainer, model, data, config, checkpoint=checkpoint, resume=resume, progress=progress,
                      callback=callback, callback_every=callback_every, float_pixels=float_pixels,
                      steps_per_epoch=steps_per_epoch)
