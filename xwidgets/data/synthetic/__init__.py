"""The synthetic parts dataset: images whose classes are defined by parts, with ground truth.

>>> from xwidgets.data.synthetic import SyntheticParts, CLASSES, PART_TYPES
>>> ds = SyntheticParts(n=14, seed=0)
>>> s = ds.sample(0)
>>> s.class_name in CLASSES and s.instance_mask.shape == (64, 64)
True

Modules: ``vocabulary`` (colours, part types, classes and their rules), ``stamps``
(part shapes), ``render`` (drawing one image and its ground truth), ``dataset``
(the torch Dataset), ``interventions`` (the same scene with parts removed, another
background, the tag changed or a relation swapped).
"""

from .dataset import MIN_SIZE, SyntheticParts
from .interventions import intervene
from .render import Evidence, Part, Sample
from .vocabulary import (
    CLASS_SPECS,
    CLASSES,
    DEFAULT_BIASED_CLASS,
    DISTRACTOR_TYPES,
    PALETTE,
    PART_SPECS,
    PART_TYPES,
    RESERVED_TYPES,
    VARIANTS,
    ClassSpec,
    PartSpec,
)

__all__ = [
    "SyntheticParts", "Sample", "Part", "Evidence", "intervene",
    "CLASSES", "CLASS_SPECS", "ClassSpec", "PART_TYPES", "PART_SPECS", "PartSpec",
    "DISTRACTOR_TYPES", "RESERVED_TYPES", "PALETTE", "VARIANTS", "DEFAULT_BIASED_CLASS", "MIN_SIZE",
]
