"""T-TAME (Ntrougkas, Gkalelis and Mezaris, "T-TAME: Trainable Attention Mechanism
for Explaining Convolutional Networks and Vision Transformers", IEEE Access 2024).

A small attention mechanism reads three layers of the frozen classifier itself
(ResNet-50 ``layer2/3/4``, VGG-16 ``features.16/23/30``, ViT-B/16 blocks 9, 10, 11
with the patch tokens on their 14 x 14 grid; the toy CNN ``layer2/3/4``, the toy ViT
its last three blocks ``encoder_layer_3/4/5``) and is trained so that the map of the
predicted class, multiplying the image, keeps the prediction while staying small and
smooth. An explanation is then one forward pass of the classifier with hooks plus the
attention mechanism: the map of the target class. The architecture, loss and
training are described in ``tame.py``.

    explainer = train_t_tame(model, SyntheticParts(2000, seed=10_000))   # once
    sal = xw.explain(model, images, method="t_tame", explainer=explainer)

For the bundled ``toy_cnn`` and ``toy_vit`` the shipped explainer is used when
``explainer`` is None (``xwidgets/models/zoo/weights/tame_t_tame_*.pt``, reproduced by
``scripts/train_tame.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from .registry import MethodOutput, register
from .tame import TAMEExplainer, TAMETraining, build_explainer, explain_maps, train_tame
from .targets import TargetPlan

__all__ = ["TTAMEParams", "build_t_tame", "train_t_tame"]


@dataclasses.dataclass
class TTAMEParams:
    """explainer: a trained T-TAME ``TAMEExplainer`` for this classifier, or the path
        of a saved one; None uses the shipped one of a bundled toy model (else a
        ValueError says how to train one).
    normalise: min-max normalise each map (False: the sigmoid map, in [0, 1], that
        training multiplies the image with; the authors' evaluation normalises)."""

    explainer: TAMEExplainer | str | Path | None = None
    normalise: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.normalise, bool):
            raise bad_argument("normalise", "True or False", self.normalise)


@register(
    "t_tame",
    params=TTAMEParams,
    summary="Learned attention on three of the classifier's layers: one map per class in one forward pass",
    paper="Ntrougkas, Gkalelis & Mezaris, T-TAME: Trainable Attention Mechanism for Explaining "
          "Convolutional Networks and Vision Transformers, IEEE Access 2024",
    family="learned",
    uses_layer=False,
)
def t_tame(model: ModelAdapter, inputs: torch.Tensor, plan: TargetPlan, params: TTAMEParams, layer: None) -> MethodOutput:
    return explain_maps("t_tame", model, inputs, plan, params.explainer, None, params.normalise)


def build_t_tame(model: Any, layers: Sequence[str] | None = None, *, class_token_gate: bool = True,
                 seed: int = 0) -> TAMEExplainer:
    """An untrained T-TAME explainer for ``model`` (any classifier or ModelAdapter).

    layers: the classifier's layers to read (default per architecture; see
        ``tame.default_layers``). class_token_gate: for ViT layers, multiply the patch
        tokens by the class token (the authors' code). seed: initial weights."""
    return build_explainer("t_tame", model, layers, class_token_gate=class_token_gate, seed=seed)


def train_t_tame(model: Any, data: Any, layers: Sequence[str] | None = None, *, class_token_gate: bool = True,
                 config: TAMETraining | None = None, checkpoint: str | Path | None = None, resume: bool = True,
                 progress: bool | None = None, callback=None, callback_every: int = 10, float_pixels: bool = False,
                 steps_per_epoch: int | None = None, **overrides: Any) -> TAMEExplainer:
    """Build and train a T-TAME explainer for ``model`` on ``data`` (a Dataset or an
    iterable of image batches; labels are ignored). Published defaults
    (``TAMETraining.t_tame()``: SGD, lr 1e-3, batch 32, 8 epochs) unless ``config`` or
    keyword ``overrides`` (``epochs=2, lr=0.01`` ...) say otherwise. ``checkpoint``:
    saved after every epoch and resumed from (see ``tame.train_tame``).
    ``class_token_gate``: as in :func:`build_t_tame`."""
    if config is not None and overrides:
        raise bad_argument("config", "None when training settings are passed as keywords", config)
    config = config or TAMETraining.t_tame(**overrides)
    explainer = build_t_tame(model, layers, class_token_gate=class_token_gate, seed=config.seed)
    return train_tame(explainer, model, data, config, checkpoint=checkpoint, resume=resume, progress=progress,
                      callback=callback, callback_every=callback_every, float_pixels=float_pixels,
                      steps_per_epoch=steps_per_epoch)
