"""SAGViewer: a structured attention graph, interactive.

Shitole, Li, Kahng, Tadepalli & Fern, "One Explanation is Not Enough: Structured Attention
Graphs for Image Classification", NeurIPS 2021 (figure 1: roots as masked images, their
removal trees with edges by probability drop). The shown roots are masked thumbnails heading
their removal trees; edges are coloured and widened by the probability drop (three
viridis colours, light to dark: colour-blind safe). Clicking a node (or choosing it with the
keyboard) shows its patches on the full image and, linked, on a saliency map of the same
image (the map that ranked the patches, or any ``Saliency`` you pass). Selection, opacity
and colour map are client-side; the front end is ``js/sag_viewer.ts``.

    graph = xw.sag(model, image)
    xw.SAGViewer(graph)                              # or graph.widget()
    xw.SAGViewer(graph, saliency=xw.explain(model, image, method="gradcam"))

Trait contract (Python <-> JS):

=================  ==============================================================
``image``          ``{"png": bytes, "width": int, "height": int}``: the image as the
                   model saw it
``saliency``       ``{"data", "dtype": "float16", "shape": [H, W]}``: the linked map,
                   min-max normalised to [0, 1]; ``saliency_method`` names it
``grid``           ``[rows, cols]``; ``soft_edges``: how patches were revealed
``nodes``          ``[{"id", "patches": [int], "probability", "relative", "parent",
                   "removed", "drop", "depth", "root"}]``: the forest, ids = positions;
                   a root has parent, removed and drop -1, -1 and null
``drop_bins``      ``[small, large]`` drop limits in probability points
``label``, ``probability``, ``threshold``, ``minimal_sets``: what the header says
``selected``       the id of the node shown (synced both ways); -1: none
``opacity``        the saliency map's opacity in [0, 1]; ``colormap``: one of COLORMAPS
``title``          heading text
=================  ==============================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np
import traitlets

from .._validation import Described, bad_argument, describe
from ._common import COLORMAPS, check_colormap, check_opacity, trait_error_choice
from .base import XWidget
from .serialise import array_payload, image_payload

__all__ = ["SAGViewer"]


def _unit(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (a constant map becomes zeros); NaN stays NaN."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values, dtype=np.float32)
    lo, hi = float(finite.min()), float(finite.max())
    return ((values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)).astype(np.float32)


class SAGViewer(XWidget):
    """A structured attention graph (``xw.sag``'s ``AttentionGraph``) as linked views.

    Args:
        graph: the ``AttentionGraph`` of one image.
        saliency: the linked map: None (the map that ranked the patches), a ``Saliency``
            of the same image (its row ``row``), or an (H, W) array at the image's size.
        row: which row of ``saliency`` to show (0).
        selected: the node shown first (default: the first root; -1 for none).
        opacity: the saliency map's opacity in [0, 1].
        colormap: one of ``COLORMAPS``.
        title: heading text.
    """

    _module = "sag_viewer"

    image = traitlets.Dict().tag(sync=True)
    saliency = traitlets.Dict().tag(sync=True)
    saliency_method = traitlets.Unicode("").tag(sync=True)
    grid = traitlets.List(traitlets.Int()).tag(sync=True)
    soft_edges = traitlets.Bool(True).tag(sync=True)
    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    drop_bins = traitlets.List(traitlets.Float()).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    probability = traitlets.Float(0.0).tag(sync=True)
    threshold = traitlets.Float(0.9).tag(sync=True)
    minimal_sets = traitlets.Int(0).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, graph: Any, saliency: Any = None, *, row: int = 0, selected: int | None = None,
                 opacity: float = 0.5, colormap: str = "viridis", title: str = "Structured attention graph") -> None:
        from ..sag.result import AttentionGraph

        if not isinstance(graph, AttentionGraph):
            raise bad_argument("graph", "an AttentionGraph (from xw.sag)", graph)
        opacity = check_opacity(opacity)
        colormap = check_colormap(colormap)
        if not isinstance(title, str):
            raise bad_argument("title", "a str", title)
        self.graph = graph
        values, method = self._linked_map(graph, saliency, row)
        if selected is None:
            selected = graph.roots[0].id if graph.roots else -1
        if isinstance(selected, bool) or not isinstance(selected, numbers.Integral) or not -1 <= selected < len(graph.nodes):
            raise bad_argument("selected", f"a node id in [0, {len(graph.nodes)}) or -1", selected)
        h, w = graph.image.shape[:2]
        if values.shape != (h, w):
            raise bad_argument("graph.saliency", f"an ({h}, {w}) map, the image's size", values)
        super().__init__(
            image=image_payload(graph.image),
            saliency=array_payload(_unit(values), "float16"),
            saliency_method=method,
            grid=list(graph.grid),
            soft_edges=bool(graph.soft_edges),
            nodes=[self._node_state(n) for n in graph.nodes],
            drop_bins=[float(b) for b in graph.drop_bins],
            label=graph.label,
            probability=float(graph.full_probability),
            threshold=float(graph.threshold),
            minimal_sets=len(graph.minimal_sets),
            selected=int(selected),
            opacity=opacity,
            colormap=colormap,
            title=title,
        )

    @staticmethod
    def _node_state(n: Any) -> dict[str, Any]:
        return {
            "id": n.id,
            "patches": [int(c) for c in n.patches],
            "probability": float(n.probability),
            "relative": float(n.relative),
            "parent": -1 if n.parent is None else int(n.parent),
            "removed": -1 if n.removed is None else int(n.removed),
            "drop": None if n.drop is None else float(n.drop),
            "depth": int(n.depth),
            "root": int(n.root),
        }

    @staticmethod
    def _linked_map(graph: Any, saliency: Any, row: int) -> tuple[np.ndarray, str]:
        from ..saliency.result import Saliency

        h, w = graph.image.shape[:2]
        if saliency is None:
            return graph.saliency, graph.method
        if isinstance(saliency, Saliency):
            if isinstance(row, bool) or not isinstance(row, numbers.Integral) or not 0 <= row < len(saliency):
                raise bad_argument("row", f"a row of the saliency result in [0, {len(saliency)})", row)
            if saliency.maps.shape[1:] != (h, w):
                raise bad_argument("saliency", f"maps of the graph's image size ({h}, {w})", describe(saliency.maps))
            image = saliency.images[saliency.image_index[row]]
            if image.shape != graph.image.shape or not np.array_equal(image, graph.image):
                raise bad_argument("saliency", "a result for the same image as the graph",
                                   Described(f"a {saliency.method!r} result of another image"),
                                   "Explain the same image with the same model (its preprocessing decides the pixels)")
            return saliency.maps[row], saliency.method
        values = np.asarray(saliency, dtype=np.float32)
        if values.shape != (h, w):
            raise bad_argument("saliency", f"None, a Saliency result, or an ({h}, {w}) map", saliency)
        return values, "given"

    # ------------------------------------------------------------------ access
    @property
    def selected_node(self):
        """The ``SAGNode`` shown, or None."""
        return None if self.selected < 0 else self.graph.nodes[self.selected]

    @property
    def selected_patches(self) -> tuple[int, ...]:
        node = self.selected_node
        return () if node is None else node.patches

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> int:
        value = proposal["value"]
        n = len(self.nodes)
        if not -1 <= value < n:
            raise traitlets.TraitError(f"selected: expected a node id in [0, {n}) or -1; got {describe(value)}")
        return value

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise traitlets.TraitError(f"opacity: expected a number in [0, 1]; got {describe(value)}")
        return value

    @traitlets.validate("colormap")
    def _validate_colormap(self, proposal: Any) -> str:
        if proposal["value"] not in COLORMAPS:
            raise trait_error_choice("colormap", proposal["value"], COLORMAPS)
        return proposal["value"]

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "label", self.label
        yield "roots", sum(1 for n in self.nodes if n["parent"] < 0)
        yield "nodes", len(self.nodes)
        yield "selected", self.selected
        yield "saliency_method", self.saliency_method
