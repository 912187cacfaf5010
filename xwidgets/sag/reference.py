"""The SAG search as the reference implementation runs it: one image at a time, one
forward pass per candidate, nothing remembered between phases.

Shitole, Li, Kahng, Tadepalli & Fern, "One Explanation is Not Enough: Structured Attention
Graphs for Image Classification", NeurIPS 2021. Their code scores every patch set with its
own forward (a batch of one): each beam step's successors, each pruning trial, and every
node of the removal trees again while drawing them (40 to 210 s per image on their GPU).

:func:`reference_sag` makes the same decisions as :func:`xwidgets.sag.sag` (same ranking,
same beam, same greedy pruning, same roots and trees), so the two results agree; it exists
to measure what batching and remembering scores save (``bench/bench_sag.py``) and to check
that they change nothing (tests). ``stats["forwards"]`` counts its forwards (one per
candidate, plus the clean one).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..models.hooks import frozen_eval
from .result import AttentionGraph, SAGNode
from .search import SAGParams, _cells, _graph, _is_single, _prepare, _Scorer, select_roots

__all__ = ["reference_sag"]


class _OneByOne:
    """Scores one patch set per forward pass."""

    def __init__(self, scorer: _Scorer, index: int, target: int) -> None:
        self.scorer, self.index, self.target = scorer, index, target

    def __call__(self, mask: int) -> float:
        return float(self.scorer(np.asarray([self.index]), [mask], np.asarray([self.target]))[0])


def _prune(score: _OneByOne, mask: int, p: float, thr: float, rank_of: dict[int, int]) -> tuple[int, float]:
    """Greedy pruning: while some single removal stays sufficient, take the most probable
    one (ties: the least salient patch removed)."""
    while True:
        cells = sorted(_cells(mask), key=lambda c: -rank_of.get(c, -1))
        best = None
        for k, c in enumerate(cells):
            child = mask & ~(1 << c)
            pc = score(child)
            if pc >= thr and (best is None or (pc, -k) > (best[0], -best[1])):
                best = (pc, k, child)
        if best is None:
            return mask, p
        p, _, mask = best


def _search(score: _OneByOne, p_full: float, p_empty: float, ranking: list[int], q: int, params: SAGParams,
            cells: int) -> dict[int, float]:
    thr = params.threshold * p_full
    rank_of = {c: k for k, c in enumerate(ranking)}
    ranked = ranking[:q]
    roots: dict[int, float] = {}
    if p_empty >= thr:
        return {0: p_empty}
    beam, level = [0], 0
    max_level = min(params.max_patches or cells, len(ranked))
    while True:
        successors = list(dict.fromkeys(s | (1 << c) for s in beam for c in ranked if not s >> c & 1))
        probs = {m: score(m) for m in successors}
        sufficient = [m for m in successors if probs[m] >= thr]
        for m in sufficient:
            if m in roots:
                continue
            root, p = _prune(score, m, probs[m], thr, rank_of)
            roots.setdefault(root, p)
        insufficient = sorted((m for m in successors if probs[m] < thr), key=lambda m: -probs[m])
        beam = insufficient[: params.beam_width]
        level += 1
        if (params.max_roots is not None and len(roots) > params.max_roots) or not beam or level >= max_level:
            return roots


def _trees(score: _OneByOne, roots: list[int], p_full: float, ranking: list[int], params: SAGParams) -> list[SAGNode]:
    """The removal trees, every node scored again by its own forward (the root included)."""
    rank_of = {c: k for k, c in enumerate(ranking)}
    nodes: list[SAGNode] = []

    def add(mask: int, parent: SAGNode | None, removed: int | None) -> SAGNode:
        p = score(mask)
        node = SAGNode(
            id=len(nodes), patches=tuple(_cells(mask)), probability=p, relative=p / p_full if p_full > 0 else 0.0,
            parent=None if parent is None else parent.id, removed=removed,
            drop=None if parent is None else 100.0 * (parent.probability - p),
            depth=0 if parent is None else parent.depth + 1, root=len(nodes) if parent is None else parent.root,
        )
        nodes.append(node)
        return node

    frontier = [add(m, None, None) for m in roots]
    while frontier:  # level by level, so node ids match the batched search's
        nxt = []
        for node in frontier:
            if node.relative < params.expand_threshold or len(node.patches) <= 1:
                continue
            mask = sum(1 << c for c in node.patches)
            for c in sorted(node.patches, key=lambda c: rank_of.get(c, len(rank_of)))[: params.max_children]:
                nxt.append(add(mask & ~(1 << c), node, c))
        frontier = nxt
    return nodes


def reference_sag(model: Any, images: Any, target: Any = "pred", *, saliency: Any = None,
                  **params: Any) -> AttentionGraph | list[AttentionGraph]:
    """:func:`xwidgets.sag.sag`'s search run the reference way: images one after another,
    one forward per scored patch set. Same arguments and results; only the cost differs."""
    config = SAGParams(**{**params, "max_rows": 1})
    single = _is_single(images)
    start = time.perf_counter()
    prep = _prepare(model, images, target, config, saliency)
    n = prep["inputs"].shape[0]
    graphs = []
    with frozen_eval(prep["adapter"].model), torch.no_grad():
        for i in range(n):
            began = time.perf_counter()
            scorer = _Scorer(prep["adapter"], prep["inputs"], prep["substrate"], prep["grid"], config.soft_edges, 1)
            score = _OneByOne(scorer, i, int(prep["classes"][i]))
            p_full = float(prep["p_full"][i])
            roots = _search(score, p_full, float(prep["p_empty"][i]), prep["ranked"][i], prep["q"], config, prep["cells"])
            shown = select_roots(roots, config)
            nodes = _trees(score, shown, p_full, prep["ranked"][i], config)
            stats = {"images": 1, "forwards": scorer.forwards + 1, "rows": scorer.rows, "max_rows": 1,
                     "search_elapsed": time.perf_counter() - began, "ranking_elapsed": prep["ranking_elapsed"] / n}
            graphs.append(_graph(prep, i, config, roots, shown, nodes, stats))
    elapsed = time.perf_counter() - start
    for g in graphs:
        g.stats["elapsed"] = elapsed / n
    return graphs[0] if single else graphs
