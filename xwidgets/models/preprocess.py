"""Preprocessing: geometry (resize, centre crop) then normalisation, kept apart.

Keeping the two steps apart lets every result carry the image exactly as the model
saw it (after resize and crop), which is what an overlay must be drawn on.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .._validation import bad_argument

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """How raw RGB images become model inputs.

    Attributes:
        size: model input (height, width).
        resize: shorter side before the centre crop (e.g. 256 for a 224 crop), or
            None to resize straight to ``size``.
        mean, std: per-channel normalisation applied to ``pixels * scale``.
        scale: multiplier taking uint8 pixel values to the range ``mean`` and ``std``
            are expressed in (1/255 for torchvision-style, 1.0 for (x-127)/128).
    """

    size: tuple[int, int] = (224, 224)
    resize: int | None = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        size = (self.size, self.size) if isinstance(self.size, int) else tuple(int(s) for s in self.size)
        if len(size) != 2 or min(size) < 1:
            raise bad_argument("preprocess.size", "a positive int or (height, width)", self.size)
        object.__setattr__(self, "size", size)
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise bad_argument(f"preprocess.{name}", "three per-channel values", getattr(self, name))
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise bad_argument("preprocess.std", "positive values", self.std)

    # -------------------------------------------------------------- geometry
    def fit(self, image: Image.Image) -> np.ndarray:
        """Resize (and centre-crop) one RGB PIL image to ``size``; returns HxWx3 uint8."""
        h, w = self.size
        if self.resize is None:
            return np.asarray(image.resize((w, h), Image.BILINEAR), dtype=np.uint8)
        iw, ih = image.size
        ratio = self.resize / min(iw, ih)
        nw, nh = max(w, round(iw * ratio)), max(h, round(ih * ratio))
        resized = image.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - w) // 2, (nh - h) // 2
        return np.asarray(resized.crop((left, top, left + w, top + h)), dtype=np.uint8)

    # -------------------------------------------------------------- normalisation
    def normalise(self, pixels: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """(N,H,W,3) uint8 pixels -> (N,3,H,W) float32 model inputs on ``device``."""
        tensor = torch.as_tensor(np.ascontiguousarray(pixels), device=device)
        tensor = tensor.permute(0, 3, 1, 2).to(torch.float32) * self.scale
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return (tensor - mean) / std

    def denormalise(self, inputs: torch.Tensor) -> np.ndarray:
        """(N,3,H,W) model inputs -> (N,H,W,3) uint8 pixels (clipped), for display."""
        mean = torch.tensor(self.mean, device=inputs.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=inputs.device).view(1, 3, 1, 1)
        pixels = (inputs.detach().float() * std + mean) / self.scale
        return pixels.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @classmethod
    def imagenet(cls, size: int = 224, resize: int | None = 256) -> "Preprocess":
        """torchvision's ImageNet preprocessing."""
        return cls(size=(size, size), resize=resize)

    @classmethod
    def from_values(cls, size: int | Sequence[int], mean: Sequence[float], std: Sequence[float], crop_pct: float | None = None) -> "Preprocess":
        """Build from (size, mean, std) in [0,1] units, with an optional timm-style crop_pct."""
        size_hw = (size, size) if isinstance(size, int) else tuple(size)[-2:]
        resize = None if crop_pct is None else int(round(min(size_hw) / crop_pct))
        return cls(size=size_hw, resize=resize, mean=tuple(mean), std=tuple(std))
