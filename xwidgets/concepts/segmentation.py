"""Candidate patches for concept discovery: multi-resolution segments of the class
foreground, de-duplicated, rendered on a neutral background.

ACE (Ghorbani et al., "Towards Automatic Concept-based Explanations", NeurIPS 2019,
section 3) segments every image with SLIC at several resolutions and keeps each
segment as a candidate patch; VRX (Ge et al., CVPR 2021) first restricts candidates
to the class foreground given by Grad-CAM. The patent's wording (seed 000, paragraph
0014) is I' = I x M' with M' the binarised attention map; here the image is
segmented once and a segment is kept when most of it lies inside M' (its pixels are
then those of I'), so the same segments serve every class of an image.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import bad_argument

__all__ = ["SegmentationProtocol", "Candidates", "segment_image", "all_segments", "select_segments", "candidate_segments", "render_patches", "mask_boxes", "mask_centroids"]

#: A callable segmentation: (H, W, 3) uint8 -> list of (H, W) int label maps.
Segmenter = Callable[[np.ndarray], Sequence[np.ndarray]]
SEGMENTATIONS = ("slic", "grid")
#: the protocol's method when discovery was given a callable segmentation
CUSTOM = "custom"


@dataclasses.dataclass(frozen=True)
class SegmentationProtocol:
    """How an image becomes candidate patches (saved with a ConceptBank).

    Attributes:
        method: "slic" (scikit-image SLIC, one segmentation per resolution) or
            "grid" (a regular grid of about ``resolution`` cells).
        resolutions: segments per segmentation (ACE and VRX: 15, 50 and 80).
        compactness: SLIC's colour/space trade-off (scikit-image's default, 10).
        sigma: SLIC's Gaussian pre-smoothing (pixels).
        min_area: smallest segment kept, as a fraction of the image area.
        min_foreground: a segment is kept when at least this fraction of it lies in
            the binarised attention M'.
        jaccard: a segment whose Jaccard index with a segment already kept from the
            same image exceeds this is a duplicate and dropped (ACE: 0.5).
    """

    method: str = "slic"
    resolutions: tuple[int, ...] = (15, 50, 80)
    compactness: float = 10.0
    sigma: float = 0.5
    min_area: float = 0.005
    min_foreground: float = 0.5
    jaccard: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in SEGMENTATIONS + (CUSTOM,):
            raise bad_argument("segmentation", f"one of {', '.join(map(repr, SEGMENTATIONS))} or a callable", self.method)
        res = tuple(self.resolutions) if isinstance(self.resolutions, (list, tuple)) else self.resolutions
        if (not isinstance(res, tuple) or not res
                or not all(isinstance(r, numbers.Integral) and not isinstance(r, bool) and r >= 1 for r in res)):
            raise bad_argument("resolutions", "a non-empty tuple of positive ints (segments per segmentation)", self.resolutions)
        object.__setattr__(self, "resolutions", tuple(int(r) for r in res))
        for name, low, high in (("compactness", 0.0, None), ("sigma", 0.0, None), ("min_area", 0.0, 1.0),
                                ("min_foreground", 0.0, 1.0), ("jaccard", 0.0, 1.0)):
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= low
            if ok and high is not None:
                ok = value <= high
            if not ok or (name == "compactness" and value == 0):
                span = f"> {low:g}" if name == "compactness" else f">= {low:g}" + (f" and <= {high:g}" if high is not None else "")
                raise bad_argument(name, f"a finite number {span}", value)
            object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict:
        """JSON-ready (``resolutions`` as a list)."""
        return {**dataclasses.asdict(self), "resolutions": list(self.resolutions)}

    @classmethod
    def from_dict(cls, data: dict) -> "SegmentationProtocol":
        return cls(**{**data, "resolutions": tuple(data["resolutions"])})


@dataclasses.dataclass
class Candidates:
    """The candidate patches of one image.

    masks: (M, H, W) bool; resolution: (M,) which segmentation each came from;
    segment: (M,) its label in that segmentation; boxes: (M, 4) int (x0, y0, x1, y1),
    x1 and y1 exclusive.
    """

    masks: np.ndarray
    resolution: np.ndarray
    segment: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def subset(self, index: np.ndarray) -> "Candidates":
        return Candidates(self.masks[index], self.resolution[index], self.segment[index], self.boxes[index])


def segment_image(pixels: np.ndarray, protocol: SegmentationProtocol, segmenter: Segmenter | None = None) -> list[np.ndarray]:
    """One (H, W) int label map per resolution (or whatever ``segmenter`` returns)."""
    if segmenter is not None:
        maps = [np.asarray(m) for m in segmenter(pixels)]
        for i, m in enumerate(maps):
            if m.shape != pixels.shape[:2] or not np.issubdtype(m.dtype, np.integer):
                raise bad_argument(f"segmentation(image)[{i}]", f"an int label map of shape {pixels.shape[:2]}", m)
        return maps
    if protocol.method == CUSTOM:
        raise bad_argument("segmentation", "the callable that discovery used (the bank records only 'custom')", None)
    h, w = pixels.shape[:2]
    if protocol.method == "grid":
        out = []
        for n in protocol.resolutions:
            side = max(1, int(round(math.sqrt(n))))
            rows = np.minimum((np.arange(h) * side) // h, side - 1)
            cols = np.minimum((np.arange(w) * side) // w, side - 1)
            out.append((rows[:, None] * side + cols[None, :]).astype(np.int32))
        return out
    from skimage.segmentation import slic

    return [
        slic(pixels, n_segments=n, compactness=protocol.compactness, sigma=protocol.sigma, start_label=0,
             channel_axis=-1).astype(np.int32)
        for n in protocol.resolutions
    ]


def all_segments(
    pixels: np.ndarray, protocol: SegmentationProtocol, segmenter: Segmenter | None = None
) -> tuple[Candidates, np.ndarray]:
    """Every segment of every resolution that is large enough (``protocol.min_area``),
    in resolution order, and their (M, M) Jaccard indices."""
    h, w = pixels.shape[:2]
    label_maps = segment_image(pixels, protocol, segmenter)
    all_masks, all_res, all_seg = [], [], []
    for r, labels in enumerate(label_maps):
        ids = np.unique(labels)
        all_masks.append(labels[None, :, :] == ids[:, None, None])
        all_res.append(np.full(len(ids), r, np.int32))
        all_seg.append(ids.astype(np.int32))
    masks = np.concatenate(all_masks)
    area = masks.reshape(len(masks), -1).sum(1)
    keep = np.flatnonzero(area >= max(1.0, protocol.min_area * h * w))
    masks, area = masks[keep], area[keep]
    flat = torch.from_numpy(masks.reshape(len(masks), -1).astype(np.float32))
    inter = (flat @ flat.T).numpy()
    jac = inter / np.maximum(area[:, None] + area[None, :] - inter, 1)
    cands = Candidates(masks=masks, resolution=np.concatenate(all_res)[keep], segment=np.concatenate(all_seg)[keep],
                       boxes=mask_boxes(masks))
    return cands, jac


def select_segments(
    cands: Candidates, jaccard: np.ndarray, foreground: np.ndarray | None, protocol: SegmentationProtocol
) -> np.ndarray:
    """Indices of the segments of ``cands`` that lie mostly in ``foreground`` ((H, W)
    bool, None: everywhere) and are not duplicates: in resolution order, a segment is
    dropped when its Jaccard index with one kept before exceeds ``protocol.jaccard``."""
    index = np.arange(len(cands))
    if foreground is not None and len(index):
        flat = cands.masks.reshape(len(cands), -1)
        area = flat.sum(1)
        inside = (flat & foreground.reshape(1, -1)).sum(1)
        index = np.flatnonzero(inside >= protocol.min_foreground * np.maximum(area, 1))
    kept: list[int] = []
    for i in index.tolist():  # greedy, in resolution order
        if not kept or jaccard[i, kept].max() <= protocol.jaccard:
            kept.append(i)
    return np.asarray(kept, np.int64)


def candidate_segments(
    pixels: np.ndarray, foreground: np.ndarray | None, protocol: SegmentationProtocol, segmenter: Segmenter | None = None
) -> Candidates:
    """The candidate patches of ``pixels`` (H, W, 3) uint8: :func:`all_segments`
    filtered by :func:`select_segments`."""
    cands, jac = all_segments(pixels, protocol, segmenter)
    return cands.subset(select_segments(cands, jac, foreground, protocol))


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """(M, H, W) bool -> (M, 4) int64 tight boxes (x0, y0, x1, y1), x1 and y1
    exclusive; an empty mask gets (0, 0, 0, 0)."""
    masks = np.asarray(masks, bool)
    if masks.shape[0] == 0:
        return np.zeros((0, 4), np.int64)
    rows, cols = masks.any(2), masks.any(1)
    h, w = masks.shape[1:]
    y0 = np.where(rows.any(1), rows.argmax(1), 0)
    y1 = np.where(rows.any(1), h - rows[:, ::-1].argmax(1), 0)
    x0 = np.where(cols.any(1), cols.argmax(1), 0)
    x1 = np.where(cols.any(1), w - cols[:, ::-1].argmax(1), 0)
    return np.stack([x0, y0, x1, y1], 1).astype(np.int64)


def mask_centroids(masks: np.ndarray) -> np.ndarray:
    """(M, H, W) bool -> (M, 2) float (x, y): the first image moments over the zeroth
    (the mean pixel position, pixel centres at integer coordinates); NaN when empty."""
    masks = np.asarray(masks, bool)
    m00 = masks.sum((1, 2)).astype(np.float64)
    ys, xs = np.arange(masks.shape[1]), np.arange(masks.shape[2])
    m10 = (masks.sum(1) * xs).sum(1)
    m01 = (masks.sum(2) * ys).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([m10 / m00, m01 / m00], 1)


def render_patches(
    pixels: np.ndarray, masks: np.ndarray, boxes: np.ndarray, size: tuple[int, int], neutral: Sequence[float],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Each segment's box cropped, its pixels outside the segment set to ``neutral``
    and resized (bilinear) to ``size``: (M, H', W', 3) uint8 on ``device``. ACE's
    patch, which shows the model the segment alone at the scale it expects.

    ``pixels`` (H, W, 3) uint8 of one image, or (M, H, W, 3) one per mask.
    """
    m = masks.shape[0]
    out_h, out_w = size
    if m == 0:
        return torch.zeros((0, out_h, out_w, 3), dtype=torch.uint8, device=device)
    img = torch.as_tensor(np.ascontiguousarray(pixels), device=device).float()
    if img.ndim == 3:
        img = img.unsqueeze(0).expand(m, -1, -1, -1)
    neutral_t = torch.as_tensor(np.asarray(neutral, np.float32), device=device).view(1, 1, 1, 3)
    mk = torch.as_tensor(masks, device=device).unsqueeze(-1)
    filled = torch.where(mk, img, neutral_t).permute(0, 3, 1, 2)  # (M, 3, H, W)
    h, w = masks.shape[1:]
    # crop-and-resize of every box in one call: an affine grid per patch
    b = torch.as_tensor(boxes, device=device, dtype=torch.float32)
    x0, y0, x1, y1 = b.unbind(1)
    # normalised coordinates of the box edges (align_corners=False convention)
    cx = (x0 + x1) / w - 1.0
    cy = (y0 + y1) / h - 1.0
    sx = (x1 - x0).clamp_min(1) / w
    sy = (y1 - y0).clamp_min(1) / h
    theta = torch.zeros(m, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = sy, cy
    grid = F.affine_grid(theta, [m, 3, out_h, out_w], align_corners=False)
    out = F.grid_sample(filled, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

