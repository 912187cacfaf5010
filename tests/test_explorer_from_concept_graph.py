"""From a ConceptGraph to the linked explorer (xwidgets.widgets.from_concept_graph).

The ConceptGraphs here are built by hand from the synthetic dataset's ground truth (part
masks, boxes, the defining relations), with SCGs from xwidgets.concepts.graph and chosen
contributions, so every field of the explorer's data can be checked against what went in:
ids, names, presence, boxes, masks, centroids, signed contributions, importance, the
present edges and their relation words, the why / why-not sentences and their span ids,
the payload size of one explanation, the offline report, and markup kept as text."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

import xwidgets as xw
from xwidgets.concepts.graph import SCG, edge_features
from xwidgets.concepts.result import ConceptGraph
from xwidgets.concepts.segmentation import mask_centroids
from xwidgets.data.synthetic import CLASSES, SyntheticParts
from xwidgets.widgets import ConceptExplorer, ExplanationData, Sentence, Span
from xwidgets.widgets.from_concept_graph import MAX_BYTES, TOP_EDGES, explanation_data, relation_word

SIZE = 224
K = 12
PAYLOAD_LIMIT = 300_000  # the limit for one explanation (224 px, 12 nodes, all classes)
XSS = "<img src=x onerror=alert(1)>"


@dataclasses.dataclass
class Text:
    """What xwidgets.text.sentences' TextExplanation offers the explorer: text, spans, cls,
    kind and to_sentence()."""

    text: str
    spans: list
    cls: int
    kind: str = "why"

    def to_sentence(self) -> Sentence:
        return Sentence(self.text, list(self.spans))


def make_scg(sample, cls: int, slots: dict[int, int], k: int = K) -> SCG:
    """The SCG of class ``cls``: node j is the sample's part ``slots[j]`` (present, with its
    ground-truth mask and box), every other node is absent."""
    h, w = sample.instance_mask.shape
    present = np.zeros(k, bool)
    masks = np.zeros((k, h, w), bool)
    boxes = np.zeros((k, 4), np.int64)
    parts = {p.id: p for p in sample.parts}
    for j, pid in slots.items():
        present[j] = True
        masks[j] = sample.instance_mask == pid
        boxes[j] = parts[pid].box
    centroids = mask_centroids(masks).astype(np.float32)
    feats, emask = edge_features(centroids, present, (h, w))
    return SCG(class_index=cls, class_name=CLASSES[cls], concept_ids=[f"{CLASSES[cls]}/c{j}" for j in range(k)],
               features=np.zeros((k, 8), np.float32), present=present, distance=np.zeros(k, np.float32),
               radius=np.ones(k, np.float32), boxes=boxes, masks=masks, centroids=centroids, edge_features=feats,
               edge_present=emask, image_size=(h, w), n_candidates=len(slots))


def make_graph(index: int, *, classes=None, k: int = K, seed: int = 0, names: dict | None = None) -> tuple[ConceptGraph, object]:
    """A ConceptGraph of synthetic image ``index`` (SyntheticParts(n, seed=5), 224 px) over
    ``classes`` (default all 7, the true one predicted), each class's parts at random node
    slots, contributions of both signs (absent nodes too), edge contributions on the
    present edges only."""
    sample = SyntheticParts(index + 1, seed=5, size=SIZE).sample(index)
    rng = np.random.default_rng([seed, index])
    classes = list(range(len(CLASSES))) if classes is None else list(classes)
    graphs, node_c, edge_c, concept_names = {}, {}, {}, {}
    for c in classes:
        positions = rng.choice(k, size=len(sample.parts), replace=False)
        slots = {int(j): p.id for j, p in zip(positions, sample.parts)}
        scg = make_scg(sample, c, slots, k)
        graphs[c] = scg
        contrib = rng.uniform(-1.0, 1.0, k).astype(np.float32)
        contrib[~scg.present] *= 0.5
        node_c[c] = contrib
        edge_c[c] = (rng.normal(0.0, 0.6, (k, k)) * scg.edge_present).astype(np.float32)
        parts = {p.id: p for p in sample.parts}
        concept_names[c] = [f"{parts[slots[j]].colour} {parts[slots[j]].type}" if j in slots else f"missing {CLASSES[c]} part {j}"
                            for j in range(k)]
        if names and c in names:
            for j, name in names[c].items():
                concept_names[c][j] = name
    probs = rng.dirichlet(np.ones(len(classes)))
    graph = ConceptGraph(
        image=sample.image, classes=classes, class_names={c: CLASSES[c] for c in classes}, predicted=sample.label,
        probabilities={c: float(p) for c, p in zip(classes, probs)},
        reasoner_scores={c: float(node_c[c].sum()) for c in classes}, graphs=graphs, node_contribution=node_c,
        edge_contribution=edge_c, concept_names=concept_names, true_class=sample.label, method="hand-made",
    )
    return graph, sample


def slot_of(graph: ConceptGraph, cls: int, part_id: int, sample) -> int:
    """The node of class ``cls`` that holds part ``part_id``."""
    target = sample.instance_mask == part_id
    for j in range(len(graph.graphs[cls])):
        if graph.graphs[cls].present[j] and np.array_equal(graph.graphs[cls].masks[j], target):
            return j
    raise AssertionError(f"part {part_id} is not a node of class {cls}")


@pytest.fixture(scope="module")
def built():
    """Image 0: door over window (door = part 1 above window = part 2), all 7 classes."""
    return make_graph(0)


# --------------------------------------------------------------------------- nodes
def test_nodes_carry_ids_names_presence_geometry_and_contributions(built):
    graph, sample = built
    data = explanation_data(graph, texts=False, max_bytes=None)
    assert isinstance(data, ExplanationData)
    assert data.class_indices == graph.classes and data.predicted == graph.predicted == sample.label
    assert data.true_class == sample.label and data.correct is True
    assert [c.label for c in data.classes] == [CLASSES[c] for c in graph.classes]
    assert [c.probability for c in data.classes] == pytest.approx([graph.probabilities[c] for c in graph.classes])
    np.testing.assert_array_equal(data.image, graph.image)
    for c, g in zip(graph.classes, data.graphs):
        scg = graph.graphs[c]
        assert [n.id for n in g.nodes] == [f"n{j}" for j in range(K)]
        assert [n.name for n in g.nodes] == graph.concept_names[c]
        assert [n.present for n in g.nodes] == scg.present.tolist()
        # importance equals the graph's 0-1 normalised importance; the sign is kept
        importance = graph.node_importance(c)
        assert [n.importance for n in g.nodes] == pytest.approx(importance.tolist(), abs=1e-6)
        assert all(0.0 <= n.importance <= 1.0 for n in g.nodes)
        contrib = graph.node_contribution[c]
        assert [n.contribution for n in g.nodes] == pytest.approx(contrib.tolist(), abs=1e-6)
        assert all(np.sign(n.contribution) == np.sign(v) for n, v in zip(g.nodes, contrib))
        assert any(n.contribution < 0 for n in g.nodes) and any(n.contribution > 0 for n in g.nodes)
        for j, n in enumerate(g.nodes):
            if n.present:
                assert n.box == tuple(float(v) for v in scg.boxes[j])
                np.testing.assert_array_equal(n.mask, scg.masks[j])
                assert n.centroid == pytest.approx(tuple(scg.centroids[j]), abs=1e-4)
            else:  # absent nodes stay absent: no patch at all, but their contribution counts
                assert n.box is None and n.centroid is None and n.mask is None
                assert n.contribution != 0
    # node j of class c is the ground-truth part put there
    door = slot_of(graph, graph.predicted, 1, sample)
    node = data.graph(graph.predicted).node(f"n{door}")
    np.testing.assert_array_equal(node.mask, sample.instance_mask == 1)
    assert node.name == f"{sample.parts[0].colour} door"


def test_the_default_title_names_prediction_truth_and_method(built):
    graph, _ = built
    data = explanation_data(graph, texts=False, max_bytes=None)
    assert data.title == "Predicted door_over_window, true door_over_window (hand-made)"
    assert explanation_data(graph, texts=False, title="mine").title == "mine"


# --------------------------------------------------------------------------- edges
def test_edges_are_present_ones_only_and_the_top_few_by_default(built):
    graph, _ = built
    every = explanation_data(graph, texts=False, edges="all", max_bytes=None)
    top = explanation_data(graph, texts=False, max_bytes=None)
    three = explanation_data(graph, texts=False, edges=3, max_bytes=None)
    none = explanation_data(graph, texts=False, edges=0, max_bytes=None)
    for pos, c in enumerate(graph.classes):
        scg, ec = graph.graphs[c], graph.edge_contribution[c]
        present = {f"e{i}-{j}" for i, j in zip(*np.nonzero(scg.edge_present))}
        n_present = int(scg.present.sum())
        assert {e.id for e in every.graphs[pos].edges} == present and len(present) == n_present * (n_present - 1)
        for e in every.graphs[pos].edges:
            i, j = (int(v) for v in e.id[1:].split("-"))
            assert (e.source, e.target) == (f"n{i}", f"n{j}")
            assert scg.present[i] and scg.present[j]
            assert e.contribution == pytest.approx(float(ec[i, j]), abs=1e-6)
        # "top": the TOP_EDGES largest |contribution|
        ranked = sorted(present, key=lambda ref: -abs(float(ec[tuple(int(v) for v in ref[1:].split("-"))])))
        assert {e.id for e in top.graphs[pos].edges} == set(ranked[:TOP_EDGES])
        assert {e.id for e in three.graphs[pos].edges} == set(ranked[:3])
        assert none.graphs[pos].edges == []


def test_relation_words_follow_the_centroids_and_the_ground_truth(built):
    graph, sample = built
    assert relation_word((10, 5), (10, 50)) == "above" and relation_word((10, 50), (10, 5)) == "below"
    assert relation_word((5, 10), (50, 12)) == "left of" and relation_word((50, 12), (5, 10)) == "right of"
    data = explanation_data(graph, texts=False, edges="all", max_bytes=None)
    c = graph.predicted
    (a, word, b), = sample.evidence.relations  # door above window: the class's defining relation
    assert word == "above"
    i, j = slot_of(graph, c, a, sample), slot_of(graph, c, b, sample)
    assert data.graph(c).edge(f"e{i}-{j}").relation == "above"
    assert data.graph(c).edge(f"e{j}-{i}").relation == "below"
    for g in data.graphs:
        for e in g.edges:
            assert e.relation == relation_word(g.node(e.source).centroid, g.node(e.target).centroid)


# --------------------------------------------------------------------------- sentences
def _sentences(graph, sample):
    """A why for the prediction (a node and the defining edge), a why-not for class 0."""
    c = graph.predicted
    door, window = slot_of(graph, c, 1, sample), slot_of(graph, c, 2, sample)
    why = "door_over_window: the door is above the window."
    start = why.index("the door is above the window")
    spans = [Span(start + 4, start + 8, "node", f"n{door}"), Span(start + 9, start + 17, "edge", f"e{door}-{window}"),
             Span(start + 22, start + 28, "node", f"n{window}")]
    absent = int(np.flatnonzero(~graph.graphs[0].present)[0])
    why_not = "Not ladder_truck: no ladder was found."
    at = why_not.index("ladder was")
    return {c: Text(why, spans, c, "why"), 0: Text(why_not, [Span(at, at + 6, "node", f"n{absent}")], 0, "why not")}


def test_why_and_why_not_sentences_land_on_their_class_graphs(built):
    graph, sample = built
    texts = _sentences(graph, sample)
    c = graph.predicted
    data = explanation_data(graph, texts)
    why, why_not = data.graph(c).text, data.graph(0).text
    assert why.text == texts[c].text and why_not.text == texts[0].text
    assert [why.phrase(s) for s in why.spans] == ["door", "is above", "window"]
    assert [why_not.phrase(s) for s in why_not.spans] == ["ladder"]
    assert data.question(c) == "Why door_over_window?" and data.question(0) == "Why not ladder_truck?"
    assert all(g.text is None for k, g in zip(graph.classes, data.graphs) if k not in (c, 0))
    # the edge the sentence names is kept even with edges=0, and the absent node it names is there
    edge_ref = why.spans[1].id
    lean = explanation_data(graph, texts, edges=0)
    assert [e.id for e in lean.graph(c).edges] == [edge_ref] and lean.graph(0).edges == []
    assert lean.graph(0).node(why_not.spans[0].id).present is False
    # in the widget: the sentence's segments point at the ids, per class
    w = ConceptExplorer.from_concept_graph(graph, texts)
    pos = data.position(c)
    refs = [(s["kind"], s["ref"]) for s in w.graphs[pos]["segments"] if s["kind"]]
    assert refs == [(s.kind, s.id) for s in why.spans]
    assert "".join(s["text"] for s in w.graphs[data.position(0)]["segments"]) == why_not.text


def test_texts_as_sentences_lists_and_callables(built):
    graph, sample = built
    texts = _sentences(graph, sample)
    c = graph.predicted
    as_sentences = explanation_data(graph, {k: t.to_sentence() for k, t in texts.items()})
    as_list = explanation_data(graph, list(texts.values()))
    as_callable = explanation_data(graph, lambda g, k: texts.get(k))
    as_str = explanation_data(graph, {c: "Plain words."})
    for d in (as_sentences, as_list, as_callable):
        assert d.graph(c).text == Sentence(texts[c].text, texts[c].spans)
        assert d.graph(0).text.text == texts[0].text
    assert as_str.graph(c).text == Sentence("Plain words.", [])
    assert all(g.text is None for g in explanation_data(graph, texts=False).graphs)


def test_the_default_texts_come_from_explain_all_when_it_exists(built):
    graph, _ = built
    data = explanation_data(graph)
    if importlib.util.find_spec("xwidgets.text.sentences") is None:
        assert all(g.text is None for g in data.graphs)
    else:
        from xwidgets.text.sentences import explain_all

        made = explain_all(graph)
        made = made if isinstance(made, dict) else {t.cls: t for t in made}
        for c, g in zip(graph.classes, data.graphs):
            assert (g.text is None) == (made.get(c) is None)
            if g.text is not None:
                assert g.text.text == made[c].text


@pytest.mark.parametrize("span, message", [
    (Span(0, 3, "node", "n99"), "texts[6].spans[0].id: expected the id of a node of the class graph (n0 ... n11); got 'n99'"),
    (Span(0, 3, "node", "e1-2"), "texts[6].spans[0].id: expected the id of a node"),
    (Span(0, 3, "edge", "x7"), "texts[6].spans[0].id: expected the id of a present edge"),
])
def test_a_bad_span_id_is_named(built, span, message):
    graph, _ = built
    with pytest.raises(ValueError) as info:
        explanation_data(graph, {6: Sentence("abc def", [span])})
    assert message in str(info.value) and repr(span.id) in str(info.value)


def test_a_span_on_an_edge_of_an_absent_node_is_refused(built):
    graph, _ = built
    scg = graph.graphs[6]
    i = int(np.flatnonzero(scg.present)[0])
    j = int(np.flatnonzero(~scg.present)[0])
    with pytest.raises(ValueError, match=rf"texts\[6\]\.spans\[0\]\.id: expected the id of a present edge.*'e{i}-{j}'"):
        explanation_data(graph, {6: Sentence("abc def", [Span(0, 3, "edge", f"e{i}-{j}")])})


@pytest.mark.parametrize("kwargs, message", [
    ({"edges": "some"}, "edges: expected 'top', 'all' or an int >= 0"),
    ({"edges": -1}, "edges: expected"),
    ({"edges": True}, "edges: expected"),
    ({"max_bytes": 0}, "max_bytes: expected None or a positive int"),
    ({"title": 3}, "title: expected None or a str"),
    ({"texts": {9: "x"}}, "texts: expected keys among the candidate classes"),
    ({"texts": {6: Text("x", [], cls=0)}}, "texts[6]: expected the text of class 6; got the text of class 0"),
    ({"texts": "words"}, "texts: expected None, False"),
    ({"texts": {6: 3.5}}, "texts[6]: expected a TextExplanation, a Sentence"),
    ({"saliency": np.zeros((2, 3, 4))}, "saliency: expected None, a 2-D map"),
])
def test_bad_arguments_name_themselves(built, kwargs, message):
    graph, _ = built
    with pytest.raises(ValueError) as info:
        explanation_data(graph, **kwargs)
    assert message in str(info.value)


def test_a_graph_that_is_not_a_concept_graph_is_refused():
    with pytest.raises(ValueError, match="graph: expected a ConceptGraph"):
        explanation_data(ExplanationData.example(4))
    with pytest.raises(ValueError, match="explanation: expected a ConceptGraph, an ExplanationData"):
        xw.explore([1, 2])


# --------------------------------------------------------------------------- the widget
def test_explore_and_from_concept_graph_give_the_explorer(built):
    graph, sample = built
    sal = np.linspace(0, 1, 56 * 56, dtype=np.float32).reshape(56, 56)
    w = xw.explore(graph, texts=_sentences(graph, sample), saliency=sal, selected="n0")
    assert isinstance(w, ConceptExplorer)
    assert w.selected_class == graph.predicted and w.selected == "n0" and w.predicted == graph.predicted
    assert w.saliency["shape"] == [56, 56]
    assert [c["index"] for c in w.classes] == graph.classes
    # Python reads and sets the selection; switching to a why-not class keeps only its ids
    door = slot_of(graph, graph.predicted, 1, sample)
    w.selected = f"n{door}"
    assert w.selected_item.name == graph.concept_names[graph.predicted][door]
    w.select("n0", class_index=0)
    assert (w.selected_class, w.selected) == (0, "n0")
    again = xw.explore(w.data)
    assert again.graphs == w.graphs
    with pytest.raises(ValueError, match="texts: expected None unless the explanation is a ConceptGraph"):
        xw.explore(w.data, texts={0: "x"})
    small = ConceptExplorer.from_concept_graph(graph, texts=False, edges=2, layout="spring", title="t")
    assert small.title == "t" and small.graph_layout == "spring"
    assert all(len(g["edges"]) <= 2 for g in small.graphs)


def test_payload_of_one_explanation_fits_300_kb(built):
    """224 px image with a saliency map, 12 nodes x 7 classes, sentences, default edges."""
    graph, sample = built
    sal = np.random.default_rng(0).random((SIZE, SIZE)).astype(np.float32)
    w = ConceptExplorer.from_concept_graph(graph, _sentences(graph, sample), saliency=sal)
    assert len(w.graphs) == 7 and all(len(g["nodes"]) == K for g in w.graphs)
    # every present node kept its mask: the ground-truth parts are small
    assert all((n["mask"] >= 0) == n["present"] for g in w.graphs for n in g["nodes"])
    size = w.payload_nbytes()
    print(f"\nexplorer of a ConceptGraph (224 px, 12 nodes x 7 classes): {size} bytes "
          f"(image PNG {len(w.image['png'])}, saliency {len(w.saliency['data'])}, masks {len(w.masks['data'])})")
    assert size <= PAYLOAD_LIMIT
    every = ConceptExplorer.from_concept_graph(graph, _sentences(graph, sample), saliency=sal, edges="all")
    assert every.payload_nbytes() <= PAYLOAD_LIMIT


def test_large_masks_are_dropped_least_important_first_to_fit():
    """Every node a large, distinct patch: all masks would not fit in 300 KB; the least
    important nodes lose their masks (their boxes stay) and the payload fits."""
    graph, _ = make_graph(0)
    rng = np.random.default_rng(3)
    h = w = SIZE
    for c in graph.classes:
        scg = graph.graphs[c]
        scg.present[:] = True
        for j in range(K):
            x0, y0 = rng.integers(0, 30, 2)
            x1, y1 = SIZE - rng.integers(0, 30, 2)
            scg.masks[j] = False
            scg.masks[j, y0:y1, x0:x1] = True
            scg.boxes[j] = (x0, y0, x1, y1)
        scg.centroids = mask_centroids(scg.masks).astype(np.float32)
        scg.edge_features, scg.edge_present = edge_features(scg.centroids, scg.present, (h, w))
    unlimited = ConceptExplorer(explanation_data(graph, texts=False, max_bytes=None))
    assert unlimited.payload_nbytes() > PAYLOAD_LIMIT
    data = explanation_data(graph, texts=False)
    fitted = ConceptExplorer(data)
    size = fitted.payload_nbytes()
    print(f"\nlarge masks: {unlimited.payload_nbytes()} bytes with every mask, {size} within the budget")
    assert size <= MAX_BYTES == PAYLOAD_LIMIT
    nodes = [n for g in data.graphs for n in g.nodes]
    kept = [n for n in nodes if n.mask is not None]
    dropped = [n for n in nodes if n.mask is None]
    assert kept and dropped
    assert min(n.importance for n in kept) >= max(n.importance for n in dropped)
    assert all(n.box is not None and n.centroid is not None for n in dropped)


def test_save_html_is_offline_and_markup_stays_text(tmp_path):
    graph, sample = make_graph(4, names={4: {0: XSS}})
    sentence = Sentence(f"Because of {XSS}.", [Span(11, 11 + len(XSS), "node", "n0")])
    data = explanation_data(graph, {4: sentence}, title=f"title {XSS}")
    w = ConceptExplorer(data, selected_class=4, selected="n0")
    assert w.graphs[data.position(4)]["nodes"][0]["name"] == XSS  # sent as data, shown with textContent
    path = data.save_html(tmp_path / "explorer.html")
    text = path.read_text(encoding="utf-8")
    assert '"module":"concept_explorer"' in text
    assert "<script src" not in text and "http://" not in text and "https://" not in text
    assert "<img" not in text  # the markup only ever appears escaped
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in text
    assert path.stat().st_size < 2_000_000
