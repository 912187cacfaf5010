"""The `Saliency` result: plain arrays plus the metadata needed to read them.

Results are what flows from methods to widgets and reports (DESIGN.md: data flows
one way). They hold numpy arrays on the host, never tensors or modules, so they
pickle, save and render without the model.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Sequence

import numpy as np

__all__ = ["Saliency"]

_FORMAT_VERSION = 2
#: versions :meth:`Saliency.load` reads (1 saved arrays in params as shape strings)
_READABLE_VERSIONS = (1, 2)
#: the JSON key that marks an array of params stored as its own .npz entry
_ARRAY_REF = "__npz_array__"


@dataclasses.dataclass(eq=False)
class Saliency:
    """Saliency maps for a batch of (image, target) rows.

    Attributes:
        maps: ``(B, H, W)`` float32, one map per row, at the model's input resolution.
        images: ``(N, H, W, 3)`` uint8, the images as the model saw them (after resize
            and crop, before normalisation), for overlays.
        image_index: ``(B,)`` int, which image each row explains. Usually
            ``arange(N)``; a ``TopK`` target gives several rows per image.
        targets: ``(B,)`` int, the class each row explains (-1 for a callable target).
        probabilities: ``(N, C)`` float32 softmax of the model's clean forward pass.
        labels: the model's class names (length C).
        method: registry name of the method.
        params: the method's parameters, as a plain dict; methods that optimise add
            ``params["extras"]`` (iterations, final losses, per-row arrays).
        elapsed: seconds spent computing the maps.
        layer: the layer a CAM-type method read, if any.
        device: the device the maps were computed on.
    """

    maps: np.ndarray
    images: np.ndarray
    image_index: np.ndarray
    targets: np.ndarray
    probabilities: np.ndarray
    labels: list[str]
    method: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    elapsed: float = 0.0
    layer: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.maps = np.asarray(self.maps, dtype=np.float32)
        self.images = np.asarray(self.images, dtype=np.uint8)
        self.image_index = np.asarray(self.image_index, dtype=np.int64)
        self.targets = np.asarray(self.targets, dtype=np.int64)
        self.probabilities = np.asarray(self.probabilities, dtype=np.float32)
        self.labels = [str(label) for label in self.labels]
        if self.maps.ndim != 3:
            raise ValueError(f"Saliency: maps must have shape (B, H, W); got shape {self.maps.shape}")
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"Saliency: images must have shape (N, H, W, 3); got shape {self.images.shape}")
        b = self.maps.shape[0]
        for name in ("image_index", "targets"):
            value = getattr(self, name)
            if value.shape != (b,):
                raise ValueError(f"Saliency: {name} must have shape ({b},), one per map; got shape {value.shape}")
        if b and (self.image_index.min() < 0 or self.image_index.max() >= self.images.shape[0]):
            raise ValueError(
                f"Saliency: image_index must lie in [0, {self.images.shape[0]}); "
                f"got values from {self.image_index.min()} to {self.image_index.max()}"
            )
        if self.probabilities.shape[0] != self.images.shape[0]:
            raise ValueError(
                f"Saliency: probabilities must have one row per image ({self.images.shape[0]}); "
                f"got shape {self.probabilities.shape}"
            )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.maps.shape[0])

    @property
    def num_images(self) -> int:
        return int(self.images.shape[0])

    def rows_for_image(self, image: int) -> np.ndarray:
        """Indices of the rows (maps) that explain image ``image``."""
        if not 0 <= image < self.num_images:
            raise IndexError(f"image must be in [0, {self.num_images}); got {image}")
        return np.flatnonzero(self.image_index == image)

    def rows_groups(self) -> list[np.ndarray]:
        """The rows of each image, in image order."""
        return [self.rows_for_image(i) for i in range(self.num_images)]

    def predictions(self) -> np.ndarray:
        """The model's top-1 class per image, shape ``(N,)``."""
        return self.probabilities.argmax(axis=1)

    def target_label(self, row: int) -> str:
        target = int(self.targets[row])
        return self.labels[target] if 0 <= target < len(self.labels) else "custom target"

    def __repr__(self) -> str:
        h, w = self.maps.shape[1:] if self.maps.size else (0, 0)
        return (
            f"Saliency(method={self.method!r}, maps={len(self)}x{h}x{w}, "
            f"images={self.num_images}, layer={self.layer!r})"
        )

    # ------------------------------------------------------------------ views
    def plot(self, rows: Sequence[int] | None = None, *, alpha: float = 0.5, cmap: str = "viridis", ncols: int = 4):
        """A matplotlib figure: each row's image with its map overlaid."""
        from .plot import plot_saliency

        return plot_saliency(self, rows=rows, alpha=alpha, cmap=cmap, ncols=ncols)

    def widget(self, image: int = 0, **kwargs: Any):
        """An interactive view of one image (all its rows as classes): the
        `AttentionFlowViewer` for DAAM (its per-block maps), else the `SaliencyViewer`."""
        if self.method == "daam":
            from ..widgets.attention_flow_viewer import AttentionFlowViewer

            return AttentionFlowViewer(self, image=image, **kwargs)
        from ..widgets.saliency_viewer import SaliencyViewer

        return SaliencyViewer(self, image=image, **kwargs)

    def show(self, image: int = 0, **kwargs: Any):
        """Alias of :meth:`widget`, displayed when it is the cell's last expression."""
        return self.widget(image, **kwargs)

    def save_html(self, path: str | pathlib.Path, *, image: int | None = None, title: str | None = None) -> pathlib.Path:
        """Write a self-contained HTML report (no network needed to open it).

        One viewer per image, or only ``image`` when given. Returns the path written.
        """
        from ..report import write_report

        images = range(self.num_images) if image is None else [image]
        viewers = [self.widget(i) for i in images]
        return write_report(path, viewers, title=title or f"xwidgets: {self.method}")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Save to a compressed ``.npz`` file (arrays plus JSON metadata)."""
        path = pathlib.Path(path)
        arrays: dict[str, np.ndarray] = {}
        meta = {
            "format_version": _FORMAT_VERSION,
            "labels": self.labels,
            "method": self.method,
            "params": _jsonable(self.params, arrays),
            "elapsed": self.elapsed,
            "layer": self.layer,
            "device": self.device,
        }
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                maps=self.maps,
                images=self.images,
                image_index=self.image_index,
                targets=self.targets,
                probabilities=self.probabilities,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                **arrays,
            )
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "Saliency":
        """Load a result written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format_version") not in _READABLE_VERSIONS:
                raise ValueError(f"{path}: unsupported Saliency format version {meta.get('format_version')!r}")
            return cls(
                maps=data["maps"],
                images=data["images"],
                image_index=data["image_index"],
                targets=data["targets"],
                probabilities=data["probabilities"],
                labels=meta["labels"],
                method=meta["method"],
                params=_restore(meta["params"], data),
                elapsed=meta["elapsed"],
                layer=meta["layer"],
                device=meta["device"],
            )


def _jsonable(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Parameters as JSON. Arrays and tensors (an optimisation's per-row losses, a
    baseline tensor) go into ``arrays`` under a fresh key and are referenced by it, so
    that :meth:`Saliency.load` gives them back; other objects become their repr."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, arrays) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.dtype != object:
        key = f"params_array_{len(arrays)}"
        arrays[key] = value
        return {_ARRAY_REF: key}
    return repr(value)


def _restore(value: Any, data: Any) -> Any:
    """Undo :func:`_jsonable`: array references become the saved arrays."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY_REF}:
            return np.array(data[value[_ARRAY_REF]])
        return {k: _restore(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, data) for v in value]
    return value
