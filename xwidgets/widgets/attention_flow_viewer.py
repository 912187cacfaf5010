"""AttentionFlowViewer: DAAM's attention flow through a vision transformer, block by block.

DAAM (Liao, Gao & Zhang, "Dynamic Accumulated Attention Map for Interpreting Evolution of
Decision-Making in Vision Transformer", Pattern Recognition 2025) makes one map per
attention block and accumulates them from the first block to the last; the paper shows
the accumulated maps as an animation. This viewer shows them over the image with a block
slider (and a play button): either the accumulated flow up to the chosen block (the
paper's display, ``params["extras"]["flow"]``) or the chosen block's own map
(``extras["block_maps"]``). Every block's maps of every class of the image arrive once,
so the slider, the block/accumulated toggle, the class picker, opacity and colour map
work in the browser with no kernel round trip. The front end is
``js/attention_flow_viewer.ts``.

    sal = xw.explain(vit, images, method="daam", target=xw.TopK(3))
    xw.AttentionFlowViewer(sal)            # image 0; AttentionFlowViewer(sal, image=2)

Trait contract (Python <-> JS):

================  ==============================================================
``image``         ``{"png": bytes, "width": int, "height": int}``: the display image
``block_maps``    ``{"data", "dtype", "shape": [R, L, h, w]}``: each block's own map
                  (min-max normalised to [0, 1]), per class row R and block L, on the
                  patch grid (the browser smooths it over the image)
``flow``          the same shape: the accumulated flow up to each block as DAAM
                  displays it (in [0, 1]; its last block is the result's map)
``accumulated``   the same shape: the un-normalised sums of the block maps up to each
                  block (the hover read-out shows them)
``blocks``        ``[str]`` (L): the attention modules' names, first block first
``classes``       ``[{"index": int, "label": str, "probability": float|None}]`` (R)
``selected``      position in ``classes`` of the class shown (synced both ways)
``block``         the block shown, 0-based (synced both ways)
``view``          one of :data:`VIEWS`: ``"accumulated"`` (the flow up to ``block``) or
                  ``"block"`` (``block``'s own map)
``opacity``       float in [0, 1]; ``colormap``: one of :data:`COLORMAPS`
``title``         heading; ``method``: the method line under it
================  ==============================================================

Both kinds of map lie in [0, 1] and are coloured on that fixed range, so the flow's
growth from block to block shows as growing colour.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

import numpy as np
import traitlets

from .._validation import Described, bad_argument
from ._common import (
    COLORMAPS, OpacityChecks, abbreviated, check_choice, check_colormap, check_int, check_maps_dtype, check_opacity,
    choose_maps_dtype, class_info, method_detail, predicted_class, validated_choice, validated_position,
)
from .base import XWidget
from .serialise import array_payload, image_payload

__all__ = ["AttentionFlowViewer", "VIEWS", "FlowClass"]

#: what the viewer shows: the accumulated flow up to the block, or the block's own map
VIEWS = ("accumulated", "block")

#: the extras a DAAM result carries, per row (R, L, h, w)
_EXTRAS = ("block_maps", "accumulated", "flow")


class FlowClass(NamedTuple):
    """One class of the viewer: its position in the picker, class index, label, probability."""

    position: int
    index: int
    label: str
    probability: float | None


def _describe_result(saliency: Any) -> Described:
    return Described(f"a {saliency.method!r} result with {saliency.num_images} image(s) and {len(saliency)} row(s)")


def _flow_arrays(saliency: Any) -> tuple[dict[str, np.ndarray], list[str]]:
    """The per-row (R, L, h, w) arrays and the block names of a DAAM result, checked."""
    from ..saliency.result import Saliency

    if not isinstance(saliency, Saliency):
        raise bad_argument("saliency", 'a Saliency result of DAAM (xw.explain(model, images, method="daam"))', saliency)
    extras = saliency.params.get("extras") if isinstance(saliency.params, dict) else None
    extras = extras if isinstance(extras, dict) else {}
    if not all(isinstance(extras.get(key), np.ndarray) for key in _EXTRAS):
        hint = (
            "Only DAAM records a map per attention block; show other methods with SaliencyViewer"
            if saliency.method != "daam"
            else "Its per-block maps are missing from params['extras'] (a result saved by an older xwidgets keeps only their shapes)"
        )
        raise bad_argument(
            "saliency",
            'a DAAM result (xw.explain(model, images, method="daam")) whose params["extras"] hold '
            "'block_maps', 'accumulated' and 'flow'",
            _describe_result(saliency),
            hint,
        )
    arrays = {key: np.asarray(extras[key], dtype=np.float32) for key in _EXTRAS}
    shape = arrays["block_maps"].shape
    for key, array in arrays.items():
        if array.ndim != 4 or array.shape[0] != len(saliency) or array.shape != shape or 0 in array.shape:
            raise bad_argument(
                f"saliency.params['extras'][{key!r}]",
                f"shape ({len(saliency)}, L, h, w) like 'block_maps' {shape}: one map per row and block",
                array,
            )
    names = extras.get("blocks")
    blocks = shape[1]
    if isinstance(names, (list, tuple)) and len(names) == blocks and all(isinstance(n, str) for n in names):
        block_names = list(names)
    else:
        block_names = [f"block {b}" for b in range(blocks)]
    return arrays, block_names


class AttentionFlowViewer(XWidget, OpacityChecks):
    """DAAM's maps of one image over the image: the accumulated attention flow up to a
    block, or one block's own map, with a block slider (Liao, Gao & Zhang 2025).

    Args:
        saliency: a ``Saliency`` result of ``xw.explain(..., method="daam")``; its
            ``params["extras"]`` hold the per-block maps.
        image: which image of the result to show (its rows become the classes).
        block: the block shown first (0-based; default: the last, whose flow is the
            result's map).
        view: one of :data:`VIEWS`: ``"accumulated"`` (default) or ``"block"``.
        selected: position, among the image's rows, of the class shown first.
        opacity: map opacity in [0, 1].
        colormap: one of :data:`COLORMAPS`.
        title: heading; by default the image number and the model's prediction.
        maps_dtype: ``"float16"`` (default, half the bytes) or ``"float32"``; maps that
            float16 cannot carry are sent as float32 whatever is asked (:attr:`maps_dtype`).
    """

    _module = "attention_flow_viewer"

    image = traitlets.Dict().tag(sync=True)
    block_maps = traitlets.Dict().tag(sync=True)
    flow = traitlets.Dict().tag(sync=True)
    accumulated = traitlets.Dict().tag(sync=True)
    blocks = traitlets.List(traitlets.Unicode()).tag(sync=True)
    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)
    block = traitlets.Int(0).tag(sync=True)
    view = traitlets.Unicode("accumulated").tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    method = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        saliency: Any,
        image: int = 0,
        *,
        block: int | None = None,
        view: str = "accumulated",
        selected: int = 0,
        opacity: float = 0.5,
        colormap: str = "viridis",
        title: str | None = None,
        maps_dtype: str = "float16",
    ) -> None:
        arrays, block_names = _flow_arrays(saliency)
        num_blocks = len(block_names)
        if saliency.num_images == 0:
            raise bad_argument("saliency", "a result with at least one image", _describe_result(saliency))
        image = check_int("image", image, 0, saliency.num_images, "image number")
        rows = saliency.rows_for_image(image)
        if rows.size == 0:
            raise bad_argument("image", "an image with at least one map", image, f"Image {image} has no rows in this result")
        block = num_blocks - 1 if block is None else check_int("block", block, 0, num_blocks, "block number")
        view = check_choice("view", view, VIEWS)
        selected = check_int("selected", selected, 0, int(rows.size), "class position")
        opacity = check_opacity(opacity)
        colormap = check_colormap(colormap)
        maps_dtype = check_maps_dtype(maps_dtype)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)

        picked = {key: np.ascontiguousarray(array[rows]) for key, array in arrays.items()}
        dtype = choose_maps_dtype(maps_dtype, list(picked.values()))
        #: the dtype the maps were actually sent as
        self.maps_dtype = dtype
        #: which image of the result this viewer shows
        self.image_number = image
        self._arrays = picked
        if title is None:
            title = f"Image {image}"
            top = predicted_class(saliency, image)
            if top is not None:
                title += f": predicted {saliency.labels[top]} ({saliency.probabilities[image][top] * 100:.1f}%)"
        detail = method_detail(saliency)
        h, w = picked["block_maps"].shape[-2:]
        detail += f" \u00b7 {num_blocks} block{'s' if num_blocks != 1 else ''}, {w}x{h} patches"

        super().__init__(
            image=image_payload(saliency.images[image]),
            block_maps=array_payload(picked["block_maps"], dtype),
            flow=array_payload(picked["flow"], dtype),
            accumulated=array_payload(picked["accumulated"], dtype),
            blocks=block_names,
            classes=[class_info(saliency, int(row)) for row in rows],
            selected=selected,
            block=block,
            view=view,
            opacity=opacity,
            colormap=colormap,
            title=title,
            method=detail,
        )

    # ------------------------------------------------------------------ access
    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def selected_class(self) -> FlowClass:
        """The class shown now: position in the picker, class index, label, probability."""
        c = self.classes[self.selected]
        return FlowClass(self.selected, int(c["index"]), str(c["label"]), c["probability"])

    def shown_map(self, view: str | None = None, block: int | None = None, selected: int | None = None) -> np.ndarray:
        """The (h, w) map drawn for ``view``, ``block`` and class position ``selected``
        (default: what the viewer shows now), float32 on the patch grid."""
        view = self.view if view is None else check_choice("view", view, VIEWS)
        block = self.block if block is None else check_int("block", block, 0, self.num_blocks, "block number")
        selected = self.selected if selected is None else check_int("selected", selected, 0, len(self.classes), "class position")
        key = "flow" if view == "accumulated" else "block_maps"
        return self._arrays[key][selected, block].copy()

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> int:
        return validated_position(proposal, "a class position", len(self.classes))

    @traitlets.validate("block")
    def _validate_block(self, proposal: Any) -> int:
        return validated_position(proposal, "a block number", len(self.blocks))

    # opacity: OpacityChecks
    @traitlets.validate("colormap", "view")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"colormap": COLORMAPS, "view": VIEWS})

    # ------------------------------------------------------------------ repr
    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        labels = [c["label"] for c in self.classes]
        yield "image", self.image_number
        yield "classes", abbreviated(labels)
        yield "selected", self.selected
        yield "blocks", self.num_blocks
        yield "block", self.block
        yield "view", self.view
        yield "colormap", self.colormap
        yield "opacity", self.opacity
