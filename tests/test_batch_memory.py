"""Memory of a dataset run does not grow with the dataset (issue 11): the Python heap's
peak (tracemalloc: numpy arrays, rows, bytes) over 1,000 images stays close to the peak
over 200. A tiny 16 px model keeps it fast."""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch
from torch import nn

import xwidgets as xw


class _Tiny(torch.utils.data.Dataset):
    """n random 16 x 16 RGB images, drawn on demand from the index (nothing kept)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        rng = np.random.default_rng(i)
        return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), int(i % 3)


def _model() -> xw.ModelAdapter:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    return xw.wrap(net, preprocess=xw.Preprocess(size=16, resize=None), labels=["a", "b", "c"], cam_layer="1")


def _peak(n: int, path) -> int:
    model = _model()
    tracemalloc.start()
    try:
        store = xw.explain_dataset(model, _Tiny(n), "gradcam", store=path, metrics=["sparseness"], batch_size=16,
                                   progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == n and not store.errors()
    store.close()
    return peak


def test_peak_memory_does_not_grow_with_the_dataset(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _peak(32, tmp_path / "warm")  # first calls allocate caches once
        small = _peak(200, tmp_path / "small")
        large = _peak(1000, tmp_path / "large")
    finally:
        torch.set_num_threads(threads)
    # 5x the images: a run that kept its maps, thumbnails or rows would need ~5x the memory
    # (1000 maps + thumbnails + rows alone are > 1.5 MB); a streaming run needs about the same
    assert large < 1.25 * small + 256 * 1024, (small, large)
