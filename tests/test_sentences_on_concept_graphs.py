"""Textual explanations of REAL concept graphs (issue 7's sentence checks; seed 000,
paragraph 0027): the graphs come from the shipped toy-CNN concept explainer on 60
held-out synthetic images (seed 5: the explainer was fitted on seeds 2, 6 and 7, the
model trained on seeds >= 10,000), the names from the shipped joint space.

A real node is a patch matched to a concept, which may sit on no part or on another
part than its name says. So a spatial phrase must agree with the position of the patch
its node was matched to (its mask's centroid, recomputed from the mask); how often that
patch lies on a part, on a part of the named type, and in the region of that part's own
centroid is measured separately (``evaluate_sentences``). Everything is read from the
spans, and asserted as rates, so a refit of the explainer keeps these tests meaningful.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xwidgets as xw
from xwidgets.concepts.graph_evaluation import node_part
from xwidgets.concepts.result import edge_id, node_id, parse_id
from xwidgets.data.synthetic import SyntheticParts
from xwidgets.models.zoo.toy import WEIGHTS_DIR
from xwidgets.text import JointSpace, explain_all, explain_in_words
from xwidgets.text.evaluation import evaluate_sentences, patch_part
from xwidgets.text.sentences import relation_of

HELD_OUT_SEED = 5
N_IMAGES = 60


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # many small passes: one thread is faster on a shared 2-core machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def held_out():
    data = SyntheticParts(N_IMAGES, seed=HELD_OUT_SEED)
    samples = [data.sample(i) for i in range(N_IMAGES)]
    explainer = xw.ConceptExplainer.pretrained("toy_cnn")
    graphs = explainer.explain_many(np.stack([s.image for s in samples]), true_classes=[s.label for s in samples])
    return samples, graphs


@pytest.fixture(scope="module")
def space():
    return JointSpace.load(WEIGHTS_DIR / "joint_toy_cnn.pt")


@pytest.fixture(scope="module")
def report(held_out, space):
    samples, graphs = held_out
    return evaluate_sentences(graphs, samples, joint=space, k=3, styles=("patent", "varied"))


def test_sentences_of_real_graphs_pass_the_issue_checks(report):
    """Every candidate class of every image, both styles: the spans point at existing
    nodes and edges, list the top-3 of each group in contribution order, and every
    region and relation phrase agrees with the matched patches' positions, in at least
    95% of the images (measured: 60 / 60 on seeds 5 and 4)."""
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in report.items() if k != "problems"}
    print("\nsentences on real concept graphs:", shown)
    assert report["images"] == N_IMAGES and report["explanations"] >= 2 * N_IMAGES * 2
    assert report["ids"] == 1.0
    assert report["order"] >= 0.95 and report["positions"] >= 0.95 and report["ok"] >= 0.95, report["problems"]
    assert report["regions"] > 1000 and report["relations"] > 300
    assert report["regions_agree"] >= 0.99 * report["regions"]
    assert report["relations_agree"] >= 0.99 * report["relations"]


def test_named_concepts_against_the_parts_their_patches_show(report):
    """Measured, not the issue's goals (those are on ground-truth part masks, see
    test_text_joint_space.py): about a third of the mentioned patches show a part (the
    rest lie on the body panel or the background); of those, 0.76 / 0.72 are named with
    the part's type (seeds 5 / 4; chance 1/9), the region phrase of 0.74 / 0.71 also
    names the region of the part's own centroid, and the relation phrase between two
    nodes on different parts states the parts' relation in 0.83 of 96 edges (seed 5).
    The guards sit well above chance and below the measurements."""
    assert 0.15 <= report["on_part"] <= 1.0 and report["part_regions"] >= 300
    assert report["named_on_part_type"] >= 0.5
    assert report["part_regions_agree"] >= 0.5
    assert report["part_relations"] >= 20 and report["part_relations_agree"] >= 0.5
    assert report["named"] == report["regions"]  # every mentioned present node was named by the joint space


def test_spans_against_the_networkx_graph_and_the_contribution_order(held_out, space):
    """The same checks without the helper: every span id is a node or edge of the class
    graph's networkx export, and the "why" lists the top-k supporters first, in order."""
    samples, graphs = held_out
    for graph in graphs[:20]:
        texts = explain_all(graph, joint=space)
        for c, e in texts.items():
            g = graph.to_networkx(c)
            edges = {data["id"] for _, _, data in g.edges(data=True)}
            for s in e.spans:
                kind, index = parse_id(s.id)
                assert kind == s.kind
                assert s.id in (set(g.nodes) if kind == "node" else edges), (s.id, e.text)
                assert (node_id(*index) if kind == "node" else edge_id(*index)) == s.id
        c = graph.predicted
        contrib = graph.node_contribution[c]
        expected = [j for j in graph.ranked_nodes(c) if contrib[j] > 0][:3]
        assert [n.index for n in texts[c].nodes[:len(expected)]] == expected
        assert all(n.role == "for" for n in texts[c].nodes[:len(expected)])


def test_patch_part_follows_the_concept_purity_rule(held_out):
    """patch_part returns the part instance whose type node_part gives, on every present
    node of the first images; and the instance overlaps the patch."""
    samples, graphs = held_out
    seen = on = 0
    for sample, graph in zip(samples[:15], graphs[:15]):
        for c in graph.classes:
            scg = graph.graphs[c]
            for j in np.flatnonzero(scg.present):
                part = patch_part(sample, scg.masks[j])
                assert (None if part is None else part.type) == node_part(sample, scg.masks[j])
                seen += 1
                if part is not None:
                    on += 1
                    assert (sample.instance_mask[scg.masks[j]] == part.id).any()
    assert seen > 200 and 0 < on < seen
    with pytest.raises(ValueError, match="mask: expected a bool mask of the sample's shape"):
        patch_part(samples[0], np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="sample: expected a synthetic Sample"):
        patch_part("sample", np.ones((64, 64), bool))
    with pytest.raises(ValueError, match="samples: expected one synthetic sample per graph"):
        evaluate_sentences(graphs[:2], samples[:1])
    with pytest.raises(ValueError, match="styles: expected"):
        evaluate_sentences(graphs[:1], samples[:1], styles="patent")


def test_a_diagonal_relation_reads_the_same_from_float32_and_float64_centroids(held_out):
    """The bug the real graphs found: two patches at exactly 45 degrees (offset -3.04348
    in x and y) were "right of" from the graph's float32 centroids and "below" from the
    float64 ones of the same masks. Ties now read as vertical in both."""
    a64, b64 = (37.04347826, 15.04347826), (34.0, 12.0)
    a32, b32 = tuple(np.float32(a64)), tuple(np.float32(b64))
    assert relation_of(a64, b64) == relation_of(a32, b32) == "below"
    assert relation_of((0, 0), (3, 3)) == "above" and relation_of((0, 0), (3.01, 3)) == "left of"
    assert relation_of((0, 0), (-3, 3.01)) == "above" and relation_of((0, 0), (-3.01, 3)) == "right of"
    # explain_in_words words each mentioned edge of a real graph as relation_of says
    checked = 0
    for graph in held_out[1][:10]:
        e = explain_in_words(graph, relations=2)
        scg = graph.graphs[e.cls]
        for m in e.edges:
            i, j = int(m.source[1:]), int(m.target[1:])
            assert m.relation == relation_of(scg.centroids[i], scg.centroids[j])
            assert f" {i + 1} {m.relation} " in e.phrase(m.id) and e.phrase(m.id).endswith(f" {j + 1}")
            checked += 1
    assert checked >= 5


def test_name_graph_names_the_present_concepts_in_place_and_keeps_the_absent_ones(held_out, space):
    import copy

    from xwidgets.text.joint import without_article

    _, graphs = held_out
    graph = copy.deepcopy(graphs[0])
    before = {c: list(graph.concept_names[c]) for c in graph.classes}
    assert space.name_graph(graph) is graph
    renamed = 0
    for c in graph.classes:
        scg = graph.graphs[c]
        for j, name in enumerate(graph.concept_names[c]):
            if scg.present[j] and np.asarray(scg.masks[j], bool).any():
                expected = without_article(space.name(graph.image, np.asarray(scg.masks[j], bool)[None])[0].phrase)
                assert name == expected and not name.startswith(("a ", "an ", "the "))
                renamed += 1
            else:
                assert name == before[c][j]
    assert renamed > 0
    assert without_article("An  orange door") == "orange door" and without_article("theatre") == "theatre"
    with pytest.raises(ValueError, match="graph: expected a ConceptGraph"):
        space.name_graph("not a graph")
