"""Where a patch lies in its image, in words: a 3x3 grid of regions and their phrasings.

Seed 000, paragraph 0027, describes concepts by position ("side mirror 2 shown in the
top right corner of the image", "wheel 4 in the bottom right corner"). A region is
decided by the patch's centroid in thirds of the image width and height; every
region has several wordings so that captions vary (paragraph 0024: "varying the
textual descriptions to increase the diversity of the training dataset").
"""

from __future__ import annotations

import math
import numbers
from types import MappingProxyType
from typing import Mapping

from .._validation import bad_argument

__all__ = ["REGIONS", "REGION_PHRASES", "region_of"]

#: The nine regions, row by row (top, middle, bottom) and left to right.
REGIONS: tuple[str, ...] = (
    "top left", "top", "top right",
    "left", "centre", "right",
    "bottom left", "bottom", "bottom right",
)


def _corner(vertical: str, horizontal: str) -> tuple[str, ...]:
    upper = "upper" if vertical == "top" else "lower"
    return (
        f"at the {vertical} {horizontal} of the image",
        f"in the {vertical} {horizontal} corner",
        f"in the {vertical} {horizontal} corner of the image",
        f"in the {upper} {horizontal} part of the image",
        f"at the {vertical} {horizontal}",
    )


#: Wordings of each region; the first is the canonical one.
REGION_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "top left": _corner("top", "left"),
    "top": ("at the top of the image", "at the top", "near the top edge", "in the upper part of the image"),
    "top right": _corner("top", "right"),
    "left": ("on the left of the image", "on the left", "on the left side", "near the left edge"),
    "centre": ("in the centre of the image", "in the middle", "at the centre", "in the middle of the image"),
    "right": ("on the right of the image", "on the right", "on the right side", "near the right edge"),
    "bottom left": _corner("bottom", "left"),
    "bottom": ("at the bottom of the image", "at the bottom", "near the bottom edge", "in the lower part of the image"),
    "bottom right": _corner("bottom", "right"),
})


def _real(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise bad_argument(argument, "a finite number", value)
    return float(value)


def region_of(x: float, y: float, width: float, height: float) -> str:
    """The region (one of :data:`REGIONS`) of the point (x, y) in a ``width`` x
    ``height`` image: thirds of each side, pixel coordinates (x right, y down)."""
    x, y = _real(x, "x"), _real(y, "y")
    width, height = _real(width, "width"), _real(height, "height")
    if width <= 0:
        raise bad_argument("width", "a positive number", width)
    if height <= 0:
        raise bad_argument("height", "a positive number", height)
    col = min(2, max(0, int(3 * x / width)))
    row = min(2, max(0, int(3 * y / height)))
    return REGIONS[3 * row + col]
