"""The dataset view of aspect presence (seed 001: "for multiple input instances having the
same model output, a count is determined of a number of times a characteristic is
indicated to be present", and outliers, "input instances that are uncommon in the
combination of characteristics used to determine a given model output").

:func:`aspect_report` groups the images of an :class:`~xwidgets.aspects.AspectPresence`
by the class explained, counts per class how often each aspect was relevant (and, next
to it, how often it was merely present), and flags as outliers the images whose
combination of relevant aspects is rare among the images of their class: an image is an
outlier when, for at least one aspect, at most a share ``rare`` of the *other* images of
its class agree with it on that aspect (relevant, or not). That flags an image in which a
class's usual aspect was not relevant, or an unusual one was (the spurious tag in one
image of a class that otherwise never uses it), while the random spill of a coarse map
over a distractor that is relevant in a fair share of the class does not count.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._validation import bad_argument
from .presence import AspectPresence

__all__ = ["AspectDatasetReport", "aspect_report"]


@dataclasses.dataclass(eq=False)
class AspectDatasetReport:
    """Per class x aspect counts of relevant presence over a set of images, and outliers.

    Attributes:
        classes: class names (the model's labels), K.
        aspects: aspect names, A.
        explained: (N,) the class explained per image (the predicted one by default).
        relevant: (N, A) bool, relevant presence; present: (N, A) bool plain presence or None.
        counts: (K, A) int, images of each class in which each aspect was relevant.
        present_counts: (K, A) int or None, the same for plain presence.
        totals: (K,) int, images per class.
        agreement: (N, A) float in [0, 1]: for each image and aspect, the share of the
            other images of its class in the same state (relevant or not) for that aspect
            (1 when the class has no other image).
        rarity: (N,) float in [0, 1]: 1 minus the image's lowest agreement.
        outliers: image positions with rarity >= 1 - ``rare`` in a class with at least
            ``min_images`` images, rarest first.
        rare, min_images: the outlier rule.
        presence: the :class:`AspectPresence` the report was built from.
    """

    classes: list[str]
    aspects: list[str]
    explained: np.ndarray
    relevant: np.ndarray
    present: np.ndarray | None
    counts: np.ndarray
    present_counts: np.ndarray | None
    totals: np.ndarray
    agreement: np.ndarray
    rarity: np.ndarray
    outliers: np.ndarray
    rare: float
    min_images: int
    presence: AspectPresence

    def __repr__(self) -> str:
        used = int((self.totals > 0).sum())
        return (f"AspectDatasetReport(images={len(self.explained)}, classes={used}, aspects={len(self.aspects)}, "
                f"outliers={len(self.outliers)})")

    def frequency(self) -> np.ndarray:
        """(K, A) the share of each class's images in which each aspect was relevant (NaN
        for classes without images)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.counts / np.where(self.totals > 0, self.totals, np.nan)[:, None]

    def _class(self, class_name: str | int) -> int:
        if isinstance(class_name, str) and class_name in self.classes:
            return self.classes.index(class_name)
        if isinstance(class_name, (int, np.integer)) and not isinstance(class_name, bool) \
                and 0 <= class_name < len(self.classes):
            return int(class_name)
        raise bad_argument("class_name", f"a class name or position ({', '.join(self.classes)})", class_name)

    def top_aspects(self, class_name: str | int, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` aspects most often relevant for a class, with their share, most first
        (ties keep the aspects' order)."""
        c = self._class(class_name)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise bad_argument("k", "a positive int", k)
        if self.totals[c] == 0:
            return []
        freq = self.counts[c] / self.totals[c]
        order = np.argsort(-freq, kind="stable")[:k]
        return [(self.aspects[a], float(freq[a])) for a in order]

    def combination(self, image: int) -> tuple[str, ...]:
        """The relevant aspects of ``image``, in the aspects' order."""
        if isinstance(image, bool) or not isinstance(image, (int, np.integer)) or not 0 <= image < len(self.explained):
            raise bad_argument("image", f"an image position in [0, {len(self.explained)})", image)
        return tuple(a for a, on in zip(self.aspects, self.relevant[image]) if on)

    def unusual(self, image: int) -> list[tuple[str, bool, float]]:
        """The aspects on which ``image`` is unusual for its class: (aspect, relevant in
        the image?, share of the class's other images that agree), least agreement first;
        only aspects with agreement at most ``rare``."""
        combo = self.combination(image)  # checks image
        del combo
        row = self.agreement[image]
        order = np.argsort(row, kind="stable")
        return [(self.aspects[a], bool(self.relevant[image, a]), float(row[a]))
                for a in order if row[a] <= self.rare + 1e-12]

    def table(self) -> list[dict[str, Any]]:
        """One row per class with images: its count and each aspect's relevant share."""
        freq = self.frequency()
        return [{"class": name, "images": int(self.totals[c]),
                 **{a: round(float(freq[c, j]), 4) for j, a in enumerate(self.aspects)}}
                for c, name in enumerate(self.classes) if self.totals[c] > 0]

    def widget(self, **kwargs: Any):
        """The :class:`~xwidgets.widgets.aspect_report.AspectReport` widget of this report."""
        from ..widgets.aspect_report import AspectReport

        return AspectReport(self, **kwargs)

    def show(self, **kwargs: Any):
        return self.widget(**kwargs)


def aspect_report(presence: AspectPresence, *, classes: np.ndarray | None = None, rare: float = 0.1,
                  min_images: int = 5) -> AspectDatasetReport:
    """Counts of relevant aspects per class and outlier images (seed 001).

    Args:
        presence: an :class:`~xwidgets.aspects.AspectPresence` over many images.
        classes: (N,) the class each image is grouped under (default: the class
            explained, i.e. the model's output for target "pred").
        rare: an image is an outlier when, for some aspect, at most this share of the
            other images of its class agree with it (module docstring).
        min_images: classes with fewer images have no outliers (too few to call rare).
    """
    if not isinstance(presence, AspectPresence):
        raise bad_argument("presence", "an AspectPresence (from aspect_presence)", presence)
    if isinstance(rare, bool) or not isinstance(rare, (int, float)) or not 0 <= rare < 1:
        raise bad_argument("rare", "a number in [0, 1)", rare)
    if isinstance(min_images, bool) or not isinstance(min_images, int) or min_images < 1:
        raise bad_argument("min_images", "a positive int", min_images)
    n = len(presence)
    k = len(presence.labels)
    explained = presence.targets if classes is None else np.asarray(classes)
    if explained.shape != (n,) or not np.issubdtype(explained.dtype, np.integer) \
            or (n and (explained.min() < 0 or explained.max() >= k)):
        raise bad_argument("classes", f"None or ({n},) ints in [0, {k})", classes)
    explained = explained.astype(np.int64)
    relevant = presence.relevant.present()
    present = presence.plain.present() if presence.plain is not None else None
    a = len(presence.aspects)
    counts = np.zeros((k, a), np.int64)
    np.add.at(counts, explained, relevant.astype(np.int64))
    present_counts = None
    if present is not None:
        present_counts = np.zeros((k, a), np.int64)
        np.add.at(present_counts, explained, present.astype(np.int64))
    totals = np.bincount(explained, minlength=k).astype(np.int64)
    # leave-one-out agreement: other images of the class in the same state, per aspect
    same_on = counts[explained] - relevant  # relevant in other images of the class
    others = (totals[explained] - 1)[:, None].astype(np.float64)
    agree = np.where(relevant, same_on, others - same_on)
    agreement = np.where(others > 0, agree / np.maximum(others, 1), 1.0)
    rarity = 1.0 - agreement.min(axis=1) if a else np.zeros(n)
    flagged = [i for i in range(n) if totals[explained[i]] >= min_images and rarity[i] >= 1.0 - rare - 1e-12]
    outliers = np.array(sorted(flagged, key=lambda i: (-rarity[i], i)), dtype=np.int64)
    return AspectDatasetReport(
        classes=list(presence.labels), aspects=list(presence.aspects), explained=explained, relevant=relevant,
        present=present, counts=counts, present_counts=present_counts, totals=totals, agreement=agreement,
        rarity=rarity,
        outliers=outliers, rare=float(rare), min_images=min_images, presence=presence,
    )
