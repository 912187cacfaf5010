"""The dataset classes: random access to images and their ground truth."""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch.utils.data import Dataset

from ..._validation import bad_argument
from .render import Sample, labels_for, render
from .vocabulary import CLASSES, DEFAULT_BIASED_CLASS, VARIANTS

#: Smallest image side at which every part stays recognisable.
MIN_SIZE = 32
#: Largest image side (the stamps and textures are cached per size).
MAX_SIZE = 1024


def _check_int(name: str, value, low: int | None = None, high: int | None = None, expected: str = "") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise bad_argument(name, expected or "an int", value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad_argument(name, expected or f"an int in [{low}, {high}]", value)
    return value


class SyntheticParts(Dataset):
    """Images whose classes are defined by parts, with per-image ground truth.

    Image ``i`` depends only on (seed, i, variant, size), so random access and
    DataLoader workers are deterministic; the variants share each image's scene and
    differ only by the corner tag. Every block of ``len(CLASSES)`` consecutive
    indices holds each class once.

    Args:
        n: number of images.
        seed: a non-negative int.
        size: image side in pixels (default 64; at least 32).
        variant: "clean"; "biased" (a white corner tag on every image of
            ``biased_class`` and on no other); or "shifted" (the tag on every image of
            the other classes and not on ``biased_class``).
        biased_class: the class the tag is tied to in the biased variant.

    ``ds[i]`` gives (float32 tensor 3xHxW in [0, 1], int label); ``ds.sample(i)`` the
    image with its ground truth; ``ds.arrays(start, stop)`` a fast uint8 batch.
    """

    def __init__(
        self,
        n: int = 1000,
        seed: int = 0,
        size: int = 64,
        variant: str = "clean",
        biased_class: str = DEFAULT_BIASED_CLASS,
    ):
        self.n = _check_int("n", n, 0, None, "an int >= 0")
        self.seed = _check_int("seed", seed, 0, None, "an int >= 0")
        self.size = _check_int(
            "size", size, MIN_SIZE, MAX_SIZE,
            f"an int in [{MIN_SIZE}, {MAX_SIZE}] (smaller images cannot hold the parts)",
        )
        if not isinstance(variant, str) or variant not in VARIANTS:
            raise bad_argument("variant", f"one of {', '.join(map(repr, VARIANTS))}", variant)
        if not isinstance(biased_class, str) or biased_class not in CLASSES:
            raise bad_argument("biased_class", f"a class name, one of {', '.join(CLASSES)}", biased_class)
        self.variant = variant
        self.biased_class = biased_class

    # ------------------------------------------------------------------ metadata
    @property
    def class_names(self) -> list[str]:
        return list(CLASSES)

    @property
    def num_classes(self) -> int:
        return len(CLASSES)

    @property
    def labels(self) -> np.ndarray:
        """(n,) int64: every image's label, without drawing any image."""
        return labels_for(self.seed, 0, self.n)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        extra = f", biased_class={self.biased_class!r}" if self.variant != "clean" else ""
        return (f"SyntheticParts(n={self.n}, seed={self.seed}, size={self.size}, "
                f"variant={self.variant!r}{extra})")

    # ------------------------------------------------------------------ access
    def _index(self, i) -> int:
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"index: expected an int; got {type(i).__name__}") from None
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"index: expected an int in [{-self.n}, {self.n}); got {i}")
        return i

    def __getitem__(self, i) -> tuple[torch.Tensor, int]:
        image, label, _ = render(self.seed, self._index(i), self.size, self.variant, self.biased_class, records=False)
        tensor = torch.from_numpy(image).permute(2, 0, 1).to(torch.float32).div_(255.0)
        return tensor, label

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as (H, W, 3) uint8."""
        return render(self.seed, self._index(i), self.size, self.variant, self.biased_class, records=False)[0]

    def sample(self, i: int) -> Sample:
        """Image ``i`` with its ground truth (parts, instance mask, evidence, cue)."""
        i = self._index(i)
        image, label, truth = render(self.seed, i, self.size, self.variant, self.biased_class, records=True)
        assert truth is not None
        return Sample(image=image, label=label, class_name=CLASSES[label], index=i, seed=self.seed,
                      variant=self.variant, **truth)

    def intervene(self, i: int, *, remove=(), background: int | None = None, tag: bool | None = None,
                  swap: bool = False) -> Sample:
        """Image ``i`` redrawn with parts removed, another background, the tag removed or
        added, or a relation's parts swapped (``interventions.intervene``)."""
        from .interventions import intervene

        return intervene(self.sample(i), remove=remove, background=background, tag=tag, swap=swap,
                         biased_class=self.biased_class)

    def arrays(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images start..stop-1 as ((N, H, W, 3) uint8, (N,) int64 labels)."""
        stop = self.n if stop is None else stop
        start = _check_int("start", start, 0, self.n, f"an int in [0, {self.n}]")
        stop = _check_int("stop", stop, start, self.n, f"an int in [start={start}, n={self.n}]")
        images = np.empty((stop - start, self.size, self.size, 3), np.uint8)
        labels = np.empty(stop - start, np.int64)
        for k, i in enumerate(range(start, stop)):
            images[k], labels[k], _ = render(self.seed, i, self.size, self.variant, self.biased_class, records=False)
        return images, labels

    def tensors(self, start: int = 0, stop: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images start..stop-1 as ((N, 3, H, W) float32 in [0, 1], (N,) int64 labels)."""
        images, labels = self.arrays(start, stop)
        return torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32).div_(255.0), torch.from_numpy(labels)
