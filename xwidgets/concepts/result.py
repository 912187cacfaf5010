"""``ConceptGraph``: one image's concept-graph explanation (seed 000, paragraphs 0019-0022;
VRX, Ge et al., CVPR 2021, section 3.4): for every candidate class its structural concept
graph and the signed contribution of each node (a visual concept) and each edge (a spatial
relation between two concepts) to that class's score, with the 0-1 normalised importance the
patent describes.

This is the contract the text generation (``xwidgets.text``) and the linked explorer
(``xwidgets.widgets``) read. Ids are stable strings: node ``j`` of a class graph is
``node_id(j) == "n{j}"`` and the directed edge ``i -> j`` is ``edge_id(i, j) == "e{i}-{j}"``
(the j-th node of every class graph is that class's j-th concept, most important first).
"""

from __future__ import annotations

import dataclasses
import re
import numpy as np

from .._validation import bad_argument
from .graph import SCG

__all__ = ["ConceptGraph", "node_id", "edge_id", "parse_id"]

_NODE = re.compile(r"^n(\d+)$")
_EDGE = re.compile(r"^e(\d+)-(\d+)$")


def node_id(j: int) -> str:
    """The id of node ``j`` of a class graph: ``"n{j}"``."""
    return f"n{int(j)}"


def edge_id(i: int, j: int) -> str:
    """The id of the directed edge ``i -> j`` of a class graph: ``"e{i}-{j}"``."""
    return f"e{int(i)}-{int(j)}"


def parse_id(value: str) -> tuple[str, tuple[int, ...]]:
    """``"n3"`` -> ``("node", (3,))``; ``"e1-2"`` -> ``("edge", (1, 2))``; anything else: ValueError."""
    m = _NODE.match(value) if isinstance(value, str) else None
    if m:
        return "node", (int(m.group(1)),)
    m = _EDGE.match(value) if isinstance(value, str) else None
    if m:
        return "edge", (int(m.group(1)), int(m.group(2)))
    raise ValueError(f"id: expected 'n<j>' or 'e<i>-<j>'; got {value!r}")


@dataclasses.dataclass(eq=False)
class ConceptGraph:
    """One image's concept graphs and contributions, for every candidate class.

    Attributes:
        image: (H, W, 3) uint8, the image as the model saw it (after resizing).
        classes: the candidate class indices, in order (the predicted one included).
        class_names: {class index: name}.
        predicted: the classifier's predicted class index.
        probabilities: {class index: the classifier's softmax probability}.
        reasoner_scores: {class index: the graph reasoning network's score for the class}.
        graphs: {class index: :class:`~xwidgets.concepts.graph.SCG`}, the structure
            (nodes' features, presence, boxes, masks, centroids; edges' features and mask).
        node_contribution: {class index: (k,) float32}, the signed contribution of each node
            to that class's reasoner score (0 for absent nodes unless their absence counts).
        edge_contribution: {class index: (k, k) float32}, the signed contribution of edge
            i -> j (0 where ``graphs[c].edge_present`` is False).
        concept_names: {class index: list of k names}; by default the bank's concept ids,
            replaced by words when a joint image-text space names the patches.
        true_class: the image's true class index when known, else None.
        method: how the contributions were computed (e.g. "gradient x embedding").
        graph_contribution: {class c: {class graph g: the total contribution of g's nodes
            and edges to c's reasoner score}} (the embedding network fuses every class
            graph; ``graph_contribution[c][c]`` is the sum of ``node_contribution[c]``
            and ``edge_contribution[c]``); empty when unknown.
        score_bias: {class c: the reasoner's bias for c}; with ``graph_contribution`` it
            completes the score: ``reasoner_scores[c] == score_bias[c] +
            sum(graph_contribution[c].values())`` for a linear embedding network.
    """

    image: np.ndarray
    classes: list[int]
    class_names: dict[int, str]
    predicted: int
    probabilities: dict[int, float]
    reasoner_scores: dict[int, float]
    graphs: dict[int, SCG]
    node_contribution: dict[int, np.ndarray]
    edge_contribution: dict[int, np.ndarray]
    concept_names: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    true_class: int | None = None
    method: str = ""
    graph_contribution: dict[int, dict[int, float]] = dataclasses.field(default_factory=dict)
    score_bias: dict[int, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = [int(c) for c in self.classes]
        for c in self.classes:
            k = len(self.graphs[c])
            self.node_contribution[c] = np.asarray(self.node_contribution[c], np.float32).reshape(k)
            self.edge_contribution[c] = np.asarray(self.edge_contribution[c], np.float32).reshape(k, k)
            if c not in self.concept_names:
                self.concept_names[c] = list(self.graphs[c].concept_ids)

    def node_importance(self, cls: int) -> np.ndarray:
        """(k,) in [0, 1]: |contribution| over the largest |contribution| of the class's
        nodes and edges (patent 000, paragraph 0022's 0-1 normalised importance)."""
        scale = self._scale(cls)
        return np.abs(self.node_contribution[cls]) / scale

    def edge_importance(self, cls: int) -> np.ndarray:
        """(k, k) in [0, 1], normalised like :meth:`node_importance`."""
        scale = self._scale(cls)
        return np.abs(self.edge_contribution[cls]) / scale

    def _scale(self, cls: int) -> float:
        m = max(float(np.abs(self.node_contribution[cls]).max(initial=0.0)),
                float(np.abs(self.edge_contribution[cls]).max(initial=0.0)))
        return m if m > 0 else 1.0

    def ranked_nodes(self, cls: int, *, present_only: bool = True) -> list[int]:
        """The class graph's node indices, largest contribution first."""
        contrib = self.node_contribution[cls]
        order = np.argsort(-contrib, kind="stable")
        present = self.graphs[cls].present
        return [int(j) for j in order if present[j] or not present_only]

    def ranked_edges(self, cls: int) -> list[tuple[int, int]]:
        """The class graph's present edges (i, j), largest contribution first."""
        contrib = self.edge_contribution[cls]
        mask = self.graphs[cls].edge_present
        pairs = [(int(i), int(j)) for i, j in zip(*np.nonzero(mask))]
        return sorted(pairs, key=lambda p: -float(contrib[p]))

    def _class(self, cls: int | str | None) -> int:
        """None -> the predicted class; a name or index of a candidate class -> its index."""
        if cls is None:
            return self.predicted
        if isinstance(cls, str):
            for c, name in self.class_names.items():
                if name == cls and c in self.graphs:
                    return c
        elif isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and int(cls) in self.graphs:
            return int(cls)
        names = [self.class_names.get(c, str(c)) for c in self.classes]
        raise bad_argument("cls", f"None or one of the candidate classes {self.classes} ({', '.join(names)})", cls)

    def to_networkx(self, cls: int | str | None = None):
        """The class graph of ``cls`` (default: the predicted class) as a ``networkx.DiGraph``.

        Nodes are ``"n{j}"`` for every concept (absent ones with ``present=False``) with
        attributes ``index``, ``concept``, ``name``, ``present``, ``centroid`` (x, y pixels or
        None), ``box``, ``distance``, ``contribution``, ``importance``; edges ``"n{i}" ->
        "n{j}"`` between present nodes, with ``id`` (``"e{i}-{j}"``), ``contribution``,
        ``importance`` and ``features`` ({name: value}, :data:`~xwidgets.concepts.graph.EDGE_FEATURES`).
        Graph attributes: ``class_index``, ``class_name``, ``predicted``, ``score``,
        ``probability``, ``method``.
        """
        import networkx as nx

        from .graph import EDGE_FEATURES

        c = self._class(cls)
        g = self.graphs[c]
        out = nx.DiGraph(class_index=c, class_name=self.class_names.get(c, str(c)), predicted=c == self.predicted,
                         score=self.reasoner_scores.get(c), probability=self.probabilities.get(c), method=self.method)
        node_imp, edge_imp = self.node_importance(c), self.edge_importance(c)
        names = self.concept_names.get(c, list(g.concept_ids))
        for j in range(len(g)):
            centroid = None if not g.present[j] else (float(g.centroids[j, 0]), float(g.centroids[j, 1]))
            out.add_node(node_id(j), index=j, concept=g.concept_ids[j], name=names[j], present=bool(g.present[j]),
                         centroid=centroid, box=tuple(int(v) for v in g.boxes[j]), distance=float(g.distance[j]),
                         contribution=float(self.node_contribution[c][j]), importance=float(node_imp[j]))
        for i, j in zip(*np.nonzero(g.edge_present)):
            out.add_edge(node_id(i), node_id(j), id=edge_id(i, j), contribution=float(self.edge_contribution[c][i, j]),
                         importance=float(edge_imp[i, j]),
                         features={name: float(v) for name, v in zip(EDGE_FEATURES, g.edge_features[i, j])})
        return out

    def plot(self, cls: int | str | None = None, ax=None, *, min_edge_importance: float = 0.05, cmap: str = "PuOr"):
        """Draw the class graph of ``cls`` (default: the predicted class) on the image.

        Present nodes sit at their centroids, coloured by their signed contribution on a
        colour-blind-safe diverging map (ColorBrewer PuOr: purple pulls the score up,
        orange pulls it down) and sized by their 0-1 importance; edges are arrows of the same
        colours whose width is the edge importance (edges below ``min_edge_importance``
        are not drawn); absent concepts are listed under the image. Returns the axes.
        """
        import matplotlib.pyplot as plt
        from matplotlib import colors as mcolors
        from matplotlib.patches import FancyArrowPatch

        c = self._class(cls)
        if isinstance(min_edge_importance, bool) or not isinstance(min_edge_importance, (int, float)) \
                or not 0 <= min_edge_importance <= 1:
            raise bad_argument("min_edge_importance", "a number in [0, 1]", min_edge_importance)
        g = self.graphs[c]
        if ax is None:
            _, ax = plt.subplots(figsize=(4.2, 4.6))
        ax.imshow(self.image)
        h, w = self.image.shape[:2]
        scale = self._scale(c)
        norm = mcolors.Normalize(-scale, scale)
        colour_map = plt.get_cmap(cmap)
        node_imp, edge_imp = self.node_importance(c), self.edge_importance(c)
        names = self.concept_names.get(c, list(g.concept_ids))
        for i, j in zip(*np.nonzero(g.edge_present)):
            if edge_imp[i, j] < min_edge_importance:
                continue
            arrow = FancyArrowPatch(
                tuple(g.centroids[i]), tuple(g.centroids[j]), arrowstyle="-|>", mutation_scale=8 + 8 * edge_imp[i, j],
                connectionstyle="arc3,rad=0.2", linewidth=0.5 + 4.5 * float(edge_imp[i, j]),
                color=colour_map(norm(self.edge_contribution[c][i, j])), alpha=0.9, zorder=2,
            )
            ax.add_patch(arrow)
        for j in np.flatnonzero(g.present):
            x, y = g.centroids[j]
            ax.scatter([x], [y], s=40 + 260 * float(node_imp[j]),
                       color=colour_map(norm(self.node_contribution[c][j])), edgecolors="black", linewidths=0.8,
                       zorder=3)
            ax.annotate(node_id(j), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=4,
                        color="black", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7))
        absent = [f"{node_id(j)} {names[j]}" for j in np.flatnonzero(~g.present)]
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        name = self.class_names.get(c, str(c))
        role = "predicted" if c == self.predicted else "why not"
        score = self.reasoner_scores.get(c)
        ax.set_title(f"{name} ({role})" + (f", score {score:.2f}" if score is not None else ""), fontsize=9)
        ax.set_xlabel("absent: " + (", ".join(absent) if absent else "none"), fontsize=7, wrap=True)
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=colour_map)
        ax.figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04, label="contribution")
        return ax

    def __repr__(self) -> str:
        name = self.class_names.get(self.predicted, self.predicted)
        return f"ConceptGraph(predicted={name!r}, classes={len(self.classes)}, method={self.method!r})"
