"""xwidgets: explain image classifiers inside Jupyter.

    import xwidgets as xw
    model = xw.models.efficientnet_lite0()
    sal = xw.explain(model, xw.data.sample_image("coffee"), method="gradcam", target=xw.TopK(5))
    sal.show()          # interactive viewer
    sal.plot()          # matplotlib figure
    sal.save_html("report.html")
"""

from . import concepts, data, metrics, models, saliency
from .concepts import ConceptBank, ConceptExplainer, build_graphs, concept_graph, discover_concepts
from .metrics import evaluate, list_metrics
from .metrics.benchmark import BenchmarkResult, benchmark
from .models import ModelAdapter, Preprocess, wrap
from .saliency import Contrast, LayerSaliency, Saliency, TopK, explain, explain_layer, explain_many, list_methods
from . import sag  # callable: xw.sag(model, image) runs xwidgets.sag.search.sag
from .sag import AttentionGraph
from . import batch
from .batch import DatasetStore, explain_dataset

__version__ = "0.1.0"

__all__ = ["concepts", "discover_concepts", "ConceptBank", "build_graphs", "concept_graph", "ConceptExplainer", "explain", "explain_many", "explain_layer", "LayerSaliency", "wrap", "ModelAdapter", "Preprocess", "Saliency", "TopK", "Contrast", "list_methods", "models", "data", "saliency", "metrics", "evaluate", "list_metrics", "benchmark", "BenchmarkResult", "Leaderboard", "SaliencyViewer", "CompareGrid", "MaskOptimizationViewer", "AttentionFlowViewer", "ConceptExplorer", "ExplanationGallery", "ExplanationData", "export_notebook", "explore", "aspects", "AspectReport", "sag", "AttentionGraph", "SAGViewer", "batch", "explain_dataset", "DatasetStore", "DatasetExplorer"]


def explore(explanation, texts=None, **kwargs):
    """The linked explorer (a ``ConceptExplorer`` widget) of one explanation: a
    ``ConceptGraph`` (converted by ``xwidgets.widgets.from_concept_graph.explanation_data``,
    which takes ``texts``, ``saliency``, ``edges``, ``title`` and ``max_bytes``), an
    ``ExplanationData`` or a dict of its fields; other keyword arguments go to the widget."""
    from ._validation import bad_argument
    from .concepts.result import ConceptGraph
    from .widgets.concept_explorer import ConceptExplorer
    from .widgets.explorer_data import ExplanationData

    if isinstance(explanation, ConceptGraph):
        return ConceptExplorer.from_concept_graph(explanation, texts, **kwargs)
    if not isinstance(explanation, (ExplanationData, dict)):
        raise bad_argument("explanation", "a ConceptGraph, an ExplanationData or a dict of its fields", explanation)
    if texts is not None:
        raise bad_argument("texts", "None unless the explanation is a ConceptGraph (ExplanationData carries its sentences)", texts)
    return ConceptExplorer(explanation, **kwargs)


def __getattr__(name: str):
    # widgets import anywidget and the built bundle: load them only when asked for
    if name == "SaliencyViewer":
        from .widgets.saliency_viewer import SaliencyViewer

        return SaliencyViewer
    if name == "CompareGrid":
        from .widgets.compare_grid import CompareGrid

        return CompareGrid
    if name == "MaskOptimizationViewer":
        from .widgets.mask_optimization_viewer import MaskOptimizationViewer

        return MaskOptimizationViewer
    if name == "AttentionFlowViewer":
        from .widgets.attention_flow_viewer import AttentionFlowViewer

        return AttentionFlowViewer
    if name == "Leaderboard":
        from .widgets.leaderboard import Leaderboard

        return Leaderboard
    if name == "ConceptExplorer":
        from .widgets.concept_explorer import ConceptExplorer

        return ConceptExplorer
    if name == "ExplanationGallery":
        from .widgets.explanation_gallery import ExplanationGallery

        return ExplanationGallery
    if name == "export_notebook":
        from .report.notebook import export_notebook

        return export_notebook
    if name == "ExplanationData":
        from .widgets.explorer_data import ExplanationData

        return ExplanationData
    if name == "SAGViewer":
        from .widgets.sag_viewer import SAGViewer

        return SAGViewer
    if name == "DatasetExplorer":
        from .widgets.dataset_explorer import DatasetExplorer

        return DatasetExplorer
    if name == "AspectReport":
        from .widgets.aspect_report import AspectReport

        return AspectReport
    if name in ("widgets", "text", "aspects"):  # text: the joint image-text space; aspects: seed 001
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'xwidgets' has no attribute {name!r}")
