"""From a :class:`~xwidgets.concepts.result.ConceptGraph` to the linked explorer's
:class:`~xwidgets.widgets.explorer_data.ExplanationData`.

The concept graphs of the graph reasoning network (VRX, Ge et al., CVPR 2021: a structural
concept graph per candidate class, with each node's and each edge's signed contribution to
the class's score) and their sentences (``xwidgets.text.sentences``) become the explorer's
input contract:

* one :class:`ClassGraph` per candidate class, in the ConceptGraph's order;
* node ``j`` of a class graph has the ConceptGraph's id ``"n{j}"``, its name from
  ``concept_names``, its signed contribution and its 0-1 importance
  (:meth:`ConceptGraph.node_importance`); a present node carries the SCG's box, centroid
  and mask, an absent one stays absent (no box, no centroid, no mask);
* edges ``"e{i}-{j}"`` between present nodes only (``edge_present``): by default the few
  most important per class (plus any the sentence names), so the payload stays small;
  the relation word ("above", "below", "left of", "right of") says where the source's
  centroid lies relative to the target's;
* the sentence of each class ("why" the prediction, "why not" the others), whose span ids
  are checked against its class graph.

Masks: the explorer sends each distinct mask once, cropped and bit-packed
(:func:`~xwidgets.widgets.concept_explorer.pack_masks`). When the whole explanation would
exceed ``max_bytes`` (300 KB by default, the issue's limit for one explanation), the masks
of the least important nodes are dropped, most important kept first; their boxes stay.

This module reads ``xwidgets.text.sentences`` lazily: it works without it (no sentences).
"""

from __future__ import annotations

import importlib.util
import json
import math
import numbers
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .._validation import Described, bad_argument
from .explorer_data import ClassGraph, ConceptEdge, ConceptNode, ExplanationData, Sentence, Span

__all__ = ["explanation_data", "relation_word", "EDGE_MODES", "TOP_EDGES", "MAX_BYTES"]

#: the ``edges`` modes besides an int
EDGE_MODES = ("top", "all")
#: edges per class graph kept by ``edges="top"`` (besides those the sentence names)
TOP_EDGES = 6
#: default limit, in bytes, of one explanation's payload (the issue's 300 KB)
MAX_BYTES = 300_000
#: room left for the widget's few non-data traits (layout, selection, opacity, ...)
_OTHER_TRAITS = 1_000

TextLike = Any  # TextExplanation | Sentence | str | Mapping | None


def relation_word(source: tuple[float, float], target: tuple[float, float]) -> str:
    """Where the centroid ``source`` (x, y) lies relative to ``target``, in image
    coordinates (y down): "above", "below", "left of" or "right of" (the larger of the
    vertical and horizontal offsets decides; a tie is vertical)."""
    dx, dy = target[0] - source[0], target[1] - source[1]
    if abs(dy) >= abs(dx):
        return "above" if dy > 0 else "below"
    return "left of" if dx > 0 else "right of"


# --------------------------------------------------------------------------- checks
def _check_graph(graph: Any) -> Any:
    from ..concepts.result import ConceptGraph

    if not isinstance(graph, ConceptGraph):
        raise bad_argument("graph", "a ConceptGraph (xwidgets.concepts.result), e.g. from a ConceptExplainer", graph)
    image = np.asarray(graph.image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise bad_argument("graph.image", "an (H, W, 3) uint8 image", image)
    if not graph.classes:
        raise bad_argument("graph.classes", "at least one candidate class", graph.classes)
    h, w = image.shape[:2]
    for c in graph.classes:
        if c not in graph.graphs:
            raise bad_argument("graph.graphs", f"an SCG for every candidate class (class {c} has none)",
                               Described(f"SCGs for classes {sorted(graph.graphs)}"))
        scg = graph.graphs[c]
        k = len(scg)
        if tuple(np.shape(scg.masks)) != (k, h, w):
            raise bad_argument(f"graph.graphs[{c}].masks", f"({k}, {h}, {w}) bool masks (the image's size)", scg.masks)
        names = graph.concept_names.get(c)
        if names is None or len(names) != k or not all(isinstance(n, str) for n in names):
            raise bad_argument(f"graph.concept_names[{c}]", f"a list of {k} str, one per node", names)
    return graph


def _check_edges(edges: Any) -> int | None:
    """``edges`` -> how many per class (None: all)."""
    if edges == "all" and isinstance(edges, str):
        return None
    if isinstance(edges, str) and edges == "top":
        return TOP_EDGES
    if isinstance(edges, numbers.Integral) and not isinstance(edges, bool) and int(edges) >= 0:
        return int(edges)
    raise bad_argument("edges", "'top', 'all' or an int >= 0 (edges per class graph)", edges)


def _check_saliency(saliency: Any) -> np.ndarray | None:
    if saliency is None:
        return None
    maps = getattr(saliency, "maps", None)
    if maps is not None:  # a Saliency result of one image
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[0] != 1:
            raise bad_argument("saliency", "a 2-D map or a Saliency with one row", maps,
                               "Pass one row, e.g. saliency=sal.maps[i]")
        return maps[0]
    if hasattr(saliency, "detach"):  # a torch tensor
        saliency = saliency.detach().cpu().numpy()
    array = np.asarray(saliency)
    if array.ndim != 2:
        raise bad_argument("saliency", "None, a 2-D map or a Saliency with one row", array)
    return array


# --------------------------------------------------------------------------- texts
def _default_texts(graph: Any) -> Any:
    """``explain_all(graph)`` when ``xwidgets.text.sentences`` exists, else no sentences."""
    if importlib.util.find_spec("xwidgets.text.sentences") is None:
        return {}
    from ..text import sentences

    return sentences.explain_all(graph)


def _as_mapping(texts: Any, graph: Any) -> dict[int, Any]:
    """``texts`` (see :func:`explanation_data`) -> {class index: one text or None}."""
    if texts is None:
        texts = _default_texts(graph)
    if texts is False:
        return {}
    if callable(texts) and not isinstance(texts, (Mapping, Sentence)):
        return {c: texts(graph, c) for c in graph.classes}
    if isinstance(texts, Mapping):
        out = {}
        for key, value in texts.items():
            if isinstance(key, bool) or not isinstance(key, numbers.Integral) or int(key) not in graph.classes:
                raise bad_argument("texts", f"keys among the candidate classes {graph.classes}", key)
            out[int(key)] = value
        return out
    if isinstance(texts, (str, bytes, Sentence)) or not isinstance(texts, Iterable):
        raise bad_argument("texts", "None, False, {class index: TextExplanation or Sentence}, a list of "
                           "TextExplanation or a callable (graph, class index) -> text", texts)
    out = {}
    for i, t in enumerate(texts):
        cls = getattr(t, "cls", None)
        if isinstance(cls, bool) or not isinstance(cls, numbers.Integral) or int(cls) not in graph.classes:
            raise bad_argument(f"texts[{i}]", f"a TextExplanation whose cls is a candidate class {graph.classes}", t)
        out[int(cls)] = t
    return out


def _sentence(where: str, value: TextLike, cls: int) -> Sentence | None:
    """One text -> a Sentence (not yet checked against the graph)."""
    if value is None:
        return None
    own = getattr(value, "cls", None)
    if own is not None and not isinstance(value, Mapping) and own != cls:
        raise bad_argument(where, f"the text of class {cls}", Described(f"the text of class {own!r}"))
    if hasattr(value, "to_sentence"):
        value = value.to_sentence()
    if isinstance(value, str):
        return Sentence(value, [])
    if isinstance(value, Mapping):
        value = Sentence(value.get("text"), list(value.get("spans", [])))
    if not isinstance(value, Sentence):
        raise bad_argument(where, "a TextExplanation, a Sentence, a str, a dict with text and spans, or None", value)
    if not isinstance(value.text, str):
        raise bad_argument(f"{where}.text", "a str", value.text)
    spans = []
    for i, s in enumerate(value.spans):
        if isinstance(s, Mapping):
            s = Span(s.get("start"), s.get("end"), s.get("kind"), s.get("id"))
        elif isinstance(s, (tuple, list)) and len(s) == 4:
            s = Span(*s)
        elif not isinstance(s, Span):
            raise bad_argument(f"{where}.spans[{i}]", "a Span, a (start, end, kind, id) tuple or a dict", s)
        spans.append(s)
    return Sentence(value.text, spans)


def _check_span_ids(where: str, sentence: Sentence, k: int, edge_present: np.ndarray) -> list[tuple[int, int]]:
    """Every span id must be a node ("n{j}", j < k) or a present edge ("e{i}-{j}") of the
    class graph, of the span's kind. Returns the edges the spans name."""
    from ..concepts.result import parse_id

    named: list[tuple[int, int]] = []
    for i, s in enumerate(sentence.spans):
        try:
            kind, idx = parse_id(s.id)
        except ValueError:
            kind, idx = "", ()
        ok = kind == s.kind
        if ok and kind == "node":
            ok = idx[0] < k
        elif ok and kind == "edge":
            ok = idx[0] < k and idx[1] < k and bool(edge_present[idx])
            if ok:
                named.append(idx)
        if not ok:
            expected = (f"the id of a node of the class graph (n0 ... n{k - 1})" if s.kind == "node" else
                        "the id of a present edge of the class graph (e<i>-<j>, both nodes present)" if s.kind == "edge"
                        else "a span of kind 'node' or 'edge'")
            raise bad_argument(f"{where}.spans[{i}].id", expected, s.id if s.kind in ("node", "edge") else s.kind)
    return named


# --------------------------------------------------------------------------- nodes and edges
def _node(graph: Any, cls: int, j: int, importance: float, width: int, height: int) -> ConceptNode:
    scg = graph.graphs[cls]
    name = graph.concept_names[cls][j]
    contribution = float(graph.node_contribution[cls][j])
    importance = float(min(1.0, max(0.0, importance)))
    if not bool(scg.present[j]):
        return ConceptNode(f"n{j}", name, False, None, None, None, contribution, importance)
    mask = np.asarray(scg.masks[j], dtype=bool)
    mask = mask if mask.any() else None
    x0, y0, x1, y1 = (float(v) for v in np.asarray(scg.boxes[j]).reshape(4))
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
    box = (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None
    if box is None and mask is None:
        raise bad_argument(f"graph.graphs[{cls}].boxes[{j}]", "a box inside the image (or a mask) for a present node",
                           np.asarray(scg.boxes[j]))
    cx, cy = (float(v) for v in np.asarray(scg.centroids[j]).reshape(2))
    if math.isfinite(cx) and math.isfinite(cy) and 0 <= cx <= width and 0 <= cy <= height:
        centroid = (cx, cy)
    elif mask is not None:  # the mask's mean pixel centre, as ExplanationData derives it
        ys, xs = np.nonzero(mask)
        centroid = (float(xs.mean() + 0.5), float(ys.mean() + 0.5))
    else:
        centroid = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return ConceptNode(f"n{j}", name, True, box, centroid, mask, contribution, importance)


def _edge_mask(graph: Any, cls: int) -> np.ndarray:
    """(k, k) bool: the SCG's present edges, between two present, distinct nodes."""
    scg = graph.graphs[cls]
    node = np.asarray(scg.present, dtype=bool)
    k = len(node)
    mask = np.asarray(scg.edge_present, dtype=bool).reshape(k, k)
    return mask & node[:, None] & node[None, :] & ~np.eye(k, dtype=bool)


def _edges(graph: Any, cls: int, nodes: list[ConceptNode], keep: int | None,
           named: list[tuple[int, int]]) -> list[ConceptEdge]:
    contribution = graph.edge_contribution[cls]
    present = _edge_mask(graph, cls)
    pairs = [(int(i), int(j)) for i, j in zip(*np.nonzero(present))]
    if keep is not None:
        ranked = sorted((p for p in pairs if contribution[p] != 0), key=lambda p: -abs(float(contribution[p])))
        chosen = set(ranked[:keep]) | set(named)
        pairs = [p for p in pairs if p in chosen]
    out = []
    for i, j in pairs:
        relation = relation_word(nodes[i].centroid, nodes[j].centroid)  # both present: both have one
        out.append(ConceptEdge(f"e{i}-{j}", f"n{i}", f"n{j}", relation, float(contribution[i, j])))
    return out


# --------------------------------------------------------------------------- masks within the budget
def _payload_nbytes(data: ExplanationData) -> tuple[int, int]:
    """(bytes of the explorer's data traits for ``data``, of which its packed masks)."""
    from ipywidgets.widgets.widget import _remove_buffers

    from .concept_explorer import explorer_payload

    state = explorer_payload(data)
    json_state, _, buffers = _remove_buffers(state)
    text = json.dumps(json_state, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    total = len(text.encode("utf-8")) + sum(memoryview(b).nbytes for b in buffers) + _OTHER_TRAITS
    return total + len(data.title.encode("utf-8")), len(state["masks"]["data"])


def _fit_masks(data: ExplanationData, max_bytes: int) -> ExplanationData:
    """Keep masks in order of importance (across classes) while the payload fits; every less
    important node loses its mask. A mask shared by several nodes (identical pixels) is
    counted once and kept for all of them once the most important of them keeps it."""
    total, mask_bytes = _payload_nbytes(data)
    if total <= max_bytes:
        return data
    budget = max_bytes - (total - mask_bytes)
    keyed: dict[tuple, int] = {}
    order = []
    for g in data.graphs:
        for n in g.nodes:
            if n.mask is None:
                continue
            ys, xs = np.nonzero(n.mask)
            x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
            bits = np.packbits(n.mask[y0:y1, x0:x1].ravel()).tobytes()
            key = (x0, y0, x1, y1, bits)
            keyed.setdefault(key, len(bits))
            order.append((-n.importance, -abs(n.contribution), n, key))
    order.sort(key=lambda t: (t[0], t[1]))
    kept: set[tuple] = set()
    used, full = 0, False
    for _, _, node, key in order:
        if key not in kept and not full:
            full = used + keyed[key] > budget  # the first that does not fit ends the masks
            if not full:
                kept.add(key)
                used += keyed[key]
        if key not in kept:
            node.mask = None  # its box (and centroid) stay
    return data.validate()


# --------------------------------------------------------------------------- the conversion
def explanation_data(
    graph: Any,
    texts: Mapping[int, TextLike] | Iterable[TextLike] | Callable[[Any, int], TextLike] | bool | None = None,
    *,
    saliency: Any = None,
    edges: str | int = "top",
    title: str | None = None,
    max_bytes: int | None = MAX_BYTES,
) -> ExplanationData:
    """The linked explorer's :class:`ExplanationData` of one :class:`ConceptGraph`.

    Args:
        graph: a :class:`~xwidgets.concepts.result.ConceptGraph`.
        texts: the sentences: ``{class index: TextExplanation | Sentence | str | None}``
            (classes left out get none), a list of ``TextExplanation`` (by their ``cls``),
            a callable ``(graph, class index) -> text`` (e.g. ``explain_in_words``),
            ``False`` for no sentences, or None (default): ``explain_all(graph)`` from
            ``xwidgets.text.sentences`` when that module exists, else no sentences. Every
            span id must be a node or a present edge of its class graph.
        saliency: optional 2-D map over the image (or a one-row ``Saliency``).
        edges: ``"top"`` (default: the :data:`TOP_EDGES` largest |contribution| per class,
            zero ones left out), ``"all"`` present edges, or an int per class; edges the
            sentence names are always kept.
        title: heading (default: the prediction, the truth when known, and the method).
        max_bytes: drop the least important nodes' masks (boxes stay) until the explorer's
            payload fits in this many bytes; None keeps every mask.
    """
    graph = _check_graph(graph)
    keep = _check_edges(edges)
    sal = _check_saliency(saliency)
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes <= 0):
        raise bad_argument("max_bytes", "None or a positive int (bytes)", max_bytes)
    if title is not None and not isinstance(title, str):
        raise bad_argument("title", "None or a str", title)
    image = np.ascontiguousarray(graph.image)
    height, width = image.shape[:2]
    label = {c: str(graph.class_names.get(c, c)) for c in graph.classes}
    if graph.true_class is not None and graph.true_class not in label:
        label[graph.true_class] = str(graph.class_names.get(graph.true_class, graph.true_class))
    texts_by_class = _as_mapping(texts, graph)

    classes, graphs = [], []
    for c in graph.classes:
        k = len(graph.graphs[c])
        where = f"texts[{c}]"
        sentence = _sentence(where, texts_by_class.get(c), c)
        named = [] if sentence is None else _check_span_ids(where, sentence, k, _edge_mask(graph, c))
        importance = graph.node_importance(c)
        nodes = [_node(graph, c, j, float(importance[j]), width, height) for j in range(k)]
        graphs.append(ClassGraph(nodes, _edges(graph, c, nodes, keep, named), sentence))
        p = graph.probabilities.get(c)
        classes.append((c, label[c], None if p is None else float(min(1.0, max(0.0, float(p))))))

    if title is None:
        title = f"Predicted {label.get(graph.predicted, graph.predicted)}"
        if graph.true_class is not None:
            title += f", true {label[graph.true_class]}"
        if graph.method:
            title += f" ({graph.method})"
    data = ExplanationData(image=image, classes=classes, graphs=graphs, predicted=int(graph.predicted),
                           saliency=sal, title=title, true_class=graph.true_class)
    return data if max_bytes is None else _fit_masks(data, int(max_bytes))
