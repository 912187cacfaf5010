"""Structural concept graphs (seed 000, paragraphs 0015 and 0021; VRX, Ge et al.,
CVPR 2021, section 3.2): for one image and one candidate class, the class's concepts
found in the image (nodes) and their spatial relations (directed edges).

Matching: the image is segmented as in discovery (the class's binarised attention,
multi-resolution segments, duplicates dropped), every candidate patch is embedded at
the bank's layer, and the class's concepts are matched to distinct patches by a
minimum-cost assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``) in
which each concept may instead take an explicit "absent" option that costs its radius
(the distance within which discovery saw most of its members). A concept is therefore
present exactly when a patch lies within its radius and the assignment prefers it;
an absent node has ``present = False`` and a zero feature (the reference's all-ones
stand-in vector is not used).

Nested matches (optional, ``max_overlap``): multi-resolution segments nest, so two
concepts can match the same part at two scales (a window and the body panel around
it), and every such duplicate adds edges that compete with the meaningful ones. Of two
present nodes whose masks overlap by more than ``max_overlap`` of the smaller mask,
the worse match (larger distance / radius) is made absent: greedy non-maximum
suppression, as in object detection, but over containment rather than IoU (a small
patch inside a big one has a small IoU).

Nodes carry the matched patch's feature, box, mask, centroid (first image moments
over the zeroth), its distance to the prototype, and whether it is present. Every
ordered pair (i, j), i != j, is a directed edge i -> j with :data:`EDGE_FEATURES`:
``(x_i, y_i, x_j, y_j)`` divided by the image width and height (VRX's geometry
features), then ``dx = x_j - x_i`` and ``dy = y_j - y_i`` (over width and height;
image coordinates, y down, so ``dy > 0`` means j lies below i) and their Euclidean
norm. Edges touching an absent node are zero and masked out.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.inputs import Images
from .bank import ConceptBank
from .discovery import class_foreground, resolve_class
from .embedding import embed
from .segmentation import all_segments, mask_centroids, render_patches, select_segments

__all__ = ["EDGE_FEATURES", "SCG", "GraphBatch", "build_graphs", "stack_graphs", "edge_features", "suppress_nested"]

#: The features of a directed edge i -> j, in order.
EDGE_FEATURES = ("x_i", "y_i", "x_j", "y_j", "dx", "dy", "distance")


@dataclasses.dataclass(eq=False)
class SCG:
    """The structural concept graph of one image for one candidate class.

    Attributes:
        class_index, class_name: the candidate class.
        concept_ids: the class's concepts, one node each, most important first.
        features: (k, D) float32 matched patch embeddings (zeros when absent).
        present: (k,) bool, whether the concept was found.
        distance: (k,) float32, the distance from the prototype to the matched patch
            (present nodes) or to the nearest candidate patch (absent nodes; inf when
            the image offered no candidate; a match suppressed as nested keeps its
            own distance).
        radius: (k,) float32, the bank's absent radius of each concept.
        boxes: (k, 4) int (x0, y0, x1, y1), x1 and y1 exclusive (zeros when absent).
        masks: (k, H, W) bool (all False when absent).
        centroids: (k, 2) float32 (x, y) in pixels (NaN when absent).
        edge_features: (k, k, E) float32, the features of edge i -> j
            (:data:`EDGE_FEATURES`; zeros on the diagonal and where a node is absent).
        edge_present: (k, k) bool, edges between two present, distinct nodes.
        image_size: (H, W) of the image as the model saw it.
        n_candidates: how many candidate patches the image offered the class.
    """

    class_index: int
    class_name: str
    concept_ids: list[str]
    features: np.ndarray
    present: np.ndarray
    distance: np.ndarray
    radius: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    centroids: np.ndarray
    edge_features: np.ndarray
    edge_present: np.ndarray
    image_size: tuple[int, int]
    n_candidates: int

    def __len__(self) -> int:
        return len(self.concept_ids)

    def __repr__(self) -> str:
        marks = "".join("+" if p else "-" for p in self.present)
        return f"SCG({self.class_name!r}, nodes={len(self)}, present={marks}, candidates={self.n_candidates})"


def edge_features(centroids: np.ndarray, present: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(k, 2) centroids (x, y) and (k,) present -> ((k, k, 7) features of every edge
    i -> j, (k, k) bool mask of edges between present, distinct nodes)."""
    h, w = image_size
    k = len(present)
    xy = np.nan_to_num(np.asarray(centroids, np.float64)) / np.array([w, h], np.float64)
    xi = np.broadcast_to(xy[:, None, :], (k, k, 2))
    xj = np.broadcast_to(xy[None, :, :], (k, k, 2))
    d = xj - xi
    feats = np.concatenate([xi, xj, d, np.linalg.norm(d, axis=-1, keepdims=True)], -1).astype(np.float32)
    mask = present[:, None] & present[None, :] & ~np.eye(k, dtype=bool)
    feats[~mask] = 0.0
    return feats, mask


def _assign(dist: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(k, m) distances, (k,) radii -> (k,) matched patch per concept, -1 for absent:
    a minimum-cost assignment where concept j may take the "absent" option at cost
    radius[j] instead of a patch."""
    from scipy.optimize import linear_sum_assignment

    k, m = dist.shape
    big = float(np.nanmax(np.concatenate([dist.ravel(), radius.ravel(), [1.0]]))) * 4 + 1.0
    absent = np.full((k, k), big)
    np.fill_diagonal(absent, radius)
    cost = np.concatenate([dist, absent], 1)
    rows, cols = linear_sum_assignment(cost)
    match = np.full(k, -1, np.int64)
    for r, c in zip(rows.tolist(), cols.tolist()):
        if c < m:
            match[r] = c
    return match


def suppress_nested(present: np.ndarray, cost: np.ndarray, masks: np.ndarray, max_overlap: float) -> np.ndarray:
    """Greedy non-maximum suppression of nested matches: (k,) present, (k,) match cost
    (lower is better), (k, H, W) masks -> the new (k,) present, where of two present
    nodes whose masks' intersection exceeds ``max_overlap`` of the smaller mask's area
    only the one with the lower cost stays."""
    present = np.asarray(present, bool).copy()
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        return present
    order = idx[np.argsort(np.asarray(cost)[idx], kind="stable")]
    flat = masks.reshape(len(masks), -1)
    area = flat.sum(1)
    kept: list[int] = []
    for j in order.tolist():
        inter = (flat[kept] & flat[j]).sum(1) if kept else np.zeros(0)
        smaller = np.maximum(np.minimum(area[kept], area[j]), 1) if kept else np.ones(0)
        if np.any(inter / smaller > max_overlap):
            present[j] = False
        else:
            kept.append(j)
    return present


def check_max_overlap(max_overlap: Any) -> float | None:
    """``max_overlap`` as a float in [0, 1], or None; a clear error otherwise."""
    if max_overlap is None:
        return None
    if isinstance(max_overlap, bool) or not isinstance(max_overlap, (int, float)) or not 0 <= max_overlap <= 1:
        raise bad_argument("max_overlap", "None or a fraction in [0, 1]", max_overlap)
    return float(max_overlap)


def build_graphs(
    model: Any,
    images: Images,
    bank: ConceptBank,
    classes: Sequence[int | str] | None = None,
    *,
    attention: bool = True,
    segmentation=None,
    max_overlap: float | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> list[dict[int, SCG]]:
    """Structural concept graphs of ``images``: one dict per image, {class index: SCG}.

    Args:
        model: the model the bank was discovered with (ModelAdapter or nn.Module).
        images: any image form ``xw.explain`` takes.
        bank: a :class:`ConceptBank`.
        classes: candidate classes (indices or names; default: every class of the bank).
        attention: restrict each class's candidates to its binarised attention map, as
            discovery did (the bank's method and threshold); False: every segment.
        segmentation: the callable discovery used, when the bank's segmentation is
            "custom".
        max_overlap: suppress nested matches (see the module docstring): of two
            present nodes whose masks overlap by more than this fraction of the
            smaller one, the worse match becomes absent. Default: the bank's
            ``protocol["max_overlap"]`` (set by ``ConceptExplainer.fit``), else none;
            1.0 turns it off.
        batch_size: patches per forward pass (images per attention pass).
        progress: show a tqdm progress bar over the images.
    """
    adapter: ModelAdapter = wrap(model)
    if not isinstance(bank, ConceptBank):
        raise bad_argument("bank", "a ConceptBank (from discover_concepts or ConceptBank.load)", bank)
    if tuple(adapter.preprocess.size) != tuple(bank.input_size):
        raise bad_argument("model", f"a model with input size {bank.input_size}, the bank's", adapter,
                           f"its input size is {adapter.preprocess.size}")
    adapter.layer(bank.layer)
    if not isinstance(attention, bool):
        raise bad_argument("attention", "True or False", attention)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)
    overlap = check_max_overlap(bank.protocol.get("max_overlap") if max_overlap is None else max_overlap)
    if classes is None:
        chosen = bank.class_indices
    else:
        if isinstance(classes, (str, int, np.integer)) or not isinstance(classes, Sequence):
            raise bad_argument("classes", "a list of class indices or names", classes)
        chosen = []
        for c in classes:
            index = resolve_class(adapter, c, f"classes[{len(chosen)}]")
            bank.concepts(index)  # a class the bank lacks fails here
            chosen.append(index)
    protocol = bank.segmentation
    if protocol.method == "custom" and not callable(segmentation):
        raise bad_argument("segmentation", "the callable segmentation the bank was discovered with", segmentation)
    segmenter = segmentation if callable(segmentation) else None

    inputs, pixels = adapter.prepare(images)
    n = inputs.shape[0]
    p = bank.protocol
    foreground = {
        c: class_foreground(adapter, inputs, c, p["attention"] if attention else None, p["threshold"], p["binarise"],
                            batch_size, p.get("attention_params"))
        for c in chosen
    }
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="concept graphs", leave=False)
    # segment each image once; embed the union of every class's candidates, batched across images
    per_image = []
    chunks: list[torch.Tensor] = []
    for i in range(n):
        cands, jac = all_segments(pixels[i], protocol, segmenter)
        chosen_idx = {c: select_segments(cands, jac, foreground[c][i], protocol) for c in chosen}
        union = np.unique(np.concatenate([np.zeros(0, np.int64), *chosen_idx.values()]))
        cands = cands.subset(union)
        local = {c: np.searchsorted(union, idx) for c, idx in chosen_idx.items()}
        per_image.append((cands, local))
        if len(cands):
            chunks.append(render_patches(pixels[i], cands.masks, cands.boxes, bank.input_size, bank.neutral,
                                         adapter.device))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    feats = embed(adapter, chunks, bank.layer, batch_size).float() if chunks else torch.zeros(0, bank.feature_dim)
    prototypes = {c: torch.as_tensor(bank.concepts(c).prototypes, device=feats.device) for c in chosen}

    out: list[dict[int, SCG]] = []
    row = 0
    for i in range(n):
        cands, local = per_image[i]
        f_img = feats[row: row + len(cands)]
        row += len(cands)
        graphs = {}
        for c in chosen:
            concepts = bank.concepts(c)
            idx = local[c]
            k = len(concepts)
            f = f_img[torch.as_tensor(idx, dtype=torch.long, device=f_img.device)] if len(idx) else f_img[:0]
            if len(idx):
                dist = torch.cdist(prototypes[c], f).cpu().numpy().astype(np.float64)
                match = _assign(dist, concepts.radius.astype(np.float64))
                nearest = dist.min(1).astype(np.float32)
                hit = match >= 0
                nearest[hit] = dist[np.flatnonzero(hit), match[hit]]
            else:
                match = np.full(k, -1, np.int64)
                nearest = np.full(k, np.inf, np.float32)
            present = match >= 0
            if overlap is not None and present.sum() > 1:
                masks_matched = np.zeros((k, *bank.input_size), bool)
                masks_matched[present] = cands.masks[idx[match[present]]]
                cost = nearest / np.maximum(concepts.radius, 1e-12)
                match[present & ~suppress_nested(present, cost, masks_matched, overlap)] = -1
                present = match >= 0
            h, w = bank.input_size
            features = np.zeros((k, f.shape[1] if len(idx) else bank.feature_dim), np.float32)
            boxes = np.zeros((k, 4), np.int64)
            masks = np.zeros((k, h, w), bool)
            if present.any():
                sel = idx[match[present]]
                features[present] = f[torch.as_tensor(match[present], device=f.device)].cpu().numpy()
                boxes[present] = cands.boxes[sel]
                masks[present] = cands.masks[sel]
            centroids = mask_centroids(masks).astype(np.float32)
            edges, edge_mask = edge_features(centroids, present, (h, w))
            graphs[c] = SCG(
                class_index=c, class_name=concepts.class_name, concept_ids=concepts.concept_ids, features=features,
                present=present, distance=nearest, radius=concepts.radius.copy(), boxes=boxes, masks=masks,
                centroids=centroids, edge_features=edges, edge_present=edge_mask, image_size=(h, w),
                n_candidates=int(len(idx)),
            )
        out.append(graphs)
    return out


@dataclasses.dataclass
class GraphBatch:
    """Dense tensors of N images' graphs over C classes with up to k nodes each.

    nodes (N, C, k, D); present (N, C, k) bool; edges (N, C, k, k, E); edge_mask
    (N, C, k, k) bool; centroids (N, C, k, 2) (x, y) pixels, NaN when absent;
    distance (N, C, k); classes: the C class indices, in order. A class with fewer
    than k concepts is padded with absent nodes.
    """

    nodes: torch.Tensor
    present: torch.Tensor
    edges: torch.Tensor
    edge_mask: torch.Tensor
    centroids: torch.Tensor
    distance: torch.Tensor
    classes: list[int]

    def to(self, device: torch.device | str) -> "GraphBatch":
        return GraphBatch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self) if f.name != "classes"),
                          classes=list(self.classes))

    def __len__(self) -> int:
        return int(self.nodes.shape[0])


def stack_graphs(
    graphs: Sequence[dict[int, SCG]], classes: Sequence[int] | None = None, *, k: int | None = None,
    device: torch.device | str = "cpu",
) -> GraphBatch:
    """Stack :func:`build_graphs`' output into a :class:`GraphBatch` (classes in the
    order given, default the first image's; k: the nodes per class, default the
    largest class)."""
    if isinstance(graphs, dict) or not isinstance(graphs, Sequence) or not graphs:
        raise bad_argument("graphs", "a non-empty list of {class index: SCG} dicts (build_graphs' output)", graphs)
    classes = list(graphs[0]) if classes is None else [int(c) for c in classes]
    for i, g in enumerate(graphs):
        if not isinstance(g, dict) or any(c not in g for c in classes):
            raise bad_argument(f"graphs[{i}]", f"a dict holding an SCG for every class in {classes}", g)
    kmax = max(len(graphs[0][c]) for c in classes) if k is None else k
    if isinstance(kmax, bool) or not isinstance(kmax, int) or kmax < max(len(graphs[0][c]) for c in classes):
        raise bad_argument("k", "an int at least the largest class's number of concepts", k)
    d = max(graphs[0][c].features.shape[1] for c in classes)
    e = len(EDGE_FEATURES)
    n, nc = len(graphs), len(classes)
    nodes = np.zeros((n, nc, kmax, d), np.float32)
    present = np.zeros((n, nc, kmax), bool)
    edges = np.zeros((n, nc, kmax, kmax, e), np.float32)
    edge_mask = np.zeros((n, nc, kmax, kmax), bool)
    centroids = np.full((n, nc, kmax, 2), np.nan, np.float32)
    distance = np.full((n, nc, kmax), np.inf, np.float32)
    for i, g in enumerate(graphs):
        for j, c in enumerate(classes):
            s = g[c]
            kk = len(s)
            nodes[i, j, :kk] = s.features
            present[i, j, :kk] = s.present
            edges[i, j, :kk, :kk] = s.edge_features
            edge_mask[i, j, :kk, :kk] = s.edge_present
            centroids[i, j, :kk] = s.centroids
            distance[i, j, :kk] = s.distance
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return GraphBatch(t(nodes), t(present), t(edges), t(edge_mask), t(centroids), t(distance), classes)
