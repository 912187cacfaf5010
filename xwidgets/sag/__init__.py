"""Structured attention graphs (Shitole, Li, Kahng, Tadepalli & Fern, "One Explanation is
Not Enough: Structured Attention Graphs for Image Classification", NeurIPS 2021): the
several minimal sets of patches that each suffice for a confident prediction, and how the
confidence falls as patches are removed from each.

    graph = xw.sag(model, image)        # AttentionGraph (a list of them for several images)
    graph.plot(); graph.to_networkx(); graph.widget()

``xw.sag`` is this package, made callable: calling it calls :func:`search.sag`, so both
``xw.sag(model, image)`` and ``import xwidgets.sag.search`` work.
"""

import sys
import types

from .reference import reference_sag
from .result import DROP_CLASSES, DROP_COLOURS, AttentionGraph, SAGNode, drop_class
from .search import PAPER, SUBSTRATES, SAGParams, diverse_subset, exhaustive_minimal_sets, patch_masks, sag

__all__ = [
    "sag",
    "SAGParams",
    "AttentionGraph",
    "SAGNode",
    "exhaustive_minimal_sets",
    "reference_sag",
    "diverse_subset",
    "patch_masks",
    "drop_class",
    "DROP_CLASSES",
    "DROP_COLOURS",
    "SUBSTRATES",
    "PAPER",
]


class _CallableModule(types.ModuleType):
    """The package, callable as :func:`sag`."""

    def __call__(self, *args, **kwargs):
        return sag(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
