"""Widgets: one Python class per widget, one TypeScript module each (js/), built into
xwidgets/static/ by esbuild. They only read results (DESIGN.md: data flows one way)."""

from ._common import DIVERGING_COLORMAP, SCALES
from .aspect_report import AspectReport
from .attention_flow_viewer import VIEWS, AttentionFlowViewer
from .base import BundleMissingError, XWidget
from .compare_grid import SHARED_SCALES, CompareGrid
from .concept_bank_viewer import ConceptBankViewer
from .concept_explorer import LAYOUTS, ConceptExplorer
from .dataset_explorer import DatasetExplorer
from .explanation_gallery import ExplanationGallery
from .explorer_data import CandidateClass, ClassGraph, ConceptEdge, ConceptNode, ExplanationData, Sentence, Span
from .from_concept_graph import explanation_data
from .leaderboard import SORT_ORDERS, Leaderboard
from .mask_optimization_viewer import VALUE_RANGES, MaskOptimizationViewer
from .saliency_viewer import COLORMAPS, ClassInfo, SaliencyViewer
from .sag_viewer import SAGViewer

__all__ = [
    "XWidget",
    "BundleMissingError",
    "SaliencyViewer",
    "SAGViewer",
    "CompareGrid",
    "MaskOptimizationViewer",
    "AttentionFlowViewer",
    "VIEWS",
    "Leaderboard",
    "SORT_ORDERS",
    "VALUE_RANGES",
    "COLORMAPS",
    "SCALES",
    "SHARED_SCALES",
    "DIVERGING_COLORMAP",
    "ClassInfo",
    "ConceptBankViewer",
    "ConceptExplorer",
    "ExplanationGallery",
    "DatasetExplorer",
    "AspectReport",
    "LAYOUTS",
    "ExplanationData",
    "explanation_data",
    "CandidateClass",
    "ClassGraph",
    "ConceptNode",
    "ConceptEdge",
    "Sentence",
    "Span",
]
