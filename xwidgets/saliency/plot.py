"""Static matplotlib figures of saliency results (for papers and static pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from .result import Saliency


def normalise_map(saliency_map: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a constant map becomes all zeros (no NaN)."""
    lo, hi = float(saliency_map.min()), float(saliency_map.max())
    return np.zeros_like(saliency_map) if hi - lo <= 1e-12 else (saliency_map - lo) / (hi - lo)


def plot_saliency(saliency: "Saliency", rows: Sequence[int] | None = None, *, alpha: float = 0.5, cmap: str = "viridis", ncols: int = 4):
    import matplotlib.pyplot as plt

    rows = list(range(len(saliency))) if rows is None else list(rows)
    if not rows:
        raise ValueError("rows: expected at least one row to plot; got none")
    ncols = max(1, min(ncols, len(rows)))
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        image = saliency.images[saliency.image_index[row]]
        ax.imshow(image)
        ax.imshow(normalise_map(saliency.maps[row]), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
        probability = saliency.probabilities[saliency.image_index[row]]
        target = int(saliency.targets[row])
        p = f" p={probability[target]:.2f}" if target >= 0 else ""
        ax.set_title(f"{saliency.target_label(row)}{p}", fontsize=9)
    fig.suptitle(f"{saliency.method}" + (f" @ {saliency.layer}" if saliency.layer else ""), fontsize=10)
    fig.tight_layout()
    return fig
