"""``discover_concepts``: per-class visual concepts from example images (seed 000,
paragraph 0014; VRX, Ge et al., CVPR 2021, after ACE, Ghorbani et al., NeurIPS 2019).

For each class c and its images:

1. Attention: a saliency map for class c (any registered method; Grad-CAM by
   default), binarised into the foreground M' (the top ``threshold`` fraction of
   pixels, or the pixels above ``threshold`` x the map's maximum).
2. Candidates: SLIC segments at several resolutions (or a grid), kept when most of
   the segment lies in M' (the patent's I' = I x M'), large enough, and not a
   near-duplicate (Jaccard > 0.5) of a segment kept before.
3. Embedding: each segment's box cropped, the pixels outside the segment set to a
   neutral colour (the preprocessing mean), resized to the model's input size, and
   the chosen layer's output averaged over space (ACE's patch embedding).
4. Clustering: k-means (``clustering.kmeans``) into ``n_clusters`` groups; groups
   seen in fewer than ``min_popularity`` of the class's images are dropped (ACE's
   popularity filter).
5. Importance: occlusion. For each cluster and image, the cluster's segments in
   that image are replaced by the neutral colour and the drop of the class logit is
   measured; a concept's importance is the mean drop over all the class's images
   (0 where it does not appear). This is ACE's "smallest destroying concepts"
   deletion test (Ghorbani et al. 2019, section 4.2) used as a score: it needs only
   forward passes and measures the model's own use of the concept, where the
   reference's TCAV needs a linear probe per concept against random patches.
6. The ``top_k`` concepts by importance are kept, each with its prototype (the
   cluster centre), its "absent" radius (used by the structural concept graphs: the
   distance that holds the ``absent_quantile`` of its members and at most
   ``1 - absent_quantile`` of the class's other candidate patches), its popularity,
   thumbnails of the members nearest to the centre, and every member's source.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import frozen_eval
from .bank import ClassConcepts, ConceptBank
from .clustering import kmeans
from .embedding import embed
from .segmentation import CUSTOM, Candidates, SegmentationProtocol, candidate_segments, render_patches

__all__ = ["discover_concepts", "class_foreground", "neutral_colour", "resolve_class"]

BINARISE = ("top", "value")
OCCLUSION = ("surround", "neutral")


def surround_colour(images: torch.Tensor, masks: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """The mean colour of a ring of ``width`` pixels around each mask (default 3% of
    the image side, at least 1): (B, H, W, 3) float images, (B, H, W) bool masks ->
    (B, 1, 1, 3). Filling a segment with it removes the segment with a local colour
    rather than a grey blob the model never saw (the out-of-distribution fill that
    Chang et al., ICLR 2019, warn about); the neutral colour when the ring is empty."""
    h, w = masks.shape[1:]
    r = width if width is not None else max(1, round(0.03 * min(h, w)))
    m = masks.float().unsqueeze(1)
    ring = (torch.nn.functional.max_pool2d(m, 2 * r + 1, stride=1, padding=r) - m).squeeze(1)
    total = ring.sum((1, 2)).clamp_min(1.0)
    mean = (images * ring.unsqueeze(-1)).sum((1, 2)) / total.unsqueeze(-1)
    return mean.view(-1, 1, 1, 3)


def neutral_colour(adapter: ModelAdapter) -> tuple[float, float, float]:
    """The preprocessing mean in pixel units (0..255): the patches' background, which
    the normalisation maps to zero."""
    return tuple(float(m / adapter.preprocess.scale) for m in adapter.preprocess.mean)  # type: ignore[return-value]


def resolve_class(adapter: ModelAdapter, cls: Any, argument: str) -> int:
    """A class given by output index or label name -> its output index."""
    if isinstance(cls, str):
        labels = adapter.labels
        if cls not in labels:
            import difflib

            close = difflib.get_close_matches(cls, labels, n=3)
            raise bad_argument(argument, "a class index or one of the model's label names", cls,
                               f"Did you mean: {', '.join(close)}?" if close else "")
        return labels.index(cls)
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and 0 <= int(cls) < adapter.num_classes:
        return int(cls)
    raise bad_argument(argument, f"a class index in [0, {adapter.num_classes}) or a label name", cls)


def class_foreground(
    adapter: ModelAdapter, inputs: torch.Tensor, cls: int, attention: str | None, threshold: float, binarise: str,
    batch_size: int, attention_params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """(N, H, W) bool: the binarised attention map M' of class ``cls`` per image
    (all True when ``attention`` is None or a map is constant)."""
    n, _, h, w = inputs.shape
    if attention is None:
        return np.ones((n, h, w), bool)
    from ..saliency.explain import explain

    maps = explain(adapter, inputs, method=attention, target=int(cls), batch_size=batch_size,
                   **dict(attention_params or {})).maps
    flat = maps.reshape(n, -1)
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    if binarise == "top":
        cut = np.quantile(flat, 1.0 - threshold, axis=1, keepdims=True)
        fg = flat >= cut
    else:
        fg = (flat - lo) >= threshold * (hi - lo)
    fg |= (hi - lo) <= 0  # a constant map says nothing: keep everything
    return fg.reshape(n, h, w)


@dataclasses.dataclass
class _ImagePatches:
    candidates: Candidates
    start: int  # first row in the class's feature matrix


def _check_int(value: Any, argument: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise bad_argument(argument, f"an int >= {low}", value)
    return int(value)


def _check_fraction(value: Any, argument: str, *, zero_ok: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if zero_ok else value > 0) and value <= 1
    if not ok:
        raise bad_argument(argument, f"a number in {'[0' if zero_ok else '(0'}, 1]", value)
    return float(value)


def discover_concepts(
    model: Any,
    images_by_class: Mapping[int | str, Any],
    *,
    layer: str | None = None,
    attention: str | None = "gradcam",
    threshold: float = 0.5,
    binarise: str = "top",
    segmentation: str | Callable[[np.ndarray], Sequence[np.ndarray]] = "slic",
    resolutions: Sequence[int] = (15, 50, 80),
    compactness: float = 10.0,
    min_area: float = 0.005,
    min_foreground: float = 0.5,
    jaccard: float = 0.5,
    n_clusters: int = 25,
    min_popularity: float = 0.2,
    top_k: int = 4,
    occlusion: str = "surround",
    n_examples: int = 8,
    thumbnail: int = 48,
    absent_quantile: float = 0.95,
    batch_size: int = 64,
    attention_params: Mapping[str, Any] | None = None,
    progress: bool = True,
    seed: int = 0,
) -> ConceptBank:
    """Discover each class's visual concepts (see the module docstring for the steps).

    Args:
        model: a ModelAdapter or classifier ``nn.Module``.
        images_by_class: {class index or label name: images of that class} (any image
            form ``xw.explain`` takes; 20-50 per class is typical).
        layer: the embedding layer (default: the model's CAM layer, a bottleneck).
        attention: the saliency method whose map restricts candidates to the class
            foreground (any registered name), or None for the whole image.
        threshold, binarise: "top": keep the top ``threshold`` fraction of pixels;
            "value": keep pixels above ``threshold`` x the map's maximum (after
            subtracting its minimum).
        segmentation: "slic", "grid", or a callable (H, W, 3) uint8 -> list of (H, W)
            int label maps (then ``build_graphs`` needs the same callable).
        resolutions, compactness: segments per segmentation; SLIC's compactness.
        min_area, min_foreground, jaccard: candidate filters (see
            :class:`SegmentationProtocol`).
        n_clusters: k-means clusters per class (VRX: 25).
        min_popularity: drop clusters seen in fewer than this fraction of the images.
        top_k: concepts kept per class, by importance (VRX: 4).
        n_examples, thumbnail: thumbnails kept per concept, and their side in pixels.
        absent_quantile: sets each concept's radius: it holds this fraction of the
            concept's members and admits at most ``1 - absent_quantile`` of the class's
            other candidate patches.
        batch_size: patches (and images) per forward pass.
        attention_params: parameters of the attention method.
        progress: show a tqdm progress bar per class.
        seed: seeds k-means.

    Returns:
        a :class:`ConceptBank`.
    """
    start_time = time.perf_counter()
    adapter: ModelAdapter = wrap(model)
    if not isinstance(images_by_class, Mapping) or not images_by_class:
        raise bad_argument("images_by_class", "a non-empty dict {class index or name: list of images}", images_by_class)
    layer = layer or adapter.cam_layer
    if not isinstance(layer, str):
        raise bad_argument("layer", "a layer's dotted name", layer)
    adapter.layer(layer)  # unknown names fail with suggestions
    if attention is not None:
        from ..saliency.registry import get_method

        if not isinstance(attention, str):
            raise bad_argument("attention", "a registered saliency method name or None", attention)
        get_method(attention)
    if not isinstance(occlusion, str) or occlusion not in OCCLUSION:
        raise bad_argument("occlusion", f"one of {', '.join(map(repr, OCCLUSION))}", occlusion)
    if not isinstance(binarise, str) or binarise not in BINARISE:
        raise bad_argument("binarise", f"one of {', '.join(map(repr, BINARISE))}", binarise)
    threshold = _check_fraction(threshold, "threshold", zero_ok=binarise == "value")
    segmenter = segmentation if callable(segmentation) else None
    if segmenter is None and (not isinstance(segmentation, str) or segmentation not in ("slic", "grid")):
        raise bad_argument("segmentation", "'slic', 'grid' or a callable image -> list of label maps", segmentation)
    protocol = SegmentationProtocol(
        method=CUSTOM if segmenter is not None else segmentation,  # type: ignore[arg-type]
        resolutions=tuple(resolutions) if isinstance(resolutions, (list, tuple)) else resolutions,  # type: ignore[arg-type]
        compactness=compactness, min_area=min_area, min_foreground=min_foreground, jaccard=jaccard,
    )
    n_clusters = _check_int(n_clusters, "n_clusters", 1)
    min_popularity = _check_fraction(min_popularity, "min_popularity", zero_ok=True)
    top_k = _check_int(top_k, "top_k", 1)
    n_examples = _check_int(n_examples, "n_examples", 1)
    thumbnail = _check_int(thumbnail, "thumbnail", 4)
    absent_quantile = _check_fraction(absent_quantile, "absent_quantile", zero_ok=False)
    batch_size = _check_int(batch_size, "batch_size", 1)
    seed = _check_int(seed, "seed", 0)
    if not isinstance(progress, bool):
        raise bad_argument("progress", "True or False", progress)
    classes = {}
    for key, images in images_by_class.items():
        index = resolve_class(adapter, key, f"images_by_class key {key!r}")
        if index in classes:
            raise bad_argument("images_by_class", "each class once", key, f"class {index} is given twice")
        classes[index] = images

    neutral = neutral_colour(adapter)
    found = []
    for cls, images in classes.items():
        try:
            inputs, pixels = adapter.prepare(images)
        except ValueError as error:
            raise ValueError(f"images_by_class[{cls!r}]: {error}") from None
        found.append(_discover_class(
            adapter, cls, inputs, pixels, layer, attention, threshold, binarise, protocol, segmenter, n_clusters,
            min_popularity, top_k, n_examples, thumbnail, absent_quantile, batch_size, attention_params, progress,
            seed, neutral, occlusion,
        ))
    return ConceptBank(
        classes=found, layer=layer, input_size=adapter.preprocess.size, neutral=neutral,
        protocol={
            "attention": attention, "threshold": threshold, "binarise": binarise, "segmentation": protocol.to_dict(),
            "attention_params": {k: v for k, v in dict(attention_params or {}).items()
                                 if isinstance(v, (str, int, float, bool, type(None)))},
            "n_clusters": n_clusters, "min_popularity": min_popularity, "top_k": top_k, "importance": "occlusion",
            "occlusion": occlusion,
            "absent_quantile": absent_quantile, "seed": seed,
        },
        model_name=adapter.name, elapsed=time.perf_counter() - start_time,
    )


def _discover_class(
    adapter: ModelAdapter, cls: int, inputs: torch.Tensor, pixels: np.ndarray, layer: str, attention: str | None,
    threshold: float, binarise: str, protocol: SegmentationProtocol, segmenter, n_clusters: int,
    min_popularity: float, top_k: int, n_examples: int, thumbnail: int, absent_quantile: float, batch_size: int,
    attention_params, progress: bool, seed: int, neutral: tuple[float, float, float], occlusion: str,
) -> ClassConcepts:
    n = inputs.shape[0]
    name = adapter.labels[cls]
    size = adapter.preprocess.size
    foreground = class_foreground(adapter, inputs, cls, attention, threshold, binarise, batch_size, attention_params)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"concepts: {name}", leave=False)
    per_image: list[_ImagePatches] = []
    features: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []
    count = rows = 0

    def flush() -> None:
        nonlocal count
        if pending:
            features.append(embed(adapter, torch.cat(pending), layer, batch_size))
            pending.clear()
            count = 0

    try:
        for i in range(n):
            cand = candidate_segments(pixels[i], foreground[i], protocol, segmenter)
            per_image.append(_ImagePatches(cand, rows))
            rows += len(cand)
            if len(cand):
                pending.append(render_patches(pixels[i], cand.masks, cand.boxes, size, neutral, adapter.device))
                count += len(cand)
                if count >= batch_size:
                    flush()
            if bar is not None:
                bar.update(1)
        flush()
    finally:
        if bar is not None:
            bar.close()
    if rows == 0:
        raise ValueError(
            f"images_by_class[{cls!r}]: no candidate patch in any image; lower min_area or min_foreground, "
            "or raise threshold"
        )
    x = torch.cat(features)
    image_of = np.concatenate([np.full(len(p.candidates), i) for i, p in enumerate(per_image)])
    clusters = kmeans(x, n_clusters, seed=seed)
    labels = clusters.labels.cpu().numpy()
    k = clusters.centres.shape[0]

    # popularity: the fraction of images each cluster appears in
    seen = np.zeros((k, n), bool)
    seen[labels, image_of] = True
    popularity = seen.mean(1)
    kept = np.flatnonzero(popularity >= min_popularity)
    if len(kept) == 0:
        kept = np.array([int(popularity.argmax())])

    importance = _occlusion_importance(adapter, cls, inputs, pixels, per_image, labels, kept, neutral, batch_size,
                                       occlusion)
    order = kept[np.argsort(-importance, kind="stable")][:top_k]
    imp_of = dict(zip(kept.tolist(), importance.tolist()))

    dist = clusters.distances.cpu().numpy()
    members, member_dist, radius = [], [], []
    examples = np.zeros((len(order), n_examples, thumbnail, thumbnail, 3), np.uint8)
    example_source = np.full((len(order), n_examples, 5), -1, np.int64)
    example_count = np.zeros(len(order), np.int64)
    for j, cluster in enumerate(order.tolist()):
        rows_j = np.flatnonzero(labels == cluster)
        rows_j = rows_j[np.argsort(dist[rows_j], kind="stable")]
        radius.append(_radius(x, clusters.centres[cluster], labels == cluster, absent_quantile))
        for r in rows_j.tolist():
            i = int(image_of[r])
            cand = per_image[i].candidates
            local = r - per_image[i].start
            members.append([j, i, int(cand.resolution[local]), int(cand.segment[local]), *cand.boxes[local].tolist()])
            member_dist.append(dist[r])
        # thumbnails: nearest members, one per image first
        chosen, used = [], set()
        for r in rows_j.tolist():
            if int(image_of[r]) not in used:
                chosen.append(r)
                used.add(int(image_of[r]))
            if len(chosen) == n_examples:
                break
        for r in rows_j.tolist():
            if len(chosen) == n_examples:
                break
            if r not in chosen:
                chosen.append(r)
        for e, r in enumerate(chosen):
            i = int(image_of[r])
            cand = per_image[i].candidates
            local = r - per_image[i].start
            thumb = render_patches(pixels[i], cand.masks[local: local + 1], cand.boxes[local: local + 1],
                                   (thumbnail, thumbnail), neutral)
            examples[j, e] = thumb[0].numpy()
            example_source[j, e] = [i, *cand.boxes[local].tolist()]
        example_count[j] = len(chosen)
    return ClassConcepts(
        class_index=cls, class_name=name, prototypes=clusters.centres[torch.as_tensor(order)].cpu().numpy(),
        radius=np.asarray(radius), importance=np.asarray([imp_of[c] for c in order.tolist()]),
        popularity=popularity[order], cluster=order, examples=examples, example_count=example_count,
        example_source=example_source, members=np.asarray(members, np.int64).reshape(-1, 8),
        member_distance=np.asarray(member_dist), n_images=n,
    )


def _radius(x: torch.Tensor, centre: torch.Tensor, member: np.ndarray, quantile: float) -> float:
    """The distance within which a patch counts as the concept: it holds the
    ``quantile`` of the concept's members and admits at most ``1 - quantile`` of the
    class's other candidate patches (other clusters: background, other parts)."""
    d = (x - centre).norm(dim=1).cpu().numpy()
    radius = float(np.quantile(d[member], quantile))
    if (~member).any():
        radius = min(radius, float(np.quantile(d[~member], 1.0 - quantile)))
    return radius


@torch.no_grad()
def _occlusion_importance(
    adapter: ModelAdapter, cls: int, inputs: torch.Tensor, pixels: np.ndarray, per_image: list[_ImagePatches],
    labels: np.ndarray, kept: np.ndarray, neutral: tuple[float, float, float], batch_size: int, occlusion: str,
) -> np.ndarray:
    """Mean drop of the class logit over the class's images when each kept cluster's
    segments are filled (0 for images without the cluster)."""
    n = inputs.shape[0]
    jobs: list[tuple[int, int, np.ndarray]] = []  # (kept position, image, occlusion mask)
    for i, p in enumerate(per_image):
        if not len(p.candidates):
            continue
        local = labels[p.start: p.start + len(p.candidates)]
        for q, cluster in enumerate(kept.tolist()):
            hit = local == cluster
            if hit.any():
                jobs.append((q, i, p.candidates.masks[hit].any(0)))
    drops = np.zeros(len(kept), np.float64)
    neutral_t = torch.tensor(neutral, dtype=torch.float32).view(1, 1, 1, 3)
    with frozen_eval(adapter.model):
        base = torch.cat([adapter.logits(inputs[lo: lo + batch_size])[:, cls]
                          for lo in range(0, n, batch_size)]).float().cpu().numpy()
        for lo in range(0, len(jobs), batch_size):
            chunk = jobs[lo: lo + batch_size]
            imgs = torch.as_tensor(np.stack([pixels[i] for _, i, _ in chunk])).float()
            masks = torch.as_tensor(np.stack([m for _, _, m in chunk]))
            fill = neutral_t if occlusion == "neutral" else surround_colour(imgs, masks)
            occluded = torch.where(masks.unsqueeze(-1), fill, imgs).round().to(torch.uint8)
            scores = adapter.logits(adapter.preprocess.normalise(occluded, adapter.device))[:, cls].float().cpu().numpy()
            for (q, i, _), s in zip(chunk, scores):
                drops[q] += base[i] - s
    return (drops / n).astype(np.float32)
