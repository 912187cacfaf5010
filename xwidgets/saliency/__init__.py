"""Saliency methods, one file per method or family, and their registry."""

from . import gradcam  # noqa: F401  (registers "gradcam")
from . import gradient, guided, integrated_gradients, smoothgrad  # noqa: F401  (gradient family)
from . import cam, gradcampp, hirescam, layercam, scorecam  # noqa: F401  (CAM family)
from . import occlusion, rise  # noqa: F401  (perturbation baselines)
from . import extremal_perturbation, meaningful_perturbation  # noqa: F401  (mask optimisation)
from . import igos, igos_pp, neuromask  # noqa: F401  (mask optimisation: I-GOS, iGOS++, NeuroMask)
from . import bee, feature_cam, fovex, ucag  # noqa: F401  (seed 003: BEE, Feature CAM, FovEx, UCAG)
from . import attention_rollout, daam  # noqa: F401  (transformer attention: rollout, DAAM)
from . import p_tame, t_tame  # noqa: F401  (seed 003: learned explainers T-TAME and P-TAME)
from .explain import explain
from .explain_layer import explain_layer, forward_from_layer
from .layer_result import LayerSaliency
from .many import explain_many
from .registry import LayerOutput, MethodOutput, MethodSpec, get_method, layer_method_names, list_methods, register
from .result import Saliency
from .targets import Contrast, TargetPlan, TopK

__all__ = [
    "explain", "explain_many", "explain_layer", "forward_from_layer", "Saliency", "LayerSaliency", "TopK", "Contrast",
    "TargetPlan", "register", "get_method", "list_methods", "layer_method_names", "MethodSpec", "MethodOutput",
    "LayerOutput",
]
