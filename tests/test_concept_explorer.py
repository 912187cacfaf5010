"""ConceptExplorer and its input contract, ExplanationData: validation with messages that
name the field, dict round trips, the synthetic example, the trait payload (image, saliency,
bit-packed masks, graphs with positions and sentence segments), the synced selection,
the repr, reports, the static figure, and the payload size of one explanation."""

from __future__ import annotations

import copy
import io
import pathlib

import matplotlib
import numpy as np
import pytest
import traitlets
from PIL import Image

import xwidgets as xw
from xwidgets.report import write_report
from xwidgets.widgets import ConceptExplorer, ExplanationData
from xwidgets.widgets.base import bundle_path
from xwidgets.widgets.concept_explorer import LAYOUTS, graph_positions
from xwidgets.widgets.explorer_data import ClassGraph, ConceptEdge, ConceptNode, Sentence, Span

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the issue's limit for one explanation (224 px image, 12 nodes, all classes)
PAYLOAD_LIMIT = 300_000


@pytest.fixture(scope="module")
def example() -> ExplanationData:
    """Synthetic image 4 (a four wheeler: 4 wheels and 3 distractors), 5 candidate classes."""
    return ExplanationData.example(4)


def small(**changes) -> dict:
    """A hand-made 20x30 explanation as a dict: two classes, two nodes (one absent), one edge."""
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:10, 4:12] = True
    text = "Because of the wheel, not the ladder."
    d = {
        "image": np.full((20, 30, 3), 90, dtype=np.uint8),
        "classes": [(3, "cart", 0.8), {"index": 7, "label": "truck", "probability": 0.2}],
        "predicted": 3,
        "graphs": [
            {"nodes": [{"id": "n1", "name": "wheel", "mask": mask, "contribution": 0.7, "importance": 1.0},
                       {"id": "n2", "name": "ladder", "present": False, "contribution": -0.2, "importance": 0.3}],
             "edges": [{"id": "e1", "source": "n1", "target": "n2", "relation": "left of", "contribution": 0.1}],
             "text": {"text": text, "spans": [(15, 20, "node", "n1"), (30, 36, "node", "n2")]}},
            {"nodes": [{"id": "n1", "name": "wheel", "box": (4, 5, 12, 10), "contribution": -0.4, "importance": 1.0}],
             "text": "No sentence spans here."},
        ],
    }
    d.update(changes)
    return d


# --------------------------------------------------------------------------- the contract
def test_dicts_and_tuples_become_the_dataclasses_with_derived_fields():
    d = ExplanationData.from_dict(small())
    assert [c.index for c in d.classes] == [3, 7] and d.classes[1].label == "truck"
    wheel = d.graphs[0].nodes[0]
    assert isinstance(wheel, ConceptNode) and wheel.box == (4.0, 5.0, 12.0, 10.0)  # the mask's tight box
    assert wheel.centroid == (8.0, 7.5)  # the mask's mean pixel centre
    assert d.graphs[0].nodes[1].box is None and d.graphs[0].nodes[1].centroid is None
    assert d.graphs[1].nodes[0].centroid == (8.0, 7.5)  # the box centre
    assert isinstance(d.graphs[0].edges[0], ConceptEdge)
    assert [d.graphs[0].text.phrase(s) for s in d.graphs[0].text.spans] == ["wheel", "ladder"]
    assert d.graphs[1].text == Sentence("No sentence spans here.", [])
    assert d.question(3) == "Why cart?" and d.question(7) == "Why not truck?"
    assert d.graph(7).ids == ["n1"]


def test_the_dataclasses_build_it_directly():
    image = np.zeros((8, 10, 3), np.uint8)
    graph = ClassGraph(
        nodes=[ConceptNode("a", "tail", box=(0, 0, 5, 4), contribution=0.5, importance=1.0),
               ConceptNode("b", "fin", present=False, contribution=-0.1, importance=0.2)],
        edges=[ConceptEdge("r", "a", "b", "above", 0.3)],
        text=Sentence("tail above fin", [Span(0, 4, "node", "a"), Span(0 + 5, 14, "edge", "r")]),
    )
    d = ExplanationData(image, [(0, "fish", None)], [graph], predicted=0)
    assert d.graph(0).node("a").centroid == (2.5, 2.0) and d.candidate(0).probability is None
    assert d.graph(0).edge("r").relation == "above"
    with pytest.raises(ValueError, match=r"^class_index: expected the index of a candidate class \(0\); got 1"):
        d.graph(1)
    w = ConceptExplorer(d, selected="r")
    assert w.graphs[0]["segments"] == [{"text": "tail", "kind": "node", "ref": "a"}, {"text": " ", "kind": "", "ref": ""},
                                       {"text": "above fin", "kind": "edge", "ref": "r"}]
    assert w.saliency == {} and w.masks == {"data": b"", "items": []}


def test_to_dict_and_from_dict_round_trip(example):
    again = ExplanationData.from_dict(example.to_dict())
    np.testing.assert_array_equal(again.image, example.image)
    np.testing.assert_array_equal(again.saliency, example.saliency)
    assert again.classes == example.classes and again.predicted == example.predicted
    for g1, g2 in zip(again.graphs, example.graphs):
        assert g1.edges == g2.edges and g1.text == g2.text
        for n1, n2 in zip(g1.nodes, g2.nodes):
            assert (n1.id, n1.name, n1.present, n1.box, n1.centroid, n1.contribution, n1.importance) == (
                n2.id, n2.name, n2.present, n2.box, n2.centroid, n2.contribution, n2.importance)
            assert (n1.mask is None) == (n2.mask is None)
            if n1.mask is not None:
                np.testing.assert_array_equal(n1.mask, n2.mask)


def _broken(path, value):
    """small() with the item at ``path`` (keys and indices) set to ``value``."""
    d = small()
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    "data, message",
    [
        (small(image=np.zeros((20, 30, 3), np.float32)), r"^image: expected dtype uint8"),
        (small(image=np.zeros((20, 30), np.uint8)), r"^image: expected an \(H, W, 3\) RGB image"),
        (small(predicted=5), r"^predicted: expected the index of a candidate class \(3, 7\); got 5"),
        (small(classes=[(3, "cart", 0.8), (3, "truck", 0.2)]), r"^classes\[1\]\.index: expected class indices that do not repeat"),
        (small(classes=[(3, "cart", 1.5), (7, "truck", 0.2)]), r"^classes\[0\]\.probability: expected a number in \[0, 1\]"),
        (small(classes=[]), r"^classes: expected at least one candidate class"),
        (small(graphs=small()["graphs"][:1]), r"^graphs: expected one ClassGraph per candidate class \(2\)"),
        (small(saliency=np.full((4, 4), np.nan)), r"^saliency: expected finite values"),
        (small(saliency=np.zeros(4)), r"^saliency: expected None or a 2-D float map"),
        (_broken(["graphs", 1, "nodes", 0, "box"], (4, 5, 31, 10)), r"^graphs\[1\]\.nodes\[0\]\.box: expected \(x0, y0, x1, y1\) in pixels with 0 <= x0 < x1 <= 30"),
        (_broken(["graphs", 1, "nodes", 0, "box"], None), r"^graphs\[1\]\.nodes\[0\]\.box: expected .* for a present concept; got None\. Only absent"),
        (_broken(["graphs", 0, "nodes", 1, "id"], "n1"), r"^graphs\[0\]\.nodes\[1\]\.id: expected ids that do not repeat"),
        (_broken(["graphs", 0, "nodes", 1, "id"], ""), r"^graphs\[0\]\.nodes\[1\]\.id: expected a non-empty str id"),
        (_broken(["graphs", 0, "nodes", 0, "importance"], 1.2), r"^graphs\[0\]\.nodes\[0\]\.importance: expected a number in \[0, 1\]"),
        (_broken(["graphs", 0, "nodes", 0, "contribution"], float("nan")), r"^graphs\[0\]\.nodes\[0\]\.contribution: expected a finite number"),
        (_broken(["graphs", 0, "nodes", 0, "mask"], np.zeros((20, 30), np.uint8)), r"^graphs\[0\]\.nodes\[0\]\.mask: expected None or a \(20, 30\) bool array .*labels == k"),
        (_broken(["graphs", 0, "nodes", 0, "mask"], np.zeros((20, 30), bool)), r"^graphs\[0\]\.nodes\[0\]\.mask: expected a mask with at least one pixel"),
        (_broken(["graphs", 0, "nodes", 0, "colour"], "red"), r"^graphs\[0\]\.nodes\[0\]: expected a dict with keys among .*; got unknown key\(s\) 'colour'"),
        (_broken(["graphs", 0, "edges", 0, "target"], "n9"), r"^graphs\[0\]\.edges\[0\]\.target: expected the id of a node of the same graph; got 'n9'"),
        (_broken(["graphs", 0, "edges", 0, "id"], "n2"), r"^graphs\[0\]\.edges\[0\]\.id: expected edge ids distinct from the node ids"),
        (_broken(["graphs", 0, "text", "spans", 1], (18, 25, "node", "n2")), r"^graphs\[0\]\.text\.spans: expected spans that do not overlap; got \[15, 20\) and \[18, 25\)"),
        (_broken(["graphs", 0, "text", "spans", 1], (30, 36, "edge", "n2")), r"^graphs\[0\]\.text\.spans\[1\]\.id: expected the id of an edge of the same graph"),
        (_broken(["graphs", 0, "text", "spans", 1], (30, 36, "concept", "n2")), r"^graphs\[0\]\.text\.spans\[1\]\.kind: expected 'node' or 'edge'"),
        (_broken(["graphs", 0, "text", "spans", 1], (30, 99, "node", "n2")), r"^graphs\[0\]\.text\.spans\[1\]: expected 0 <= start < end <= 37"),
    ],
)
def test_bad_input_names_the_field(data, message):
    with pytest.raises(ValueError, match=message):
        ExplanationData.from_dict(data)


def test_from_dict_needs_the_required_keys():
    d = small()
    del d["graphs"]
    with pytest.raises(ValueError, match=r"^value: expected a dict with the key\(s\) 'graphs'"):
        ExplanationData.from_dict(d)


def test_the_example_is_the_synthetic_ground_truth():
    from xwidgets.data.synthetic import CLASSES, SyntheticParts

    d = ExplanationData.example(4, num_classes=5)
    sample = SyntheticParts(n=5, seed=0, size=224).sample(4)
    assert d.image.shape == (224, 224, 3) and np.array_equal(d.image, sample.image)
    assert d.predicted == sample.label and d.classes[0].index == sample.label and len(d.classes) == 5
    probs = [c.probability for c in d.classes]  # the 5 most likely of the 7 classes
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0
    assert sum(c.probability for c in ExplanationData.example(4, num_classes=7).classes) == pytest.approx(1.0)
    why = d.graph(d.predicted)
    for part in sample.parts:  # every part is a node with its ground-truth box and mask
        n = why.node(f"n{part.id}")
        assert n.present and n.box == tuple(float(v) for v in part.box)
        np.testing.assert_array_equal(n.mask, sample.instance_mask == part.id)
    top = max(why.nodes, key=lambda n: n.contribution)
    assert int(top.id[1:]) in sample.evidence.part_ids  # the top node is defining
    for c, g in zip(d.classes, d.graphs):  # each sentence points at its own graph
        assert g.text is not None and g.text.spans
        assert all(s.id in g.ids for s in g.text.spans)
        if c.index != d.predicted:
            assert g.text.text.startswith(f"Not {CLASSES[c.index].replace('_', ' ')}")
            assert all(n.contribution < 0 for n in g.nodes if int(n.id[1:]) in sample.evidence.part_ids and n.id[0] == "n")
    assert any(not n.present for g in d.graphs for n in g.nodes)  # why-not has absent concepts
    assert ExplanationData.example(4).to_dict()["graphs"][1]["text"] == d.to_dict()["graphs"][1]["text"]  # deterministic
    padded = ExplanationData.example(4, num_nodes=12)
    assert all(len(g.nodes) == 12 for g in padded.graphs)
    with pytest.raises(ValueError, match=r"^num_classes: expected an int in \[1, 7\]"):
        ExplanationData.example(num_classes=9)


# --------------------------------------------------------------------------- the widget
def test_registered_and_built():
    w = ConceptExplorer(ExplanationData.from_dict(small()))
    assert w._esm == bundle_path("concept_explorer").read_text(encoding="utf-8")
    assert xw.ConceptExplorer is ConceptExplorer and "ConceptExplorer" in xw.__all__
    assert xw.ExplanationData is ExplanationData
    assert 'join(root, "js", "concept_explorer.ts")' in (ROOT / "js" / "build.mjs").read_text()
    assert (ROOT / "pyproject.toml").read_text().count("xwidgets/static/concept_explorer.js") == 2
    assert "concept_explorer" in (ROOT / "xwidgets" / "static" / "report_runtime.js").read_text()


def unpack(masks: dict, item: int, shape: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1, offset = masks["items"][item]
    n = (x1 - x0) * (y1 - y0)
    bits = np.unpackbits(np.frombuffer(masks["data"], np.uint8)[offset:offset + (n + 7) // 8])[:n]
    out = np.zeros(shape, dtype=bool)
    out[y0:y1, x0:x1] = bits.reshape(y1 - y0, x1 - x0).astype(bool)
    return out


def test_payload_carries_image_saliency_masks_and_graphs(example):
    w = ConceptExplorer(example)
    assert (w.image["width"], w.image["height"]) == (224, 224)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(w.image["png"])).convert("RGB")), example.image)
    # saliency: 256 levels between its min and max
    s = w.saliency
    assert s["dtype"] == "uint8" and s["shape"] == [224, 224]
    levels = np.frombuffer(s["data"], np.uint8).reshape(224, 224)
    back = s["min"] + levels * (s["max"] - s["min"]) / 255
    assert np.abs(back - example.saliency).max() <= (s["max"] - s["min"]) / 255 / 2 + 1e-6
    # masks: each distinct mask once (parts are shared by every class), exactly recovered
    assert len(w.masks["items"]) == len(example.graphs[0].nodes)
    for g_payload, g in zip(w.graphs, example.graphs):
        for node_payload, n in zip(g_payload["nodes"], g.nodes):
            if n.mask is None:
                assert node_payload["mask"] == -1
            else:
                np.testing.assert_array_equal(unpack(w.masks, node_payload["mask"], (224, 224)), n.mask)
        # the sentence, cut at its spans
        assert "".join(s["text"] for s in g_payload["segments"]) == g.text.text
        assert [(s["kind"], s["ref"]) for s in g_payload["segments"] if s["kind"]] == [(s.kind, s.id) for s in g.text.spans]
        assert [n["number"] for n in g_payload["nodes"]] == list(range(1, len(g.nodes) + 1))
    assert w.predicted == example.predicted == w.selected_class
    assert w.classes[0]["question"] == f"Why {example.classes[0].label}?"
    assert w.classes[1]["question"] == f"Why not {example.classes[1].label}?"
    expected_limit = max(abs(x.contribution) for g in example.graphs for x in [*g.nodes, *g.edges])
    assert w.limit == pytest.approx(expected_limit)


def test_patches_layout_puts_nodes_at_centroids_and_absent_ones_in_a_strip(example):
    w = ConceptExplorer(example)
    for g_payload, g in zip(w.graphs, example.graphs):
        loose = [n for n in g.nodes if n.centroid is None]
        for node_payload, n in zip(g_payload["nodes"], g.nodes):
            if n.centroid is not None:
                assert node_payload["pos"] == pytest.approx(list(n.centroid), abs=0.01)
            else:
                assert node_payload["pos"][1] > 224
        assert (g_payload["band"] is None) == (not loose)
        assert g_payload["extent"][1] == pytest.approx(224 * (1.22 if loose else 1))


@pytest.mark.parametrize("layout", [name for name in LAYOUTS if name != "patches"])
def test_networkx_layouts_fit_the_extent_and_are_deterministic(example, layout):
    graph = example.graphs[1]
    pos, extent, band = graph_positions(graph, layout, 224, 224)
    assert band is None and extent == (224.0, 224.0) and set(pos) == {n.id for n in graph.nodes}
    xy = np.array(list(pos.values()))
    assert xy.min() >= 224 * 0.1 - 1e-6 and xy.max() <= 224 * 0.9 + 1e-6
    assert len({tuple(np.round(p, 3)) for p in xy}) == len(xy)  # no two nodes on one spot
    assert graph_positions(graph, layout, 224, 224)[0] == pos
    # the trait switches the layout after construction
    w = ConceptExplorer(example)
    w.graph_layout = layout
    assert w.graphs[1]["nodes"][0]["pos"] == [round(v, 2) for v in pos[graph.nodes[0].id]]


def test_selection_traits_are_checked_and_follow_the_class(example):
    w = ConceptExplorer(example)
    assert (w.selected_class, w.selected) == (example.predicted, "")
    w.selected = "n2"
    assert w.selected_item is example.graph(example.predicted).node("n2")
    w.selected = "e1"
    assert isinstance(w.selected_item, ConceptEdge)
    with pytest.raises(traitlets.TraitError, match=r"^selected: expected '' or a node or edge id of class 4 \('n1'"):
        w.selected = "n99"
    with pytest.raises(traitlets.TraitError, match=r"^selected_class: expected the index of a candidate class"):
        w.selected_class = 99
    # another class: a shared id stays selected, a missing one is cleared
    other = example.classes[2].index
    absent = next(n.id for n in example.graph(other).nodes if not n.present)
    w.selected = "n1"
    w.selected_class = other
    assert w.selected == "n1"
    w.selected = absent
    w.selected_class = example.predicted
    assert w.selected == ""
    # the front end sends both at once: checked together
    w.set_state({"selected_class": other, "selected": absent})
    assert (w.selected_class, w.selected) == (other, absent) and not w.selected_item.present
    w.select("n3", class_index=example.predicted)
    assert (w.selected_class, w.selected) == (example.predicted, "n3")
    with pytest.raises(ValueError, match=r"^ref: expected '' or a node or edge id of the class"):
        w.select(absent)
    with pytest.raises(traitlets.TraitError, match=r"^opacity: expected a number in \[0, 1\]"):
        w.opacity = 2.0
    with pytest.raises(traitlets.TraitError, match=r"graph_layout: expected one of 'patches'"):
        w.graph_layout = "circle"


def test_constructor_checks_its_arguments(example):
    with pytest.raises(ValueError, match=r"^data: expected an ExplanationData"):
        ConceptExplorer(np.zeros(3))
    with pytest.raises(ValueError, match=r"^layout: expected one of 'patches', 'spring', 'kamada_kawai'; got 'grid'"):
        ConceptExplorer(example, layout="grid")
    with pytest.raises(ValueError, match=r"^selected_class: expected the index of a candidate class"):
        ConceptExplorer(example, selected_class=-1)
    with pytest.raises(ValueError, match=r"^selected: expected '' or a node or edge id of class 4 \('n1'"):
        ConceptExplorer(example, selected="n99")
    with pytest.raises(ValueError, match=r"^opacity: expected a number in \[0, 1\]"):
        ConceptExplorer(example, opacity=-1)
    with pytest.raises(ValueError, match=r"^colormap: expected one of"):
        ConceptExplorer(example, colormap="jet")
    # fields changed after building are checked again
    broken = copy.deepcopy(example)
    broken.graphs[0].nodes[0].importance = 4.0
    with pytest.raises(ValueError, match=r"^graphs\[0\]\.nodes\[0\]\.importance"):
        ConceptExplorer(broken)
    w = ConceptExplorer(small(), selected="n2", layout="spring")  # a dict is read with from_dict
    assert w.selected == "n2" and w.graph_layout == "spring"


def test_repr_is_deterministic(example):
    w = ConceptExplorer(example, selected="n1")
    assert repr(w) == (
        "ConceptExplorer(title='Synthetic image 4: four wheeler', classes=['four wheeler', 'two wheeler', "
        "'ladder truck', 'red lamp', 'yellow lamp'], predicted=4, selected_class=4, selected='n1', nodes=7, "
        "edges=5, graph_layout='patches')"
    )
    assert repr(w) == repr(ConceptExplorer(example, selected="n1"))
    assert "0x" not in repr(w)


def test_report_state_and_offline_html(example, tmp_path):
    w = ConceptExplorer(example, selected="e1")
    state = w.report_state()
    assert set(state) == {"image", "saliency", "masks", "classes", "graphs", "predicted", "limit", "graph_layout",
                          "selected_class", "selected", "opacity", "colormap", "title"}
    assert w.report_module == "concept_explorer"
    path = example.save_html(tmp_path / "explorer.html", selected="e1")
    text = path.read_text(encoding="utf-8")
    assert '"module":"concept_explorer"' in text and '"selected":"e1"' in text
    assert "<script src" not in text and "http://" not in text and "https://" not in text
    assert write_report(tmp_path / "again.html", w).exists()


def test_payload_of_one_explanation_is_small():
    """224 px image with its saliency map, 12 nodes per graph, 5 candidate classes."""
    data = ExplanationData.example(4, size=224, num_classes=5, num_nodes=12)
    assert data.image.shape == (224, 224, 3) and all(len(g.nodes) == 12 for g in data.graphs)
    w = ConceptExplorer(data)
    size = w.payload_nbytes()
    print(f"\nConceptExplorer payload (224 px, 12 nodes, 5 classes): {size} bytes "
          f"(image PNG {len(w.image['png'])}, saliency {len(w.saliency['data'])}, masks {len(w.masks['data'])})")
    assert size <= PAYLOAD_LIMIT
    # and it counts what travels: at least the buffers
    assert size > len(w.image["png"]) + len(w.saliency["data"]) + len(w.masks["data"])


def test_plot_draws_patches_numbers_graph_and_sentence(example):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig = example.plot()
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    why = example.graph(example.predicted)
    assert len(boxes) == sum(n.box is not None for n in why.nodes)
    texts = [t.get_text() for t in ax.texts]
    assert {str(k) for k in range(1, len(why.nodes) + 1)} <= set(texts)
    assert any(why.text.text[:40] in t.replace("\n", " ") for t in texts)
    assert ax.get_title().endswith("Why four wheeler?")
    assert len(ax.images) == 2  # the image and the saliency map
    plt.close(fig)
    other = example.classes[2].index
    fig = example.plot(other)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "Not found: " in texts and fig.axes[0].get_title().endswith("Why not ladder truck?")
    plt.close(fig)
