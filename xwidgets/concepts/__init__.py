"""Visual concepts and structural concept graphs (seed 000; VRX, Ge et al., CVPR 2021).

* ``discovery``: :func:`discover_concepts`, per-class concepts from example images.
* ``bank``: :class:`ConceptBank`, the concepts with their prototypes, examples and protocol.
* ``graph``: :func:`build_graphs`, one structural concept graph per image and class,
  and :func:`stack_graphs`, their dense tensors.
* ``evaluation``: :func:`concept_purity` against ground-truth part labels.
* ``reasoner``: :class:`GraphReasoner`, the graph reasoning network distilled from the
  classifier (:func:`train_reasoner`); ``ensemble``: :class:`ReasonerEnsemble`, several
  of them averaged (:func:`train_ensemble`); ``contributions``: signed node and edge
  contributions.
* ``explainer``: :class:`ConceptExplainer` (discover, build, distil in one call; explain,
  save, load, the shipped ``pretrained("toy_cnn")``) and :func:`concept_graph`; ``result``:
  the :class:`ConceptGraph` they return.
* ``segmentation``, ``embedding``, ``clustering``: the steps discovery and graphs share.
* ``xnn``: :class:`XNN`, x-features learned from a layer without human concepts (seed 004).
"""

from .bank import ClassConcepts, ConceptBank
from .discovery import discover_concepts
from .evaluation import concept_purity, member_masks
from .graph import SCG, GraphBatch, build_graphs, stack_graphs
from .segmentation import SegmentationProtocol
from .xnn import XNN
from .contributions import Contributions, contributions
from .ensemble import ReasonerEnsemble, load_reasoner, train_ensemble
from .explainer import ConceptExplainer, concept_graph
from .reasoner import GraphReasoner, ReasonerConfig, train_reasoner
from .result import ConceptGraph

__all__ = [
    "discover_concepts", "ConceptBank", "ClassConcepts", "SegmentationProtocol", "build_graphs", "stack_graphs",
    "SCG", "GraphBatch", "concept_purity", "member_masks",
    "XNN",
    "GraphReasoner", "ReasonerConfig", "train_reasoner", "ReasonerEnsemble", "train_ensemble", "load_reasoner",
    "contributions", "Contributions", "ConceptExplainer",
    "concept_graph", "ConceptGraph",
]
