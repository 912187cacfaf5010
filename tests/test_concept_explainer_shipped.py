"""The shipped toy-CNN concept explainer end to end (issue 6 items 3-5, 7 and 8 wiring):
fidelity of the graph reasoning network on held-out images, and one image's ConceptGraph
through the networkx export, the sentences and the explorer's payload.

The issue's node and edge checks (top node a defining part in 90% of images: 0.89-0.97;
the relation edge first for the relation classes in 80%: 0.75-0.95, 0.90 pooled over four
held-out seeds) are measured by scripts/fit_concept_explainer.py and guarded in
tests/test_concept_graph.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xwidgets as xw
from xwidgets.concepts.result import edge_id, node_id, parse_id
from xwidgets.data.synthetic import SyntheticParts


@pytest.fixture(scope="module")
def explainer():
    torch.set_num_threads(1)
    return xw.ConceptExplainer.pretrained("toy_cnn")


@pytest.fixture(scope="module")
def held_out():
    images, labels = SyntheticParts(28, seed=5).arrays()  # seed 5: neither discovery (2) nor distillation (6, 7)
    return list(images), labels


def test_reasoner_reproduces_the_classifier_on_held_out_images(explainer, held_out):
    images, _ = held_out
    assert explainer.fidelity(images) >= 0.95


def test_one_image_graph_sentences_and_explorer(explainer, held_out):
    images, labels = held_out
    graph = explainer.explain(images[0])
    model = xw.models.toy_cnn()
    assert graph.predicted == int(model.predict([images[0]]).argmax(1)[0])
    c = graph.predicted
    k = len(graph.graphs[c])
    assert graph.node_contribution[c].shape == (k,) and graph.edge_contribution[c].shape == (k, k)
    # edges between absent nodes carry nothing
    assert np.all(graph.edge_contribution[c][~graph.graphs[c].edge_present] == 0)
    assert 0 <= graph.node_importance(c).min() and graph.node_importance(c).max() <= 1

    g = graph.to_networkx(c)
    assert set(g.nodes) == {node_id(j) for j in range(k)}
    assert all(parse_id(edge_id(i, j))[0] == "edge" for i, j in graph.ranked_edges(c))

    from xwidgets.text.sentences import explain_all
    from xwidgets.widgets.from_concept_graph import explanation_data

    texts = explain_all(graph)
    assert set(texts) == set(graph.classes)
    for cls, text in texts.items():
        ids = set(g.nodes) if cls == c else {node_id(j) for j in range(len(graph.graphs[cls]))}
        for span in text.spans:
            if span.kind == "node":
                assert span.id in ids
    data = explanation_data(graph, texts)
    assert [cc.index for cc in data.classes] == graph.classes and data.predicted == c
