"""How many rows each forward pass takes, for the methods that run many forwards of
perturbed copies (Score-CAM, occlusion, RISE).

The best chunk is a property of the device and the model, not of the method: on a
GPU bigger is better up to memory, while on a CPU a forward of 64 rows at 224 px can
cost three times as much per row as one of 8 (measured on efficientnet-lite0, 2
cores: its activations fall out of cache). With ``internal_batch_size="auto"`` the
first chunks of the real work are run at a few sizes, smallest first (each twice: the
first run of a new shape pays one-time costs), timed, and the rest runs at the fastest
size per row. Nothing is wasted: the probes are part of the work. A size is probed only
while at least 4 chunks of it are left (its two probes and as many rows to use it on),
so a small job (Score-CAM on a 32-channel layer: 256 rows for 8 images) still probes
the small sizes instead of running everything at the biggest one, which on this CPU
costs 1.5-2x per row (efficientnet-lite0, channels-last). If the biggest size probed
was still the fastest, the rest runs at the biggest of ``AUTO_SIZES`` (bigger is
better on a GPU). An int fixes the size.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import torch

from .._validation import bad_argument

#: the chunk sizes "auto" tries, in rows per forward
AUTO_SIZES = (8, 16, 32, 64)
AUTO = "auto"


def check_internal_batch_size(value: Any, argument: str = "internal_batch_size") -> None:
    if value == AUTO and isinstance(value, str):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_argument(argument, 'a positive int or "auto"', value)


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class Chunks:
    """Iterates ``(start, stop)`` over ``range(total)`` rows. The caller does the work
    of each chunk before asking for the next; with ``size="auto"`` that work is timed
    for the probe chunks and the fastest size per row is kept for the rest."""

    def __init__(self, total: int, size: int | str, device: torch.device) -> None:
        check_internal_batch_size(size)
        self.total, self.device = total, device
        self.chosen: int | None = None
        self.timings: dict[int, float] = {}
        if size == AUTO:
            self.sizes = list(AUTO_SIZES)
            self.queue, rows = [], total
            for s in self.sizes:  # smallest first, while 4 chunks of it are left
                if rows < 4 * s:
                    break
                self.queue += [s, s]
                rows -= 2 * s
            self.fixed = self.sizes[-1] if not self.queue else None
        else:
            self.queue, self.fixed = [], int(size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        start = 0
        while start < self.total:
            probing = bool(self.queue)
            size = self.queue.pop(0) if probing else (self.fixed or self.chosen or 1)
            stop = min(start + size, self.total)
            began = _now(self.device) if probing else 0.0
            yield start, stop
            if probing:
                per_row = (_now(self.device) - began) / (stop - start)
                # the second run of a size counts (the first pays for the new shape)
                self.timings[size] = per_row if size not in self.timings else min(per_row, self.timings[size])
                if not self.queue:
                    best = min(self.timings, key=self.timings.__getitem__)
                    # still getting faster per row at the biggest size probed: go bigger
                    self.chosen = self.sizes[-1] if len(self.timings) > 1 and best == max(self.timings) else best
            start = stop

    @property
    def size(self) -> int | None:
        """The chunk size in use after probing (or the fixed one)."""
        return self.fixed or self.chosen
