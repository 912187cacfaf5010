"""ConceptExplorer: the linked explorer of one image's explanation: image patches, concept
graph and sentence in one widget.

Three linked views of an :class:`~xwidgets.widgets.explorer_data.ExplanationData`: the image
with each concept's patch outlined and numbered (and the saliency map over it, when there is
one); the concept graph (after VRX's structural concept graphs, Ge et al., CVPR 2021), nodes
coloured by their signed contribution on a colour-blind-safe diverging palette (ColorBrewer's
RdBu) and sized by importance, edges by their relation's contribution; and the sentence that
explains the class, its phrases underlined. Clicking or hovering a node, a patch or a phrase
highlights the same concept or relation in the other two views. The class picker switches
between "why" (the prediction) and "why not" (any other candidate class) at once: every
class's graph is sent once. Arrow keys move between the graph's nodes, Enter selects,
Escape clears. All of it runs in the browser, without the kernel (and in offline reports).
The front end is ``js/concept_explorer.ts``.

Trait contract (Python <-> JS):

==================  ==============================================================
``image``           ``{"png": bytes, "width": W, "height": H}``
``saliency``        ``{}`` (none) or ``{"data": bytes, "dtype": "uint8", "shape": [h, w],
                    "min": float, "max": float}``: the map quantised to 256 levels
                    between min and max (drawn stretched over the image)
``masks``           ``{"data": bytes, "items": [[x0, y0, x1, y1, offset], ...]}``: each
                    distinct mask cropped to its tight box (x1, y1 exclusive), row-major,
                    bit-packed (``np.packbits``, most significant bit first) from byte
                    ``offset`` of ``data``
``classes``         ``[{"index", "label", "probability", "question"}]`` (C): the
                    candidates; ``question`` is "Why <label>?" or "Why not <label>?"
``graphs``          ``[{"nodes", "edges", "segments", "extent", "band"}]`` (C, as
                    ``classes``): nodes ``{"id", "name", "number", "present", "box":
                    [x0, y0, x1, y1] | null, "centroid": [x, y] | null, "mask": int
                    (an item of masks, -1 none), "contribution", "importance", "pos":
                    [x, y]}``; edges ``{"id", "source", "target", "relation",
                    "contribution"}``; segments ``[{"text", "kind": "node" | "edge" |
                    "", "ref": id}]`` (the sentence cut at its spans); ``extent`` [w, h]
                    of the graph's drawing, in which ``pos`` lies; ``band``: the y where
                    the strip of absent concepts without a box begins (null: none)
``predicted``       int: the predicted class's index
``limit``           float: the largest |contribution| of any node or edge of any class
                    (the colour scale's limit, shared by every class)
``graph_layout``    ``"patches"`` (nodes at their patches' centroids), ``"spring"`` or
                    ``"kamada_kawai"`` (networkx layouts); positions come from Python
``selected_class``  int: the index of the class shown (synced both ways)
``selected``        str: the selected node or edge id of that class, "" for none
                    (synced both ways)
``opacity``         float in [0, 1]: the saliency map's opacity
``colormap``        one of :data:`~xwidgets.widgets.COLORMAPS`, for the saliency map
``title``           heading text
==================  ==============================================================
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from ._common import COLORMAPS, OpacityChecks, abbreviated, check_choice, check_opacity, validated_choice
from .base import XWidget
from .explorer_data import ClassGraph, ConceptEdge, ConceptNode, ExplanationData, contribution_limit
from .from_concept_graph import MAX_BYTES
from .serialise import image_payload

__all__ = ["ConceptExplorer", "LAYOUTS", "explorer_payload", "graph_positions", "pack_masks"]

#: where the graph's nodes go: at their patches' centroids, or a networkx layout
LAYOUTS = ("patches", "spring", "kamada_kawai")
#: height of the strip under the image that holds absent concepts without a box (share of H)
_BAND = 0.22
#: margin of the networkx layouts inside the drawing (share of each side)
_MARGIN = 0.1


def _round(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


def pack_masks(graphs: list[ClassGraph]) -> tuple[dict[str, Any], dict[int, int]]:
    """The ``masks`` trait: each distinct mask once, cropped to its tight box and bit-packed;
    and the item of every mask (by ``id()`` of the array) for the nodes' ``mask`` field."""
    items: list[list[int]] = []
    chunks: list[bytes] = []
    seen: dict[tuple, int] = {}
    where: dict[int, int] = {}
    offset = 0
    for graph in graphs:
        for node in graph.nodes:
            if node.mask is None or id(node.mask) in where:
                continue
            ys, xs = np.nonzero(node.mask)
            x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
            bits = np.packbits(node.mask[y0:y1, x0:x1].ravel()).tobytes()
            key = (x0, y0, x1, y1, bits)
            if key not in seen:
                seen[key] = len(items)
                items.append([x0, y0, x1, y1, offset])
                chunks.append(bits)
                offset += len(bits)
            where[id(node.mask)] = seen[key]
    return {"data": b"".join(chunks), "items": items}, where


def graph_positions(graph: ClassGraph, layout: str, width: int, height: int) -> tuple[dict[str, tuple[float, float]], tuple[float, float], float | None]:
    """Where each node of ``graph`` is drawn: ``({id: (x, y)}, extent (w, h), band)``.

    ``"patches"``: at the node's centroid in image pixels; absent concepts without a box
    go in a strip under the image (``band`` is where it begins). ``"spring"``
    (Fruchterman-Reingold, seed 0) and ``"kamada_kawai"``: networkx layouts of the graph
    (edges undirected), scaled into the image's extent. Deterministic.
    """
    layout = check_choice("layout", layout, LAYOUTS)
    ids = [n.id for n in graph.nodes]
    if layout == "patches":
        loose = [n for n in graph.nodes if n.centroid is None]
        band = float(height) if loose else None
        extent = (float(width), float(height) * (1 + _BAND) if loose else float(height))
        pos = {n.id: (float(n.centroid[0]), float(n.centroid[1])) for n in graph.nodes if n.centroid is not None}
        for i, n in enumerate(loose):
            pos[n.id] = ((i + 0.5) / len(loose) * width, height * (1 + _BAND * 0.55))
        return pos, extent, band
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(ids)
    g.add_edges_from((e.source, e.target) for e in graph.edges)
    if len(ids) == 1:
        raw = {ids[0]: np.zeros(2)}
    elif layout == "spring":
        raw = nx.spring_layout(g, seed=0)
    else:
        raw = nx.kamada_kawai_layout(g)
    xy = np.array([raw[i] for i in ids], dtype=np.float64).reshape(len(ids), 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    unit = np.where(hi - lo > 1e-12, (xy - lo) / span, 0.5)
    out = _MARGIN + (1 - 2 * _MARGIN) * unit
    pos = {i: (float(out[k, 0] * width), float(out[k, 1] * height)) for k, i in enumerate(ids)}
    return pos, (float(width), float(height)), None


def _segments(graph: ClassGraph) -> list[dict[str, str]]:
    """The sentence cut into plain text and phrases (no character offsets cross to JS, whose
    strings count UTF-16 units where Python counts code points)."""
    if graph.text is None:
        return []
    text, out, at = graph.text.text, [], 0
    for span in graph.text.spans:
        if span.start > at:
            out.append({"text": text[at:span.start], "kind": "", "ref": ""})
        out.append({"text": text[span.start:span.end], "kind": span.kind, "ref": span.id})
        at = span.end
    if at < len(text):
        out.append({"text": text[at:], "kind": "", "ref": ""})
    return out


def _saliency_payload(saliency: np.ndarray | None) -> dict[str, Any]:
    if saliency is None:
        return {}
    lo, hi = float(saliency.min()), float(saliency.max())
    scaled = np.zeros(saliency.shape, dtype=np.uint8) if hi <= lo else np.rint((saliency - lo) / (hi - lo) * 255).astype(np.uint8)
    return {"data": np.ascontiguousarray(scaled).tobytes(), "dtype": "uint8", "shape": [int(n) for n in saliency.shape],
            "min": _round(lo), "max": _round(hi)}


def _graph_payloads(data: ExplanationData, layout: str, mask_items: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    for graph in data.graphs:
        pos, extent, band = graph_positions(graph, layout, data.width, data.height)
        nodes = [{
            "id": n.id, "name": n.name, "number": k + 1, "present": n.present,
            "box": None if n.box is None else [_round(v) for v in n.box],
            "centroid": None if n.centroid is None else [_round(v) for v in n.centroid],
            "mask": -1 if n.mask is None else mask_items[id(n.mask)],
            "contribution": _round(n.contribution), "importance": _round(n.importance),
            "pos": [round(pos[n.id][0], 2), round(pos[n.id][1], 2)],
        } for k, n in enumerate(graph.nodes)]
        edges = [{"id": e.id, "source": e.source, "target": e.target, "relation": e.relation,
                  "contribution": _round(e.contribution)} for e in graph.edges]
        out.append({"nodes": nodes, "edges": edges, "segments": _segments(graph),
                    "extent": [round(extent[0], 2), round(extent[1], 2)], "band": band})
    return out


def explorer_payload(data: ExplanationData, layout: str = "patches") -> dict[str, Any]:
    """The data traits of a :class:`ConceptExplorer` of ``data`` (``image``, ``saliency``,
    ``masks``, ``classes``, ``graphs``, ``predicted``, ``limit``; see the module docstring),
    built without a widget: the gallery sends them for the explanation it opens."""
    masks, items = pack_masks(data.graphs)
    return {
        "image": image_payload(data.image),
        "saliency": _saliency_payload(data.saliency),
        "masks": masks,
        "classes": [{**c.to_dict(), "question": data.question(c.index)} for c in data.classes],
        "graphs": _graph_payloads(data, layout, items),
        "predicted": data.predicted,
        "limit": _round(contribution_limit(data)) or 1.0,
    }


class ConceptExplorer(XWidget, OpacityChecks):
    """The linked explorer: image patches, concept graph and sentence of one explanation.

    Args:
        data: an :class:`~xwidgets.widgets.explorer_data.ExplanationData` (or a dict that
            ``ExplanationData.from_dict`` reads).
        layout: ``"patches"`` (default: nodes at their patches' centroids), ``"spring"``
            or ``"kamada_kawai"`` (networkx layouts, computed here and sent as positions);
            the ``graph_layout`` trait (``layout`` is every ipywidget's CSS layout).
        selected_class: the index of the class shown first (default: the predicted one).
        selected: the node or edge id selected first ("" for none).
        opacity: the saliency map's opacity in [0, 1].
        colormap: the saliency map's colour map, one of :data:`COLORMAPS`.
        title: heading (default: the data's title).

    ``selected`` and ``selected_class`` are synced both ways: read them to see what the
    user picked, set them to move the highlight.
    """

    _module = "concept_explorer"

    image = traitlets.Dict().tag(sync=True)
    saliency = traitlets.Dict().tag(sync=True)
    masks = traitlets.Dict().tag(sync=True)
    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    graphs = traitlets.List(traitlets.Dict()).tag(sync=True)
    predicted = traitlets.Int(0).tag(sync=True)
    limit = traitlets.Float(1.0).tag(sync=True)
    graph_layout = traitlets.Unicode("patches").tag(sync=True)
    selected_class = traitlets.Int(0).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    opacity = traitlets.Float(0.45).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        data: ExplanationData,
        *,
        layout: str = "patches",
        selected_class: int | None = None,
        selected: str = "",
        opacity: float = 0.45,
        colormap: str = "viridis",
        title: str | None = None,
    ) -> None:
        if isinstance(data, dict):
            data = ExplanationData.from_dict(data)
        if not isinstance(data, ExplanationData):
            raise bad_argument("data", "an ExplanationData (or a dict for ExplanationData.from_dict)", data)
        data.validate()
        layout = check_choice("layout", layout, LAYOUTS)
        if selected_class is None:
            selected_class = data.predicted
        position = _class_position(data, selected_class, "selected_class")
        if not isinstance(selected, str) or (selected and selected not in data.graphs[position].ids):
            ids = data.graphs[position].ids
            raise bad_argument("selected", f"'' or a node or edge id of class {data.classes[position].index} "
                               f"({', '.join(map(repr, ids)) or 'it has none'})", selected)
        opacity = check_opacity(opacity)
        colormap = check_choice("colormap", colormap, COLORMAPS)
        if title is None:
            title = data.title
        if not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)
        self._data = data
        self._laid_out = layout
        super().__init__(
            **explorer_payload(data, layout),
            graph_layout=layout,
            selected_class=int(data.classes[position].index),
            selected=selected,
            opacity=opacity,
            colormap=colormap,
            title=title,
        )

    @classmethod
    def from_concept_graph(
        cls,
        graph: Any,
        texts: Any = None,
        *,
        saliency: Any = None,
        edges: str | int = "top",
        title: str | None = None,
        max_bytes: int | None = MAX_BYTES,
        **kwargs: Any,
    ) -> "ConceptExplorer":
        """The explorer of a :class:`~xwidgets.concepts.result.ConceptGraph`: its data from
        :func:`~xwidgets.widgets.from_concept_graph.explanation_data` (``texts``,
        ``saliency``, ``edges``, ``title`` and ``max_bytes`` go there), the other keyword
        arguments to the constructor."""
        from .from_concept_graph import explanation_data

        data = explanation_data(graph, texts, saliency=saliency, edges=edges, title=title, max_bytes=max_bytes)
        return cls(data, **kwargs)

    def _graph_payloads(self, layout: str) -> list[dict[str, Any]]:
        return _graph_payloads(self._data, layout, pack_masks(self._data.graphs)[1])

    # ------------------------------------------------------------------ access
    @property
    def data(self) -> ExplanationData:
        """The explanation shown."""
        return self._data

    @property
    def shown_graph(self) -> ClassGraph:
        """The graph of the class shown now (``selected_class``)."""
        return self._data.graph(self.selected_class)

    @property
    def selected_item(self) -> ConceptNode | ConceptEdge | None:
        """The selected node or edge of the class shown, or None."""
        if not self.selected:
            return None
        graph = self.shown_graph
        try:
            return graph.node(self.selected)
        except KeyError:
            return graph.edge(self.selected)

    def select(self, ref: str = "", class_index: int | None = None) -> None:
        """Select node or edge ``ref`` ("" for none) of class ``class_index`` (default: the
        class shown), as a click in the widget would."""
        position = _class_position(self._data, self.selected_class if class_index is None else class_index, "class_index")
        ids = self._data.graphs[position].ids
        if not isinstance(ref, str) or (ref and ref not in ids):
            raise bad_argument("ref", f"'' or a node or edge id of the class ({', '.join(map(repr, ids))})", ref)
        with self.hold_trait_notifications():
            self.selected_class = self._data.classes[position].index
            self.selected = ref

    def payload_nbytes(self) -> int:
        """Bytes of this explanation's state as it travels to the front end: its JSON
        plus its binary buffers (the front-end bundle, sent once per widget, not counted)."""
        from ipywidgets.widgets.widget import _remove_buffers

        state = self.get_state(self.state_trait_names())
        json_state, _, buffers = _remove_buffers(state)
        text = json.dumps(json_state, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return len(text.encode("utf-8")) + sum(memoryview(b).nbytes for b in buffers)

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected_class")
    def _validate_selected_class(self, proposal: Any) -> int:
        value = proposal["value"]
        indices = [int(c["index"]) for c in self.classes]
        if indices and value not in indices:
            raise traitlets.TraitError(
                f"selected_class: expected the index of a candidate class ({', '.join(map(str, indices))}); got {describe(value)}"
            )
        return value

    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> str:
        value = proposal["value"]
        if value == "" or not self.graphs:
            return value
        ids = self._ids(self.selected_class)
        if value not in ids:
            raise traitlets.TraitError(
                f"selected: expected '' or a node or edge id of class {self.selected_class} "
                f"({', '.join(map(repr, ids))}); got {describe(value)}"
            )
        return value

    @traitlets.observe("selected_class")
    def _class_changed(self, change: Any) -> None:
        if self.selected and self.selected not in self._ids(change["new"]):
            self.selected = ""

    # opacity: OpacityChecks
    @traitlets.validate("colormap", "graph_layout")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"colormap": COLORMAPS, "graph_layout": LAYOUTS})

    @traitlets.observe("graph_layout")
    def _layout_changed(self, change: Any) -> None:
        if change["new"] != self._laid_out:  # set after construction: lay the graphs out again
            self._laid_out = change["new"]
            self.graphs = self._graph_payloads(change["new"])

    def _ids(self, class_index: int) -> list[str]:
        for c, g in zip(self.classes, self.graphs):
            if int(c["index"]) == class_index:
                return [n["id"] for n in g["nodes"]] + [e["id"] for e in g["edges"]]
        return []

    # ------------------------------------------------------------------ repr
    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        labels = [c["label"] for c in self.classes]
        yield "title", self.title
        yield "classes", abbreviated(labels)
        yield "predicted", self.predicted
        yield "selected_class", self.selected_class
        yield "selected", self.selected
        yield "nodes", len(self.shown_graph.nodes)
        yield "edges", len(self.shown_graph.edges)
        yield "graph_layout", self.graph_layout


def _class_position(data: ExplanationData, class_index: Any, argument: str) -> int:
    indices = data.class_indices
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) or int(class_index) not in indices:
        raise bad_argument(argument, f"the index of a candidate class ({', '.join(map(str, indices))})", class_index)
    return indices.index(int(class_index))
