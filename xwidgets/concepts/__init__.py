"""Visual concepts and structural concept graphs (seed 000; VRX, Ge et al., CVPR 2021).

* ``discovery``: :func:`discover_concepts`, per-class concepts from example images.
* ``bank``: :class:`ConceptBank`, the concepts with their prototypes, examples and protocol.
* ``graph``: :func:`build_graphs`, one structural concept graph per image and class,
  and :func:`stack_graphs`, their dense tensors.
* ``evaluation``: :func:`concept_purity` against ground-truth part labels.
* ``segmentation``, ``embedding``, ``clustering``: the steps discovery and graphs share.
* ``xnn``: :class:`XNN`, x-features learned from a layer without human concepts (seed 004).
"""

from .bank import ClassConcepts, ConceptBank
from .discovery import discover_concepts
from .evaluation import concept_purity, member_masks
from .graph import SCG, GraphBatch, build_graphs, stack_graphs
from .segmentation import SegmentationProtocol
from .xnn import XNN

__all__ = [
    "discover_concepts", "ConceptBank", "ClassConcepts", "SegmentationProtocol", "build_graphs", "stack_graphs",
    "SCG", "GraphBatch", "concept_purity", "member_masks",
    "XNN",
]
