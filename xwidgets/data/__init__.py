"""Data: real sample photos and the synthetic parts dataset with ground truth."""

from .photos import LICENCES, SAMPLE_NAMES, sample_image, sample_images

__all__ = ["sample_image", "sample_images", "SAMPLE_NAMES", "LICENCES"]

try:  # the synthetic dataset lives in its own subpackage
    from .synthetic import CLASSES, PART_TYPES, SyntheticParts  # noqa: F401

    __all__ += ["SyntheticParts", "CLASSES", "PART_TYPES"]
except ImportError:  # pragma: no cover - during development only
    pass
