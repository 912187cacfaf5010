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

    def __repr__(self) -> str:
        name = self.class_names.get(self.predicted, self.predicted)
        return f"ConceptGraph(predicted={name!r}, classes={len(self.classes)}, method={self.method!r})"
