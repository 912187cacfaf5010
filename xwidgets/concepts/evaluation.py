"""Checking concepts against ground truth: the purity of each concept's patches
with respect to per-pixel part labels (e.g. the synthetic dataset's part types)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from .._validation import bad_argument
from .bank import ConceptBank
from .segmentation import segment_image

__all__ = ["member_masks", "concept_purity", "Purity"]


def member_masks(bank: ConceptBank, cls: int | str, pixels: np.ndarray, segmentation=None) -> np.ndarray:
    """(M, H, W) bool: the masks of every member of class ``cls``'s concepts (rows of
    ``bank.concepts(cls).members``), recomputed from the class's discovery images
    ``pixels`` ((N, H, W, 3) uint8 at the model's input size, in discovery order)."""
    concepts = bank.concepts(cls)
    protocol = bank.segmentation
    pixels = np.asarray(pixels)
    if pixels.ndim != 4 or pixels.shape[0] != concepts.n_images or tuple(pixels.shape[1:3]) != bank.input_size:
        raise bad_argument(
            "pixels", f"({concepts.n_images}, {bank.input_size[0]}, {bank.input_size[1]}, 3) uint8, the class's "
            "discovery images at the model's input size", pixels,
        )
    masks = np.zeros((len(concepts.members), *bank.input_size), bool)
    cache: dict[int, list[np.ndarray]] = {}
    for row, (_, image, res, seg, *_box) in enumerate(concepts.members.tolist()):
        if image not in cache:
            cache[image] = segment_image(pixels[image], protocol, segmentation)
        masks[row] = cache[image][res] == seg
    return masks


@dataclasses.dataclass
class Purity:
    """Purity of the concepts against ground-truth labels.

    overall: the fraction of all member patches whose label is their concept's
    majority label (cluster purity, Manning et al., IR book, section 16.3);
    per_concept: {(class_name, j): (majority label, purity, members)};
    part_fraction: the fraction of concepts whose majority label is not background.
    """

    overall: float
    per_concept: dict[tuple[str, int], tuple[str, float, int]]
    part_fraction: float

    def __repr__(self) -> str:
        return f"Purity(overall={self.overall:.3f}, concepts={len(self.per_concept)}, part_fraction={self.part_fraction:.2f})"


def concept_purity(
    bank: ConceptBank,
    pixels_by_class: Mapping[Any, np.ndarray],
    labels_by_class: Mapping[Any, np.ndarray],
    names: Sequence[str],
    *,
    instances_by_class: Mapping[Any, np.ndarray] | None = None,
    rule: str = "majority",
    background: int = 0,
    segmentation=None,
) -> Purity:
    """Cluster purity of ``bank``'s concepts against per-pixel labels.

    Each member patch gets a label, by ``rule``:

    * "majority": the label covering most of its pixels (``background`` included);
    * "part": the part label with the largest overlap, provided that overlap holds at
      least half of that part instance (``instances_by_class``: (N, H, W) int
      instance ids, 0 for none) or at least half of the patch; else ``background``.
      A patch that contains a whole part plus some surroundings shows that part.

    A concept's majority label is its members' most common label; purity is the
    fraction of members that carry it. ``labels_by_class[c]`` is (N, H, W) int,
    aligned with the class's discovery images ``pixels_by_class[c]``;
    ``names[label]`` names a label.
    """
    if rule not in ("majority", "part"):
        raise bad_argument("rule", "'majority' or 'part'", rule)
    if rule == "part" and instances_by_class is None:
        raise bad_argument("instances_by_class", "per-pixel instance ids for rule='part'", None)
    total = agree = 0
    per: dict[tuple[str, int], tuple[str, float, int]] = {}
    for c in bank.classes:
        key = c.class_name if c.class_name in pixels_by_class else c.class_index
        if key not in pixels_by_class or key not in labels_by_class:
            raise bad_argument("pixels_by_class", f"an entry for every class of the bank (missing {c.class_name!r})",
                               list(pixels_by_class))
        labels = np.asarray(labels_by_class[key])
        masks = member_masks(bank, c.class_index, pixels_by_class[key], segmentation)
        images = c.members[:, 1]
        n_labels = max(int(labels.max()) + 1, len(names))
        counts = np.stack([np.bincount(labels[i][m], minlength=n_labels) for i, m in zip(images, masks)]) \
            if len(masks) else np.zeros((0, n_labels), int)
        patch_label = counts.argmax(1) if len(counts) else np.zeros(0, int)
        if rule == "part" and len(masks):
            inst = np.asarray(instances_by_class[key])  # type: ignore[index]
            patch_label = np.full(len(masks), background, np.int64)
            for r, (i, m) in enumerate(zip(images, masks)):
                ids, overlap = np.unique(inst[i][m], return_counts=True)
                best, best_overlap = background, 0
                for pid, ov in zip(ids.tolist(), overlap.tolist()):
                    if pid == 0:
                        continue
                    part = inst[i] == pid
                    if (ov >= 0.5 * part.sum() or ov >= 0.5 * m.sum()) and ov > best_overlap:
                        best, best_overlap = int(np.bincount(labels[i][part]).argmax()), ov
                patch_label[r] = best
        for j in range(len(c)):
            rows = c.member_rows(j)
            if not len(rows):
                continue
            votes = np.bincount(patch_label[rows], minlength=n_labels)
            major = int(votes.argmax())
            per[(c.class_name, j)] = (names[major] if major < len(names) else str(major), float(votes[major] / len(rows)), len(rows))
            total += len(rows)
            agree += int(votes[major])
    parts = [v for v in per.values() if v[0] != (names[background] if background < len(names) else str(background))]
    return Purity(overall=agree / max(total, 1), per_concept=per, part_fraction=len(parts) / max(len(per), 1))
