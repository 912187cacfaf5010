"""What the linked explorer reads: one image's explanation as concepts, relations and words.

:class:`ExplanationData` is the ``ConceptExplorer``'s input contract: plain dataclasses of
numpy arrays and metadata (DESIGN.md: data flows one way; widgets only read results). The
concept graphs (``xwidgets.concepts``, after the structural concept graphs of VRX, Ge et al.,
"A Peek Into the Reasoning of Neural Networks: Interpreting with Structural Visual
Concepts", CVPR 2021) and the textual explanations (``xwidgets.text``) convert into it.

For one image: the image, an optional saliency map, the candidate classes with their
probabilities and the predicted one, and per candidate class a :class:`ClassGraph`:

* nodes (:class:`ConceptNode`): a visual concept, present in the image (with its patch: a
  box in pixels, a centroid and optionally a mask) or explicitly absent, with a signed
  contribution to the class score and an importance in [0, 1];
* edges (:class:`ConceptEdge`): a directed spatial relation between two nodes, with a
  signed contribution;
* a :class:`Sentence`: "why" the prediction (the predicted class) or "why not" (any other
  class), whose spans point at node and edge ids.

Everything is checked when built; a message names the field (``graphs[2].nodes[0].box``),
what was expected and what came. This module needs numpy only (matplotlib for
:meth:`ExplanationData.plot`, the widget for :meth:`ExplanationData.save_html`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import pathlib
import textwrap
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .._validation import Described, bad_argument

__all__ = [
    "ExplanationData",
    "CandidateClass",
    "ClassGraph",
    "ConceptNode",
    "ConceptEdge",
    "Sentence",
    "Span",
    "SPAN_KINDS",
]

#: what a span of a sentence points at
SPAN_KINDS = ("node", "edge")
#: longest id accepted (ids travel in DOM attributes and in the `selected` trait)
MAX_ID_LENGTH = 64


# --------------------------------------------------------------------------- checks
def _check_str(where: str, value: Any, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise bad_argument(where, "a non-empty str" if not empty else "a str", value)
    return value


def _check_id(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH or value != value.strip():
        raise bad_argument(where, f"a non-empty str id of at most {MAX_ID_LENGTH} characters, without "
                           "surrounding spaces", value)
    return value


def _check_real(where: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    expected = "a finite number" if low is None else f"a number in [{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise bad_argument(where, expected, value)
    value = float(value)
    if low is not None and not (low <= value <= (high if high is not None else math.inf)):
        raise bad_argument(where, expected, value)
    return value


def _check_int(where: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise bad_argument(where, f"an int >= {low}", value)
    return int(value)


def _check_bool(where: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise bad_argument(where, "True or False", value)
    return bool(value)


def _check_list(where: str, value: Any, what: str) -> list:
    if isinstance(value, (str, bytes, Mapping, np.ndarray)) or not isinstance(value, Iterable):
        raise bad_argument(where, f"a list of {what}", value)
    return list(value)


def _numbers(where: str, value: Any, n: int, what: str) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != n:
        raise bad_argument(where, what, value)
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.number)) or not math.isfinite(float(v)):
            raise bad_argument(where, what, value)
        out.append(float(v))
    return tuple(out)


def _check_image(value: Any) -> np.ndarray:
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.ndim != 3 or array.shape[-1] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise bad_argument("image", "an (H, W, 3) RGB image", array)
    if array.dtype != np.uint8:
        raise bad_argument("image", "dtype uint8", array, "Convert with np.clip(x * 255, 0, 255).astype(np.uint8)")
    return np.ascontiguousarray(array)


def _fields(where: str, value: Any, cls: type, required: Iterable[str]) -> dict[str, Any]:
    """The keys of a dict for ``cls``: unknown keys and missing required ones fail, naming them."""
    if not isinstance(value, Mapping):
        raise bad_argument(where, f"a {cls.__name__} or a dict of its fields", value)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in value if k not in names]
    if unknown:
        raise bad_argument(where, f"a dict with keys among {', '.join(names)}", Described(f"unknown key(s) {', '.join(map(repr, unknown))}"))
    missing = [k for k in required if k not in value]
    if missing:
        raise bad_argument(where, f"a dict with the key(s) {', '.join(map(repr, missing))}", Described(f"keys {', '.join(map(repr, value))}"))
    return dict(value)


# --------------------------------------------------------------------------- the dataclasses
@dataclasses.dataclass
class Span:
    """Characters ``text[start:end]`` of a sentence refer to the node or edge ``id``."""

    start: int
    end: int
    kind: str
    id: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "kind": self.kind, "id": self.id}


@dataclasses.dataclass
class Sentence:
    """A textual explanation: ``text`` and its phrases (``spans``) that point at nodes and edges.

    ``spans`` may be :class:`Span` objects, ``(start, end, kind, id)`` tuples or dicts; they
    are sorted and may not overlap.
    """

    text: str
    spans: list[Span] = dataclasses.field(default_factory=list)

    def phrase(self, span: Span) -> str:
        return self.text[span.start:span.end]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "spans": [s.to_dict() for s in self.spans]}


@dataclasses.dataclass
class ConceptNode:
    """A visual concept of a class graph.

    Attributes:
        id: unique in its graph (and distinct from the edges' ids), e.g. ``"n3"``.
        name: what the concept is called ("red headlight").
        present: found in the image; an absent concept (VRX's explicit "absent" state) may
            have no box.
        box: ``(x0, y0, x1, y1)`` in pixels of the image, x1 and y1 exclusive; required
            for a present concept unless a mask is given (its tight box is then used).
        centroid: ``(x, y)`` in pixels; by default the mask's mean pixel, else the box centre.
        mask: optional ``(H, W)`` bool mask of the concept's patch.
        contribution: signed contribution to the class score (positive: for the class).
        importance: in [0, 1] (the 0-1 normalised importance of patent 000).
    """

    id: str
    name: str
    present: bool = True
    box: tuple[float, float, float, float] | None = None
    centroid: tuple[float, float] | None = None
    mask: np.ndarray | None = None
    contribution: float = 0.0
    importance: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "present": self.present,
            "box": None if self.box is None else list(self.box),
            "centroid": None if self.centroid is None else list(self.centroid),
            "mask": self.mask, "contribution": self.contribution, "importance": self.importance,
        }


@dataclasses.dataclass
class ConceptEdge:
    """A directed relation ``source -> target`` (node ids of the same graph), e.g. "above"."""

    id: str
    source: str
    target: str
    relation: str
    contribution: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "target": self.target,
                "relation": self.relation, "contribution": self.contribution}


@dataclasses.dataclass
class ClassGraph:
    """One candidate class's concept graph and its sentence (None when there is no text)."""

    nodes: list[ConceptNode]
    edges: list[ConceptEdge] = dataclasses.field(default_factory=list)
    text: Sentence | None = None

    def node(self, node_id: str) -> ConceptNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def edge(self, edge_id: str) -> ConceptEdge:
        for e in self.edges:
            if e.id == edge_id:
                return e
        raise KeyError(edge_id)

    @property
    def ids(self) -> list[str]:
        """Every node id, then every edge id."""
        return [n.id for n in self.nodes] + [e.id for e in self.edges]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes], "edges": [e.to_dict() for e in self.edges],
                "text": None if self.text is None else self.text.to_dict()}


@dataclasses.dataclass
class CandidateClass:
    """A candidate class: its index in the model's outputs, label and probability (or None)."""

    index: int
    label: str
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "probability": self.probability}


@dataclasses.dataclass
class ExplanationData:
    """One image's explanation for the linked explorer (see the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8.
        classes: the candidate classes: :class:`CandidateClass`, ``(index, label,
            probability)`` tuples or dicts; indices unique.
        graphs: one :class:`ClassGraph` (or dict) per candidate class, in the same order.
        predicted: the predicted class's index; one of the candidates' (its sentence is the
            "why", the others' are "why not").
        saliency: optional 2-D float map over the image (any resolution; stretched over it).
        title: heading of the widget and the figure.
        true_class: the image's true class index when known (None: unknown); it need not
            be a candidate. The gallery filters by it and by :attr:`correct`.

    Build from plain dicts with :meth:`from_dict`; :meth:`example` gives a synthetic one.
    """

    image: np.ndarray
    classes: list[CandidateClass]
    graphs: list[ClassGraph]
    predicted: int
    saliency: np.ndarray | None = None
    title: str = ""
    true_class: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ checking
    def validate(self) -> "ExplanationData":
        """Check (and normalise: tuples and dicts become the dataclasses) every field.

        Raises a ValueError naming the field, what was expected and what came. Called when
        the data is built and again by the widget (fields may have been changed since).
        """
        self.image = _check_image(self.image)
        height, width = self.image.shape[:2]
        self.title = _check_str("title", self.title)
        if self.saliency is not None:
            sal = np.asarray(self.saliency)
            if sal.ndim != 2 or sal.shape[0] == 0 or sal.shape[1] == 0 or sal.dtype.kind not in "fiu":
                raise bad_argument("saliency", "None or a 2-D float map", sal)
            sal = sal.astype(np.float32)
            if not np.isfinite(sal).all():
                raise bad_argument("saliency", "finite values", sal, "Replace NaN and inf, e.g. with np.nan_to_num")
            self.saliency = sal
        classes = _check_list("classes", self.classes, "candidate classes")
        if not classes:
            raise bad_argument("classes", "at least one candidate class", classes)
        self.classes = [self._candidate(f"classes[{i}]", c) for i, c in enumerate(classes)]
        indices = [c.index for c in self.classes]
        for i, k in enumerate(indices):
            if indices.index(k) != i:
                raise bad_argument(f"classes[{i}].index", "class indices that do not repeat", k)
        self.predicted = _check_int("predicted", self.predicted)
        if self.predicted not in indices:
            raise bad_argument("predicted", f"the index of a candidate class ({', '.join(map(str, indices))})", self.predicted)
        if self.true_class is not None:
            self.true_class = _check_int("true_class", self.true_class)
        graphs = _check_list("graphs", self.graphs, "ClassGraph, one per candidate class")
        if len(graphs) != len(self.classes):
            raise bad_argument("graphs", f"one ClassGraph per candidate class ({len(self.classes)})", graphs)
        self.graphs = [self._graph(f"graphs[{i}]", g, width, height) for i, g in enumerate(graphs)]
        return self

    @staticmethod
    def _candidate(where: str, value: Any) -> CandidateClass:
        if isinstance(value, Mapping):
            value = CandidateClass(**_fields(where, value, CandidateClass, ("index", "label")))
        elif isinstance(value, (tuple, list)) and len(value) in (2, 3):
            value = CandidateClass(*value)
        elif not isinstance(value, CandidateClass):
            raise bad_argument(where, "a CandidateClass, an (index, label, probability) tuple or a dict", value)
        index = _check_int(f"{where}.index", value.index)
        label = _check_str(f"{where}.label", value.label)
        p = value.probability
        probability = None if p is None else _check_real(f"{where}.probability", p, 0.0, 1.0)
        return CandidateClass(index, label, probability)

    @classmethod
    def _graph(cls, where: str, value: Any, width: int, height: int) -> ClassGraph:
        if isinstance(value, Mapping):
            fields = _fields(where, value, ClassGraph, ("nodes",))
            value = ClassGraph(fields["nodes"], fields.get("edges", []), fields.get("text"))
        elif not isinstance(value, ClassGraph):
            raise bad_argument(where, "a ClassGraph or a dict with nodes, edges and text", value)
        nodes = [cls._node(f"{where}.nodes[{i}]", n, width, height)
                 for i, n in enumerate(_check_list(f"{where}.nodes", value.nodes, "ConceptNode"))]
        seen: set[str] = set()
        for i, n in enumerate(nodes):
            if n.id in seen:
                raise bad_argument(f"{where}.nodes[{i}].id", "ids that do not repeat within a graph", n.id)
            seen.add(n.id)
        node_ids = set(seen)
        edges = [cls._edge(f"{where}.edges[{i}]", e) for i, e in enumerate(_check_list(f"{where}.edges", value.edges, "ConceptEdge"))]
        edge_ids: set[str] = set()
        for i, e in enumerate(edges):
            if e.id in seen:
                what = "edge ids distinct from the node ids" if e.id in node_ids else "ids that do not repeat within a graph"
                raise bad_argument(f"{where}.edges[{i}].id", what, e.id)
            seen.add(e.id)
            edge_ids.add(e.id)
            for end in ("source", "target"):
                if getattr(e, end) not in node_ids:
                    raise bad_argument(f"{where}.edges[{i}].{end}", "the id of a node of the same graph", getattr(e, end))
        text = None if value.text is None else cls._sentence(f"{where}.text", value.text, node_ids, edge_ids)
        return ClassGraph(nodes, edges, text)

    @staticmethod
    def _node(where: str, value: Any, width: int, height: int) -> ConceptNode:
        if isinstance(value, Mapping):
            value = ConceptNode(**_fields(where, value, ConceptNode, ("id", "name")))
        elif not isinstance(value, ConceptNode):
            raise bad_argument(where, "a ConceptNode or a dict of its fields", value)
        node_id = _check_id(f"{where}.id", value.id)
        name = _check_str(f"{where}.name", value.name)
        present = _check_bool(f"{where}.present", value.present)
        mask = None
        if value.mask is not None:
            mask = np.asarray(value.mask)
            if mask.shape != (height, width) or mask.dtype != np.bool_:
                raise bad_argument(f"{where}.mask", f"None or a ({height}, {width}) bool array (the image's size)", mask,
                                   "Build it with a comparison, e.g. labels == k" if mask.shape == (height, width) else "")
            if not mask.any():
                raise bad_argument(f"{where}.mask", "a mask with at least one pixel set (or None)", Described("an empty mask"))
            mask = np.ascontiguousarray(mask)
        box = None
        if value.box is not None:
            expected = f"(x0, y0, x1, y1) in pixels with 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}"
            box = _numbers(f"{where}.box", value.box, 4, expected)
            x0, y0, x1, y1 = box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise bad_argument(f"{where}.box", expected, value.box)
        elif mask is not None:
            ys, xs = np.nonzero(mask)
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        elif present:
            raise bad_argument(f"{where}.box", "(x0, y0, x1, y1) in pixels (or a mask) for a present concept", None,
                               "Only absent concepts (present=False) may have no location")
        centroid = None
        if value.centroid is not None:
            expected = f"(x, y) in pixels inside the image ({width}x{height})"
            centroid = _numbers(f"{where}.centroid", value.centroid, 2, expected)
            if not (0 <= centroid[0] <= width and 0 <= centroid[1] <= height):
                raise bad_argument(f"{where}.centroid", expected, value.centroid)
        elif mask is not None:
            ys, xs = np.nonzero(mask)
            centroid = (float(xs.mean() + 0.5), float(ys.mean() + 0.5))
        elif box is not None:
            centroid = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        contribution = _check_real(f"{where}.contribution", value.contribution)
        importance = _check_real(f"{where}.importance", value.importance, 0.0, 1.0)
        return ConceptNode(node_id, name, present, box, centroid, mask, contribution, importance)

    @staticmethod
    def _edge(where: str, value: Any) -> ConceptEdge:
        if isinstance(value, Mapping):
            value = ConceptEdge(**_fields(where, value, ConceptEdge, ("id", "source", "target", "relation")))
        elif not isinstance(value, ConceptEdge):
            raise bad_argument(where, "a ConceptEdge or a dict of its fields", value)
        return ConceptEdge(
            _check_id(f"{where}.id", value.id),
            _check_str(f"{where}.source", value.source),
            _check_str(f"{where}.target", value.target),
            _check_str(f"{where}.relation", value.relation),
            _check_real(f"{where}.contribution", value.contribution),
        )

    @staticmethod
    def _sentence(where: str, value: Any, node_ids: set[str], edge_ids: set[str]) -> Sentence:
        if isinstance(value, str):
            value = Sentence(value)
        elif isinstance(value, Mapping):
            value = Sentence(**_fields(where, value, Sentence, ("text",)))
        elif not isinstance(value, Sentence):
            raise bad_argument(where, "None, a str, a Sentence or a dict with text and spans", value)
        text = _check_str(f"{where}.text", value.text)
        spans: list[Span] = []
        for i, s in enumerate(_check_list(f"{where}.spans", value.spans, "spans (start, end, kind, id)")):
            sw = f"{where}.spans[{i}]"
            if isinstance(s, Mapping):
                s = Span(**_fields(sw, s, Span, ("start", "end", "kind", "id")))
            elif isinstance(s, (tuple, list)) and len(s) == 4:
                s = Span(*s)
            elif not isinstance(s, Span):
                raise bad_argument(sw, "a Span, a (start, end, kind, id) tuple or a dict", s)
            start, end = _check_int(f"{sw}.start", s.start), _check_int(f"{sw}.end", s.end)
            if not start < end <= len(text):
                raise bad_argument(sw, f"0 <= start < end <= {len(text)} (the text's length)", (start, end))
            if s.kind not in SPAN_KINDS:
                raise bad_argument(f"{sw}.kind", "'node' or 'edge'", s.kind)
            ids = node_ids if s.kind == "node" else edge_ids
            if s.id not in ids:
                raise bad_argument(f"{sw}.id", f"the id of {'a node' if s.kind == 'node' else 'an edge'} of the same graph", s.id)
            spans.append(Span(start, end, s.kind, s.id))
        spans.sort(key=lambda s: (s.start, s.end))
        for a, b in zip(spans, spans[1:]):
            if b.start < a.end:
                raise bad_argument(f"{where}.spans", "spans that do not overlap",
                                   Described(f"[{a.start}, {a.end}) and [{b.start}, {b.end})"))
        return Sentence(text, spans)

    # ------------------------------------------------------------------ access
    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def class_indices(self) -> list[int]:
        return [c.index for c in self.classes]

    def position(self, class_index: int) -> int:
        """Position among the candidates of the class with index ``class_index``."""
        indices = self.class_indices
        if isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral) or class_index not in indices:
            raise bad_argument("class_index", f"the index of a candidate class ({', '.join(map(str, indices))})", class_index)
        return indices.index(int(class_index))

    def graph(self, class_index: int) -> ClassGraph:
        """The graph of the candidate class with index ``class_index``."""
        return self.graphs[self.position(class_index)]

    @property
    def correct(self) -> bool | None:
        """Whether the prediction is the true class; None when the true class is unknown."""
        return None if self.true_class is None else self.predicted == self.true_class

    def candidate(self, class_index: int) -> CandidateClass:
        return self.classes[self.position(class_index)]

    def question(self, class_index: int) -> str:
        """``"Why <label>?"`` for the predicted class, ``"Why not <label>?"`` for the others."""
        label = self.candidate(class_index).label
        return f"Why {label}?" if class_index == self.predicted else f"Why not {label}?"

    # ------------------------------------------------------------------ dicts
    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, dicts, str, numbers); the image, the saliency map and the
        masks stay numpy arrays. :meth:`from_dict` reads it back."""
        return {
            "image": self.image, "saliency": self.saliency, "title": self.title, "predicted": self.predicted,
            "classes": [c.to_dict() for c in self.classes], "graphs": [g.to_dict() for g in self.graphs],
            "true_class": self.true_class,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> "ExplanationData":
        """Build from a dict like :meth:`to_dict`'s (nested dicts, lists and arrays)."""
        fields = _fields("value", value, cls, ("image", "classes", "graphs", "predicted"))
        return cls(**fields)

    # ------------------------------------------------------------------ views
    def widget(self, **kwargs: Any):
        """The interactive :class:`~xwidgets.widgets.ConceptExplorer` of this explanation."""
        from .concept_explorer import ConceptExplorer

        return ConceptExplorer(self, **kwargs)

    def show(self, **kwargs: Any):
        """Alias of :meth:`widget`."""
        return self.widget(**kwargs)

    def save_html(self, path: str | pathlib.Path, *, title: str | None = None, **kwargs: Any) -> pathlib.Path:
        """Write ONE self-contained HTML file with the explorer, working with no network at all."""
        from ..report import write_report

        return write_report(path, self.widget(**kwargs), title=title or self.title or "xwidgets: concept explorer")

    def plot(self, class_index: int | None = None, *, ax: Any = None, alpha: float = 0.45, wrap: int = 90):
        """A static matplotlib figure for papers: the image (with the saliency map at
        ``alpha``), each present concept's patch outlined, numbered and coloured by its
        signed contribution (RdBu_r, centred on 0), the graph drawn at the centroids, and
        the class's sentence under it. ``class_index``: the predicted class by default.
        Returns the figure."""
        import matplotlib.pyplot as plt
        from matplotlib import colors, patches

        class_index = self.predicted if class_index is None else class_index
        graph = self.graph(class_index)
        if ax is None:
            fig, ax = plt.subplots(figsize=(5.2, 6.0))
        else:
            fig = ax.figure
        limit = contribution_limit(self) or 1.0
        norm = colors.Normalize(-limit, limit)
        cmap = plt.get_cmap("RdBu_r")
        ax.imshow(self.image)
        if self.saliency is not None:
            ax.imshow(self.saliency, cmap="viridis", alpha=alpha,
                      extent=(-0.5, self.width - 0.5, self.height - 0.5, -0.5), interpolation="bilinear")
        numbers_ = {n.id: i + 1 for i, n in enumerate(graph.nodes)}
        where = {n.id: n.centroid for n in graph.nodes if n.centroid is not None}
        for e in graph.edges:
            if e.source in where and e.target in where:
                ax.annotate("", xy=where[e.target], xytext=where[e.source],
                            arrowprops=dict(arrowstyle="-|>", color=cmap(norm(e.contribution)),
                                            lw=1 + 3 * min(1.0, abs(e.contribution) / limit), shrinkA=6, shrinkB=6))
        for n in graph.nodes:
            if n.box is None:
                continue
            x0, y0, x1, y1 = n.box
            colour = cmap(norm(n.contribution))
            ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=2,
                                           edgecolor=colour, linestyle="-" if n.present else "--"))
            cx, cy = n.centroid if n.centroid is not None else ((x0 + x1) / 2, (y0 + y1) / 2)
            ax.text(cx, cy, str(numbers_[n.id]), ha="center", va="center", fontsize=8, fontweight="bold",
                    color="black", bbox=dict(boxstyle="circle,pad=0.25", fc=colour, ec="black", lw=0.8))
        absent = [f"{numbers_[n.id]} {n.name}" for n in graph.nodes if not n.present and n.box is None]
        ax.set_axis_off()
        ax.set_title(f"{self.title + chr(10) if self.title else ''}{self.question(class_index)}", fontsize=10)
        lines = []
        if graph.text is not None:
            lines.append(textwrap.fill(graph.text.text, wrap))
        if absent:
            lines.append(textwrap.fill("Not found: " + ", ".join(absent), wrap))
        if lines:
            ax.text(0.0, -0.03, "\n".join(lines), transform=ax.transAxes, ha="left", va="top", fontsize=8, wrap=True)
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(mappable, ax=ax, orientation="horizontal", fraction=0.04, pad=0.02 + 0.03 * len(lines),
                     label="signed contribution")
        return fig

    # ------------------------------------------------------------------ a synthetic example
    @classmethod
    def example(cls, index: int = 4, *, size: int = 224, num_classes: int = 5, num_nodes: int | None = None,
                saliency: bool = True, seed: int = 0) -> "ExplanationData":
        """A hand-made explanation of synthetic image ``index`` (``SyntheticParts``), until the
        concept and text pipelines produce real ones: its parts are the nodes (boxes, masks
        and centroids from the ground truth), the defining parts contribute for the true
        class and against the others, an absent node stands for each other class's missing
        evidence, edges are the spatial relations between neighbouring parts, and the
        sentences point at them; ``true_class`` is the image's label (the prediction is right).
        ``num_nodes`` pads every graph with background regions (for payload tests). Deterministic."""
        from ._explorer_example import build_example

        return build_example(cls, index=index, size=size, num_classes=num_classes, num_nodes=num_nodes,
                             saliency=saliency, seed=seed)


def contribution_limit(data: ExplanationData) -> float:
    """The largest |contribution| of any node or edge of any class: the colour scale's limit,
    shared by every class so that "why" and "why not" compare."""
    values = [abs(n.contribution) for g in data.graphs for n in g.nodes]
    values += [abs(e.contribution) for g in data.graphs for e in g.edges]
    return max(values, default=0.0)
