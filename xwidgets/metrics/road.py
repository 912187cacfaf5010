"""ROAD: RemOve And Debias (Rong, Leemann, Borisov, Kasneci & Kasneci, "A Consistent
and Efficient Evaluation Strategy for Attribution Methods", ICML 2022).

A fraction p of the pixels is removed, most relevant first (MoRF: a faithful map makes
the score fall) or least relevant first (LeRF: the score should stay), and filled by
*noisy linear imputation*, so that the shape of the removed region does not leak the
class: each removed pixel takes the weighted mean of its 8 neighbours (weight 1/6 for
the 4 direct, 1/12 for the 4 diagonal neighbours, renormalised at the image border),
known neighbours entering as constants. That is one sparse linear system per image,
solved exactly (``scipy.sparse.linalg.spsolve``, the three channels as three
right-hand sides); Gaussian noise of std ``noise`` is then added to the imputed
pixels. As in the official code the imputation works on pixels in [0, 1] before the
model's normalisation, with noise 0.01.

Published protocol: p = 10%, 20%, ..., 90% (the paper's figures; T-TAME reports the
same). The paper reads accuracy over a dataset; per row we record the class score at
each p (``curves``) and score the row by its mean over p ("accuracy" gives the
paper's 1/0 hit per row). MoRF: lower is better; LeRF: higher is better.

Two solvers give the same imputation: "direct" (the official code's exact sparse
solve, on the host, one system per copy: milliseconds at 64 x 64 but 0.5-2 s per copy
at 224 x 224 on a CPU) and "cg" (Jacobi-preconditioned conjugate gradients in float64
on the model's device, every copy of a chunk at once, the matrix-vector product a
3 x 3 convolution; stops when each system's residual is below 1e-7 of its right-hand
side, i.e. far below the 0.01 noise). "auto" takes "cg" on a GPU and "direct" on the
CPU. The imputed copies go through the model in chunks on its device. The official
code breaks ties in the map with a 1e-4 random offset; here ties go in position order
(deterministic).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from .._validation import bad_argument
from ..models.adapter import ModelAdapter
from ..saliency._chunks import AUTO, check_internal_batch_size
from ..saliency.result import Saliency
from ._perturb import LABELS, batched_scores, check_choice, check_saliency_maps, pixel_ranks, row_labels
from .registry import MetricResult, register_metric

__all__ = ["RoadParams", "noisy_linear_imputation"]

#: (row offset, column offset, weight) of the 8 neighbours
_NEIGHBOURS = tuple(
    (dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)
)
ROAD_SCORES = ("softmax", "logit", "accuracy")
SOLVERS = ("auto", "direct", "cg")


def noisy_linear_imputation(image: np.ndarray, removed: np.ndarray, noise: float = 0.01,
                            rng: np.random.Generator | None = None) -> np.ndarray:
    """Fill the ``removed`` pixels of ``image`` (H, W, C) float by the weighted mean of
    their 8 neighbours (one sparse linear system, exact solve), plus N(0, noise^2)
    noise on the filled pixels (Rong et al. 2022). ``removed``: (H, W) bool. At least
    one pixel must stay."""
    image = np.asarray(image, dtype=np.float64)
    removed = np.asarray(removed, dtype=bool)
    h, w = removed.shape
    n = int(removed.sum())
    if n == 0:
        return image.copy()
    if n == h * w:
        raise bad_argument("removed", "a mask that keeps at least one pixel (the imputation needs known neighbours)",
                           "every pixel removed")
    ids = np.full((h, w), -1, dtype=np.int64)
    ids[removed] = np.arange(n)
    ys, xs = np.nonzero(removed)
    diagonal = np.zeros(n)
    rhs = np.zeros((n, image.shape[2]))
    rows, cols, vals = [], [], []
    for dy, dx, weight in _NEIGHBOURS:
        y, x = ys + dy, xs + dx
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        src, y, x = np.flatnonzero(inside), y[inside], x[inside]
        diagonal[src] += weight
        unknown = removed[y, x]
        rows.append(src[unknown])
        cols.append(ids[y[unknown], x[unknown]])
        vals.append(np.full(int(unknown.sum()), -weight))
        rhs[src[~unknown]] += weight * image[y[~unknown], x[~unknown]]
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diagonal)
    system = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    solution = spsolve(system, rhs).reshape(n, -1)
    if noise:
        solution = solution + noise * (rng or np.random.default_rng()).standard_normal(solution.shape)
    out = image.copy()
    out[removed] = solution
    return out


def linear_imputation_cg(pixels: torch.Tensor, removed: torch.Tensor, tol: float = 1e-7,
                         max_iter: int | None = None) -> torch.Tensor:
    """The noise-free imputation of :func:`noisy_linear_imputation` for a batch on any
    device: ``pixels`` (n, C, H, W), ``removed`` (n, H, W) bool. Solves the same
    symmetric positive definite systems by Jacobi-preconditioned conjugate gradients
    (float64), until every system's residual is below ``tol`` x its right-hand side."""
    dtype = torch.float64
    n, c, h, w = pixels.shape
    x = pixels.to(dtype)
    hole = removed.to(dtype)[:, None]  # (n, 1, H, W)
    kernel = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]], dtype=dtype,
                          device=x.device).view(1, 1, 3, 3)

    def neighbours(u: torch.Tensor) -> torch.Tensor:  # weighted sum of the neighbours inside the image
        return F.conv2d(u.reshape(-1, 1, h, w), kernel, padding=1).view(u.shape)

    diagonal = neighbours(torch.ones(1, 1, h, w, dtype=dtype, device=x.device))  # (1, 1, H, W)
    rhs = neighbours(x * (1 - hole)) * hole

    def apply(u: torch.Tensor) -> torch.Tensor:
        return (diagonal * u - neighbours(u)) * hole

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=(1, 2, 3), keepdim=True)

    u = rhs / diagonal
    r = rhs - apply(u)
    z = r / diagonal
    p = z
    rz = dot(r, z)
    limit = tol * dot(rhs, rhs).sqrt().clamp_min(1e-30)
    for iteration in range(max_iter or 20 * (h + w)):
        if iteration % 8 == 0 and bool((dot(r, r).sqrt() <= limit).all()):  # checked every 8 steps: one sync
            break
        q = apply(p)
        alpha = rz / dot(p, q).clamp_min(1e-300)
        u = u + alpha * p
        r = r - alpha * q
        z = r / diagonal
        rz_next = dot(r, z)
        p = z + (rz_next / rz.clamp_min(1e-300)) * p
        rz = rz_next
    return torch.where(hole > 0, u, x).to(pixels.dtype)


@dataclasses.dataclass
class RoadParams:
    """percentages: fractions of pixels removed, each in (0, 1) (the paper: 0.1 .. 0.9).
    noise: std of the Gaussian noise on imputed pixels, in [0, 1] pixel units (0.01).
    score: "softmax", "logit", or "accuracy" (1 if the class is still the top-1, the
        paper's measure).
    label: the class scored: "target" (the row's target) or "prediction".
    seed: seeds the imputation noise.
    solver: "direct" (exact sparse solve on the host), "cg" (conjugate gradients on
        the model's device, batched) or "auto" ("cg" on a GPU, else "direct").
    internal_batch_size: imputed copies per forward pass, or "auto"."""

    percentages: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    noise: float = 0.01
    score: str = "softmax"
    label: str = "target"
    seed: int = 0
    solver: str = "auto"
    internal_batch_size: int | str = AUTO

    def __post_init__(self) -> None:
        values = self.percentages
        ok = isinstance(values, (list, tuple)) and len(values) > 0 and all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p < 1 for p in values
        )
        if not ok:
            raise bad_argument("percentages", "a non-empty list of fractions in (0, 1), e.g. (0.1, 0.2, ..., 0.9)", values)
        self.percentages = tuple(float(p) for p in values)
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) or not self.noise >= 0:
            raise bad_argument("noise", "a number >= 0 (std in [0, 1] pixel units)", self.noise)
        check_choice(self.score, "score", ROAD_SCORES)
        check_choice(self.label, "label", LABELS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_argument("seed", "an int", self.seed)
        check_choice(self.solver, "solver", SOLVERS)
        check_internal_batch_size(self.internal_batch_size)


def road(model: ModelAdapter, saliency: Saliency, params: RoadParams, most_relevant_first: bool) -> MetricResult:
    """ROAD curves (B, P) and their means, MoRF or LeRF."""
    check_saliency_maps(saliency)
    device = model.device
    b = len(saliency)
    h, w = saliency.images.shape[1:3]
    fractions = np.asarray(params.percentages)
    solver = params.solver if params.solver != "auto" else ("cg" if device.type == "cuda" else "direct")
    ranks = pixel_ranks(torch.as_tensor(saliency.maps, device=device))  # (B, H*W), 0 = most relevant
    if not most_relevant_first:
        ranks = h * w - 1 - ranks
    counts = torch.as_tensor([int(p * h * w) for p in fractions], device=device)
    labels = row_labels(saliency, params.label, device)
    pre = model.preprocess
    mean = torch.tensor(pre.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=device).view(1, 3, 1, 1)
    points = len(fractions)
    image_index = torch.as_tensor(saliency.image_index, device=device)
    pixels = torch.as_tensor(saliency.images, device=device).permute(0, 3, 1, 2).to(torch.float64) / 255.0
    rng = np.random.default_rng(params.seed)
    generator = torch.Generator(device=device).manual_seed(params.seed)

    def make_inputs(index: torch.Tensor) -> torch.Tensor:
        row, point = index // points, index % points
        removed = (ranks[row] < counts[point][:, None]).view(-1, h, w)
        originals = pixels[image_index[row]]
        if solver == "cg":
            imputed = linear_imputation_cg(originals, removed)
            noise = torch.randn(imputed.shape, generator=generator, device=device, dtype=imputed.dtype)
            imputed = torch.where(removed[:, None], imputed + params.noise * noise, imputed)
        else:
            host_pixels, host_removed = originals.permute(0, 2, 3, 1).cpu().numpy(), removed.cpu().numpy()
            imputed = torch.as_tensor(np.stack([
                noisy_linear_imputation(image, mask, params.noise, rng) for image, mask in zip(host_pixels, host_removed)
            ]), device=device).permute(0, 3, 1, 2)
        return (imputed.to(torch.float32) * (255.0 * pre.scale) - mean) / std

    scores, chunk = batched_scores(
        model, b * points, make_inputs, lambda index: labels[index // points], params.score, params.internal_batch_size,
    )
    curves = scores.view(b, points).numpy()
    return MetricResult(
        metric="road_morf" if most_relevant_first else "road_lerf",
        scores=curves.mean(axis=1),
        curves=curves,
        extras={"fractions": fractions, "internal_batch_size": chunk, "solver": solver},
    )


_PAPER = ("Rong, Leemann, Borisov, Kasneci & Kasneci, A Consistent and Efficient Evaluation Strategy for "
          "Attribution Methods, ICML 2022")


@register_metric(
    "road_morf",
    params=RoadParams,
    summary=("Mean class score after removing the most relevant 10..90% of pixels, filled by noisy linear "
             "imputation (lower is better)"),
    paper=_PAPER,
    kind="faithfulness",
    higher_is_better=False,
)
def road_morf(model: ModelAdapter, saliency: Saliency, params: RoadParams, ground_truth: Any = None) -> MetricResult:
    return road(model, saliency, params, most_relevant_first=True)


@register_metric(
    "road_lerf",
    params=RoadParams,
    summary=("Mean class score after removing the least relevant 10..90% of pixels, filled by noisy linear "
             "imputation (higher is better)"),
    paper=_PAPER,
    kind="faithfulness",
    higher_is_better=True,
)
def road_lerf(model: ModelAdapter, saliency: Saliency, params: RoadParams, ground_truth: Any = None) -> MetricResult:
    return road(model, saliency, params, most_relevant_first=False)
