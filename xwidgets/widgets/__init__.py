"""Widgets: one Python class per widget, one TypeScript module each (js/), built into
xwidgets/static/ by esbuild. They only read results (DESIGN.md: data flows one way)."""

from .base import BundleMissingError, XWidget
from .saliency_viewer import COLORMAPS, ClassInfo, SaliencyViewer

__all__ = ["XWidget", "BundleMissingError", "SaliencyViewer", "COLORMAPS", "ClassInfo"]
