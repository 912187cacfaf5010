"""``ConceptBank``: the visual concepts discovered for each class (seed 000, paragraph
0014; VRX, Ge et al., CVPR 2021), with what is needed to find them again in new
images: the layer, the patch protocol, each concept's prototype and its "absent"
radius. Plain arrays plus JSON metadata; saved as one ``.npz`` without pickle.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Sequence

import numpy as np

from .._validation import bad_argument
from .segmentation import SegmentationProtocol

__all__ = ["ClassConcepts", "ConceptBank"]

_FORMAT_VERSION = 1
#: columns of ``ClassConcepts.members``
MEMBER_COLUMNS = ("concept", "image", "resolution", "segment", "x0", "y0", "x1", "y1")
#: columns of ``ClassConcepts.example_source``
EXAMPLE_COLUMNS = ("image", "x0", "y0", "x1", "y1")
_CLASS_ARRAYS = ("prototypes", "radius", "importance", "popularity", "cluster", "examples", "example_count",
                 "example_source", "members", "member_distance")


@dataclasses.dataclass(eq=False)
class ClassConcepts:
    """The concepts of one class, most important first.

    Attributes:
        class_index, class_name: the class (an output of the model).
        prototypes: (k, D) float32, each concept's k-means centre at the bank's layer.
        radius: (k,) float32, the distance beyond which a patch is not this concept
            (it holds the bank's ``absent_quantile`` of the concept's members and at
            most ``1 - absent_quantile`` of the class's other candidates).
        importance: (k,) float32, the mean drop of the class logit when the concept's
            patches are replaced by the neutral colour (see ``discover_concepts``).
        popularity: (k,) float32, the fraction of the class's images the concept
            appears in.
        cluster: (k,) int, the concept's k-means cluster id (before ranking).
        examples: (k, E, t, t, 3) uint8 thumbnails, nearest to the prototype first
            (``example_count[j]`` of them are real; the rest are zeros).
        example_source: (k, E, 5) int, per thumbnail (image, x0, y0, x1, y1): the
            index of its image in the class's list given to discovery and its box.
        members: (M, 8) int, every patch of every kept concept: (concept, image,
            resolution, segment, x0, y0, x1, y1); ``segment`` is the label in the
            image's segmentation at ``resolution`` (the protocol reproduces it).
        member_distance: (M,) float32, each member's distance to its prototype.
        n_images: how many images of the class discovery saw.
    """

    class_index: int
    class_name: str
    prototypes: np.ndarray
    radius: np.ndarray
    importance: np.ndarray
    popularity: np.ndarray
    cluster: np.ndarray
    examples: np.ndarray
    example_count: np.ndarray
    example_source: np.ndarray
    members: np.ndarray
    member_distance: np.ndarray
    n_images: int

    def __post_init__(self) -> None:
        self.prototypes = np.asarray(self.prototypes, np.float32).reshape(len(self.radius), -1)
        for name in ("radius", "importance", "popularity", "member_distance"):
            setattr(self, name, np.asarray(getattr(self, name), np.float32))
        for name in ("cluster", "example_count", "example_source", "members"):
            setattr(self, name, np.asarray(getattr(self, name), np.int64))
        self.examples = np.asarray(self.examples, np.uint8)
        self.members = self.members.reshape(-1, len(MEMBER_COLUMNS))
        self.class_index, self.n_images = int(self.class_index), int(self.n_images)
        k = len(self.radius)
        for name in ("importance", "popularity", "cluster", "example_count"):
            if getattr(self, name).shape != (k,):
                raise ValueError(f"ClassConcepts: {name} must have shape ({k},); got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return int(self.prototypes.shape[0])

    @property
    def concept_ids(self) -> list[str]:
        """Stable names ``"<class>/<j>"``, j the rank by importance."""
        return [f"{self.class_name}/{j}" for j in range(len(self))]

    def member_rows(self, concept: int) -> np.ndarray:
        """The rows of ``members`` that belong to concept ``concept``."""
        return np.flatnonzero(self.members[:, 0] == concept)

    def __repr__(self) -> str:
        imp = ", ".join(f"{v:.2f}" for v in self.importance)
        return f"ClassConcepts({self.class_name!r}, k={len(self)}, importance=[{imp}])"


@dataclasses.dataclass(eq=False)
class ConceptBank:
    """Per-class visual concepts and the protocol that found them.

    Attributes:
        classes: one :class:`ClassConcepts` per class, in the order discovered.
        layer: the layer whose pooled activations embed patches.
        input_size: the model's (H, W); patches are rendered at this size.
        neutral: the RGB fill (0..255) outside a patch's segment and under occlusion.
        protocol: how discovery ran: ``attention``, ``threshold``, ``binarise``,
            ``segmentation`` (a :class:`SegmentationProtocol` as a dict),
            ``n_clusters``, ``min_popularity``, ``top_k``, ``importance``,
            ``absent_quantile``, ``seed``.
        model_name: the model's display name.
        elapsed: seconds discovery took.
    """

    classes: list[ClassConcepts]
    layer: str
    input_size: tuple[int, int]
    neutral: tuple[float, float, float]
    protocol: dict[str, Any]
    model_name: str = ""
    elapsed: float = 0.0

    def __post_init__(self) -> None:
        self.input_size = (int(self.input_size[0]), int(self.input_size[1]))
        self.neutral = tuple(float(v) for v in self.neutral)  # type: ignore[assignment]
        dims = {c.prototypes.shape[1] for c in self.classes if len(c)}
        if len(dims) > 1:
            raise ValueError(f"ConceptBank: every class's prototypes must have the same width; got {sorted(dims)}")

    # ------------------------------------------------------------------ access
    @property
    def class_indices(self) -> list[int]:
        return [c.class_index for c in self.classes]

    @property
    def class_names(self) -> list[str]:
        return [c.class_name for c in self.classes]

    @property
    def feature_dim(self) -> int:
        for c in self.classes:
            if len(c):
                return int(c.prototypes.shape[1])
        return 0

    @property
    def max_concepts(self) -> int:
        """The largest number of concepts of any class (the k of dense graph tensors)."""
        return max((len(c) for c in self.classes), default=0)

    @property
    def segmentation(self) -> SegmentationProtocol:
        return SegmentationProtocol.from_dict(self.protocol["segmentation"])

    def concepts(self, cls: int | str) -> ClassConcepts:
        """The concepts of class ``cls`` (its model output index or its name)."""
        for c in self.classes:
            if (isinstance(cls, str) and c.class_name == cls) or (
                not isinstance(cls, (str, bool)) and isinstance(cls, (int, np.integer)) and c.class_index == int(cls)
            ):
                return c
        raise bad_argument(
            "cls", f"a class of this bank (an index in {self.class_indices} or a name in {self.class_names})", cls
        )

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):
        return iter(self.classes)

    def __repr__(self) -> str:
        counts = ", ".join(f"{c.class_name}: {len(c)}" for c in self.classes)
        return (f"ConceptBank(model={self.model_name!r}, layer={self.layer!r}, D={self.feature_dim}, "
                f"concepts={{{counts}}})")

    # ------------------------------------------------------------------ views
    def plot(self, classes: Sequence[int | str] | None = None, *, n_examples: int = 5):
        """A matplotlib figure: one row per concept, its class, importance and
        popularity on the left, its ``n_examples`` nearest example patches."""
        import matplotlib.pyplot as plt

        chosen = self.classes if classes is None else [self.concepts(c) for c in classes]
        rows = [(c, j) for c in chosen for j in range(len(c))]
        if not rows:
            raise ValueError("plot: the chosen classes have no concepts")
        if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 1:
            raise bad_argument("n_examples", "a positive int", n_examples)
        cols = min(n_examples, max(int(c.examples.shape[1]) for c, _ in rows))
        fig, axes = plt.subplots(len(rows), cols, figsize=(1.1 * cols + 1.6, 1.1 * len(rows)), squeeze=False)
        for r, (c, j) in enumerate(rows):
            for e in range(cols):
                ax = axes[r, e]
                ax.set_xticks([])
                ax.set_yticks([])
                if e < c.example_count[j]:
                    ax.imshow(c.examples[j, e])
                else:
                    ax.axis("off")
            axes[r, 0].set_ylabel(f"{c.class_name} #{j}\nimp {c.importance[j]:.2f}\npop {c.popularity[j]:.0%}",
                                  rotation=0, ha="right", va="center", fontsize=7)
        fig.suptitle(f"Concepts at {self.layer} ({self.model_name})", fontsize=9)
        fig.tight_layout()
        return fig

    def widget(self, **kwargs: Any):
        """An interactive :class:`~xwidgets.widgets.ConceptBankViewer`."""
        from ..widgets.concept_bank_viewer import ConceptBankViewer

        return ConceptBankViewer(self, **kwargs)

    def show(self, **kwargs: Any):
        """Alias of :meth:`widget`, displayed when it is the cell's last expression."""
        return self.widget(**kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write one compressed ``.npz``: every array, plus the metadata as JSON bytes
        (``meta``); no pickled objects."""
        path = pathlib.Path(path)
        arrays: dict[str, np.ndarray] = {}
        class_meta = []
        for i, c in enumerate(self.classes):
            class_meta.append({"class_index": c.class_index, "class_name": c.class_name, "n_images": c.n_images})
            for name in _CLASS_ARRAYS:
                arrays[f"c{i}_{name}"] = getattr(c, name)
        meta = {
            "format_version": _FORMAT_VERSION, "layer": self.layer, "input_size": list(self.input_size),
            "neutral": list(self.neutral), "protocol": self.protocol, "model_name": self.model_name,
            "elapsed": self.elapsed, "classes": class_meta,
        }
        with open(path, "wb") as fh:
            np.savez_compressed(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "ConceptBank":
        """Read a bank written by :meth:`save`."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise bad_argument("path", "an existing ConceptBank .npz file", str(path))
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise ValueError(f"path: {path} is not a ConceptBank file (no 'meta' entry)")
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format_version") != _FORMAT_VERSION:
                raise ValueError(f"path: unsupported ConceptBank format version {meta.get('format_version')!r} in {path}")
            classes = [
                ClassConcepts(**cm, **{name: np.array(data[f"c{i}_{name}"]) for name in _CLASS_ARRAYS})
                for i, cm in enumerate(meta["classes"])
            ]
        return cls(classes=classes, layer=meta["layer"], input_size=tuple(meta["input_size"]),
                   neutral=tuple(meta["neutral"]), protocol=meta["protocol"], model_name=meta["model_name"],
                   elapsed=meta["elapsed"])
