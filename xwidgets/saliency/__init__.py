"""Saliency methods, one file per method or family, and their registry."""

from . import gradcam  # noqa: F401  (registers "gradcam")
from .explain import explain
from .registry import MethodOutput, MethodSpec, get_method, list_methods, register
from .result import Saliency
from .targets import Contrast, TargetPlan, TopK

__all__ = ["explain", "Saliency", "TopK", "Contrast", "TargetPlan", "register", "get_method", "list_methods", "MethodSpec", "MethodOutput"]
