"""Concept discovery (ConceptBank) and structural concept graphs (seed 000; VRX).

Ground truth: the synthetic parts dataset. The discovery settings for the toy CNN
(layer3, top 30% of Grad-CAM, 40 clusters) were chosen on seed 2; the checks below
discover on seed 3 and build graphs on seed 4, neither used for that choice nor for
training the model (its training seeds are >= 10,000, its test seed 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xwidgets as xw
from xwidgets.concepts import (
    ConceptBank,
    SegmentationProtocol,
    build_graphs,
    concept_purity,
    discover_concepts,
    member_masks,
    stack_graphs,
)
from xwidgets.concepts.graph import EDGE_FEATURES, _assign, edge_features, suppress_nested
from xwidgets.concepts.segmentation import candidate_segments, mask_boxes, mask_centroids, render_patches
from xwidgets.data.synthetic import CLASS_SPECS, CLASSES, PART_TYPES, SyntheticParts

#: the toy CNN's discovery settings (chosen on seed 2; scripts/fit_concepts.py uses them too)
TOY = dict(layer="layer3", threshold=0.3, n_clusters=40)
#: a presence, an attribute, a count and a relation class
CLASSES_USED = ["ladder_truck", "red_lamp", "four_wheeler", "window_over_door"]
PER_CLASS = 20
NAMES = ["background", *PART_TYPES]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small passes: on a shared 2-core machine one thread is faster
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    return xw.models.toy_cnn()


def _type_labels(sample) -> np.ndarray:
    out = np.zeros(sample.instance_mask.shape, np.int64)
    for part in sample.parts:
        out[sample.instance_mask == part.id] = 1 + PART_TYPES.index(part.type)
    return out


@pytest.fixture(scope="module")
def discovery_set():
    data = SyntheticParts(len(CLASSES) * PER_CLASS, seed=3)
    samples = [data.sample(i) for i in range(len(data))]
    by = {name: [s for s in samples if s.class_name == name] for name in CLASSES_USED}
    pixels = {name: np.stack([s.image for s in group]) for name, group in by.items()}
    labels = {name: np.stack([_type_labels(s) for s in group]) for name, group in by.items()}
    instances = {name: np.stack([s.instance_mask for s in group]) for name, group in by.items()}
    return pixels, labels, instances


@pytest.fixture(scope="module")
def bank(model, discovery_set):
    pixels, _, _ = discovery_set
    return discover_concepts(model, pixels, progress=False, seed=0, **TOY)


@pytest.fixture(scope="module")
def purity(bank, discovery_set):
    pixels, labels, instances = discovery_set
    return concept_purity(bank, pixels, labels, NAMES, instances_by_class=instances, rule="part")


@pytest.fixture(scope="module")
def graph_set(model, bank):
    data = SyntheticParts(28, seed=4)
    samples = [data.sample(i) for i in range(len(data))]
    return samples, build_graphs(model, np.stack([s.image for s in samples]), bank)


# --------------------------------------------------------------------------- discovery
def test_discovered_concepts_match_part_types(bank, purity, discovery_set):
    pixels, labels, instances = discovery_set
    majority = concept_purity(bank, pixels, labels, NAMES)  # label = the label of most of the patch's pixels
    print(f"\npurity on held-out seed 3: part rule {purity.overall:.3f}, pixel-majority rule {majority.overall:.3f}, "
          f"concepts whose label is a part {purity.part_fraction:.2f}")
    assert purity.overall >= 0.8 and majority.overall >= 0.8
    assert purity.part_fraction >= 0.75
    for name in CLASSES_USED:
        concepts = bank.concepts(name)
        assert len(concepts) == 4
        assert np.all(np.diff(concepts.importance) <= 0)  # most important first
        # the most important concept is one of the class's defining part types
        assert purity.per_concept[(name, 0)][0] in CLASS_SPECS[name].parts, (name, purity.per_concept[(name, 0)])


def test_bank_contents_and_member_masks(bank, discovery_set):
    pixels, _, _ = discovery_set
    assert bank.layer == "layer3" and bank.input_size == (64, 64) and bank.feature_dim == 128
    assert bank.class_names == CLASSES_USED and bank.class_indices == [CLASSES.index(n) for n in CLASSES_USED]
    c = bank.concepts("ladder_truck")
    assert bank.concepts(CLASSES.index("ladder_truck")) is c
    assert c.prototypes.shape == (4, 128) and c.examples.shape[1:] == (8, 48, 48, 3) and c.examples.dtype == np.uint8
    assert np.all(c.popularity >= 0.2) and np.all(c.radius > 0)
    assert c.concept_ids == [f"ladder_truck/{j}" for j in range(4)]
    # members: the masks rebuilt from the protocol have the recorded boxes, and their
    # distances to the prototype match the recorded ones (up to float error)
    masks = member_masks(bank, "ladder_truck", pixels["ladder_truck"])
    np.testing.assert_array_equal(mask_boxes(masks), c.members[:, 4:8])
    assert np.all(np.diff(c.member_distance[c.member_rows(0)]) >= 0)  # nearest first
    assert np.all(c.member_distance[c.member_rows(0)] <= c.member_distance[c.member_rows(0)].max())
    assert "ConceptBank(model='toy_cnn', layer='layer3', D=128" in repr(bank)


def test_bank_save_load_round_trip(bank, tmp_path, model, graph_set):
    path = bank.save(tmp_path / "bank.npz")
    loaded = ConceptBank.load(path)
    assert repr(loaded) == repr(bank)
    assert loaded.protocol == bank.protocol and loaded.neutral == bank.neutral
    for a, b in zip(bank.classes, loaded.classes):
        for name in ("prototypes", "radius", "importance", "popularity", "examples", "members", "member_distance",
                     "example_source", "example_count", "cluster"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.class_index, a.class_name, a.n_images) == (b.class_index, b.class_name, b.n_images)
    # the loaded bank builds the same graphs
    samples, graphs = graph_set
    again = build_graphs(model, samples[0].image, loaded)
    for c, g in graphs[0].items():
        np.testing.assert_array_equal(again[0][c].present, g.present)
        np.testing.assert_allclose(again[0][c].features, g.features, atol=1e-5)
    with np.load(path, allow_pickle=False) as data:  # no pickled objects anywhere
        assert all(data[k].dtype != object for k in data.files)


def test_plot(bank):
    import matplotlib.pyplot as plt

    fig = bank.plot(["ladder_truck", "red_lamp"], n_examples=3)
    assert np.asarray(fig.axes).size == 8 * 3
    plt.close(fig)


def test_discovery_options_grid_no_attention_custom_segmentation_and_determinism(model):
    images = SyntheticParts(14, seed=5).arrays()[0][:4]
    kw = dict(progress=False, n_clusters=4, top_k=2, n_examples=2, min_popularity=0.0, layer="layer2")
    a = discover_concepts(model, {0: images}, segmentation="grid", resolutions=(4, 16), attention=None, **kw)
    b = discover_concepts(model, {0: images}, segmentation="grid", resolutions=(4, 16), attention=None, **kw)
    np.testing.assert_array_equal(a.concepts(0).prototypes, b.concepts(0).prototypes)  # reproducible
    assert a.protocol["attention"] is None and a.segmentation.method == "grid"
    assert a.concepts(0).prototypes.shape == (2, 64)
    # a grid of 4 cells on 64 px: every member box is a 32 px cell or a 16 px one
    sides = a.concepts(0).members[:, 6] - a.concepts(0).members[:, 4]
    assert set(sides.tolist()) <= {16, 32}

    def halves(image):  # a custom segmentation: left and right halves
        labels = np.zeros(image.shape[:2], np.int32)
        labels[:, image.shape[1] // 2:] = 1
        return [labels]

    c = discover_concepts(model, {"ladder_truck": images}, segmentation=halves, attention=None, **kw)
    assert c.segmentation.method == "custom"
    assert set(c.concepts(0).members[:, 4].tolist()) <= {0, 32}
    with pytest.raises(ValueError, match="segmentation"):
        build_graphs(model, images[:1], c)  # the bank cannot redo a custom segmentation by itself
    assert len(build_graphs(model, images[:1], c, segmentation=halves)[0][0]) == 2


def test_discovery_works_on_a_vit_layer():
    vit = xw.models.toy_vit()
    images = SyntheticParts(7, seed=5).arrays()[0][:3]
    bank = discover_concepts(vit, {1: images}, segmentation="grid", resolutions=(4,), n_clusters=2, top_k=1,
                             min_popularity=0.0, progress=False)
    assert bank.layer == vit.cam_layer and bank.feature_dim == 128  # tokens pooled over the patch grid
    graphs = build_graphs(vit, images[:1], bank)
    assert graphs[0][1].features.shape == (1, 128)


# --------------------------------------------------------------------------- segmentation pieces
def test_candidates_patches_boxes_and_centroids():
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:12, 20:28] = (250, 10, 10)
    protocol = SegmentationProtocol(method="grid", resolutions=(4,), min_area=0.0)
    foreground = np.zeros((32, 32), bool)
    foreground[:16, 16:] = True
    cands = candidate_segments(image, foreground, protocol)
    assert len(cands) == 1 and cands.boxes.tolist() == [[16, 0, 32, 16]]  # only the top-right cell
    patch = render_patches(image, cands.masks, cands.boxes, (16, 16), (100, 100, 100))
    assert patch.shape == (1, 16, 16, 3) and patch.dtype == torch.uint8
    assert tuple(patch[0, 8, 8].tolist()) == (250, 10, 10)  # the red square, cell resized to 16 px
    # duplicates: the same cell at two resolutions is kept once
    dup = candidate_segments(image, None, SegmentationProtocol(method="grid", resolutions=(4, 4), min_area=0.0))
    assert len(dup) == 4
    masks = np.zeros((2, 10, 10), bool)
    masks[0, 2:4, 6:9] = True
    np.testing.assert_allclose(mask_centroids(masks)[0], [7.0, 2.5])
    assert np.isnan(mask_centroids(masks)[1]).all()
    assert mask_boxes(masks).tolist() == [[6, 2, 9, 4], [0, 0, 0, 0]]


# --------------------------------------------------------------------------- graphs
def _lands_on(sample, mask: np.ndarray, part_type: str) -> bool:
    """The mask shows a part of ``part_type``: it holds most of that part, or is mostly it."""
    ids, overlap = np.unique(sample.instance_mask[mask], return_counts=True)
    for pid, ov in zip(ids.tolist(), overlap.tolist()):
        if pid and sample.part(pid).type == part_type:
            if ov >= 0.5 * (sample.instance_mask == pid).sum() or ov >= 0.5 * mask.sum():
                return True
    return False


def test_present_concepts_land_on_their_parts_and_missing_parts_are_absent(bank, purity, graph_set):
    samples, graphs = graph_set
    landed, landed_all, absent_ok, own_found = [], [], [], []
    for sample, graph in zip(samples, graphs):
        types = {p.type for p in sample.parts}
        for c, scg in graph.items():
            for j in range(len(scg)):
                part_type = purity.per_concept[(scg.class_name, j)][0]  # the concept's part type
                if part_type == "background":
                    continue
                if scg.present[j]:
                    landed_all.append(_lands_on(sample, scg.masks[j], part_type))
                    if part_type in types:
                        landed.append(landed_all[-1])
                if part_type not in types:
                    absent_ok.append(not scg.present[j])
        if sample.class_name in bank.class_names:  # a concept of the class is found on a defining part
            scg = graph[sample.label]
            own_found.append(any(
                scg.present[j] and any(_lands_on(sample, scg.masks[j], t) for t in CLASS_SPECS[sample.class_name].parts)
                for j in range(len(scg))
            ))
    print(f"\npresent nodes on a part of their type: {np.mean(landed):.2f} of {len(landed)} in images that have "
          f"that type, {np.mean(landed_all):.2f} of all {len(landed_all)}; concepts whose part type is missing "
          f"marked absent {np.mean(absent_ok):.2f} ({len(absent_ok)}); own-class images with a defining part found "
          f"{np.mean(own_found):.2f} ({len(own_found)})")
    # measured with banks and graphs on other seeds (2 -> 6, 5 -> 7): 1.00/0.95, 0.83/0.70, 0.99/0.98, 0.75/0.75
    assert len(landed) >= 12 and np.mean(landed) >= 0.8
    assert np.mean(landed_all) >= 0.6
    assert len(absent_ok) >= 200 and np.mean(absent_ok) >= 0.9
    assert len(own_found) >= 12 and np.mean(own_found) >= 0.6


def test_graph_nodes_and_edges_are_consistent(graph_set):
    samples, graphs = graph_set
    checked = 0
    for sample, graph in zip(samples, graphs):
        for scg in graph.values():
            k = len(scg)
            assert scg.features.shape == (k, 128) and scg.masks.shape == (k, 64, 64)
            assert scg.edge_features.shape == (k, k, len(EDGE_FEATURES))
            np.testing.assert_array_equal(scg.features[~scg.present], 0)
            assert not scg.masks[~scg.present].any() and np.isnan(scg.centroids[~scg.present]).all()
            assert np.all(scg.distance[scg.present] <= scg.radius[scg.present])  # present: within its radius
            np.testing.assert_array_equal(mask_boxes(scg.masks[scg.present]), scg.boxes[scg.present])
            np.testing.assert_array_equal(scg.edge_present, np.outer(scg.present, scg.present) & ~np.eye(k, dtype=bool))
            assert not scg.edge_features[~scg.edge_present].any()
            # edge directions against the ground truth: i above j gives dy > 0 on edge i -> j
            for i, j in zip(*np.nonzero(scg.edge_present)):
                pi, pj = (_part_under(sample, scg.masks[n]) for n in (i, j))
                if pi is None or pj is None or pi.id == pj.id or abs(pi.centroid[1] - pj.centroid[1]) < 3:
                    continue
                dy = scg.edge_features[i, j, EDGE_FEATURES.index("dy")]
                assert np.sign(dy) == np.sign(pj.centroid[1] - pi.centroid[1])
                assert scg.edge_features[j, i, EDGE_FEATURES.index("dy")] == pytest.approx(-dy)
                checked += 1
    assert checked >= 5


def _part_under(sample, mask):
    ids, overlap = np.unique(sample.instance_mask[mask], return_counts=True)
    best = [(ov, pid) for pid, ov in zip(ids.tolist(), overlap.tolist()) if pid and ov >= 0.5 * mask.sum()]
    return sample.part(max(best)[1]) if best else None


def test_edge_features_of_a_part_above_another():
    centroids = np.array([[10.0, 5.0], [30.0, 45.0], [np.nan, np.nan]])
    feats, mask = edge_features(centroids, np.array([True, True, False]), (50, 40))
    f = dict(zip(EDGE_FEATURES, feats[0, 1]))
    assert (f["x_i"], f["y_i"], f["x_j"], f["y_j"]) == pytest.approx((0.25, 0.1, 0.75, 0.9))
    assert f["dx"] == pytest.approx(0.5) and f["dy"] == pytest.approx(0.8)  # node 0 is above node 1
    assert f["distance"] == pytest.approx(np.hypot(0.5, 0.8))
    assert feats[1, 0, EDGE_FEATURES.index("dy")] == pytest.approx(-0.8)
    assert mask.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert not feats[2].any() and not feats[:, 2].any()


def test_assignment_takes_the_absent_option_beyond_the_radius():
    dist = np.array([[0.5, 3.0], [0.6, 4.0], [9.0, 9.0]])
    match = _assign(dist, np.array([1.0, 1.0, 1.0]))
    # concepts 0 and 1 both want patch 0; the cheaper total gives it to one, the other is
    # too far from patch 1 and absent; concept 2 is far from everything
    assert sorted(match.tolist()) == [-1, -1, 0]
    assert _assign(dist, np.array([5.0, 5.0, 1.0])).tolist() == [1, 0, -1]


def test_nested_matches_keep_the_better_one():
    masks = np.zeros((4, 8, 8), bool)
    masks[0, :4, :4] = True      # 16 px
    masks[1, :2, :2] = True      # 4 px, inside mask 0
    masks[2, 4:, 4:] = True      # disjoint from both
    masks[3, 3:6, 3:6] = True    # 9 px: 1 px in mask 0, 4 in mask 2 (4/9 of the smaller)
    present = np.array([True, True, True, True])
    # the nested pair: the cheaper match stays, whichever is larger
    assert suppress_nested(present, np.array([0.5, 0.2, 0.1, 0.9]), masks, 0.5).tolist() == [False, True, True, True]
    assert suppress_nested(present, np.array([0.2, 0.5, 0.1, 0.9]), masks, 0.5).tolist() == [True, False, True, True]
    # containment, not IoU: 4/9 > 0.4 suppresses node 3 (IoU 4/21 would not)
    assert suppress_nested(present, np.array([0.2, 0.5, 0.1, 0.9]), masks, 0.4).tolist() == [True, False, True, False]
    # an absent node never suppresses another; 1.0 keeps everything
    assert suppress_nested(np.array([False, True, True, True]), np.zeros(4), masks, 0.5).tolist() == [False, True,
                                                                                                       True, True]
    assert suppress_nested(present, np.zeros(4), masks, 1.0).all()


def test_build_graphs_suppresses_nested_nodes(model, bank, graph_set):
    samples, graphs = graph_set
    images = np.stack([s.image for s in samples[:8]])
    pruned = build_graphs(model, images, bank, max_overlap=0.3)
    fewer = 0
    for before, after in zip(graphs[:8], pruned):
        for c, scg in after.items():
            old = before[c]
            # only nodes that were present can go, and they go with their patch, feature and edges
            assert not (scg.present & ~old.present).any()
            kept = scg.present
            np.testing.assert_array_equal(scg.features[kept], old.features[kept])
            assert not scg.masks[~kept].any() and not scg.features[~kept].any()
            np.testing.assert_array_equal(scg.edge_present, np.outer(kept, kept) & ~np.eye(len(kept), dtype=bool))
            flat = scg.masks[kept].reshape(int(kept.sum()), scg.masks[0].size)
            area = flat.sum(1)
            inter = flat.astype(np.int64) @ flat.T.astype(np.int64)
            off = ~np.eye(len(area), dtype=bool)
            assert np.all((inter / np.minimum.outer(area, area))[off] <= 0.3)
            fewer += int(old.present.sum() - kept.sum())
    assert fewer > 0  # these graphs did hold nested nodes
    # the bank's protocol sets the default; an explicit 1.0 turns it off
    bank.protocol["max_overlap"] = 0.3
    try:
        again = build_graphs(model, images[:2], bank)
        off = build_graphs(model, images[:2], bank, max_overlap=1.0)
    finally:
        del bank.protocol["max_overlap"]
    for c in bank.class_indices:
        np.testing.assert_array_equal(again[1][c].present, pruned[1][c].present)
        np.testing.assert_array_equal(off[1][c].present, graphs[1][c].present)
    with pytest.raises(ValueError, match="^max_overlap: expected"):
        build_graphs(model, images[:1], bank, max_overlap=1.5)


def test_stack_graphs(graph_set, bank):
    _, graphs = graph_set
    batch = stack_graphs(graphs)
    n, c = len(graphs), len(bank)
    assert batch.classes == bank.class_indices
    assert tuple(batch.nodes.shape) == (n, c, 4, 128) and batch.nodes.dtype == torch.float32
    assert tuple(batch.present.shape) == (n, c, 4) and batch.present.dtype == torch.bool
    assert tuple(batch.edges.shape) == (n, c, 4, 4, len(EDGE_FEATURES))
    assert tuple(batch.edge_mask.shape) == (n, c, 4, 4)
    g = graphs[3][bank.class_indices[1]]
    np.testing.assert_array_equal(batch.present[3, 1].numpy(), g.present)
    np.testing.assert_array_equal(batch.nodes[3, 1].numpy(), g.features)
    padded = stack_graphs(graphs, classes=bank.class_indices[::-1], k=6)
    assert tuple(padded.nodes.shape) == (n, c, 6, 128) and not padded.present[..., 4:].any()
    np.testing.assert_array_equal(padded.present[3, -2, :4].numpy(), g.present)
    with pytest.raises(ValueError, match="^k: expected"):
        stack_graphs(graphs, k=2)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, argument", [
    (dict(images_by_class={}), "images_by_class"),
    (dict(images_by_class={99: None}), "images_by_class key 99"),
    (dict(images_by_class={"lader_truck": None}), "images_by_class key 'lader_truck'"),
    (dict(threshold=1.5), "threshold"),
    (dict(threshold=0.0), "threshold"),
    (dict(binarise="mean"), "binarise"),
    (dict(segmentation="watershed"), "segmentation"),
    (dict(resolutions=()), "resolutions"),
    (dict(n_clusters=0), "n_clusters"),
    (dict(top_k=0), "top_k"),
    (dict(min_popularity=2), "min_popularity"),
    (dict(occlusion="blur"), "occlusion"),
    (dict(jaccard=-1), "jaccard"),
    (dict(progress="yes"), "progress"),
])
def test_discovery_errors_name_the_argument(model, kwargs, argument):
    images = SyntheticParts(1, seed=5).arrays()[0]
    kw = {"images_by_class": {0: images}, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=f"^{argument}: expected"):
        discover_concepts(model, **kw)


def test_other_errors_name_the_argument(model, bank, tmp_path):
    images = SyntheticParts(1, seed=5).arrays()[0]
    with pytest.raises(KeyError, match="layer"):
        discover_concepts(model, {0: images}, layer="layer9", progress=False)
    with pytest.raises(ValueError, match="^images_by_class\\[0\\]: images\\[0\\]: expected"):
        discover_concepts(model, {0: [np.zeros((64, 64), np.uint8)]}, progress=False)
    with pytest.raises(ValueError, match="^cls: expected"):
        bank.concepts("two_wheeler")  # not in this bank
    with pytest.raises(ValueError, match="^bank: expected"):
        build_graphs(model, images, "bank.npz")
    with pytest.raises(ValueError, match="^classes\\[0\\]: expected"):
        build_graphs(model, images, bank, classes=[99])
    with pytest.raises(ValueError, match="^cls: expected"):
        build_graphs(model, images, bank, classes=["two_wheeler"])
    with pytest.raises(ValueError, match="^attention: expected"):
        build_graphs(model, images, bank, attention="gradcam")
    with pytest.raises(ValueError, match="^path: expected"):
        ConceptBank.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="^graphs: expected"):
        stack_graphs([])


# --------------------------------------------------------------------------- widget
def test_concept_bank_viewer(bank):
    import io
    import pathlib

    import traitlets
    from PIL import Image

    from xwidgets.widgets import ConceptBankViewer
    from xwidgets.widgets.base import bundle_path

    root = pathlib.Path(__file__).resolve().parents[1]
    viewer = bank.show(n_examples=3, selected_class="four_wheeler")
    assert isinstance(viewer, ConceptBankViewer)
    assert viewer._esm == bundle_path("concept_bank_viewer").read_text(encoding="utf-8")
    assert "concept_bank_viewer.ts" in (root / "js" / "build.mjs").read_text()
    assert "xwidgets/static/concept_bank_viewer.js" in (root / "pyproject.toml").read_text()
    assert [c["name"] for c in viewer.classes] == CLASSES_USED and viewer.selected_class == 2
    first = viewer.classes[0]["concepts"][0]
    concepts = bank.concepts(CLASSES_USED[0])
    assert first["id"] == "ladder_truck/0" and first["importance"] == pytest.approx(float(concepts.importance[0]))
    assert len(first["examples"]) == min(3, int(concepts.example_count[0]))
    png = first["examples"][0]["png"]
    assert isinstance(png, bytes)  # binary, not a JSON list
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), concepts.examples[0, 0])
    assert repr(viewer) == ("ConceptBankViewer(classes=4, layer='layer3', selected_class='four_wheeler', "
                            "selected_concept=None)")
    viewer.selected_concept = 1
    assert viewer.concept == "four_wheeler/1"
    viewer.selected_class = 0  # another class clears the selection
    assert viewer.selected_concept == -1 and viewer.concept is None
    with pytest.raises(traitlets.TraitError, match="selected_class: expected"):
        viewer.selected_class = 4
    with pytest.raises(traitlets.TraitError, match="selected_concept: expected"):
        viewer.selected_concept = 4
    with pytest.raises(ValueError, match="^bank: expected"):
        ConceptBankViewer("bank")
    with pytest.raises(ValueError, match="^n_examples: expected"):
        ConceptBankViewer(bank, n_examples=0)
    with pytest.raises(ValueError, match="^selected_class: expected"):
        ConceptBankViewer(bank, selected_class="two_wheeler")
