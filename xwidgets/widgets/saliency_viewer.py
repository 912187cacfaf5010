"""SaliencyViewer: one image with the saliency map of a chosen method and class overlaid.

All the maps of the image (one per explained class, for every method given) are sent once,
as one float16 buffer, so that switching method and class, opacity, colour map and scale,
and the hover read-out, happen in the browser with no kernel round trip. The front end is
``js/saliency_viewer.ts``.

Trait contract (Python <-> JS):

================  ==============================================================
``image``         ``{"png": bytes, "width": int, "height": int}``: the display image
``maps``          ``{"data": bytes, "dtype": "float16"|"float32", "shape": [R, H, W]}``:
                  every method's maps for the image, method after method
``classes``       ``[{"index": int, "label": str, "probability": float|None}]`` (R):
                  the class each row of ``maps`` explains
``methods``       ``[{"name": str, "detail": str, "start": int, "count": int}]``: method
                  m owns rows ``[start, start + count)`` of ``maps`` and ``classes``
``method_index``  position in ``methods`` of the method shown (synced both ways)
``selected``      position among the shown method's classes (synced both ways)
``opacity``       float in [0, 1]
``colormap``      one of :data:`COLORMAPS` (maps shown min-max)
``scale``         one of :data:`SCALES`: ``"minmax"``, ``"signed"`` (diverging
                  ``RdBu_r`` centred on 0, limits +-max|value|) or ``"auto"`` (signed
                  for a map with both signs)
``title``         heading text; ``method``: the method line of a state without ``methods``
                  (one method: its detail line; several: their names)
``points``        ``{}`` (none) or ``{"data": bytes, "dtype": "float32", "shape": [R, N, 2]}``:
                  per row of ``maps``, a sequence of N (x, y) pixel positions of the image
                  drawn as a numbered path (FovEx's fixations); NaN pairs are no point
``show_points``   bool: draw the path (a checkbox, shown when the row has points)
================  ==============================================================

With one `Saliency` (the usual ``sal.widget()``) there is one method owning every row, so
``maps``, ``classes`` and ``selected`` mean exactly what they meant before methods existed.

Points: by default a result that carries a fixation sequence per row
(``params["extras"]["fixations"]``, shape (rows, N, 2), as FovEx records it) has it
drawn over the image as a numbered path; rows of other methods have none. A result
loaded with :meth:`Saliency.load` keeps only the arrays' shapes in its parameters, so
its fixations are not drawn.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from ._common import (
    COLORMAPS,
    DIVERGING_COLORMAP,
    SCALES,
    OverlayTraits,
    check_int,
    check_overlay_options,
    checked_results,
    class_info,
    maps_payload,
    method_detail,
    predicted_class,
)
from .base import XWidget
from .serialise import array_payload, image_payload

__all__ = ["SaliencyViewer", "COLORMAPS", "SCALES", "DIVERGING_COLORMAP", "ClassInfo"]


class ClassInfo(NamedTuple):
    """One class of the viewer: its position in the picker, class index, label, probability."""

    position: int
    index: int
    label: str
    probability: float | None


class SaliencyViewer(XWidget, OverlayTraits):
    """Interactive viewer of the saliency maps of one image: one map per explained class, for
    one method or several (a method picker then switches between them, client-side).

    Args:
        saliency: a :class:`~xwidgets.saliency.result.Saliency` result; or several results
            for the same images, one per method, as a list (named by their methods) or a
            dict ``{name: result}``, e.g. ``SaliencyViewer({"Grad-CAM": s1, "IG": s2})``.
        image: which image of the result(s) to show (its rows become the classes).
        opacity: heatmap opacity in [0, 1].
        colormap: one of :data:`COLORMAPS` (viridis by default, colour-blind safe), for
            maps shown min-max.
        selected: position, among the image's rows of the method shown first, of the class
            shown first.
        title: heading; by default the image number and the model's prediction.
        maps_dtype: ``"float16"`` (default, half the bytes) or ``"float32"``. Maps whose
            values float16 cannot carry (peak above 65504 or below 1e-3, as raw gradients
            often are; each method is checked on its own) are sent as float32 whatever is
            asked; see :attr:`maps_dtype`.
        scale: one of :data:`SCALES`. ``"auto"`` (default) shows a map with both signs
            (gradient x input, integrated gradients) on the diverging
            :data:`DIVERGING_COLORMAP` centred on 0, and other maps min-max.
        method_index: position of the method shown first.
        points: "auto" (default): each result's fixation sequences
            (``params["extras"]["fixations"]``, (x, y) pixels per row) when it has them;
            None: no points; or an array of (x, y) pixel positions drawn as a numbered
            path over the image, (R, N, 2) with one sequence per class row of the viewer
            (all methods' rows, in order), or (N, 2) for the same path on every row; NaN
            pairs are skipped.
        show_points: draw the points (the viewer's "Fixations" checkbox).
    """

    _module = "saliency_viewer"

    image = traitlets.Dict().tag(sync=True)
    maps = traitlets.Dict().tag(sync=True)
    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)
    # opacity, colormap, scale: OverlayTraits
    title = traitlets.Unicode("").tag(sync=True)
    method = traitlets.Unicode("").tag(sync=True)
    methods = traitlets.List(traitlets.Dict()).tag(sync=True)
    method_index = traitlets.Int(0).tag(sync=True)
    points = traitlets.Dict().tag(sync=True)
    show_points = traitlets.Bool(True).tag(sync=True)

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
        scale: str = "auto",
        method_index: int = 0,
        points: Any = "auto",
        show_points: bool = True,
    ) -> None:
        results, first = checked_results(saliency, "saliency", "a result with at least one image")
        image = check_int("image", image, 0, first.num_images, "image number")
        row_sets = []
        for r in results:
            rows = r.saliency.rows_for_image(image)
            if rows.size == 0:
                where = "this result" if len(results) == 1 else r.where
                raise bad_argument("image", "an image with at least one map", image, f"Image {image} has no rows in {where}")
            row_sets.append(rows)
        method_index = check_int("method_index", method_index, 0, len(results), "method position")
        selected = check_int("selected", selected, 0, row_sets[method_index].size, "class position")
        opacity, colormap, scale, maps_dtype = check_overlay_options(opacity, colormap, scale, maps_dtype)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)
        if not isinstance(show_points, bool):
            raise bad_argument("show_points", "True or False", show_points)
        points_payload = _points_payload(points, results, row_sets)

        blocks = [r.saliency.maps[rows] for r, rows in zip(results, row_sets)]
        maps, maps_dtype = maps_payload(blocks, maps_dtype, stack=False)
        #: the dtype the maps were actually sent as
        self.maps_dtype = maps_dtype
        #: which image of the result this viewer shows
        self.image_number = image
        self._method_names = [r.name for r in results]
        self._ready = False

        classes: list[dict[str, Any]] = []
        methods: list[dict[str, Any]] = []
        for r, rows in zip(results, row_sets):
            sal = r.saliency
            detail = method_detail(sal)
            if len(results) > 1 and r.name != sal.method:
                detail = f"{r.name}: {detail}"
            methods.append({"name": r.name, "detail": detail, "start": len(classes), "count": int(rows.size)})
            classes.extend(class_info(sal, int(row)) for row in rows)

        if title is None:
            title = f"Image {image}"
            top = predicted_class(first, image)
            if top is not None:
                title += f": predicted {first.labels[top]} ({first.probabilities[image][top] * 100:.1f}%)"
        method_text = methods[0]["detail"] if len(results) == 1 else ", ".join(self._method_names)

        super().__init__(
            image=image_payload(first.images[image]),
            maps=maps,
            classes=classes,
            methods=methods,
            method_index=method_index,
            selected=selected,
            opacity=opacity,
            colormap=colormap,
            scale=scale,
            title=title,
            method=method_text,
            points=points_payload,
            show_points=show_points,
        )
        self._ready = True

    # ------------------------------------------------------------------ front-end state checks
    def _block(self, method_index: int | None = None) -> tuple[int, int]:
        """(start, count) of a method's rows; the whole list for a state without methods."""
        m = self.method_index if method_index is None else method_index
        if not self.methods:
            return 0, len(self.classes)
        block = self.methods[m]
        return int(block["start"]), int(block["count"])

    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> int:
        value = proposal["value"]
        m = self.method_index
        k = self._block()[1] if 0 <= m < max(1, len(self.methods)) else 0
        if not 0 <= value < k:
            where = f" of method {self.methods[m]['name']!r}" if len(self.methods) > 1 else ""
            raise traitlets.TraitError(f"selected: expected a class position{where} in [0, {k}); got {describe(value)}")
        return value

    @traitlets.validate("method_index")
    def _validate_method_index(self, proposal: Any) -> int:
        value = proposal["value"]
        k = max(1, len(self.methods))
        if not 0 <= value < k:
            raise traitlets.TraitError(f"method_index: expected a method position in [0, {k}); got {describe(value)}")
        return value

    @traitlets.observe("method_index")
    def _keep_class_across_methods(self, change: Any) -> None:
        """A method switch from Python keeps the class shown when the new method has it.

        The front end sends ``method_index`` and ``selected`` together; then ``selected``
        is already right and is left alone.
        """
        if not getattr(self, "_ready", False) or "selected" in getattr(self, "_property_lock", {}):
            return
        old_start, old_count = self._block(change["old"])
        new_start, new_count = self._block(change["new"])
        position = min(self.selected, old_count - 1)
        shown = self.classes[old_start + position]
        keep = 0
        for i in range(new_count):
            c = self.classes[new_start + i]
            same = c["index"] == shown["index"] if shown["index"] >= 0 else c["label"] == shown["label"]
            if same:
                keep = i
                break
        self.selected = keep

    def report_state(self) -> dict[str, Any]:
        """The synced state a report needs; ``points`` and ``show_points`` only when there
        are points (the front end reads a missing ``points`` as none)."""
        state = super().report_state()
        if not self.points:
            state.pop("points", None)
            state.pop("show_points", None)
        return state

    # ------------------------------------------------------------------ access (method_names: OverlayTraits)
    @property
    def shown_method(self) -> str:
        """The name of the method shown now."""
        return self._method_names[self.method_index]

    @property
    def selected_class(self) -> ClassInfo:
        """The class shown now: position in the picker, class index, label and probability."""
        start, _ = self._block()
        c = self.classes[start + self.selected]
        return ClassInfo(self.selected, int(c["index"]), str(c["label"]), c["probability"])

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        start, count = self._block()
        labels = [c["label"] for c in self.classes[start : start + count]]
        shown = labels if len(labels) <= 6 else labels[:5] + [f"... {len(labels) - 5} more"]
        if len(self._method_names) > 1:
            yield "methods", self._method_names
            yield "method_index", self.method_index
        else:
            yield "method", self._method_names[0] if self.methods else self.method
        yield "image", self.image_number
        yield "classes", shown
        yield "selected", self.selected
        yield "colormap", self.colormap
        yield "opacity", self.opacity
        if self.scale != "auto":
            yield "scale", self.scale
        if self.points:
            yield "points", tuple(self.points["shape"][1:2])


def _points_payload(points: Any, results: list[Any], row_sets: list[np.ndarray]) -> dict[str, Any]:
    """The ``points`` trait: ``{}`` or float32 (R, N, 2) (x, y) pixels, NaN for no point."""
    total = sum(int(rows.size) for rows in row_sets)
    if points is None:
        return {}
    if isinstance(points, str) and points == "auto":
        blocks = []
        for r, rows in zip(results, row_sets):
            extras = r.saliency.params.get("extras") if isinstance(r.saliency.params, dict) else None
            fixations = extras.get("fixations") if isinstance(extras, dict) else None
            if (isinstance(fixations, np.ndarray) and fixations.ndim == 3 and fixations.shape[2] == 2
                    and fixations.shape[0] == r.saliency.maps.shape[0]):
                blocks.append(np.asarray(fixations[rows], dtype=np.float32))
            else:
                blocks.append(None)
        if all(b is None for b in blocks):
            return {}
        n = max(b.shape[1] for b in blocks if b is not None)
        array = np.full((total, n, 2), np.nan, dtype=np.float32)
        at = 0
        for b, rows in zip(blocks, row_sets):
            if b is not None:
                array[at:at + rows.size, : b.shape[1]] = b
            at += rows.size
    else:
        expected = f'"auto", None, or (x, y) pixel positions shaped ({total}, N, 2) or (N, 2)'
        try:
            array = np.asarray(points, dtype=np.float32)
        except (TypeError, ValueError):
            raise bad_argument("points", expected, points) from None
        if array.ndim == 2 and array.shape[-1] == 2:
            array = np.broadcast_to(array, (total, *array.shape))
        if array.ndim != 3 or array.shape[0] != total or array.shape[2] != 2 or np.isinf(array).any():
            raise bad_argument("points", expected, np.asarray(points) if not isinstance(points, np.ndarray) else points)
    return array_payload(np.ascontiguousarray(array), "float32")
