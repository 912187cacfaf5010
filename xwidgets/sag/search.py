"""Structured attention graphs: the beam search for minimal sufficient explanations.

Shitole, Li, Kahng, Tadepalli & Fern, "One Explanation is Not Enough: Structured Attention
Graphs for Image Classification", NeurIPS 2021 (METHODS.md, seed 004).

The image is cut into a ``grid`` of patches (7 x 7). A patch set is scored by the target
class's softmax probability of the image revealed only on those patches (the rest is the
substrate: black in the paper, or blur, or the dataset mean). A set is *sufficient* when
that probability is at least ``threshold`` (0.9) times the full image's.

1. Rank the patches by a saliency map (any registered method; default a 2-iteration I-GOS
   at the grid's resolution, as in the paper) pooled to the grid; keep the ``candidates``
   (q = 15) best.
2. Beam search by insertion from the empty set: each state's successors add one unused
   candidate patch; sufficient successors are pruned greedily (drop, one at a time, the
   patch whose removal keeps the highest probability while the set stays sufficient) to a
   minimal set, which becomes a root; the ``beam_width`` (3) most probable insufficient
   successors form the next beam. The search stops once more than ``max_roots`` (10)
   minimal sets are found, or the sets reach ``max_patches`` (all candidates).
3. Keep the largest subset of roots that pairwise share at most ``overlap`` (1) patch, and
   show the ``shown_roots`` (3) most probable of them.
4. From each root, a removal tree: a node's children remove one of its patches (the most
   salient first, at most ``max_children`` = 3); nodes at or above ``expand_threshold``
   (40%) of the full probability are expanded. Edges carry the probability drop.

Cost: every round of the search (one beam step, one pruning round or one tree level, for
all the images of the call together) is ONE batched forward of its distinct, not yet
scored patch sets (chunked by ``max_rows``); each distinct set of an image is scored once
(the tree's first level, for instance, was already scored by the pruning). The reference
implementation scores each candidate with its own forward (40 to 210 s per image there).

Patch masks have soft (bilinear) edges by default, as in the reference code: the grid
mask is upsampled bilinearly (``align_corners=False``, so cell centres stay at patch
centres); ``soft_edges=False`` reveals hard rectangular cells.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
import weakref
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._validation import Described, bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import frozen_eval
from .result import AttentionGraph, SAGNode

__all__ = [
    "PAPER",
    "SUBSTRATES",
    "SAGParams",
    "sag",
    "exhaustive_minimal_sets",
    "diverse_subset",
    "patch_masks",
]

PAPER = (
    "Shitole, Li, Kahng, Tadepalli & Fern, One Explanation is Not Enough: Structured Attention Graphs "
    "for Image Classification, NeurIPS 2021"
)

#: what fills the hidden patches: black pixels (the paper), a blurred copy, or the
#: preprocessing's mean colour (a zero model input)
SUBSTRATES = ("black", "blur", "mean")

#: the chunk sizes ``max_rows="auto"`` tries, in rows per forward
AUTO_ROWS = (1, 4, 16, 64)

#: how many diverse-subset search nodes are explored before falling back to a greedy choice
_DIVERSE_BUDGET = 200_000


# ----------------------------------------------------------------------------------- parameters
def _grid_pair(value: Any) -> tuple[int, int]:
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in items):
        raise bad_argument("grid", "a positive int or a (rows, columns) pair of positive ints", value)
    rows, cols = int(items[0]), int(items[1])
    if rows * cols > 1024:
        raise bad_argument("grid", "at most 1024 patches (rows x columns)", value)
    return rows, cols


def _check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise bad_argument(name, f"{'None or ' if optional else ''}an int >= {low}", value)


def _check_fraction(name: str, value: Any, *, open_low: bool) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or float(value) > 1 or float(value) < 0 or (open_low and float(value) == 0):
        raise bad_argument(name, f"a number in {'(' if open_low else '['}0, 1]", value)


@dataclasses.dataclass
class SAGParams:
    """The published defaults (Shitole et al., NeurIPS 2021; METHODS.md, seed 004).

    grid: patches per side, int or (rows, columns) (7).
    beam_width: states kept per beam step (3; the paper also tries 5, 10, 15).
    candidates: q, the top-ranked patches the search may add (15).
    threshold: sufficiency, as a fraction of the full image's probability (0.9).
    max_roots: stop once more than this many minimal sets are found (10; None: never).
    max_patches: the largest set the beam grows (None: all the candidates).
    overlap: patches two shown roots may share (1).
    shown_roots: roots drawn as removal trees (3; None: every diverse root).
    max_children: children per node, each removing one patch, most salient first (3).
    expand_threshold: nodes whose probability is at least this fraction of the full
        image's get children (0.4).
    substrate: what hidden patches show: "black" (the paper), "blur" or "mean".
    blur_sigma: the blur substrate's Gaussian sigma in input pixels (5).
    soft_edges: bilinear patch edges (the reference code's) rather than hard cells (True).
    ranking: the registered saliency method that ranks the patches ("igos").
    ranking_params: its parameters (for "igos" they override the paper's 2 iterations
        on a ``grid`` mask; other methods start from their own defaults).
    drop_bins: probability drops (points) that split edges into small, medium and large
        (20, 60).
    max_rows: patch sets per forward pass, or "auto" (default): the fastest of 1, 4, 16
        and 64 rows per pass on this model and device (3 timed passes each in the first
        rounds, the first of each discarded; remembered for the model's later calls).
    progress: a tqdm progress bar over the images' searches: True, False, or None
        (default) to show it only once the search has run for 2 seconds.
    """

    grid: int | tuple[int, int] = 7
    beam_width: int = 3
    candidates: int = 15
    threshold: float = 0.9
    max_roots: int | None = 10
    max_patches: int | None = None
    overlap: int = 1
    shown_roots: int | None = 3
    max_children: int = 3
    expand_threshold: float = 0.4
    substrate: str = "black"
    blur_sigma: float = 5.0
    soft_edges: bool = True
    ranking: str = "igos"
    ranking_params: dict[str, Any] | None = None
    drop_bins: tuple[float, float] = (20.0, 60.0)
    max_rows: int | str = "auto"
    progress: bool | None = None

    def __post_init__(self) -> None:
        _grid_pair(self.grid)
        _check_int("beam_width", self.beam_width, 1)
        _check_int("candidates", self.candidates, 1)
        _check_fraction("threshold", self.threshold, open_low=True)
        _check_int("max_roots", self.max_roots, 1, optional=True)
        _check_int("max_patches", self.max_patches, 1, optional=True)
        _check_int("overlap", self.overlap, 0)
        _check_int("shown_roots", self.shown_roots, 1, optional=True)
        _check_int("max_children", self.max_children, 1)
        _check_fraction("expand_threshold", self.expand_threshold, open_low=False)
        if not isinstance(self.substrate, str) or self.substrate not in SUBSTRATES:
            raise bad_argument("substrate", f"one of {', '.join(repr(s) for s in SUBSTRATES)}", self.substrate)
        ok = isinstance(self.blur_sigma, numbers.Real) and not isinstance(self.blur_sigma, bool)
        if not ok or not math.isfinite(float(self.blur_sigma)) or float(self.blur_sigma) <= 0:
            raise bad_argument("blur_sigma", "a positive finite number (pixels)", self.blur_sigma)
        if not isinstance(self.soft_edges, bool):
            raise bad_argument("soft_edges", "True or False", self.soft_edges)
        if not isinstance(self.ranking, str):
            raise bad_argument("ranking", "a registered saliency method name (see xw.list_methods())", self.ranking)
        if self.ranking_params is not None and not isinstance(self.ranking_params, dict):
            raise bad_argument("ranking_params", "None or a dict of the ranking method's parameters", self.ranking_params)
        bins = self.drop_bins
        if (
            not isinstance(bins, (tuple, list)) or len(bins) != 2
            or any(isinstance(b, bool) or not isinstance(b, numbers.Real) or not math.isfinite(float(b)) for b in bins)
            or not 0 <= float(bins[0]) <= float(bins[1]) <= 100
        ):
            raise bad_argument("drop_bins", "two increasing numbers of probability points in [0, 100]", bins)
        self.drop_bins = (float(bins[0]), float(bins[1]))
        if self.progress is not None and not isinstance(self.progress, bool):
            raise bad_argument("progress", "True, False or None (shown after 2 seconds)", self.progress)
        if not (self.max_rows == "auto" and isinstance(self.max_rows, str)):
            _check_int("max_rows", self.max_rows, 1)

    @property
    def grid_shape(self) -> tuple[int, int]:
        return _grid_pair(self.grid)


# ----------------------------------------------------------------------------------- patch sets
# A patch set is a Python int used as a bit mask: bit k is cell k of the grid, row-major.


def _cells(mask: int) -> list[int]:
    """The cells of a bit mask, ascending."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _mask_of(cells: Sequence[int]) -> int:
    mask = 0
    for c in cells:
        mask |= 1 << int(c)
    return mask


def _bool_rows(masks: Sequence[int], cells: int) -> np.ndarray:
    out = np.zeros((len(masks), cells), dtype=bool)
    for r, mask in enumerate(masks):
        out[r, _cells(mask)] = True
    return out


def patch_masks(patches: np.ndarray | torch.Tensor, grid: tuple[int, int], size: tuple[int, int], soft_edges: bool = True) -> torch.Tensor:
    """(R, P) bool patch sets (an array, or a tensor on any device) -> (R, 1, H, W) float
    masks in [0, 1] (on the tensor's device), as the model sees them: the grid mask
    upsampled bilinearly (soft edges) or by nearest cells."""
    if isinstance(patches, torch.Tensor):
        rows = patches.to(torch.float32)
    else:
        rows = torch.as_tensor(np.asarray(patches, dtype=np.float32))
    rows = rows.reshape(-1, 1, grid[0], grid[1])
    if soft_edges:
        return F.interpolate(rows, size=tuple(size), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    return F.interpolate(rows, size=tuple(size), mode="nearest")


# ----------------------------------------------------------------------------------- forwards
#: the probe timings of ``max_rows="auto"`` (seconds per row, by chunk size), kept per model
#: and per (device, dtype, input shape, torch threads), so that later calls on the same model
#: reuse them instead of probing again (a call on one image would otherwise spend its first
#: rounds on 1- and 64-row probes, and pick its size from a handful of noisy timings)
_TIMINGS: "weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple, dict[int, list[float]]]]" = weakref.WeakKeyDictionary()


class _Scorer:
    """Scores patch sets: one batched forward per chunk of rows, counted.

    ``max_rows="auto"``: full chunks of each size of AUTO_ROWS are timed, interleaved, until
    each size that fits the rounds has PROBES timings; then the size with the lowest time
    per row is used (the fastest of its timings but the first, which pays for the new
    shape; a size first met later, in a bigger round, is probed then). The
    timings are kept for the model (``_TIMINGS``), so only its first calls probe. On a CPU
    with one torch thread they are the thread's CPU time, which other jobs on a shared core
    do not inflate; elsewhere wall time (after a CUDA synchronize)."""

    PROBES = 3

    def __init__(self, adapter: ModelAdapter, inputs: torch.Tensor, substrate: torch.Tensor,
                 grid: tuple[int, int], soft_edges: bool, max_rows: int | str) -> None:
        self.adapter = adapter
        self.cpu = inputs.device.type == "cpu"
        # channels-last on the CPU, the layout ModelAdapter.logits feeds the model there
        layout = torch.channels_last if self.cpu and inputs.ndim == 4 else torch.contiguous_format
        self.inputs = inputs.contiguous(memory_format=layout)
        self.substrate = substrate.to(inputs.dtype).contiguous(memory_format=layout)
        self.layout = layout
        self.grid, self.soft_edges = grid, soft_edges
        self.size = tuple(inputs.shape[-2:])
        self.forwards = 0
        self.rows = 0
        self.rounds = 0
        self.fixed = None if max_rows == "auto" else int(max_rows)
        self.samples: dict[int, list[float]] = {s: [] for s in AUTO_ROWS}
        if self.fixed is None:
            key = (str(inputs.device), inputs.dtype, tuple(inputs.shape[1:]), torch.get_num_threads())
            self.samples = _TIMINGS.setdefault(adapter.model, {}).setdefault(key, self.samples)
        self._chosen: int | None = None
        self._chosen_at = -1  # how many samples ``_chosen`` was computed from
        self._clock = time.thread_time if self.cpu and torch.get_num_threads() == 1 else time.perf_counter

    @property
    def chosen(self) -> int | None:
        """The chunk size "auto" uses now (None before any timing)."""
        count = sum(len(t) for t in self.samples.values())
        if count != self._chosen_at:  # recomputed only when a timing came in
            # a size's first pass pays one-time costs of the new shape (and other jobs only
            # ever add time): its later passes count, the fastest of them
            warm = {s: min(t[1:]) for s, t in self.samples.items() if len(t) > 1}
            done = warm or {s: t[0] for s, t in self.samples.items() if t}
            self._chosen = min(done, key=done.__getitem__) if done else None
            self._chosen_at = count
        return self._chosen

    def _next(self, remaining: int) -> tuple[int, bool]:
        """(chunk size, whether to time it) for ``remaining`` rows."""
        if self.fixed is not None:
            return self.fixed, False
        fitting = [s for s in AUTO_ROWS if s <= remaining and len(self.samples[s]) < self.PROBES]
        if fitting:
            return min(fitting, key=lambda s: (len(self.samples[s]), s)), True
        return self.chosen or AUTO_ROWS[-1], False

    def _now(self) -> float:
        if self.inputs.device.type == "cuda":
            torch.cuda.synchronize(self.inputs.device)
        return self._clock()

    def __call__(self, image_index: np.ndarray, masks: Sequence[int], classes: np.ndarray) -> np.ndarray:
        """Probabilities (R,) of ``classes[r]`` for image ``image_index[r]`` revealed on ``masks[r]``."""
        total = len(masks)
        if total == 0:
            return np.zeros(0, dtype=np.float64)
        self.rounds += 1
        device = self.inputs.device
        patches = torch.from_numpy(_bool_rows(masks, self.grid[0] * self.grid[1])).to(device)
        image_index = np.asarray(image_index, dtype=np.int64)
        targets = torch.as_tensor(np.asarray(classes, dtype=np.int64), device=device)
        out, finite = [], []
        start = 0
        while start < total:
            size, timed = self._next(total - start)
            stop = min(start + size, total)
            began = self._now() if timed else 0.0
            probs, ok = self._forward(patches[start:stop], image_index[start:stop], targets[start:stop])
            out.append(probs)
            finite.append(ok)
            if timed:
                self.samples[size].append((self._now() - began) / size)
            start = stop
        self.rows += total
        if not bool(torch.stack(finite).all()):  # one check (and sync) per round
            raise ValueError("model: produced NaN or infinite logits on a masked image; check the model and substrate")
        return torch.cat(out).double().cpu().numpy()  # one transfer per round

    def _forward(self, patches: torch.Tensor, index: np.ndarray, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, whether all logits were finite) of one chunk: the substrate
        blended towards the image by each row's mask (``torch.lerp``, one op per run of
        rows of the same image, broadcast over them, so no per-row copies of the image)."""
        m = patch_masks(patches, self.grid, self.size, self.soft_edges).to(self.inputs.dtype)
        rows = len(index)
        x = torch.empty((rows, *self.inputs.shape[1:]), dtype=self.inputs.dtype, device=self.inputs.device,
                        memory_format=self.layout)
        cuts = (np.flatnonzero(index[1:] != index[:-1]) + 1).tolist()
        for a, b in zip([0, *cuts], [*cuts, rows]):
            i = int(index[a])
            torch.lerp(self.substrate[i:i + 1], self.inputs[i:i + 1], m[a:b], out=x[a:b])
        logits = self.adapter.logits(x).float()
        self.forwards += 1
        probs = torch.softmax(logits, dim=1).gather(1, targets[:, None])[:, 0]
        return probs, torch.isfinite(logits).all()


# ----------------------------------------------------------------------------------- diversity
def diverse_subset(sets: Sequence[tuple[Sequence[int], float]], overlap: int = 1,
                   budget: int = _DIVERSE_BUDGET) -> list[int]:
    """Indices of the largest subset of ``sets`` ((patches, probability) pairs) whose members
    pairwise share at most ``overlap`` patches; among the largest, the one of highest total
    probability (then the earliest). Exact by branch and bound; past ``budget`` search nodes
    the best found so far is completed greedily (most probable first)."""
    n = len(sets)
    if n == 0:
        return []
    masks = [_mask_of(p) for p, _ in sets]
    probs = [float(p) for _, p in sets]
    order = sorted(range(n), key=lambda i: (-probs[i], i))
    clash = [[bin(masks[i] & masks[j]).count("1") > overlap for j in range(n)] for i in range(n)]
    best: tuple[int, float, list[int]] = (0, -1.0, [])
    explored = 0

    def better(size: int, total: float) -> bool:
        return size > best[0] or (size == best[0] and total > best[1] + 1e-12)

    def search(chosen: list[int], rest: list[int], total: float) -> None:
        nonlocal best, explored
        explored += 1
        if better(len(chosen), total):
            best = (len(chosen), total, list(chosen))
        if explored > budget:
            return
        # bound: even taking every remaining set cannot beat the best
        if len(chosen) + len(rest) < best[0] or (
            len(chosen) + len(rest) == best[0] and total + sum(probs[i] for i in rest) <= best[1] + 1e-12
        ):
            return
        for k, i in enumerate(rest):
            if len(chosen) + len(rest) - k < best[0]:
                break
            chosen.append(i)
            search(chosen, [j for j in rest[k + 1:] if not clash[i][j]], total + probs[i])
            chosen.pop()

    search([], order, 0.0)
    chosen = list(best[2])
    if explored > budget:  # complete greedily
        for i in order:
            if i not in chosen and not any(clash[i][j] for j in chosen):
                chosen.append(i)
    return sorted(chosen, key=lambda i: (-probs[i], len(_cells(masks[i])), i))


# ----------------------------------------------------------------------------------- the search
class _ImageSearch:
    """The beam search and pruning of one image; the rounds are driven by :func:`_run_rounds`."""

    def __init__(self, index: int, target: int, p_full: float, p_empty: float, ranking: list[int], q: int,
                 params: SAGParams, cells: int) -> None:
        self.index, self.target = index, target
        self.p_full = p_full
        self.thr = params.threshold * p_full
        self.ranked = ranking[:q]  # the candidate patches, most salient first
        self.rank_of = {c: k for k, c in enumerate(ranking)}  # every cell's rank
        self.params = params
        self.cache: dict[int, float] = {0: p_empty, _mask_of(range(cells)): p_full}
        self.beam: list[int] = [0]
        self.level = 0
        self.max_level = min(params.max_patches or cells, len(self.ranked))
        self.roots: dict[int, float] = {}  # minimal sets in discovery order
        self.jobs: dict[int, int] = {}  # sufficient sets being pruned -> origin
        self.finished: dict[int, int] = {}  # minimal sets reached this step -> origin
        self.pending: list[int] = []
        self.done = False
        self.counts = {"beam_steps": 0, "prune_rounds": 0, "tree_levels": 0, "rows": 0}
        if p_empty >= self.thr:  # the substrate alone suffices: the empty set is the only minimal set
            self.roots[0] = p_empty
            self.done = True

    # what the next round needs
    def _children(self, mask: int) -> list[int]:
        """Single-removal children, least salient patch removed first (greedy tie order)."""
        cells = sorted(_cells(mask), key=lambda c: -self.rank_of.get(c, -1))
        return [mask & ~(1 << c) for c in cells]

    def _successors(self) -> list[int]:
        out: dict[int, None] = {}
        for state in self.beam:
            for c in self.ranked:
                if not state >> c & 1:
                    out.setdefault(state | (1 << c), None)
        return list(out)

    def request(self) -> list[int]:
        if self.done:
            return []
        if self.jobs:
            self.phase = "prune"
            wanted = [child for job in self.jobs for child in self._children(job)]
        else:
            self.phase = "beam"
            self.pending = self._successors()
            wanted = self.pending
        return list(dict.fromkeys(m for m in wanted if m not in self.cache))

    def advance(self) -> None:
        if self.done:
            return
        if self.phase == "prune":
            jobs: dict[int, int] = {}  # mask -> origin (position among the step's sufficient sets)
            for job, origin in self.jobs.items():
                sufficient = [(self.cache[c], -k, c) for k, c in enumerate(self._children(job)) if self.cache[c] >= self.thr]
                if sufficient:
                    child = max(sufficient)[2]
                    jobs[child] = min(origin, jobs.get(child, origin))
                else:
                    self.finished[job] = min(origin, self.finished.get(job, origin))
            for m, o in list(jobs.items()):
                if m in self.finished:  # met another job's end: one root, the earlier origin
                    self.finished[m] = min(o, self.finished[m])
                if m in self.finished or m in self.roots:
                    del jobs[m]
            self.jobs = jobs
        else:
            successors = self.pending
            sufficient = [m for m in successors if self.cache[m] >= self.thr]
            insufficient = [m for m in successors if self.cache[m] < self.thr]
            insufficient.sort(key=lambda m: -self.cache[m])  # stable: ties in generation order
            self.beam = insufficient[: self.params.beam_width]
            self.level += 1
            self.jobs = {m: k for k, m in enumerate(sufficient) if m not in self.roots}
            self.finished = {}
        if not self.jobs:
            # the step's roots in the order of the sufficient sets they came from (as if each
            # had been pruned to the end before the next, as the reference does)
            for mask in sorted(self.finished, key=self.finished.__getitem__):
                self.roots.setdefault(mask, self.cache[mask])
            self.finished = {}
            max_roots = self.params.max_roots
            if (max_roots is not None and len(self.roots) > max_roots) or not self.beam or self.level >= self.max_level:
                self.done = True


def _run_rounds(searches: list[_ImageSearch], scorer: _Scorer, bar: Any = None) -> None:
    """Rounds until every image is done: each round, every image's needed sets in one call.
    ``bar`` (a tqdm bar over images, or None) advances as images finish."""
    while any(not s.done for s in searches):
        wanted = [(s, s.request()) for s in searches]
        index = np.asarray([s.index for s, masks in wanted for _ in masks], dtype=np.int64)
        classes = np.asarray([s.target for s, masks in wanted for _ in masks], dtype=np.int64)
        flat = [m for _, masks in wanted for m in masks]
        probs = scorer(index, flat, classes)
        k = 0
        for s, masks in wanted:
            for m in masks:
                s.cache[m] = float(probs[k])
                k += 1
            if masks:
                s.counts["rows"] += len(masks)
                s.counts["beam_steps" if s.phase == "beam" else "prune_rounds"] += 1
        was_done = sum(s.done for s in searches)
        for s in searches:
            s.advance()
        if bar is not None:
            bar.update(sum(s.done for s in searches) - was_done)
            bar.set_postfix(rounds=scorer.rounds, sets=scorer.rows, refresh=False)


def _build_trees(searches: list[_ImageSearch], shown: list[list[int]], scorer: _Scorer, params: SAGParams) -> list[list[SAGNode]]:
    """The removal trees of every image's shown roots, level by level (one call per level)."""
    forests: list[list[SAGNode]] = [[] for _ in searches]
    frontier: list[tuple[int, SAGNode]] = []
    for i, (s, roots) in enumerate(zip(searches, shown)):
        for mask in roots:
            node = _node(s, len(forests[i]), mask, None, None, 0, None)
            forests[i].append(node)
            frontier.append((i, node))
    while frontier:
        plans: list[tuple[int, SAGNode, list[tuple[int, int]]]] = []
        for i, node in frontier:
            s = searches[i]
            if node.relative < params.expand_threshold or len(node.patches) <= 1:
                continue
            order = sorted(node.patches, key=lambda c: s.rank_of.get(c, len(s.rank_of)))[: params.max_children]
            parent_mask = _mask_of(node.patches)
            plans.append((i, node, [(c, parent_mask & ~(1 << c)) for c in order]))
        needed: dict[int, list[int]] = {}
        for i, _, children in plans:
            for _, m in children:
                if m not in searches[i].cache:
                    needed.setdefault(i, [])
                    if m not in needed[i]:
                        needed[i].append(m)
        flat = [(i, m) for i, ms in needed.items() for m in ms]
        probs = scorer(np.asarray([i for i, _ in flat], dtype=np.int64), [m for _, m in flat],
                       np.asarray([searches[i].target for i, _ in flat], dtype=np.int64))
        for (i, m), p in zip(flat, probs):
            searches[i].cache[m] = float(p)
        for i, ms in needed.items():
            searches[i].counts["tree_levels"] += 1
            searches[i].counts["rows"] += len(ms)
        frontier = []
        for i, node, children in plans:
            for removed, m in children:
                child = _node(searches[i], len(forests[i]), m, node, removed, node.depth + 1, node.root)
                forests[i].append(child)
                frontier.append((i, child))
    return forests


def _node(s: _ImageSearch, node_id: int, mask: int, parent: SAGNode | None, removed: int | None,
          depth: int, root: int | None) -> SAGNode:
    p = s.cache[mask]
    return SAGNode(
        id=node_id,
        patches=tuple(_cells(mask)),
        probability=p,
        relative=p / s.p_full if s.p_full > 0 else 0.0,
        parent=None if parent is None else parent.id,
        removed=removed,
        drop=None if parent is None else 100.0 * (parent.probability - p),
        depth=depth,
        root=node_id if root is None else root,
    )


# ----------------------------------------------------------------------------------- entry point
def _is_single(images: Any) -> bool:
    import os

    from PIL import Image

    if isinstance(images, (Image.Image, str, os.PathLike)):
        return True
    if isinstance(images, (np.ndarray, torch.Tensor)):
        return images.ndim == 3
    return False


def _targets(target: Any, probabilities: torch.Tensor) -> np.ndarray:
    n, c = probabilities.shape
    expected = '"pred", a class index, or one class index per image'
    if isinstance(target, str):
        if target != "pred":
            raise bad_argument("target", expected, target)
        return probabilities.argmax(dim=1).cpu().numpy()
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        classes = np.full(n, int(target), dtype=np.int64)
    elif isinstance(target, (list, tuple, np.ndarray, torch.Tensor)):
        values = target.cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
        if values.ndim != 1 or values.shape[0] != n or values.dtype.kind not in "iu":
            raise bad_argument("target", f"{expected} ({n} ints)", target)
        classes = values.astype(np.int64)
    else:
        raise bad_argument("target", expected, target, "SAG scores a class's probability, so callables are not supported")
    bad = (classes < 0) | (classes >= c)
    if bad.any():
        raise bad_argument("target", f"class indices in [0, {c})", Described(f"{classes[bad].tolist()}"))
    return classes


def _cell_scores(maps: torch.Tensor, grid: tuple[int, int]) -> np.ndarray:
    """(N, h, w) maps -> (N, rows, cols) mean of each grid cell."""
    maps = maps.float()
    if not bool(torch.isfinite(maps).all()):
        raise bad_argument("saliency", "finite maps to rank the patches by", Described("maps with NaN or infinite values"))
    if maps.shape[-2] < grid[0] or maps.shape[-1] < grid[1]:
        up = F.interpolate(maps[:, None], size=grid, mode="bilinear", align_corners=False)[:, 0]
        return up.cpu().numpy()
    return F.adaptive_avg_pool2d(maps[:, None], grid)[:, 0].cpu().numpy()


def _ranking_maps(adapter: ModelAdapter, inputs: torch.Tensor, classes: np.ndarray, params: SAGParams,
                  saliency: Any) -> tuple[torch.Tensor, str, float]:
    """(N, h, w) maps that rank the patches, the method's name, and the seconds spent on them here."""
    n = inputs.shape[0]
    if saliency is None:
        from ..saliency import explain

        method_params = dict(params.ranking_params or {})
        if params.ranking == "igos":  # the paper's ranking: a 2-iteration I-GOS map on the grid
            method_params = {"iterations": 2, "mask_size": params.grid_shape, **method_params}
        start = time.perf_counter()
        result = explain(adapter, inputs, method=params.ranking, target=[int(c) for c in classes], **method_params)
        return torch.from_numpy(result.maps), params.ranking, time.perf_counter() - start
    from ..saliency.result import Saliency

    if isinstance(saliency, Saliency):
        if len(saliency) != n or saliency.num_images != n:
            raise bad_argument("saliency", f"a Saliency result with one map per image ({n})",
                               Described(f"a {saliency.method!r} result with {len(saliency)} maps for {saliency.num_images} images"))
        return torch.from_numpy(saliency.maps), saliency.method, 0.0
    maps = saliency.detach().cpu() if isinstance(saliency, torch.Tensor) else torch.as_tensor(np.asarray(saliency))
    if maps.ndim == 2 and n == 1:
        maps = maps[None]
    if maps.ndim != 3 or maps.shape[0] != n or not (maps.dtype.is_floating_point or maps.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise bad_argument("saliency", f"None, a Saliency result, or maps of shape ({n}, h, w)", saliency)
    return maps.float(), "given", 0.0


def _substrate(adapter: ModelAdapter, inputs: torch.Tensor, params: SAGParams) -> torch.Tensor:
    from ..metrics._perturb import substrate_inputs

    return substrate_inputs(adapter, inputs, params.substrate, params.blur_sigma).contiguous()


def _prepare(model: Any, images: Any, target: Any, params: SAGParams, saliency: Any):
    """Everything both the batched search and the unbatched reference need."""
    adapter = wrap(model)
    inputs, display = adapter.prepare(images)
    grid = params.grid_shape
    h, w = inputs.shape[-2:]
    if grid[0] > h or grid[1] > w:
        raise bad_argument("grid", f"at most the input size ({h}, {w}) patches", params.grid)
    substrate = _substrate(adapter, inputs, params)
    with frozen_eval(adapter.model), torch.no_grad():
        logits = adapter.logits(torch.cat([inputs, substrate])).float()
    n = inputs.shape[0]
    bad = ~torch.isfinite(logits[:n]).all(dim=1)
    if bool(bad.any()):
        raise ValueError(
            f"model: produced NaN or infinite logits for image(s) {bad.nonzero().flatten().tolist()}; "
            "check the inputs and the model's preprocessing"
        )
    probs = torch.softmax(logits, dim=1)
    classes = _targets(target, probs[:n])
    rows = torch.arange(n)
    p_full = probs[:n][rows, torch.as_tensor(classes)].double().cpu().numpy()
    p_empty = probs[n:][rows, torch.as_tensor(classes)].double().cpu().numpy()
    maps, method, ranking_elapsed = _ranking_maps(adapter, inputs, classes, params, saliency)
    scores = _cell_scores(maps, grid)
    cells = grid[0] * grid[1]
    q = min(params.candidates, cells)
    ranked = [np.argsort(-scores[i].reshape(-1), kind="stable")[:cells].tolist() for i in range(n)]
    up = maps.float()
    if tuple(up.shape[-2:]) != (h, w):
        up = F.interpolate(up[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    return dict(adapter=adapter, inputs=inputs, display=display, substrate=substrate, classes=classes,
                p_full=p_full, p_empty=p_empty, scores=scores, ranked=ranked, q=q, grid=grid, cells=cells,
                method=method, ranking_elapsed=ranking_elapsed, maps=up.cpu().numpy())


def _graph(prep: dict, i: int, params: SAGParams, minimal: dict[int, float], shown: list[int],
           nodes: list[SAGNode], stats: dict[str, Any]) -> AttentionGraph:
    adapter = prep["adapter"]
    target = int(prep["classes"][i])
    return AttentionGraph(
        image=prep["display"][i],
        grid=prep["grid"],
        target=target,
        label=str(adapter.labels[target]),
        full_probability=float(prep["p_full"][i]),
        threshold=float(params.threshold),
        nodes=nodes,
        minimal_sets=[(tuple(_cells(m)), float(p)) for m, p in minimal.items()],
        shown_roots=[list(minimal).index(m) for m in shown],
        ranking=prep["scores"][i].astype(np.float32),
        ranked_patches=tuple(int(c) for c in prep["ranked"][i][: prep["q"]]),
        saliency=prep["maps"][i].astype(np.float32),
        method=prep["method"],
        substrate=params.substrate,
        soft_edges=params.soft_edges,
        drop_bins=tuple(params.drop_bins),
        params={k: v for k, v in dataclasses.asdict(params).items()},
        stats=stats,
    )


def select_roots(minimal: dict[int, float], params: SAGParams) -> list[int]:
    """The shown roots, from the largest diverse subset (:func:`diverse_subset`), in the
    reference code's diversity order: the most probable first, then repeatedly the one
    sharing the fewest patches with those already taken (ties: the more probable); the
    first ``shown_roots`` of that order."""
    items = list(minimal.items())
    pool = diverse_subset([(_cells(m), p) for m, p in items], params.overlap)
    order: list[int] = []
    while pool:
        def key(k: int) -> tuple[int, float, int, int]:
            mask, p = items[k]
            shared = max((bin(mask & items[j][0]).count("1") for j in order), default=0)
            return (shared, -p, bin(mask).count("1"), k)

        best = min(pool, key=key)
        order.append(best)
        pool.remove(best)
    if params.shown_roots is not None:
        order = order[: params.shown_roots]
    return [items[k][0] for k in order]


def sag(model: Any, images: Any, target: Any = "pred", *, saliency: Any = None,
        **params: Any) -> AttentionGraph | list[AttentionGraph]:
    """Structured attention graphs (Shitole et al., NeurIPS 2021) of ``images`` under ``model``.

    Args:
        model: a ModelAdapter or any classifier ``nn.Module``.
        images: one image (PIL, HxWx3 uint8 array, path, CxHxW tensor) or several (a list,
            an (N, H, W, 3) array, an (N, C, H, W) tensor); several are searched together,
            each round of all of them in one batched forward.
        target: "pred" (top-1), a class index, or one class index per image.
        saliency: what ranks the patches instead of running ``params["ranking"]``: a
            ``Saliency`` with one map per image, or maps of shape (N, h, w).
        **params: :class:`SAGParams` fields (the published defaults otherwise).

    Returns:
        an :class:`AttentionGraph` for one image, a list of them for several.
    """
    config = SAGParams(**params)
    single = _is_single(images)
    start = time.perf_counter()
    prep = _prepare(model, images, target, config, saliency)
    n = prep["inputs"].shape[0]
    scorer = _Scorer(prep["adapter"], prep["inputs"], prep["substrate"], prep["grid"], config.soft_edges, config.max_rows)
    searches = [
        _ImageSearch(i, int(prep["classes"][i]), float(prep["p_full"][i]), float(prep["p_empty"][i]),
                     prep["ranked"][i], prep["q"], config, prep["cells"])
        for i in range(n)
    ]
    bar = None
    if config.progress is not False:
        bar = tqdm(total=n, desc="sag", unit="image", delay=0 if config.progress else 2.0, leave=bool(config.progress))
    try:
        with frozen_eval(prep["adapter"].model), torch.no_grad():
            _run_rounds(searches, scorer, bar)
            shown = [select_roots(s.roots, config) for s in searches]
            forests = _build_trees(searches, shown, scorer, config)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start
    call = {
        "images": n,
        "forwards": scorer.forwards + 1,  # + the clean forward (images and substrates together)
        "rounds": scorer.rounds,
        "rows": scorer.rows,
        "max_rows": scorer.fixed or scorer.chosen,
        "elapsed": elapsed,
        "ranking_elapsed": prep["ranking_elapsed"],
        "search_elapsed": elapsed - prep["ranking_elapsed"],
    }
    graphs = [_graph(prep, i, config, s.roots, shown[i], forests[i], {**call, **s.counts})
              for i, s in enumerate(searches)]
    return graphs[0] if single else graphs


# ----------------------------------------------------------------------------------- exhaustive reference
def exhaustive_minimal_sets(model: Any, image: Any, target: Any = "pred", *, grid: int | tuple[int, int] = 3,
                            threshold: float = 0.9, substrate: str = "black", blur_sigma: float = 5.0,
                            soft_edges: bool = True, max_rows: int = 256,
                            max_cells: int = 16) -> list[tuple[tuple[int, ...], float]]:
    """Every minimal sufficient patch set of one image, by scoring all 2^P subsets of a small
    grid: sets at or above ``threshold`` x the full probability none of whose proper subsets
    are; ascending by (size, patches), with their probabilities. The check of the beam
    search on grids small enough to enumerate (P <= ``max_cells``)."""
    config = SAGParams(grid=grid, threshold=threshold, substrate=substrate, blur_sigma=blur_sigma,
                       soft_edges=soft_edges, max_rows=max_rows)
    _check_int("max_cells", max_cells, 1)
    rows, cols = config.grid_shape
    cells = rows * cols
    if cells > max_cells:
        raise bad_argument("grid", f"at most max_cells={max_cells} patches (2^P forwards)", grid)
    if not _is_single(image):
        raise bad_argument("image", "one image (the exhaustive search takes one at a time)", image)
    adapter = wrap(model)
    inputs, _ = adapter.prepare(image)
    sub = _substrate(adapter, inputs, config)
    with frozen_eval(adapter.model), torch.no_grad():
        probs = torch.softmax(adapter.logits(inputs).float(), dim=1)
        cls = int(_targets(target, probs)[0])
        p_full = float(probs[0, cls])
        scorer = _Scorer(adapter, inputs, sub, (rows, cols), soft_edges, max_rows)
        total = 1 << cells
        p = scorer(np.zeros(total, dtype=np.int64), list(range(total)), np.full(total, cls, dtype=np.int64))
    sufficient = p >= threshold * p_full
    below = np.zeros(total, dtype=bool)  # some proper subset is sufficient
    for mask in sorted(range(total), key=lambda m: bin(m).count("1")):
        for c in _cells(mask):
            child = mask & ~(1 << c)
            if sufficient[child] or below[child]:
                below[mask] = True
                break
    found = [m for m in range(total) if sufficient[m] and not below[m]]
    found.sort(key=lambda m: (bin(m).count("1"), _cells(m)))
    return [(tuple(_cells(m)), float(p[m])) for m in found]
