"""ModelAdapter: a classifier with its preprocessing, class names and default layers."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .._validation import bad_argument
from .hooks import frozen_eval
from .inputs import Images, prepare_images
from .layers import detect_cam_layer, get_layer, vit_blocks
from .preprocess import Preprocess


class ModelAdapter:
    """Wraps any ``nn.Module`` classifier (torchvision, timm, Hugging Face, your own).

    Args:
        model: the classifier; its output is logits, or an object with ``.logits``
            (Hugging Face), or a tuple whose first element is logits.
        preprocess: how raw images become inputs (default: guessed from the model,
            else torchvision's ImageNet preprocessing at 224 px).
        labels: class names, one per output (default: ImageNet names for 1000-way
            torchvision/timm models, ``id2label`` for Hugging Face, else "class i").
        cam_layer: dotted name of the default layer for CAM methods (default: the
            last spatial feature map, or a ViT's last pre-attention norm).
        name: a display name.
    """

    def __init__(
        self,
        model: nn.Module,
        preprocess: Preprocess | None = None,
        labels: Sequence[str] | None = None,
        cam_layer: str | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise bad_argument("model", "a torch.nn.Module classifier", model)
        if preprocess is not None and not isinstance(preprocess, Preprocess):
            raise bad_argument("preprocess", "an xwidgets.models.Preprocess", preprocess)
        self.model = model
        self.preprocess = preprocess or _guess_preprocess(model)
        self.name = name or type(model).__name__
        self._labels = list(labels) if labels is not None else None
        self._cam_layer = cam_layer
        self._num_classes: int | None = None
        if cam_layer is not None:
            get_layer(model, cam_layer)  # fail now, with suggestions

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        for tensor in self.model.parameters():
            return tensor.device
        for tensor in self.model.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def num_classes(self) -> int:
        if self._num_classes is None:
            self._num_classes = int(self.logits(self._example()).shape[-1])
        return self._num_classes

    @property
    def labels(self) -> list[str]:
        if self._labels is None:
            self._labels = _guess_labels(self.model, self.num_classes)
        elif len(self._labels) != self.num_classes:
            raise ValueError(
                f"labels: expected {self.num_classes} names, one per model output; got {len(self._labels)}"
            )
        return self._labels

    @property
    def cam_layer(self) -> str:
        if self._cam_layer is None:
            with frozen_eval(self.model):
                self._cam_layer = detect_cam_layer(self.model, self._example())
        return self._cam_layer

    @property
    def attention_blocks(self) -> list[str]:
        """Dotted names of the attention modules of a ViT (empty for other models)."""
        return [attn for _, _, attn in (vit_blocks(self.model) or [])]

    def layer(self, name: str) -> nn.Module:
        """The submodule ``name``; unknown names fail with the closest names listed."""
        return get_layer(self.model, name)

    def layer_names(self) -> list[str]:
        return [name for name, _ in self.model.named_modules() if name]

    # ------------------------------------------------------------------ running
    def prepare(self, images: Images) -> tuple[torch.Tensor, np.ndarray]:
        """(inputs on the model's device, display pixels (N,H,W,3) uint8)."""
        return prepare_images(images, self.preprocess, self.device)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Forward pass returning a (B, C) logits tensor, whatever the model returns.

        Images on the CPU go in channels-last memory layout (a copy only when they are not
        already: ``preprocess`` makes them so): oneDNN's convolutions run 1.1-1.8 x faster
        that way on this project's 2-core CPU (forward + backward, measured on toy_cnn,
        efficientnet_lite0, resnet50 and vgg11) and never slower, and the values are the
        same up to float rounding. On a GPU the layout is left as it comes."""
        if inputs.ndim == 4 and inputs.device.type == "cpu":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return as_logits(self.model(inputs), self.name)

    @torch.no_grad()
    def predict(self, images: Images) -> np.ndarray:
        """Softmax probabilities (N, C) for raw or preprocessed images."""
        inputs, _ = self.prepare(images)
        with frozen_eval(self.model):
            return torch.softmax(self.logits(inputs), dim=-1).float().cpu().numpy()

    def top_classes(self, images: Images, k: int = 5) -> list[list[tuple[str, float]]]:
        """The k most probable (label, probability) pairs per image."""
        probs = self.predict(images)
        order = np.argsort(-probs, axis=1)[:, :k]
        return [[(self.labels[c], float(p[c])) for c in row] for p, row in zip(probs, order)]

    def to(self, device: torch.device | str) -> "ModelAdapter":
        self.model.to(device)
        return self

    def _example(self) -> torch.Tensor:
        h, w = self.preprocess.size
        return torch.zeros(1, 3, h, w, device=self.device)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.logits(inputs)

    def __repr__(self) -> str:
        h, w = self.preprocess.size
        return f"ModelAdapter({self.name}, input={h}x{w}, cam_layer={self._cam_layer!r})"


def as_logits(output: Any, name: str = "model") -> torch.Tensor:
    """Logits from a model's output: a tensor, ``.logits``, or a tuple's first element."""
    if hasattr(output, "logits"):
        output = output.logits
    elif isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        raise TypeError(
            f"{name}: expected the model to return (B, C) logits; got "
            f"{type(output).__name__}{'' if not hasattr(output, 'shape') else ' of shape ' + str(tuple(output.shape))}"
        )
    return output


def wrap(
    model: nn.Module | ModelAdapter,
    preprocess: Preprocess | None = None,
    labels: Sequence[str] | None = None,
    cam_layer: str | None = None,
    name: str | None = None,
) -> ModelAdapter:
    """Wrap a classifier for xwidgets (an adapter is returned as is)."""
    if isinstance(model, ModelAdapter):
        if preprocess is None and labels is None and cam_layer is None and name is None:
            return model
        return ModelAdapter(
            model.model,
            preprocess=preprocess or model.preprocess,
            labels=labels if labels is not None else model._labels,
            cam_layer=cam_layer or model._cam_layer,
            name=name or model.name,
        )
    return ModelAdapter(model, preprocess=preprocess, labels=labels, cam_layer=cam_layer, name=name)


def _guess_preprocess(model: nn.Module) -> Preprocess:
    cfg = getattr(model, "pretrained_cfg", None)  # timm
    if isinstance(cfg, dict) and "input_size" in cfg:
        return Preprocess.from_values(
            cfg["input_size"][-2:], cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225)),
            crop_pct=cfg.get("crop_pct"),
        )
    config = getattr(model, "config", None)  # Hugging Face
    if config is not None and hasattr(config, "image_size"):
        size = config.image_size
        return Preprocess.from_values(size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    image_size = getattr(model, "image_size", None)  # torchvision VisionTransformer
    if isinstance(image_size, int):
        return Preprocess.imagenet(size=image_size, resize=round(image_size * 256 / 224))
    return Preprocess.imagenet()


def _guess_labels(model: nn.Module, num_classes: int) -> list[str]:
    config = getattr(model, "config", None)
    id2label: Callable | dict | None = getattr(config, "id2label", None)
    if isinstance(id2label, dict) and len(id2label) == num_classes:
        names = [str(id2label.get(i, id2label.get(str(i), f"class {i}"))) for i in range(num_classes)]
        if not all(n.startswith("LABEL_") for n in names):
            return names
    if num_classes == 1000:
        from .zoo.imagenet import imagenet_labels

        return imagenet_labels()
    return [f"class {i}" for i in range(num_classes)]
