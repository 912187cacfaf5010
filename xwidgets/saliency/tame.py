"""What T-TAME and P-TAME share: the trainable attention mechanism, its features, its
training loop with checkpoints, saving and loading, and the weights shipped for the
bundled toy models.

TAME (Ntrougkas, Gkalelis and Mezaris; T-TAME: "Trainable Attention Mechanism for
Explaining Convolutional Networks and Vision Transformers", IEEE Access 2024; P-TAME:
Ntrougkas, Mezaris and Patras, "P-TAME: Explain Any Image Classifier with Trained
Perturbations", IEEE OJSP 2025) learns, once per classifier, a small network that
turns feature maps into one explanation map per class. After training an explanation
costs one forward pass.

The attention mechanism (both papers; checked against the authors' code,
github.com/IDT-ITI/T-TAME ``src/tame/attention/tame.py`` and github.com/IDT-ITI/P-TAME
``ptame/models/attention.py``):

* per feature layer l with C_l channels: a 1x1 convolution C_l -> C_l (with bias),
  batch norm, the layer's features added back (a residual connection), ReLU;
* each branch resized to one resolution: T-TAME resizes bilinearly, once, to the
  first (largest) layer's size capped at 56 (``min(H, 56)``); P-TAME doubles
  bilinearly until it reaches the largest layer's size (the "x2 cascade": 7 -> 14 ->
  28 -> 56 for ResNet-18 at 224 px; a final bilinear resize covers ratios that are not
  powers of two, which the authors' code does not need);
* the branches concatenated and fused by a 1x1 convolution into one map per class
  (T-TAME with a bias, P-TAME without); sigmoid.

ViT tokens (B, N, C) go on their patch grid; T-TAME multiplies every patch token by
the class token first (the authors' code, ``PreprocessSeq.new_forward`` for the
"TTAME" version; the paper's text only says the tokens are reshaped: unverified
there), ``class_token_gate`` turns it off.

Training (both papers): the classifier and every feature source are frozen; the
label is the classifier's own prediction on the clean image; the map of that class
is upsampled bilinearly to the input size and multiplies the image; the loss is

    ce * CE(f(x (.) M), pred) + area * mean((m + 5e-4)^p) + smooth * TV(m),
    TV(m) = (sum |dm/dy|^2 + sum |dm/dx|^2 + border * sum of the squared border
             values) / (2 B)

(``area_power`` p = 0.3, ``border`` 0.3). As in the authors' code, the area and
smoothness terms apply to the maps of every target of the batch for every image of
the batch (their "random map select": B x B maps), the cross-entropy to each image's
own map, at the attention resolution. T-TAME multiplies the preprocessed input
("input": masked pixels become the dataset mean); P-TAME multiplies the pixels
("black": unnormalise, multiply, normalise). The learning rate follows a one-cycle
schedule over all steps (both authors' codes: ``OneCycleLR`` with its defaults).
Not in the papers: ``TAMETraining.warmup`` ramps the area and smoothness weights up
from 0 over the first share of the steps (default 0: off), which keeps short
trainings from killing the maps of some classes (see ``TAMETraining``).

Published defaults (``TAMETraining.t_tame()`` and ``.p_tame(backbone)``):
T-TAME: SGD (momentum 0.9, Nesterov as in the authors' code, weight decay 5e-4 on
weights, none on biases), learning rate 1e-3, batch 32, 8 epochs, CE 1.5, area 2,
smoothness 0.01. P-TAME: AdamW (amsgrad, as in the authors' config) learning rate
1e-4, batch 32, 1 epoch, and per backbone (the authors' ``configs/experiment/tab1_*``):
ResNet-50 CE 0.1614, area 0.8386, smoothness 0, weight decay 2.43e-4; VGG-16 CE
0.0728, area 0.9777, smoothness 1e-4, weight decay 0.133; ViT-B/16 CE 0.1313, area
0.8386, smoothness 0 (no border term), area power 0.5, weight decay 1.33e-4.

Inference maps: T-TAME's is the sigmoid map of the target class (``normalise=True``
min-max normalises it, as the authors' evaluation does); P-TAME's is min-max
normalised (sigmoid, then min-max, as METHODS.md describes; the authors' code
min-max normalises the map before the sigmoid, which ranks pixels identically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._plain import plain
from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import capture, frozen_eval
from ..models.layers import get_layer, tokens_to_grid, vit_blocks
from ..models.preprocess import Preprocess

__all__ = [
    "KINDS", "TAMEAttention", "TAMEExplainer", "TAMETraining", "build_explainer", "train_tame", "load_explainer",
    "default_layers", "model_fingerprint", "shipped_path", "shipped_explainer", "resolve_explainer", "tame_loss",
    "area_loss", "smoothness_loss", "pointing_game",
]

KINDS = ("t_tame", "p_tame")
#: T-TAME's cap on the attention resolution (both papers: 56 x 56 at 224 px)
MAX_RESOLUTION = 56
PERTURBATIONS = ("input", "black")
OPTIMISERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "constant")
FORMAT = "xwidgets.tame/1"
_NOT_FEATURE_MAPS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten)


def _weights_dir() -> Path:
    from ..models.zoo.toy import WEIGHTS_DIR

    return WEIGHTS_DIR


# ---------------------------------------------------------------------------- the attention mechanism


class TAMEAttention(nn.Module):
    """Feature maps of several layers -> one map per class (logits, before the sigmoid).

    Args:
        channels: channels of each feature layer, in the order the features come.
        num_classes: maps to produce.
        size: (height, width) of the maps.
        cascade: reach ``size`` by repeated x2 bilinear upsampling (P-TAME) instead of
            one bilinear resize (T-TAME).
        fuser_bias: a bias in the fusing 1x1 convolution (T-TAME yes, P-TAME no).
    """

    def __init__(self, channels: Sequence[int], num_classes: int, size: tuple[int, int], *, cascade: bool,
                 fuser_bias: bool) -> None:
        super().__init__()
        self.channels = [int(c) for c in channels]
        self.size = (int(size[0]), int(size[1]))
        self.cascade = bool(cascade)
        self.convs = nn.ModuleList([nn.Conv2d(c, c, kernel_size=1, bias=True) for c in self.channels])
        self.bns = nn.ModuleList([nn.BatchNorm2d(c) for c in self.channels])
        self.fuser = nn.Conv2d(sum(self.channels), int(num_classes), kernel_size=1, bias=fuser_bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        branches = []
        for conv, bn, feature in zip(self.convs, self.bns, features):
            branch = F.relu(bn(conv(feature)) + feature)
            branches.append(self._resize(branch))
        return self.fuser(torch.cat(branches, dim=1))

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        if self.cascade:
            times = max(0, round(math.log2(max(self.size[0] / x.shape[-2], 1.0))))
            for _ in range(times):
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            if tuple(x.shape[-2:]) == self.size:
                return x
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------------- features


def _module_outputs(module: nn.Module, example: torch.Tensor) -> list[tuple[str, tuple[int, ...], torch.Tensor]]:
    """(name, shape, output) of every named submodule, in the order they return."""
    order: list[tuple[str, tuple[int, ...], torch.Tensor]] = []

    def record(name: str):
        def hook(mod, args, output):
            tensor = output[0] if isinstance(output, (tuple, list)) and output else output
            if isinstance(tensor, torch.Tensor):
                order.append((name, tuple(tensor.shape), tensor))
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in module.named_modules()
               if n and not isinstance(m, _NOT_FEATURE_MAPS)]
    try:
        with frozen_eval(module), torch.no_grad():
            module(example)
    finally:
        for handle in handles:
            handle.remove()
    return order


def _stage_ends(module: nn.Module, example: torch.Tensor) -> list[str]:
    """The outermost module producing the last feature map at each spatial resolution,
    in order (one per resolution, h * w > 1): a CNN's stage outputs."""
    order = [(n, s, t) for n, s, t in _module_outputs(module, example) if len(s) == 4 and s[-1] * s[-2] > 1]
    last: dict[tuple[int, int], int] = {}
    for i, (_, shape, _) in enumerate(order):
        last[shape[-2:]] = i
    names = []
    for i in sorted(last.values()):
        tensor = order[i][2]
        same = [n for n, s, t in order if t is tensor]
        names.append(min(same, key=lambda n: (n.count("."), len(n))))
    return names


def default_layers(module: nn.Module, example: torch.Tensor, kind: str) -> list[str]:
    """The feature layers TAME reads by default.

    T-TAME (on the classifier): ResNet-like models (``layer2``..``layer4``, e.g.
    torchvision ResNets and the toy CNN) ``layer2``, ``layer3``, ``layer4``; torchvision
    VGG the last three max-pools of ``features`` (``features.16/23/30`` for VGG-16); ViTs
    (torchvision, timm, Hugging Face) their last three blocks (9, 10, 11 of ViT-B/16);
    other CNNs the outputs of their last three stages (one per spatial resolution).

    P-TAME (on the auxiliary extractor): ``layer1``..``layer4`` when it has them (the
    paper's ResNet-18), else its last four stage outputs.
    """
    count = 3 if kind == "t_tame" else 4
    first = 2 if kind == "t_tame" else 1
    stages = [f"layer{i}" for i in range(first, 5)]
    if all(isinstance(getattr(module, s, None), nn.Module) for s in stages):
        return stages
    blocks = vit_blocks(module)
    if blocks:
        return [name for name, _, _ in blocks[-count:]]
    features = getattr(module, "features", None)
    if type(module).__name__ == "VGG" and isinstance(features, nn.Sequential):
        pools = [f"features.{i}" for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
        if len(pools) >= count:
            return pools[-count:]
    ends = _stage_ends(module, example)
    if not ends:
        raise ValueError(
            f"layers: {type(module).__name__} produces no spatial feature map and has no attention blocks, so "
            "there is no default; pass layers=[...] (dotted names of layers with (B, C, h, w) or ViT token outputs)"
        )
    return ends[-count:]


def as_feature_map(output: torch.Tensor, class_token_gate: bool) -> torch.Tensor:
    """A layer's output as (B, C, h, w): feature maps as they are; ViT tokens (B, N, C)
    on their patch grid, multiplied by the class token when ``class_token_gate``."""
    if output.ndim == 4:
        return output
    grid = tokens_to_grid(output)
    prefix = output.shape[1] - grid.shape[-1] * grid.shape[-2]
    if class_token_gate and prefix >= 1:
        grid = grid * output[:, 0, :, None, None]
    return grid


def _renormalise(x: torch.Tensor, source: Preprocess, target: Preprocess) -> torch.Tensor:
    """Inputs preprocessed with ``source`` -> the same pixels preprocessed with ``target``."""
    if source == target:
        return x

    def view(values):
        return torch.tensor(values, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)

    pixels = (x * view(source.std) + view(source.mean)) / source.scale
    return (pixels * target.scale - view(target.mean)) / view(target.std)


_FINGERPRINTS: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, str]]" = weakref.WeakKeyDictionary()


def model_fingerprint(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, shapes, float32 values): tells
    whether a saved explainer was trained for these exact weights. Cached per module
    until a tensor of it is replaced, moved or changed in place (its version counter)."""
    tensors = [*module.parameters(), *module.buffers()]
    key = tuple((id(t), t.data_ptr(), t._version) for t in tensors)
    cached = _FINGERPRINTS.get(module)
    if cached is not None and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        value = tensor.detach().to("cpu")
        value = value.float() if value.is_floating_point() else value
        digest.update(value.contiguous().numpy().tobytes())
    fingerprint = digest.hexdigest()[:16]
    _FINGERPRINTS[module] = (key, fingerprint)
    return fingerprint


# ---------------------------------------------------------------------------- the explainer


class TAMEExplainer(nn.Module):
    """A T-TAME or P-TAME explainer: where its features come from and its attention
    mechanism (the only trained part). Build one with ``build_t_tame`` /
    ``build_p_tame``, train it with ``train_t_tame`` / ``train_p_tame`` (or
    :func:`train_tame`), save it with :meth:`save`, load it with :func:`load_explainer`.

    T-TAME reads ``layers`` of the explained classifier itself; P-TAME reads ``layers``
    of ``extractor``, a frozen auxiliary network (any ``nn.Module``, or a
    ``ModelAdapter`` whose preprocessing differs from the classifier's), which is held
    by reference and not saved with the explainer.
    """

    def __init__(self, kind: str, layers: Sequence[str], channels: Sequence[int], num_classes: int,
                 size: tuple[int, int], *, extractor: nn.Module | ModelAdapter | None = None,
                 class_token_gate: bool = True, info: dict[str, Any] | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise bad_argument("kind", f"one of {', '.join(KINDS)}", kind)
        self.kind = kind
        self.layers = [str(layer) for layer in layers]
        self.num_classes = int(num_classes)
        self.class_token_gate = bool(class_token_gate)
        self.attention = TAMEAttention(channels, num_classes, size, cascade=kind == "p_tame",
                                       fuser_bias=kind == "t_tame")
        self._extractor: list[Any] = []  # held by reference: not a submodule, so not saved or moved with .to()
        self.info: dict[str, Any] = dict(info or {})
        self.history: list[dict[str, float]] = list(self.info.get("history", []))
        self.set_extractor(extractor)

    # ------------------------------------------------------------------ extractor
    @property
    def extractor(self) -> nn.Module | None:
        """P-TAME's auxiliary feature extractor (None for T-TAME, or until attached)."""
        return self._extractor[0] if self._extractor else None

    @property
    def extractor_preprocess(self) -> Preprocess | None:
        """The extractor's own preprocessing when it was given as a ModelAdapter (the
        classifier's inputs are converted to it), else None (the classifier's is used)."""
        return self._extractor[1] if self._extractor else None

    def set_extractor(self, extractor: nn.Module | ModelAdapter | None) -> None:
        """Attach P-TAME's auxiliary feature extractor (T-TAME has none)."""
        if self.kind == "t_tame":
            if extractor is not None:
                raise bad_argument("extractor", "None: T-TAME reads the classifier's own layers", extractor)
            return
        if extractor is None:
            self._extractor = []
            return
        if isinstance(extractor, ModelAdapter):
            module, preprocess = extractor.model, extractor.preprocess
        elif isinstance(extractor, nn.Module):
            module, preprocess = extractor, None
        else:
            raise bad_argument("extractor", "an nn.Module (or ModelAdapter) whose layers P-TAME reads", extractor)
        for layer in self.layers:
            get_layer(module, layer)  # unknown names fail now, with suggestions
        expected = self.info.get("extractor_fingerprint")
        if expected is not None and model_fingerprint(module) != expected:
            raise bad_argument("extractor", f"the feature extractor this explainer was trained with "
                               f"({self.info.get('extractor')}, fingerprint {expected})", extractor,
                               f"Its weights differ (fingerprint {model_fingerprint(module)})")
        self._extractor = [module, preprocess]

    def check_model(self, model: ModelAdapter) -> None:
        """A ValueError naming ``explainer`` unless ``model`` has the weights this
        explainer was built for (its fingerprint; explainers without one pass)."""
        expected = self.info.get("model_fingerprint")
        if expected is not None and model_fingerprint(model.model) != expected:
            raise bad_argument("explainer", f"an explainer trained for this classifier ({model.name})", self,
                               f"It was built for {self.info.get('model')!r} with other weights (fingerprint "
                               f"{expected}, this model's {model_fingerprint(model.model)}); train one for this model")

    # ------------------------------------------------------------------ features and maps
    def source(self, model: ModelAdapter) -> nn.Module:
        """The module whose layers are read: the classifier (T-TAME) or the extractor."""
        if self.kind == "t_tame":
            return model.model
        if not self._extractor:
            raise ValueError(
                "extractor: expected the auxiliary feature extractor this P-TAME explainer was trained with; got "
                "None. Pass extractor=... to explain (or to load_explainer)"
            )
        return self._extractor[0]

    def logits_and_features(self, model: ModelAdapter, inputs: torch.Tensor,
                            check: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One forward pass of the classifier (T-TAME: with hooks on its layers; P-TAME:
        plus one of the extractor, unless it is the classifier itself) -> (logits (B, C),
        feature maps), no gradients."""
        source = self.source(model)
        with torch.no_grad():
            if source is model.model:
                with capture(source, self.layers, gradients=False) as records:
                    logits = model.logits(inputs)
            else:
                logits = model.logits(inputs)
                x = inputs
                pre = self.extractor_preprocess
                if pre is not None:
                    x = _renormalise(inputs, model.preprocess, pre)
                with frozen_eval(source), capture(source, self.layers, gradients=False) as records:
                    source(x)
            features = []
            for layer in self.layers:
                record = records[layer]
                if record.activation is None:
                    raise RuntimeError(f"layers: {layer!r} was not called during the forward pass, so it has no output")
                features.append(as_feature_map(record.activation, self.class_token_gate).float())
        if check:
            self._check_features(features, logits)
        return logits, features

    def _check_features(self, features: list[torch.Tensor], logits: torch.Tensor) -> None:
        channels = [int(f.shape[1]) for f in features]
        if channels != self.attention.channels:
            raise ValueError(
                f"explainer: expected a model whose layers {self.layers} have {self.attention.channels} channels "
                f"(the {self.kind} explainer was built for such a model); got {channels}"
            )
        if logits.shape[-1] != self.num_classes:
            raise ValueError(
                f"explainer: expected a classifier with {self.num_classes} classes (the {self.kind} explainer has "
                f"one map per class); got {logits.shape[-1]}"
            )

    def class_logits(self, features: list[torch.Tensor]) -> torch.Tensor:
        """(B, num_classes, h, w) attention logits (before the sigmoid)."""
        return self.attention(features)

    def prepare(self, device: torch.device) -> None:
        """Move the attention mechanism (and the extractor) to ``device``."""
        self.attention.to(device)
        if self._extractor:
            self._extractor[0].to(device)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write the explainer (configuration and attention weights, float32) to
        ``path``; load it with :func:`load_explainer` (``torch.load`` with
        ``weights_only=True``). P-TAME's extractor is not saved: pass it when loading."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu").clone().contiguous() for k, v in self.attention.state_dict().items()}
        torch.save({"format": FORMAT, "config": self.config(), "state": state}, path)
        return path

    def config(self) -> dict[str, Any]:
        info = {k: v for k, v in self.info.items() if k != "history"}
        return {
            "kind": self.kind, "layers": list(self.layers), "channels": list(self.attention.channels),
            "num_classes": self.num_classes, "size": list(self.attention.size),
            "class_token_gate": self.class_token_gate, "info": plain(info), "history": plain(self.history),
        }

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:  # pragma: no cover - nn.Module protocol
        return self.attention(features)

    def __repr__(self) -> str:
        h, w = self.attention.size
        source = self.info.get("model") or "?"
        extra = f", extractor={self.info.get('extractor', '?')!r}" if self.kind == "p_tame" else ""
        trained = f"trained {len(self.history)} epoch(s)" if self.history else "untrained"
        return (f"TAMEExplainer({self.kind}, model={source!r}{extra}, layers={self.layers}, "
                f"classes={self.num_classes}, maps={h}x{w}, {trained})")


def _example(model: ModelAdapter) -> torch.Tensor:
    h, w = model.preprocess.size
    return torch.zeros(2, 3, h, w, device=model.device)


def build_explainer(kind: str, model: Any, layers: Sequence[str] | None = None, *,
                    extractor: nn.Module | ModelAdapter | None = None, class_token_gate: bool = True,
                    seed: int = 0) -> TAMEExplainer:
    """An untrained explainer of ``kind`` for ``model`` (``build_t_tame`` /
    ``build_p_tame`` call this): reads the feature sizes with one dry forward pass;
    the attention weights are initialised from ``seed`` (the global RNG is untouched)."""
    if kind not in KINDS:
        raise bad_argument("kind", f"one of {', '.join(KINDS)}", kind)
    adapter = wrap(model)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise bad_argument("seed", "an int", seed)
    if not isinstance(class_token_gate, bool):
        raise bad_argument("class_token_gate", "True or False", class_token_gate)
    if kind == "t_tame" and extractor is not None:
        raise bad_argument("extractor", "None: T-TAME reads the classifier's own layers (P-TAME takes one)", extractor)
    if kind == "p_tame" and extractor is None:
        raise bad_argument("extractor", "an auxiliary feature extractor (any nn.Module with named layers)", extractor)
    if kind == "p_tame" and not isinstance(extractor, (nn.Module, ModelAdapter)):
        raise bad_argument("extractor", "an nn.Module (or ModelAdapter) whose layers P-TAME reads", extractor)
    example = _example(adapter)
    source = adapter.model if kind == "t_tame" else (extractor.model if isinstance(extractor, ModelAdapter) else extractor)
    if layers is None:
        layers = default_layers(source, example, kind)
    elif isinstance(layers, str) or not isinstance(layers, Sequence) or not layers \
            or not all(isinstance(name, str) for name in layers):
        raise bad_argument("layers", "a non-empty list of dotted layer names", layers)
    for name in layers:
        get_layer(source, name)  # KeyError with the closest names
    probe = TAMEExplainer(kind, layers, [1] * len(layers), 1, (1, 1), extractor=extractor,
                          class_token_gate=class_token_gate)
    with frozen_eval(adapter.model):
        logits, features = probe.logits_and_features(adapter, example, check=False)
    channels = [int(f.shape[1]) for f in features]
    sizes = [tuple(int(s) for s in f.shape[-2:]) for f in features]
    largest = max(sizes, key=lambda s: s[0] * s[1])
    if kind == "t_tame":
        size = (min(largest[0], MAX_RESOLUTION), min(largest[1], MAX_RESOLUTION))
    else:
        size = largest
    info = {"model": adapter.name, "model_fingerprint": model_fingerprint(adapter.model)}
    if kind == "p_tame":
        ex = extractor.model if isinstance(extractor, ModelAdapter) else extractor
        info["extractor"] = extractor.name if isinstance(extractor, ModelAdapter) else type(ex).__name__
        info["extractor_fingerprint"] = model_fingerprint(ex)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        explainer = TAMEExplainer(kind, layers, channels, logits.shape[-1], size, extractor=extractor,
                                  class_token_gate=class_token_gate, info=info)
    explainer.prepare(adapter.device)
    return explainer


# ---------------------------------------------------------------------------- loading and the shipped weights


def load_explainer(path: str | Path, extractor: nn.Module | ModelAdapter | None = None) -> TAMEExplainer:
    """An explainer saved by :meth:`TAMEExplainer.save` (P-TAME: pass its extractor)."""
    path = Path(path)
    if not path.is_file():
        raise bad_argument("explainer", "a TAMEExplainer or the path of a saved one", str(path),
                           "No such file")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise bad_argument("explainer", f"a file written by TAMEExplainer.save ({FORMAT})", str(path))
    cfg = blob["config"]
    explainer = TAMEExplainer(
        cfg["kind"], cfg["layers"], cfg["channels"], cfg["num_classes"], tuple(cfg["size"]),
        extractor=extractor, class_token_gate=cfg["class_token_gate"], info=cfg.get("info", {}),
    )
    explainer.history = list(cfg.get("history", []))
    explainer.attention.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
    return explainer.eval()


def shipped_path(kind: str, model_name: str) -> Path:
    """Where the explainer shipped for a bundled toy model lives."""
    return _weights_dir() / f"tame_{kind}_{model_name}.pt"


_SHIPPED: dict[tuple[str, str], TAMEExplainer] = {}


def shipped_explainer(kind: str, model: ModelAdapter) -> TAMEExplainer | None:
    """The shipped explainer for ``model`` when it is a bundled toy model with its
    shipped weights (checked by fingerprint), else None. Loaded once, then cached."""
    path = shipped_path(kind, model.name)
    if not path.is_file():
        return None
    key = (kind, model.name)
    if key not in _SHIPPED:
        explainer = load_explainer(path)
        if kind == "p_tame":
            explainer.set_extractor(_shipped_extractor(explainer.info.get("extractor", "")))
        _SHIPPED[key] = explainer
    explainer = _SHIPPED[key]
    if explainer.info.get("model_fingerprint") != model_fingerprint(model.model):
        return None
    return explainer


def _shipped_extractor(name: str) -> nn.Module:
    from ..models.zoo.toy import TOY_MODELS, load_toy_model

    if name not in TOY_MODELS:
        raise ValueError(f"extractor: the shipped P-TAME explainer names an unknown extractor {name!r}")
    return load_toy_model(name)


def resolve_explainer(kind: str, explainer: Any, model: ModelAdapter, extractor: Any = None) -> TAMEExplainer:
    """The explainer to use: the one given, one loaded from a path, or the shipped one
    for a bundled toy model; else a ValueError that says how to train one."""
    if isinstance(explainer, TAMEExplainer):
        if explainer.kind != kind:
            raise bad_argument("explainer", f"a {kind} explainer", explainer,
                               f"Use method={explainer.kind!r} for this one")
        explainer.check_model(model)
        if extractor is not None:
            explainer.set_extractor(extractor)
        return explainer
    if isinstance(explainer, (str, Path)):
        loaded = load_explainer(explainer, extractor)
        if loaded.kind != kind:
            raise bad_argument("explainer", f"a {kind} explainer", loaded, f"Use method={loaded.kind!r} for this one")
        loaded.check_model(model)
        return loaded
    if explainer is not None:
        raise bad_argument("explainer", "None, a TAMEExplainer, or the path of a saved one", explainer)
    shipped = shipped_explainer(kind, model)
    if shipped is not None:
        if extractor is not None:
            raise bad_argument("extractor", "None with the shipped explainer (it uses its own)", extractor)
        return shipped
    train = "train_t_tame(model, data)" if kind == "t_tame" else "train_p_tame(model, data, extractor=...)"
    raise ValueError(
        f"explainer: expected a trained {kind} explainer for {model.name}; got None, and only the bundled "
        "toy_cnn and toy_vit (with their shipped weights) have one shipped. Train one with "
        f"xwidgets.saliency.{kind}.{train} and pass explainer=<it, or the path it was saved to>"
    )


# ---------------------------------------------------------------------------- training


@dataclasses.dataclass
class TAMETraining:
    """How to train a TAME explainer. ``TAMETraining.t_tame()`` and
    ``TAMETraining.p_tame(backbone)`` hold the published defaults (module docstring).

    epochs: passes over ``data``. batch_size: images per step when ``data`` is a
    Dataset (an iterable of batches keeps its own). optimiser: "sgd" (momentum,
    Nesterov) or "adamw" (amsgrad). lr: the one-cycle peak (or the constant rate).
    momentum: SGD momentum. weight_decay: on weights (SGD: not on biases).
    schedule: "onecycle" or "constant". ce, area, smoothness: the loss weights.
    area_power: p of mean((m + 5e-4)^p). border: the smoothness term's border penalty.
    perturbation: "input" (x (.) M on the preprocessed input, T-TAME) or "black"
    (the pixels multiplied, P-TAME). seed: data order and attention initialisation.
    warmup: the share of the steps over which the area and smoothness weights rise
    linearly from 0 to their values (0, the papers': in full from the first step). A
    warm-up lets the cross-entropy raise each class's map on its evidence before the
    area term pulls the maps down: without it a class whose map starts low can die
    (sigmoid saturated at 0, no gradient left), which short trainings do not outlive.
    """

    epochs: int = 8
    batch_size: int = 32
    optimiser: str = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    ce: float = 1.5
    area: float = 2.0
    smoothness: float = 0.01
    area_power: float = 0.3
    border: float = 0.3
    perturbation: str = "input"
    seed: int = 0
    warmup: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad_argument(name, "a positive int", value)
        _choice(self.optimiser, "optimiser", OPTIMISERS)
        _choice(self.schedule, "schedule", SCHEDULES)
        _choice(self.perturbation, "perturbation", PERTURBATIONS)
        _number(self.lr, "lr", strict=True)
        for name in ("momentum", "weight_decay", "ce", "area", "smoothness", "border"):
            _number(getattr(self, name), name)
        _number(self.area_power, "area_power", strict=True)
        _number(self.warmup, "warmup")
        if self.warmup >= 1:
            raise bad_argument("warmup", "a share of the steps in [0, 1)", self.warmup)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)

    @classmethod
    def t_tame(cls, **overrides: Any) -> "TAMETraining":
        """T-TAME's published training (SGD, lr 1e-3, batch 32, 8 epochs, 1.5 / 2 / 0.01)."""
        return cls(**overrides)

    @classmethod
    def p_tame(cls, backbone: str = "resnet50", **overrides: Any) -> "TAMETraining":
        """P-TAME's published training for the paper's ``backbone`` ("resnet50", "vgg16"
        or "vit_b_16"; the loss weights and weight decay were tuned per backbone)."""
        presets = {
            "resnet50": dict(ce=0.16142940055382465, area=0.8385705994463174, smoothness=0.0,
                             weight_decay=0.00024266552933845608),
            "vgg16": dict(ce=0.07278, area=0.977712, smoothness=1e-4, weight_decay=0.13324),
            "vit_b_16": dict(ce=0.13129188542479736, area=0.8385705994463174, smoothness=0.0, border=0.0,
                             area_power=0.5, weight_decay=0.00013308961975909186),
        }
        if backbone not in presets:
            raise bad_argument("backbone", f"one of {', '.join(map(repr, presets))}", backbone)
        base = dict(epochs=1, batch_size=32, optimiser="adamw", lr=1e-4, perturbation="black", **presets[backbone])
        base.update(overrides)
        return cls(**base)


def _choice(value: Any, argument: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise bad_argument(argument, f"one of {', '.join(repr(c) for c in choices)}", value)


def _number(value: Any, argument: str, strict: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if strict else value < 0):
        raise bad_argument(argument, f"a finite number {'> 0' if strict else '>= 0'}", value)


def area_loss(maps: torch.Tensor, power: float) -> torch.Tensor:
    """mean((m + 5e-4)^power) (the offset keeps the gradient finite at 0)."""
    return (maps + 5e-4).pow(power).mean()


def smoothness_loss(maps: torch.Tensor, border: float, power: float = 2.0) -> torch.Tensor:
    """(sum |dm/dy|^p + sum |dm/dx|^p + border * sum of the border values^p) / (p B),
    for (B, K, h, w) maps: the authors' total variation, normalised by the batch."""
    dy = (maps[..., 1:, :] - maps[..., :-1, :]).abs().pow(power).sum()
    dx = (maps[..., :, 1:] - maps[..., :, :-1]).abs().pow(power).sum()
    edge = maps.new_zeros(())
    if border > 0:
        edge = border * (maps[..., 0, :].pow(power).sum() + maps[..., -1, :].pow(power).sum()
                         + maps[..., :, 0].pow(power).sum() + maps[..., :, -1].pow(power).sum())
    return (dy + dx + edge) / (power * maps.shape[0])


def perturb(model: ModelAdapter, inputs: torch.Tensor, masks: torch.Tensor, how: str) -> torch.Tensor:
    """The inputs with (B, 1, H, W) masks applied: "input" multiplies the preprocessed
    input; "black" multiplies the pixels (so removed pixels turn black)."""
    if how == "input":
        return inputs * masks
    pre = model.preprocess
    black = (-torch.tensor(pre.mean, dtype=inputs.dtype, device=inputs.device)
             / torch.tensor(pre.std, dtype=inputs.dtype, device=inputs.device)).view(1, 3, 1, 1)
    return black + masks * (inputs - black)


def tame_loss(explainer: TAMEExplainer, model: ModelAdapter, inputs: torch.Tensor,
              config: TAMETraining, ramp: float = 1.0) -> dict[str, torch.Tensor]:
    """One training step's loss on a batch of preprocessed inputs: a dict with "loss"
    and its terms "ce", "area", "smoothness" (unweighted), with gradients to the
    attention mechanism only. ``ramp`` scales the area and smoothness weights (the
    warm-up)."""
    logits, features = explainer.logits_and_features(model, inputs)
    labels = logits.argmax(dim=1)  # the classifier's own predictions are the labels
    maps = torch.sigmoid(explainer.class_logits(features))  # (B, C, h, w)
    b = inputs.shape[0]
    own = maps[torch.arange(b, device=maps.device), labels][:, None]  # (B, 1, h, w)
    masks = F.interpolate(own, size=tuple(inputs.shape[-2:]), mode="bilinear", align_corners=False)
    masked_logits = model.logits(perturb(model, inputs, masks.to(inputs.dtype), config.perturbation))
    ce = F.cross_entropy(masked_logits.float(), labels)
    regularised = maps[:, labels]  # every target of the batch for every image (the authors' "random map select")
    area = area_loss(regularised, config.area_power)
    smooth = smoothness_loss(regularised, config.border)
    loss = config.ce * ce + ramp * (config.area * area + config.smoothness * smooth)
    return {"loss": loss, "ce": ce.detach(), "area": area.detach(), "smoothness": smooth.detach()}


def _batches(data: Any, model: ModelAdapter, config: TAMETraining, epoch: int,
             float_pixels: bool) -> Iterable[torch.Tensor]:
    """The batches of one epoch as preprocessed inputs on the model's device."""
    from ..data.synthetic import SyntheticParts

    if isinstance(data, SyntheticParts):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(data))
        for lo in range(0, len(order), config.batch_size):
            pixels = np.stack([data.image(int(i)) for i in order[lo:lo + config.batch_size]])
            yield _to_inputs(pixels, model, False)
        return
    if isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        loader = torch.utils.data.DataLoader(data, batch_size=config.batch_size, shuffle=True, generator=generator)
        for batch in loader:
            yield _to_inputs(batch, model, float_pixels)
        return
    for batch in data:
        yield _to_inputs(batch, model, float_pixels)


def _to_inputs(batch: Any, model: ModelAdapter, float_pixels: bool) -> torch.Tensor:
    """A batch as (B, 3, H, W) preprocessed inputs: float tensors are model inputs (or
    [0, 1] pixels with ``float_pixels``), uint8 arrays and tensors are pixels, (images,
    labels) pairs give their images (TAME's labels are the classifier's predictions)."""
    if isinstance(batch, (tuple, list)) and batch and not isinstance(batch[0], (int, np.integer)):
        if isinstance(batch[0], (torch.Tensor, np.ndarray)) and getattr(batch[0], "ndim", 0) == 4:
            batch = batch[0]
    h, w = model.preprocess.size
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if isinstance(batch, torch.Tensor) and batch.ndim == 4:
        if batch.dtype == torch.uint8:
            pixels = batch if batch.shape[-1] == 3 else batch.permute(0, 2, 3, 1)
            if tuple(pixels.shape[1:3]) != (h, w):
                raise bad_argument("data", f"batches of {h}x{w} images (the model's input size)", batch)
            return model.preprocess.normalise(pixels.cpu().numpy(), model.device)
        if batch.is_floating_point() and batch.shape[1] == 3:
            if tuple(batch.shape[-2:]) != (h, w):
                raise bad_argument("data", f"batches of {h}x{w} images (the model's input size)", batch)
            if float_pixels:
                return model.preprocess.normalise((batch.permute(0, 2, 3, 1) * 255.0).cpu(), model.device)
            return batch.to(model.device, torch.float32)
    if isinstance(batch, Sequence) and not isinstance(batch, str):
        return model.prepare(list(batch))[0]
    raise bad_argument(
        "data", "a Dataset, or an iterable of batches: (B, 3, H, W) float tensors, (B, H, W, 3) uint8 pixels, "
        "(images, labels) pairs or lists of images", batch,
    )


def _steps_per_epoch(data: Any, config: TAMETraining, steps_per_epoch: int | None) -> int | None:
    if steps_per_epoch is not None:
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise bad_argument("steps_per_epoch", "a positive int", steps_per_epoch)
        return steps_per_epoch
    if isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        return max(1, math.ceil(len(data) / config.batch_size))
    try:
        return len(data)
    except TypeError:
        return None


def _optimiser(explainer: TAMEExplainer, config: TAMETraining, total: int | None):
    params = explainer.attention
    if config.optimiser == "sgd":
        biases = [p for n, p in params.named_parameters() if n.endswith("bias")]
        weights = [p for n, p in params.named_parameters() if not n.endswith("bias")]
        optimiser = torch.optim.SGD(
            [{"params": weights, "weight_decay": config.weight_decay}, {"params": biases, "weight_decay": 0.0}],
            lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
        )
    else:
        optimiser = torch.optim.AdamW(params.parameters(), lr=config.lr, weight_decay=config.weight_decay, amsgrad=True)
    schedule = None
    if config.schedule == "onecycle":
        if total is None:
            raise bad_argument("steps_per_epoch", "an int when data has no len() (the one-cycle schedule needs "
                               "the number of steps)", None)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=max(total, 2))
    return optimiser, schedule


def train_tame(
    explainer: TAMEExplainer,
    model: Any,
    data: Any,
    config: TAMETraining | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    steps_per_epoch: int | None = None,
    float_pixels: bool = False,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, float]], Any] | None = None,
    callback_every: int = 10,
) -> TAMEExplainer:
    """Train ``explainer``'s attention mechanism for ``model`` on ``data`` (in place) and
    return it in eval mode, with ``explainer.history`` (mean losses per epoch).

    Args:
        data: a torch Dataset (e.g. ``SyntheticParts``; shuffled per epoch from the
            seed) or any iterable of batches (a DataLoader; see ``_to_inputs`` for the
            accepted batch forms). Labels are ignored: TAME learns to explain the
            classifier's own predictions.
        config: a :class:`TAMETraining` (default: the published defaults of the kind).
        checkpoint: a file written after every epoch (attention, optimiser and schedule
            state, history); with ``resume`` an existing one is loaded and training goes
            on from the next epoch (a finished run returns at once).
        steps_per_epoch: for iterables without ``len()`` under the one-cycle schedule.
        float_pixels: float batches are [0, 1] pixels (torchvision's ``ToTensor``), not
            preprocessed inputs.
        progress: a tqdm.auto bar (None: on above 50 steps).
        callback: ``callback(step, record)`` every ``callback_every`` steps with the
            step's losses ({"epoch", "loss", "ce", "area", "smoothness", "lr"}).
    """
    if not isinstance(explainer, TAMEExplainer):
        raise bad_argument("explainer", "a TAMEExplainer (build_t_tame / build_p_tame)", explainer)
    adapter = wrap(model)
    if config is None:
        config = TAMETraining.t_tame() if explainer.kind == "t_tame" else TAMETraining.p_tame()
    if not isinstance(config, TAMETraining):
        raise bad_argument("config", "a TAMETraining", config)
    if progress is not None and not isinstance(progress, bool):
        raise bad_argument("progress", "True, False or None (on above 50 steps)", progress)
    if callback is not None and not callable(callback):
        raise bad_argument("callback", "None or a callable(step, record)", callback)
    if isinstance(callback_every, bool) or not isinstance(callback_every, int) or callback_every < 1:
        raise bad_argument("callback_every", "a positive int", callback_every)
    if isinstance(data, (str, bytes)) or not (isinstance(data, torch.utils.data.Dataset) or hasattr(data, "__iter__")):
        raise bad_argument("data", "a Dataset or an iterable of image batches", data)
    if explainer.info.get("model_fingerprint") not in (None, model_fingerprint(adapter.model)):
        raise bad_argument("model", f"the classifier the explainer was built for ({explainer.info.get('model')})",
                           adapter.name, "Build a new explainer for this model")
    per_epoch = _steps_per_epoch(data, config, steps_per_epoch)
    total = None if per_epoch is None else per_epoch * config.epochs
    if config.warmup > 0 and total is None:
        raise bad_argument("steps_per_epoch", "an int when data has no len() (the warm-up needs the number of "
                           "steps)", None)
    warm_steps = 0.0 if total is None else config.warmup * total
    device = adapter.device
    explainer.prepare(device)
    optimiser, schedule = _optimiser(explainer, config, total)
    start_epoch, history, seconds = 0, list(explainer.history), 0.0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and resume and path.is_file():
        state = torch.load(path, map_location=device, weights_only=True)
        if state.get("config") != plain(dataclasses.asdict(config)) or state.get("layers") != explainer.layers:
            raise bad_argument("checkpoint", "a checkpoint of this training (same settings and layers)", str(path),
                               "Delete it or pass resume=False to start over")
        explainer.attention.load_state_dict(state["attention"])
        optimiser.load_state_dict(state["optimiser"])
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
        start_epoch, history, seconds = int(state["epoch"]), list(state["history"]), float(state["seconds"])
    show = progress if progress is not None else (total or 0) > 50
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start_epoch * (per_epoch or 0), desc=f"training {explainer.kind}", leave=False)
    step = start_epoch * (per_epoch or 0)
    images = int(explainer.info.get("images_seen", 0))
    try:
        with frozen_eval(adapter.model):
            for epoch in range(start_epoch, config.epochs):
                began = time.perf_counter()
                explainer.attention.train()
                sums = {"loss": 0.0, "ce": 0.0, "area": 0.0, "smoothness": 0.0}
                count = 0
                for inputs in _batches(data, adapter, config, epoch, float_pixels):
                    with torch.enable_grad():
                        ramp = 1.0 if warm_steps == 0 else min(1.0, step / warm_steps)
                        terms = tame_loss(explainer, adapter, inputs, config, ramp)
                        optimiser.zero_grad(set_to_none=True)
                        terms["loss"].backward()
                    optimiser.step()
                    if schedule is not None and schedule.last_epoch + 1 < schedule.total_steps:
                        schedule.step()
                    step += 1
                    count += 1
                    images += inputs.shape[0]
                    record = {k: float(v.detach()) for k, v in terms.items()}
                    for key in sums:
                        sums[key] += record[key]
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{record['loss']:.4g}", ce=f"{record['ce']:.3g}", refresh=False)
                    if callback is not None and step % callback_every == 0:
                        callback(step, {"epoch": epoch, **record, "lr": optimiser.param_groups[0]["lr"]})
                if count == 0:
                    raise bad_argument("data", "at least one batch per epoch", data)
                seconds += time.perf_counter() - began
                history.append({"epoch": epoch + 1, "steps": count, **{k: v / count for k, v in sums.items()}})
                explainer.history = history
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    torch.save({
                        "epoch": epoch + 1, "attention": explainer.attention.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "schedule": schedule.state_dict() if schedule is not None else None,
                        "history": plain(history), "seconds": seconds, "layers": explainer.layers,
                        "config": plain(dataclasses.asdict(config)),
                    }, path)
    finally:
        if bar is not None:
            bar.close()
        explainer.attention.eval()
    explainer.history = history
    explainer.info.update(training=plain(dataclasses.asdict(config)), train_seconds=round(seconds, 1),
                          images_seen=images)
    return explainer.eval()


# ---------------------------------------------------------------------------- explanation maps


def explain_maps(kind: str, model: ModelAdapter, inputs: torch.Tensor, plan: Any, explainer: Any,
                 extractor: Any, normalise: bool):
    """The registered methods' compute: one forward of the classifier (with hooks),
    the attention mechanism, the maps of the target classes."""
    from .registry import MethodOutput
    from .targets import Contrast

    if plan.is_callable or isinstance(plan.target, Contrast):
        raise bad_argument("target", f'"pred", a class index, one per image or TopK(k): {kind} has one learned map '
                           "per class, none for a score of the logits", plan.target)
    chosen = resolve_explainer(kind, explainer, model, extractor)
    chosen.prepare(inputs.device)
    was_training = chosen.attention.training
    chosen.attention.eval()
    try:
        logits, features = chosen.logits_and_features(model, inputs)
        with torch.no_grad():
            maps = torch.sigmoid(chosen.class_logits(features))  # (B, C, h, w)
    finally:
        chosen.attention.train(was_training)
    passes = plan.passes(logits)
    index = torch.arange(inputs.shape[0], device=maps.device)
    selected = torch.stack([maps[index, classes.to(maps.device)] for classes in passes])  # (K, B, h, w)
    if normalise:
        low = selected.amin(dim=(-2, -1), keepdim=True)
        high = selected.amax(dim=(-2, -1), keepdim=True)
        selected = (selected - low) / (high - low).clamp_min(1e-8)
    return MethodOutput(maps=selected, logits=logits, targets=torch.stack(passes))


# ---------------------------------------------------------------------------- a check of the maps


def pointing_game(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray, tolerance: float = 0) -> np.ndarray:
    """Per map, whether its maximum falls inside the mask or closer than ``tolerance``
    pixels to it: (N, H, W) maps and masks -> (N,) bool. The same test as the registered
    ``pointing_game`` metric (:func:`xwidgets.metrics.pointing_game.pointing_hits`), on
    plain arrays, for the training script and its checks."""
    from ..metrics.pointing_game import pointing_hits

    def host(a: torch.Tensor | np.ndarray) -> np.ndarray:
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    return pointing_hits(host(maps), host(masks), tolerance)[0]
