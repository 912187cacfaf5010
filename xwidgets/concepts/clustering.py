"""k-means for patch embeddings, in torch on the embeddings' device.

Lloyd's algorithm with k-means++ seeding (Arthur and Vassilvitskii, SODA 2007) and
``n_init`` restarts keeping the lowest inertia, as scikit-learn's ``KMeans`` does.
Written here rather than taken from scikit-learn (not a dependency of xwidgets) or
``scipy.cluster.vq.kmeans2`` (a fixed number of iterations with no convergence test
and no restarts, and its seeding keyword changed in scipy 1.15): it runs where the
embeddings are (the GPU for large patch sets) and is reproducible from ``seed``.
"""

from __future__ import annotations

import dataclasses

import torch

__all__ = ["KMeansResult", "kmeans"]


@dataclasses.dataclass
class KMeansResult:
    centres: torch.Tensor  # (k, D)
    labels: torch.Tensor  # (M,) int64
    distances: torch.Tensor  # (M,) Euclidean distance of each point to its centre
    inertia: float


def _plus_plus(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    m = x.shape[0]
    first = int(torch.randint(m, (1,), generator=gen, device="cpu"))
    centres = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if float(total) <= 0:  # fewer distinct points than k: repeat one
            idx = int(torch.randint(m, (1,), generator=gen, device="cpu"))
        else:
            idx = int(torch.multinomial((d2 / total).cpu(), 1, generator=gen))
        centres.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(1))
    return torch.stack(centres)


def kmeans(x: torch.Tensor, k: int, *, n_init: int = 4, max_iter: int = 100, seed: int = 0) -> KMeansResult:
    """Cluster the rows of ``x`` (M, D) into ``min(k, M)`` clusters."""
    x = x.float()
    m = x.shape[0]
    k = max(1, min(int(k), m))
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    best: KMeansResult | None = None
    for _ in range(max(1, n_init)):
        centres = _plus_plus(x, k, gen)
        labels = torch.full((m,), -1, dtype=torch.long, device=x.device)
        for _ in range(max_iter):
            new = torch.cdist(x, centres).argmin(1)
            if torch.equal(new, labels):
                break
            labels = new
            sums = torch.zeros_like(centres).index_add_(0, labels, x)
            counts = torch.bincount(labels, minlength=k).to(x.dtype)
            empty = counts == 0
            centres = torch.where(empty[:, None], centres, sums / counts.clamp_min(1)[:, None])
        dist = (x - centres[labels]).norm(dim=1)
        inertia = float((dist ** 2).sum())
        if best is None or inertia < best.inertia:
            best = KMeansResult(centres, labels, dist, inertia)
    assert best is not None
    return best
