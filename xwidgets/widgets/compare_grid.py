"""CompareGrid: N saliency methods x M images as a grid of small overlays.

Built from several `Saliency` results for the same images (one per method). Every map is
sent once, as one float16 buffer ``[N, M, H, W]``, so that the colour scale (per map, per
method row, global), the value scale (min-max or signed), colour map, opacity, the
synchronised crosshair with every method's value under it, and the emphasised cell all
happen in the browser with no kernel round trip. The front end is ``js/compare_grid.ts``.

Trait contract (Python <-> JS):

================  ==============================================================
``images``        ``[{"png": bytes, "width": int, "height": int}]`` (M), same size
``maps``          ``{"data": bytes, "dtype": "float16"|"float32", "shape": [N, M, H, W]}``
``methods``       ``[{"name": str, "detail": str}]`` (N): row headers
``columns``       ``[{"caption": str, "label": str, "probability": float|None}]`` (M):
                  column headers, the image's caption and predicted class
``targets``       ``[[{"index": int, "label": str, "probability": float|None}]]``
                  (N x M): the class each map explains
``shared_scale``  one of :data:`SHARED_SCALES`: ``"cell"`` (each map its own range),
                  ``"method"`` (one range per method row), ``"global"`` (one range)
``scale``         one of :data:`~xwidgets.widgets.SCALES` (``"auto"``: a method row
                  with both signs is shown signed, on ``RdBu_r`` centred on 0)
``colormap``      one of :data:`~xwidgets.widgets.COLORMAPS` (rows shown min-max)
``opacity``       float in [0, 1], shared by all cells
``selected``      ``[]`` or ``[method, image]``: the emphasised cell (synced both ways)
``cell_size``     int in [48, 512]: CSS pixels of a cell's longest side
``title``         heading text
================  ==============================================================
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Sequence

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from ._common import (
    OverlayTraits, check_captions, check_choice, check_int, check_overlay_options, check_pair,
    checked_results, class_info, image_columns, maps_payload, method_detail, validated_cell, validated_choice,
)
from .base import XWidget
from .serialise import image_payload

__all__ = ["CompareGrid", "SHARED_SCALES"]

#: which maps share one colour range (js/lib/scales.ts, SHARED_SCALES)
SHARED_SCALES = ("cell", "method", "global")

CELL_SIZE_RANGE = (48, 512)


def _check_target_rows(target_row: Any, count: int) -> list[int]:
    """``target_row`` as one non-negative int per result."""
    what = "a non-negative int (a row position among each image's rows), or one per result"
    if isinstance(target_row, numbers.Integral) and not isinstance(target_row, bool):
        if target_row < 0:
            raise bad_argument("target_row", what, target_row)
        return [int(target_row)] * count
    if isinstance(target_row, (list, tuple)):
        if len(target_row) != count:
            raise bad_argument("target_row", f"{what} ({count} values)", target_row)
        out = []
        for i, t in enumerate(target_row):
            if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
                raise bad_argument(f"target_row[{i}]", "a non-negative int", t)
            out.append(int(t))
        return out
    raise bad_argument("target_row", what, target_row)


class CompareGrid(XWidget, OverlayTraits):
    """A grid of saliency maps: one row per method, one column per image.

    Args:
        results: several :class:`~xwidgets.saliency.result.Saliency` results for the same
            images, one per method: a list (rows named by their methods) or a dict
            ``{name: result}``. One result gives a one-row grid.
        images: which images of the results to show, as image numbers (default: all).
        target_row: which of an image's rows each cell shows: its position among the
            image's rows (default 0, the first: the predicted class for ``target="pred"``
            or ``TopK``); an int for every result, or one per result.
        captions: column captions, one per image shown (default ``"Image <number>"``).
        shared_scale: one of :data:`SHARED_SCALES` (default ``"cell"``).
        scale: one of ``"auto"`` (default), ``"minmax"``, ``"signed"``.
        colormap: one of :data:`~xwidgets.widgets.COLORMAPS` (viridis by default).
        opacity: heatmap opacity in [0, 1].
        selected: ``None`` or ``(method position, image position)``: the emphasised cell.
        cell_size: CSS pixels of a cell's longest side, in [48, 512].
        title: heading (default: none).
        maps_dtype: ``"float16"`` (default) or ``"float32"``; a method whose maps float16
            cannot carry sends everything as float32 (see :attr:`maps_dtype`).
    """

    _module = "compare_grid"

    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    maps = traitlets.Dict().tag(sync=True)
    methods = traitlets.List(traitlets.Dict()).tag(sync=True)
    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    targets = traitlets.List(traitlets.List(traitlets.Dict())).tag(sync=True)
    shared_scale = traitlets.Unicode("cell").tag(sync=True)
    # scale, colormap, opacity: OverlayTraits
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    cell_size = traitlets.Int(160).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        results: Any,
        *,
        images: Sequence[int] | None = None,
        target_row: int | Sequence[int] = 0,
        captions: Sequence[str] | None = None,
        shared_scale: str = "cell",
        scale: str = "auto",
        colormap: str = "viridis",
        opacity: float = 0.5,
        selected: Sequence[int] | None = None,
        cell_size: int = 160,
        title: str = "",
        maps_dtype: str = "float16",
    ) -> None:
        named, first = checked_results(results, "results", "results with at least one image")
        total = first.num_images

        # which images, in which order
        if isinstance(images, np.ndarray):
            images = images.tolist()
        if images is None:
            numbers_shown = list(range(total))
        else:
            if isinstance(images, (str, bytes)) or not isinstance(images, Sequence) or len(images) == 0:
                raise bad_argument("images", "a non-empty list of image numbers", images)
            numbers_shown = [check_int(f"images[{i}]", v, 0, total, "image number") for i, v in enumerate(images)]
        m_count = len(numbers_shown)

        rows_wanted = _check_target_rows(target_row, len(named))
        caption_list = check_captions(captions, numbers_shown, "image shown")
        shared_scale = check_choice("shared_scale", shared_scale, SHARED_SCALES)
        opacity, colormap, scale, maps_dtype = check_overlay_options(opacity, colormap, scale, maps_dtype)
        low, high = CELL_SIZE_RANGE
        if isinstance(cell_size, bool) or not isinstance(cell_size, numbers.Integral) or not low <= cell_size <= high:
            raise bad_argument("cell_size", f"an int in [{low}, {high}] (CSS pixels)", cell_size)
        cell_size = int(cell_size)
        if not isinstance(title, str):
            raise bad_argument("title", "a str", title)
        selected = check_pair("selected", selected, "None or (method position, image position)")
        if selected is None:
            selected_list: list[int] = []
        else:
            selected_list = [
                check_int("selected[0]", selected[0], 0, len(named), "method position"),
                check_int("selected[1]", selected[1], 0, m_count, "image position"),
            ]

        # each cell's row of its result
        cell_rows: list[list[int]] = []
        for r, want in zip(named, rows_wanted):
            row_of_image = []
            for i in numbers_shown:
                rows = r.saliency.rows_for_image(i)
                if want >= rows.size:
                    raise bad_argument(
                        "target_row",
                        "a row position that every image shown has",
                        want,
                        f"{r.where} has {rows.size} row{'s' if rows.size != 1 else ''} for image {i}",
                    )
                row_of_image.append(int(rows[want]))
            cell_rows.append(row_of_image)

        blocks = [r.saliency.maps[rows] for r, rows in zip(named, cell_rows)]
        maps, maps_dtype = maps_payload(blocks, maps_dtype, stack=True)
        #: the dtype the maps were actually sent as
        self.maps_dtype = maps_dtype
        #: the image numbers of the columns
        self.image_numbers = numbers_shown
        self._method_names = [r.name for r in named]

        methods = []
        for r in named:
            detail = method_detail(r.saliency, with_method=r.name != r.saliency.method)
            methods.append({"name": r.name, "detail": detail})
        columns = image_columns(first, numbers_shown, caption_list)
        targets = [[class_info(r.saliency, row) for row in rows] for r, rows in zip(named, cell_rows)]

        super().__init__(
            images=[image_payload(first.images[i]) for i in numbers_shown],
            maps=maps,
            methods=methods,
            columns=columns,
            targets=targets,
            shared_scale=shared_scale,
            scale=scale,
            colormap=colormap,
            opacity=opacity,
            selected=selected_list,
            cell_size=cell_size,
            title=title,
        )

    @classmethod
    def from_results(cls, results: Any, **kwargs: Any) -> "CompareGrid":
        """The grid of ``results`` (a list or dict of `Saliency`); see the class for options."""
        return cls(results, **kwargs)

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("shared_scale")
    def _validate_shared_scale(self, proposal: Any) -> str:
        return validated_choice(proposal, {"shared_scale": SHARED_SCALES})

    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> list[int]:
        return validated_cell(proposal, ("method", "image"), (len(self.methods), len(self.columns)))

    @traitlets.validate("cell_size")
    def _validate_cell_size(self, proposal: Any) -> int:
        value = proposal["value"]
        low, high = CELL_SIZE_RANGE
        if not low <= value <= high:
            raise traitlets.TraitError(f"cell_size: expected an int in [{low}, {high}]; got {describe(value)}")
        return value

    # ------------------------------------------------------------------ access (method_names: OverlayTraits)
    @property
    def selected_cell(self) -> tuple[str, int] | None:
        """The emphasised cell as (method name, image number), or None."""
        if not self.selected:
            return None
        n, m = self.selected
        return self._method_names[n], self.image_numbers[m]

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "methods", self._method_names
        yield "images", self.image_numbers
        yield "shared_scale", self.shared_scale
        yield "scale", self.scale
        yield "colormap", self.colormap
        yield "opacity", self.opacity
        yield "selected", self.selected_cell
