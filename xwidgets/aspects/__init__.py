"""Aspect presence (seed 001, the aspect-presence patent of Bakker, Mavroeidis and
Trajanovski): explain a classifier's output by the characteristics a domain expert
knows, present *insofar as they were relevant to the output*.

* ``recognisers``: :class:`AspectModel`, the interface for presence classifiers,
  segmenters and box detectors, and the trained multi-aspect segmenter of the synthetic
  dataset (:func:`aspect_segmenter`, also read as :func:`aspect_detector` and
  :func:`aspect_classifier`).
* ``masked``: :func:`masked_representation`, what a saliency method found relevant, at the
  input or an internal layer.
* ``mapping``: :func:`fit_mappings`, mapping models from the explained model's layers to
  the aspect model's, the layer pair chosen by held-out R^2.
* ``presence``: :func:`aspect_presence`, relevant (and plain) presence per image and aspect.
* ``report``: :func:`aspect_report`, counts per class x aspect and outliers; its
  ``.widget()`` is the ``AspectReport`` widget.
* ``synthetic``: the synthetic dataset's aspects and their ground truth.

    import xwidgets as xw
    from xwidgets import aspects
    seg = aspects.aspect_segmenter()
    mapping = aspects.load_mapping("toy_cnn")            # or aspects.fit_mappings(...)
    result = aspects.aspect_presence(xw.models.toy_cnn(), images, seg, mapping)
    result.report().show()
"""

from .mapping import MAPPING_KINDS, AspectMapping, MappingNet, PairScore, candidate_pairs, fit_mappings
from .masked import MASKINGS, MaskedRepresentation, masked_representation
from .presence import AspectPresence, aspect_presence
from .recognisers import (
    ASPECT_KINDS,
    INPUT_LAYER,
    SEGMENTER_LAYERS,
    AspectIndication,
    AspectModel,
    AspectSegmenter,
    aspect_classifier,
    aspect_detector,
    aspect_segmenter,
    segmenter_card,
)
from .report import AspectDatasetReport, aspect_report
from .synthetic import SYNTHETIC_ASPECTS, TAG_ASPECT, aspect_masks, defining_aspects

__all__ = [
    "AspectModel", "AspectIndication", "AspectSegmenter", "aspect_segmenter", "aspect_detector", "aspect_classifier",
    "segmenter_card", "ASPECT_KINDS", "INPUT_LAYER", "SEGMENTER_LAYERS",
    "MaskedRepresentation", "masked_representation", "MASKINGS",
    "AspectMapping", "PairScore", "MappingNet", "fit_mappings", "candidate_pairs", "MAPPING_KINDS", "load_mapping",
    "mapping_card",
    "AspectPresence", "aspect_presence",
    "AspectDatasetReport", "aspect_report",
    "SYNTHETIC_ASPECTS", "TAG_ASPECT", "aspect_masks", "defining_aspects",
]


def load_mapping(model_name: str) -> AspectMapping:
    """The shipped mapping from a toy model (``"toy_cnn"`` or ``"toy_cnn_biased"``) to
    :func:`aspect_segmenter` (``models/zoo/weights/aspect_mappings_<name>.pt``, made by
    ``scripts/train_aspect_models.py --mappings <name>``)."""
    from .._validation import bad_argument
    from .recognisers import SEGMENTER_WEIGHTS

    shipped = ("toy_cnn", "toy_cnn_biased")
    if model_name not in shipped:
        raise bad_argument("model_name", f"one of {', '.join(map(repr, shipped))}", model_name)
    path = SEGMENTER_WEIGHTS.with_name(f"aspect_mappings_{model_name}.pt")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/train_aspect_models.py --mappings {model_name}`")
    return AspectMapping.load(path)


def mapping_card(model_name: str) -> dict:
    """The training card of a shipped mapping (command, data, seconds, every pair's R^2)."""
    import json

    from .._validation import bad_argument
    from .recognisers import SEGMENTER_WEIGHTS

    if model_name not in ("toy_cnn", "toy_cnn_biased"):
        raise bad_argument("model_name", "'toy_cnn' or 'toy_cnn_biased'", model_name)
    path = SEGMENTER_WEIGHTS.with_name(f"aspect_mappings_{model_name}.json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/train_aspect_models.py --mappings {model_name}`")
    return json.loads(path.read_text(encoding="utf-8"))
