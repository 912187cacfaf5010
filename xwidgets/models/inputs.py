"""Converting user images to model inputs, once, at the boundary.

Accepted: PIL images, HxWx3 uint8 arrays, file paths, a list of any of these,
an (N,H,W,3) uint8 array, uint8 tensors (pixels), and float CxHxW / BxCxHxW
tensors, which are taken to be model inputs that are already preprocessed.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Sequence, Union

import numpy as np
import torch
from PIL import Image

from .._validation import Described, bad_argument, describe
from .preprocess import Preprocess

ImageLike = Union[Image.Image, np.ndarray, torch.Tensor, str, os.PathLike]
Images = Union[ImageLike, Sequence[ImageLike]]

_RGB_HINT = "Images must be RGB: convert with PIL's image.convert('RGB'), or stack a grayscale array to 3 channels"


def prepare_images(images: Images, preprocess: Preprocess, device: torch.device | str) -> tuple[torch.Tensor, np.ndarray]:
    """Return (model inputs (N,3,H,W) float32 on ``device``, display pixels (N,H,W,3) uint8)."""
    if isinstance(images, torch.Tensor) and images.is_floating_point():
        inputs = _float_tensor_inputs(images, preprocess)
        return inputs.to(device), preprocess.denormalise(inputs)
    items = _as_list(images)
    if not items:
        raise bad_argument("images", "at least one image", images)
    pixels = np.stack([preprocess.fit(_to_pil(item, i)) for i, item in enumerate(items)])
    return preprocess.normalise(pixels, device), pixels


def _as_list(images: Images) -> list[Any]:
    if isinstance(images, (Image.Image, str, os.PathLike)):
        return [images]
    if isinstance(images, torch.Tensor):  # uint8 tensor of pixels
        images = images.detach().cpu().numpy()
        if images.ndim == 3 and images.shape[0] == 3 and images.shape[-1] != 3:
            images = images.transpose(1, 2, 0)
        elif images.ndim == 4 and images.shape[1] == 3 and images.shape[-1] != 3:
            images = images.transpose(0, 2, 3, 1)
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        return [images]
    if isinstance(images, Sequence):
        return list(images)
    raise bad_argument(
        "images", "a PIL image, an HxWx3 uint8 array, a file path, a tensor, or a list of these", images
    )


def _to_pil(item: Any, position: int) -> Image.Image:
    where = f"images[{position}]"
    if isinstance(item, (str, os.PathLike)):
        path = pathlib.Path(item)
        if not path.is_file():
            raise bad_argument(where, "an existing image file", str(path))
        with Image.open(path) as opened:
            opened.load()
            item = opened.copy()
    if isinstance(item, Image.Image):
        if item.mode != "RGB":
            raise bad_argument(where, "an RGB image", Described(f"a PIL image in mode {item.mode!r}"), _RGB_HINT)
        return item
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
        if item.ndim == 3 and item.shape[0] == 3 and item.shape[-1] != 3:
            item = item.transpose(1, 2, 0)
    if isinstance(item, np.ndarray):
        if item.ndim != 3 or item.shape[-1] != 3:
            raise bad_argument(where, "an HxWx3 RGB array", item, _RGB_HINT)
        if item.dtype != np.uint8:
            raise bad_argument(
                where, "uint8 pixels in [0, 255]", item,
                "Float arrays are ambiguous ([0,1] or [0,255]?): convert with (x * 255).astype(np.uint8), "
                "or pass a preprocessed float tensor",
            )
        return Image.fromarray(np.ascontiguousarray(item))
    raise bad_argument(where, "a PIL image, an HxWx3 uint8 array, a file path or a tensor", item)


def _float_tensor_inputs(images: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    if images.ndim == 3:
        images = images.unsqueeze(0)
    h, w = preprocess.size
    if images.ndim != 4 or images.shape[1] != 3:
        raise bad_argument("images", f"a preprocessed float tensor of shape (3,{h},{w}) or (B,3,{h},{w})", images)
    if tuple(images.shape[-2:]) != (h, w):
        raise bad_argument(
            "images", f"spatial size ({h}, {w}) for this model's preprocessed inputs", images,
            "Pass PIL images or uint8 arrays to have them resized",
        )
    if not torch.isfinite(images).all():
        raise ValueError(f"images: expected finite values; got NaN or infinity in {describe(images)}")
    return images.detach().to(torch.float32)
