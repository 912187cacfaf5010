"""SaliencyViewer: one image with the saliency map of a chosen class overlaid.

All the maps of the image (one per explained class) are sent once, as a float16 buffer,
so that switching class, opacity and colour map, and the hover read-out, happen in the
browser with no kernel round trip. The front end is ``js/saliency_viewer.ts``.

Trait contract (Python <-> JS):

===========  ==================================================================
``image``    ``{"png": bytes, "width": int, "height": int}``: the display image
``maps``     ``{"data": bytes, "dtype": "float16"|"float32", "shape": [K, H, W]}``
``classes``  ``[{"index": int, "label": str, "probability": float|None}]`` (K)
``selected`` position in ``classes`` (synced both ways)
``opacity``  float in [0, 1]
``colormap`` one of :data:`COLORMAPS`
``title``    heading text; ``method``: the method line under it
===========  ==================================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, NamedTuple

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from .base import XWidget
from .serialise import array_payload, float16_safe, image_payload

__all__ = ["SaliencyViewer", "COLORMAPS", "ClassInfo"]

#: colour maps the front end knows (js/lib/colormaps.ts, COLORMAP_NAMES); viridis is the
#: colour-blind-safe default
COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis", "gray")

_MAP_DTYPES = ("float16", "float32")


class ClassInfo(NamedTuple):
    """One class of the viewer: its position in the picker, class index, label, probability."""

    position: int
    index: int
    label: str
    probability: float | None


def _check_int(argument: str, value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise bad_argument(argument, f"an int {what} in [{low}, {high})", value)
    value = int(value)
    if not low <= value < high:
        raise bad_argument(argument, f"an int {what} in [{low}, {high})", value)
    return value


def _check_opacity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise bad_argument("opacity", "a number in [0, 1]", value)
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise bad_argument("opacity", "a number in [0, 1]", value)
    return value


def _check_colormap(value: Any) -> str:
    if not isinstance(value, str) or value not in COLORMAPS:
        raise bad_argument("colormap", f"one of {', '.join(repr(c) for c in COLORMAPS)}", value)
    return value


def _format_elapsed(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class SaliencyViewer(XWidget):
    """Interactive viewer of the saliency maps of one image, one map per explained class.

    Args:
        saliency: a :class:`~xwidgets.saliency.result.Saliency` result.
        image: which image of the result to show (its rows become the classes).
        opacity: heatmap opacity in [0, 1].
        colormap: one of :data:`COLORMAPS` (viridis by default, colour-blind safe).
        selected: position, among the image's rows, of the class shown first.
        title: heading; by default the image number and the model's prediction.
        maps_dtype: ``"float16"`` (default, half the bytes) or ``"float32"``. Maps whose
            values float16 cannot carry (peak above 65504 or below 1e-3, as raw gradients
            often are) are sent as float32 whatever is asked; see :attr:`maps_dtype`.
    """

    _module = "saliency_viewer"

    image = traitlets.Dict().tag(sync=True)
    maps = traitlets.Dict().tag(sync=True)
    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    method = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        saliency: Any,
        image: int = 0,
        *,
        opacity: float = 0.5,
        colormap: str = "viridis",
        selected: int = 0,
        title: str | None = None,
        maps_dtype: str = "float16",
    ) -> None:
        from ..saliency.result import Saliency

        if not isinstance(saliency, Saliency):
            raise bad_argument("saliency", "a Saliency result (from xw.explain)", saliency)
        n = saliency.num_images
        if n == 0:
            raise bad_argument("saliency", "a result with at least one image", saliency)
        image = _check_int("image", image, 0, n, "image number")
        rows = saliency.rows_for_image(image)
        if rows.size == 0:
            raise bad_argument("image", "an image with at least one map", image, f"Image {image} has no rows in this result")
        selected = _check_int("selected", selected, 0, rows.size, "class position")
        opacity = _check_opacity(opacity)
        colormap = _check_colormap(colormap)
        if maps_dtype not in _MAP_DTYPES:
            raise bad_argument("maps_dtype", f"one of {', '.join(repr(d) for d in _MAP_DTYPES)}", maps_dtype)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)

        maps = saliency.maps[rows]
        if maps_dtype == "float16" and not float16_safe(maps):
            maps_dtype = "float32"
        #: the dtype the maps were actually sent as
        self.maps_dtype = maps_dtype
        #: which image of the result this viewer shows
        self.image_number = image
        self._method_name = saliency.method

        probabilities = saliency.probabilities[image]
        classes = []
        for row in rows:
            target = int(saliency.targets[row])
            known = 0 <= target < probabilities.shape[0]
            classes.append(
                {
                    "index": target,
                    "label": saliency.target_label(int(row)),
                    "probability": float(probabilities[target]) if known else None,
                }
            )

        if title is None:
            title = f"Image {image}"
            if probabilities.size and len(saliency.labels) == probabilities.shape[0]:
                top = int(probabilities.argmax())
                title += f": predicted {saliency.labels[top]} ({probabilities[top] * 100:.1f}%)"
        method_text = saliency.method
        if saliency.layer:
            method_text += f" \u00b7 layer {saliency.layer}"
        if saliency.elapsed > 0:
            method_text += f" \u00b7 {_format_elapsed(saliency.elapsed)} for {len(saliency)} maps"

        super().__init__(
            image=image_payload(saliency.images[image]),
            maps=array_payload(maps, maps_dtype),
            classes=classes,
            selected=selected,
            opacity=opacity,
            colormap=colormap,
            title=title,
            method=method_text,
        )

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> int:
        value = proposal["value"]
        k = len(self.classes)
        if not 0 <= value < k:
            raise traitlets.TraitError(f"selected: expected a class position in [0, {k}); got {describe(value)}")
        return value

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise traitlets.TraitError(f"opacity: expected a number in [0, 1]; got {describe(value)}")
        return value

    @traitlets.validate("colormap")
    def _validate_colormap(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in COLORMAPS:
            raise traitlets.TraitError(
                f"colormap: expected one of {', '.join(repr(c) for c in COLORMAPS)}; got {describe(value)}"
            )
        return value

    # ------------------------------------------------------------------ access
    @property
    def selected_class(self) -> ClassInfo:
        """The class shown now: position in the picker, class index, label and probability."""
        c = self.classes[self.selected]
        return ClassInfo(self.selected, int(c["index"]), str(c["label"]), c["probability"])

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        labels = [c["label"] for c in self.classes]
        shown = labels if len(labels) <= 6 else labels[:5] + [f"... {len(labels) - 5} more"]
        yield "method", self._method_name
        yield "image", self.image_number
        yield "classes", shown
        yield "selected", self.selected
        yield "colormap", self.colormap
        yield "opacity", self.opacity
