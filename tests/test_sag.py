"""Structured attention graphs (Shitole et al., NeurIPS 2021): ``xw.sag``, its exhaustive
check on small grids, the unbatched reference, ``AttentionGraph``'s exports and bad input.

Models: a hand-built monotone "detector" whose probability only grows as patches are
revealed (so its minimal sufficient sets are known and every locally minimal set is
globally minimal), and the bundled ``toy_cnn`` on synthetic images.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import xwidgets as xw
from xwidgets._plain import plain
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models import Preprocess, wrap
from xwidgets.sag import (
    AttentionGraph,
    SAGParams,
    diverse_subset,
    exhaustive_minimal_sets,
    patch_masks,
    reference_sag,
    sag,
)

torch.set_num_threads(1)

SIZE = 24  # 3 x 3 grid of 8-pixel cells (hand-built model)


class CellDetector(nn.Module):
    """Two classes; class 1's logit is ``gain * (rule(v) - bias)`` where v is the mean
    brightness of each 3 x 3 grid cell (inputs in [0, 1], black = 0) and ``rule`` is a
    max of products of cells: monotone in every cell, so in the revealed patch set."""

    def __init__(self, groups: list[tuple[int, ...]], bias: float = 0.5, gain: float = 12.0) -> None:
        super().__init__()
        self.groups, self.bias, self.gain = groups, bias, gain
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, so the adapter finds a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = nn.functional.adaptive_avg_pool2d(x.mean(dim=1, keepdim=True), 3).flatten(1) * self.scale
        score = torch.stack([v[:, list(g)].prod(dim=1) for g in self.groups], dim=1).amax(dim=1)
        logit = self.gain * (score - self.bias)
        return torch.stack([torch.zeros_like(logit), logit], dim=1)


def detector(groups, **kwargs):
    pre = Preprocess(size=(SIZE, SIZE), resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    return wrap(CellDetector(groups, **kwargs), preprocess=pre, labels=["other", "thing"])


WHITE = np.full((SIZE, SIZE, 3), 255, np.uint8)
FLAT = np.ones((1, SIZE, SIZE), np.float32)  # a ranking map that ranks cells by position


def as_sets(pairs):
    return sorted(tuple(p) for p, _ in pairs)


# ------------------------------------------------------------------------- exhaustive check
@pytest.mark.parametrize("soft_edges", [True, False])
def test_full_beam_equals_exhaustive_search_on_a_3x3_grid(soft_edges):
    model = detector([(0, 1), (4,), (6, 7, 8), (2, 5)], bias=0.45)
    wide = dict(grid=3, beam_width=512, candidates=9, max_roots=None, shown_roots=None, soft_edges=soft_edges, max_rows=512)
    graph = sag(model, WHITE, target=1, saliency=FLAT, **wide)
    truth = exhaustive_minimal_sets(model, WHITE, target=1, grid=3, soft_edges=soft_edges)
    assert len(truth) >= 3, truth
    assert as_sets(graph.minimal_sets) == as_sets(truth)
    found = dict(graph.minimal_sets)
    for patches, p in truth:
        assert found[patches] == pytest.approx(p, abs=1e-5)
        assert p >= 0.9 * graph.full_probability


def test_toy_cnn_minimal_sets_equal_exhaustive_search_on_a_3x3_grid():
    model = xw.models.toy_cnn()
    images, _ = SyntheticParts(n=7, seed=11).arrays(0, 3)
    wide = dict(grid=3, beam_width=512, candidates=9, max_roots=None, shown_roots=None, max_rows=512)
    graphs = sag(model, list(images), saliency=np.ones((3, 64, 64), np.float32), **wide)
    total = 0
    for image, graph in zip(images, graphs):
        truth = exhaustive_minimal_sets(model, image, grid=3)
        assert as_sets(graph.minimal_sets) == as_sets(truth), graph.label
        total += len(truth)
    assert total >= 4  # the check means something: several minimal sets per image


def test_default_beam_finds_only_truly_minimal_sets():
    """With the published beam (width 3), what the search returns is minimal sufficient."""
    model = detector([(0, 1), (4,), (6, 7, 8), (2, 5)], bias=0.45)
    graph = sag(model, WHITE, target=1, saliency=np.arange(9, dtype=np.float32).reshape(1, 3, 3), grid=3)
    truth = set(as_sets(exhaustive_minimal_sets(model, WHITE, target=1, grid=3)))
    assert graph.minimal_sets and set(as_sets(graph.minimal_sets)) <= truth


# ------------------------------------------------------------------------- alternative parts
def test_two_alternative_parts_become_two_separate_roots():
    """A detector satisfied by either of two disjoint parts: both are roots, both shown."""
    model = detector([(0, 3), (5, 8)], bias=0.4)
    graph = sag(model, WHITE, target=1, saliency=FLAT, grid=3)
    assert {(0, 3), (5, 8)} <= set(as_sets(graph.minimal_sets))
    shown = {r.patches for r in graph.roots}
    assert {(0, 3), (5, 8)} <= shown


def _two_ladders(ds, index, dx, dy):
    """Scene ``index`` (a ladder truck) without distractors, with a copy of its ladder
    pasted (dx, dy) pixels away: two alternative defining parts."""
    sample = ds.sample(index)
    ladder = next(p for p in sample.parts if p.type == "ladder")
    clean = ds.intervene(index, remove=[p.id for p in sample.parts if p.role == "distractor"])
    image = clean.image.copy()
    x0, y0, x1, y1 = ladder.box
    drawn = clean.instance_mask[y0:y1, x0:x1] == ladder.id
    image[y0 + dy:y1 + dy, x0 + dx:x1 + dx][drawn] = clean.image[y0:y1, x0:x1][drawn]
    return image, ladder.box, (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _cells_under(box, size=64, grid=7):
    x0, y0, x1, y1 = box
    step = size / grid
    return {r * grid + c for r in range(grid) for c in range(grid)
            if (c + 1) * step > x0 and c * step < x1 and (r + 1) * step > y0 and r * step < y1}


def test_two_ladders_appear_as_separate_roots_with_toy_cnn():
    """Synthetic ladder trucks with a second ladder: the search finds a minimal set inside
    each ladder. 3 of these 4 scenes show both; in the last (a small vertical ladder pasted
    low) the copy alone does not reach 90% of the two-ladder probability."""
    model = xw.models.toy_cnn()
    ds = SyntheticParts(n=70, seed=5)
    scenes = [(11, 22, 30), (3, -24, -38), (14, 28, 36), (24, -20, 24)]
    images, boxes = [], []
    for index, dx, dy in scenes:
        image, a, b = _two_ladders(ds, index, dx, dy)
        images.append(image)
        boxes.append((_cells_under(a), _cells_under(b)))
    graphs = sag(model, images, ranking="gradcam", max_rows=64)
    both = 0
    for graph, (a, b) in zip(graphs, boxes):
        assert graph.label == "ladder_truck"
        in_a = [p for p, _ in graph.minimal_sets if set(p) <= a]
        in_b = [p for p, _ in graph.minimal_sets if set(p) <= b]
        both += bool(in_a and in_b)
        assert in_a or in_b
    assert both >= 3


# ------------------------------------------------------------------------- batching
class Counter:
    def __init__(self, module):
        self.calls, self.rows = 0, []
        self.handle = module.register_forward_hook(self.hook)

    def hook(self, module, inputs, output):
        self.calls += 1
        self.rows.append(int(inputs[0].shape[0]))


def test_one_forward_per_round_not_per_candidate():
    model = xw.models.toy_cnn()
    image = SyntheticParts(n=7, seed=3).image(6)
    ranking = xw.explain(model, image, method="gradcam")
    counter = Counter(model.model)
    try:
        graph = sag(model, image, saliency=ranking, max_rows=4096)
    finally:
        counter.handle.remove()
    s = graph.stats
    assert counter.calls == s["forwards"] == 1 + s["beam_steps"] + s["prune_rounds"] + s["tree_levels"]
    assert counter.rows[0] == 2  # the clean forward: the image and its substrate together
    assert counter.rows[1] == 15  # the first beam step: all q = 15 candidates at once
    assert sum(counter.rows[1:]) == s["rows"]
    assert s["rows"] >= 5 * s["forwards"]
    # the reference way: one forward per candidate, same result
    counter = Counter(model.model)
    try:
        ref = reference_sag(model, image, saliency=ranking)
    finally:
        counter.handle.remove()
    assert counter.calls == ref.stats["forwards"] and set(counter.rows[1:]) == {1}
    assert ref.stats["forwards"] > s["rows"] > s["forwards"]
    assert as_sets(ref.minimal_sets) == as_sets(graph.minimal_sets)
    assert [(n.patches, n.parent, n.removed) for n in ref.nodes] == [(n.patches, n.parent, n.removed) for n in graph.nodes]
    np.testing.assert_allclose([n.probability for n in ref.nodes], [n.probability for n in graph.nodes], atol=1e-5)


def test_several_images_share_each_round_and_match_one_at_a_time():
    model = xw.models.toy_cnn()
    images, _ = SyntheticParts(n=7, seed=3).arrays(4, 7)
    ranking = xw.explain(model, list(images), method="gradcam")
    together = sag(model, list(images), saliency=ranking, max_rows=4096)
    alone = [sag(model, images[i], saliency=ranking.maps[i:i + 1], max_rows=4096) for i in range(3)]
    assert len(together) == 3 and all(isinstance(g, AttentionGraph) for g in together)
    for g, h in zip(together, alone):
        assert as_sets(g.minimal_sets) == as_sets(h.minimal_sets)
        assert [n.patches for n in g.nodes] == [n.patches for n in h.nodes]
    assert together[0].stats["forwards"] < sum(h.stats["forwards"] for h in alone)
    assert together[0].stats["forwards"] <= max(h.stats["forwards"] for h in alone) + 1


def test_auto_chunk_size_is_timed_once_per_model_and_mixed_chunks_score_like_single_rows():
    from xwidgets.sag.search import AUTO_ROWS, _Scorer

    model = detector([(0, 4), (2, 6, 8)])
    inputs = torch.stack([torch.ones(3, SIZE, SIZE), torch.full((3, SIZE, SIZE), 0.9)])  # two images
    substrate = torch.zeros_like(inputs)
    total = 300  # a round big enough to time every size 3 times (3 x 85 rows) and go on
    masks = [(7 * k) % 512 for k in range(total)]
    index = (np.arange(total) // 5) % 2  # chunks mix both images
    classes = np.ones(total, np.int64)
    counter = Counter(model.model)
    with torch.no_grad():  # as sag() runs it
        try:
            first = _Scorer(model, inputs, substrate, (3, 3), True, "auto")
            p_first = first(index, masks, classes)
            probed, counter.rows = counter.rows, []
            chosen = first.chosen
            assert probed[:4] == sorted(AUTO_ROWS) and sum(probed) == total and chosen in AUTO_ROWS
            # a later call on the same model and input shape reuses the timings: no probes
            second = _Scorer(model, inputs, substrate, (3, 3), True, "auto")
            p_second = second(index, masks, classes)
            assert counter.rows == [chosen] * (total // chosen) + ([total % chosen] if total % chosen else [])
            assert second.chosen == chosen
            # another input size is timed afresh
            counter.rows = []
            small = _Scorer(model, inputs[:, :, :12, :12], substrate[:, :, :12, :12], (3, 3), True, "auto")
            small(index, masks, classes)
            assert counter.rows[:4] == sorted(AUTO_ROWS)
            # one row per forward, as the reference scores them: the same probabilities
            one = _Scorer(model, inputs, substrate, (3, 3), True, 1)
            p_one = one(index[:40], masks[:40], classes[:40])
        finally:
            counter.handle.remove()
    np.testing.assert_allclose(p_first, p_second, atol=1e-6)
    np.testing.assert_allclose(p_first[:40], p_one, atol=1e-6)
    assert np.ptp(p_one) > 0.1  # the sets really differ


def test_default_parameters_are_the_published_ones():
    p = SAGParams()
    assert (p.grid, p.beam_width, p.candidates, p.threshold, p.max_roots) == (7, 3, 15, 0.9, 10)
    assert (p.overlap, p.shown_roots, p.max_children, p.expand_threshold, p.substrate) == (1, 3, 3, 0.4, "black")
    assert p.ranking == "igos" and p.drop_bins == (20.0, 60.0)


def test_default_run_with_igos_ranking_and_substrates():
    model = xw.models.toy_cnn()
    image = SyntheticParts(n=7, seed=3).image(0)
    graph = xw.sag(model, image)  # the callable package; every default: I-GOS ranking, 7 x 7, black
    assert graph.method == "igos" and graph.grid == (7, 7) and len(graph.ranked_patches) == 15
    assert 1 <= len(graph.roots) <= 3
    for root in graph.roots:
        assert root.probability >= 0.9 * graph.full_probability
        assert set(root.patches) <= set(graph.ranked_patches)
    for a in graph.roots:
        for b in graph.roots:
            assert a is b or len(set(a.patches) & set(b.patches)) <= 1
    for node in graph.nodes:
        if node.parent is not None:
            parent = graph.node(node.parent)
            assert set(node.patches) | {node.removed} == set(parent.patches)
            assert parent.relative >= 0.4
            assert node.drop == pytest.approx(100 * (parent.probability - node.probability))
    assert max(len(graph.children(n.id)) for n in graph.nodes) <= 3
    # substrates: the empty set scores differently on black, blur and mean
    ranking = graph.saliency[None]
    for substrate in ("blur", "mean"):
        other = sag(model, image, saliency=ranking, substrate=substrate, max_rows=64)
        assert other.minimal_sets and other.params["substrate"] == substrate


def test_patch_masks_soft_and_hard():
    rows = np.zeros((1, 9), bool)
    rows[0, 4] = True
    hard = patch_masks(rows, (3, 3), (24, 24), soft_edges=False)[0, 0].numpy()
    assert set(np.unique(hard)) == {0.0, 1.0} and hard[8:16, 8:16].all() and hard.sum() == 64
    soft = patch_masks(rows, (3, 3), (24, 24), soft_edges=True)[0, 0].numpy()
    assert soft[11:13, 11:13].min() > 0.85 and 0.3 < soft[8, 12] < 0.7 and soft[0, 0] == 0  # a tent: 1 at the centre
    full = patch_masks(np.ones((1, 9), bool), (3, 3), (24, 24))
    assert torch.all(full == 1)


def test_diverse_subset_is_the_largest_family_with_small_overlaps():
    """Against brute force over every subfamily of random families of patch sets."""
    import itertools

    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(1, 9))
        sets = [(tuple(sorted(rng.choice(9, size=int(rng.integers(1, 5)), replace=False).tolist())), float(rng.random()))
                for _ in range(n)]
        for overlap in (0, 1):
            chosen = diverse_subset(sets, overlap=overlap)
            ok = lambda family: all(len(set(sets[i][0]) & set(sets[j][0])) <= overlap  # noqa: E731
                                    for i, j in itertools.combinations(family, 2))
            assert ok(chosen)
            best = max((len(f), sum(sets[i][1] for i in f)) for r in range(n + 1)
                       for f in itertools.combinations(range(n), r) if ok(f))
            assert (len(chosen), pytest.approx(sum(sets[i][1] for i in chosen))) == best
    assert diverse_subset([], 1) == []


# ------------------------------------------------------------------------- exports
def test_networkx_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    model = xw.models.toy_cnn()
    image = SyntheticParts(n=7, seed=3).image(6)
    graph = sag(model, image, ranking="gradcam", max_rows=64)
    g = graph.to_networkx()
    assert g.number_of_nodes() == len(graph.nodes) and g.number_of_edges() == len(graph.nodes) - len(graph.roots)
    for parent, child, removed, drop in graph.edges:
        data = g.edges[parent, child]
        assert data["removed"] == removed and data["drop"] == drop
        assert data["drop_class"] == graph.drop_class(child)
    assert g.graph["label"] == graph.label
    assert all(g.in_degree(r.id) == 0 for r in graph.roots)
    fig = graph.plot()
    assert len(fig.axes) == 2 and len(fig.axes[1].images) == len(graph.nodes)
    import matplotlib.pyplot as plt

    plt.close(fig)
    assert repr(graph).startswith("AttentionGraph(label='ladder_truck'")
    assert graph.masked_image(graph.roots[0].patches).shape == graph.image.shape


def test_progress_bar_counts_images(capsys):
    model = xw.models.toy_cnn()
    data = SyntheticParts(n=7, seed=3)
    graphs = sag(model, np.stack([data.image(5), data.image(6)]), ranking="gradcam", max_rows=64, progress=True)
    err = capsys.readouterr().err
    assert "sag" in err and "2/2" in err and len(graphs) == 2
    sag(model, data.image(5), ranking="gradcam", max_rows=64, progress=False)
    assert "sag" not in capsys.readouterr().err


def test_save_load_round_trip(tmp_path):
    model = xw.models.toy_cnn()
    graph = sag(model, SyntheticParts(n=7, seed=3).image(6), ranking="gradcam", max_rows=64)
    loaded = type(graph).load(graph.save(tmp_path / "sag.npz"))
    assert loaded.nodes == graph.nodes and loaded.minimal_sets == graph.minimal_sets
    assert loaded.shown_roots == graph.shown_roots and loaded.ranked_patches == graph.ranked_patches
    assert (loaded.grid, loaded.target, loaded.label, loaded.method) == (graph.grid, graph.target, graph.label, graph.method)
    assert loaded.full_probability == graph.full_probability
    assert loaded.params == plain(graph.params)  # tuples come back as lists (JSON)
    for name in ("image", "ranking", "saliency"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(graph, name))
    assert repr(loaded) == repr(graph) and loaded.edges == graph.edges
    broken = tmp_path / "old.npz"
    np.savez(broken, image=graph.image, ranking=graph.ranking, saliency=graph.saliency,
             meta=np.frombuffer(b'{"format_version": 99}', dtype=np.uint8))
    with pytest.raises(ValueError, match="format version 99"):
        type(graph).load(broken)


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": 0}, "grid: expected a positive int"),
        ({"progress": "yes"}, "progress: expected True, False or None"),
        ({"grid": (3, 3, 3)}, "grid: expected"),
        ({"beam_width": 0}, "beam_width: expected an int >= 1"),
        ({"candidates": 2.5}, "candidates: expected an int >= 1"),
        ({"threshold": 1.5}, "threshold: expected a number in (0, 1]"),
        ({"threshold": 0}, "threshold: expected a number in (0, 1]"),
        ({"max_roots": 0}, "max_roots: expected None or an int >= 1"),
        ({"overlap": -1}, "overlap: expected an int >= 0"),
        ({"expand_threshold": float("nan")}, "expand_threshold: expected a number in [0, 1]"),
        ({"substrate": "white"}, "substrate: expected one of 'black', 'blur', 'mean'"),
        ({"blur_sigma": 0}, "blur_sigma: expected a positive finite number"),
        ({"drop_bins": (60, 20)}, "drop_bins: expected two increasing numbers"),
        ({"max_rows": 0}, 'max_rows: expected an int >= 1'),
        ({"ranking_params": [1]}, "ranking_params: expected None or a dict"),
        ({"grid": (2, 100)}, "grid: expected at most the input size"),
        ({"grid": 40}, "grid: expected at most 1024 patches"),
        ({"ranking": "nope"}, "method: expected one of"),
        ({"target": 99}, "target: expected class indices in [0, 7)"),
        ({"target": [0, 1]}, "target: expected \"pred\", a class index, or one class index per image (1 ints)"),
        ({"target": lambda z: z[:, 0]}, "callables are not supported"),
        ({"target": "top"}, 'target: expected "pred"'),
        ({"saliency": np.ones((2, 8, 8))}, "saliency: expected None, a Saliency result, or maps of shape (1, h, w)"),
        ({"saliency": np.full((1, 8, 8), np.nan)}, "saliency: expected finite maps"),
        ({"colour": 1}, "unexpected keyword argument 'colour'"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs, message):
    model = xw.models.toy_cnn()
    image = np.zeros((64, 64, 3), np.uint8)
    kwargs = dict(kwargs)
    kwargs.setdefault("saliency", np.ones((1, 64, 64), np.float32)) if "ranking" not in kwargs else None
    with pytest.raises((ValueError, TypeError)) as info:
        sag(model, image, **kwargs)
    assert message in str(info.value)


def test_bad_images_and_exhaustive_limits():
    model = xw.models.toy_cnn()
    with pytest.raises(ValueError, match="images"):
        sag(model, [], saliency=np.ones((0, 8, 8)))
    with pytest.raises(ValueError, match="RGB"):
        sag(model, np.zeros((64, 64), np.uint8), saliency=np.ones((1, 8, 8)))
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"grid: expected at most max_cells=16 patches"):
        exhaustive_minimal_sets(model, image, grid=5)
    with pytest.raises(ValueError, match="image: expected one image"):
        exhaustive_minimal_sets(model, [image, image], grid=2)
    graph = sag(model, image, saliency=np.ones((1, 8, 8)), grid=3, max_rows=64)
    with pytest.raises(ValueError, match=r"node_id: expected a node id"):
        graph.node(len(graph.nodes))
    with pytest.raises(ValueError, match=r"patches: expected cells in \[0, 9\)"):
        graph.mask([9])
