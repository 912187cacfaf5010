"""ReasonerEnsemble: several graph reasoning networks, one initialisation each, whose
scores and contributions are averaged (issue 6: a single network's edge ranking hangs on
its initialisation). Random graphs: these tests check the arithmetic and persistence,
not what the networks learn (tests/test_concept_graph.py does that on the shipped one)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xwidgets.concepts import GraphBatch, ReasonerEnsemble, load_reasoner, train_ensemble, train_reasoner
from xwidgets.concepts.contributions import contributions
from xwidgets.concepts.graph import EDGE_FEATURES, edge_features
from xwidgets.concepts.reasoner import GraphReasoner, ReasonerConfig, reasoner_fidelity

SMALL = dict(epochs=3, hidden=8, edge_hidden=4, progress=False)


@pytest.fixture(scope="module")
def graphs() -> GraphBatch:
    rng = np.random.default_rng(0)
    n, c, k, d = 24, 3, 4, 6
    present = rng.random((n, c, k)) < 0.7
    centroids = np.where(present[..., None], rng.uniform(0, 32, (n, c, k, 2)), np.nan).astype(np.float32)
    edges = np.zeros((n, c, k, k, len(EDGE_FEATURES)), np.float32)
    mask = np.zeros((n, c, k, k), bool)
    for i in range(n):
        for j in range(c):
            edges[i, j], mask[i, j] = edge_features(centroids[i, j], present[i, j], (32, 32))
    nodes = rng.normal(size=(n, c, k, d)).astype(np.float32) * present[..., None]
    t = torch.as_tensor
    return GraphBatch(t(nodes), t(present), t(edges), t(mask), t(centroids),
                      t(np.where(present, 0.5, np.inf).astype(np.float32)), [4, 1, 2])


@pytest.fixture(scope="module")
def logits(graphs) -> torch.Tensor:
    return torch.randn(len(graphs), 3, generator=torch.Generator().manual_seed(1)) * 3


@pytest.fixture(scope="module")
def ensemble(graphs, logits) -> ReasonerEnsemble:
    return train_ensemble(graphs, logits, members=3, seed=7, class_names=["a", "b", "c"], **SMALL)


def test_members_are_seeded_networks(ensemble, graphs, logits):
    assert len(ensemble) == 3 and ensemble.classes == [4, 1, 2] and ensemble.config.class_names == ["a", "b", "c"]
    assert [m["hyperparameters"]["seed"] for m in ensemble.info["members"]] == [7, 8, 9]
    second = train_reasoner(graphs, logits, seed=8, class_names=["a", "b", "c"], **SMALL)
    torch.testing.assert_close(ensemble.members[1].scores(graphs), second.scores(graphs))
    # different initialisations give different networks
    assert not torch.allclose(ensemble.members[0].scores(graphs), ensemble.members[2].scores(graphs))


def test_scores_and_contributions_are_the_members_means(ensemble, graphs, logits):
    parts = [contributions(m, graphs) for m in ensemble.members]
    mean = contributions(ensemble, graphs)
    for name in ("scores", "bias", "node", "edge", "edge_weight"):
        expected = torch.stack([getattr(p, name) for p in parts]).mean(0)
        torch.testing.assert_close(getattr(mean, name), expected)
    torch.testing.assert_close(ensemble.scores(graphs), mean.scores)
    torch.testing.assert_close(ensemble(graphs).detach(), mean.scores)
    # the split of each member's score carries over to the mean score
    assert float(mean.residual().abs().max()) < 1e-4
    agree = float((mean.scores.argmax(1) == logits.argmax(1)).float().mean())
    assert reasoner_fidelity(ensemble, graphs, logits) == pytest.approx(agree)


def test_save_and_load(ensemble, graphs, tmp_path):
    path = ensemble.save(tmp_path / "ens.pt", info={"note": "x"})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format"] == "xwidgets.ReasonerEnsemble/1" and meta["members"] == 3 and meta["info"] == {"note": "x"}
    loaded = load_reasoner(path)
    assert isinstance(loaded, ReasonerEnsemble) and len(loaded) == 3 and not loaded.training
    torch.testing.assert_close(loaded.scores(graphs), ensemble.scores(graphs))
    single = ensemble.members[0].save(tmp_path / "one.pt")
    assert isinstance(load_reasoner(single), GraphReasoner)
    # a GraphReasoner file cannot be read as an ensemble and the other way round
    with pytest.raises(ValueError, match="^path: expected a file written by GraphReasoner.save"):
        GraphReasoner.load(path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"")
    bad.with_suffix(".json").write_text(json.dumps({"format": "something/1"}))
    with pytest.raises(ValueError, match="^path: expected .*its format is 'something/1'"):
        load_reasoner(bad)
    with pytest.raises(ValueError, match="^path: expected"):
        load_reasoner(tmp_path / "missing.pt")


def test_bad_members(ensemble, graphs, logits):
    with pytest.raises(ValueError, match="^members: expected a positive int"):
        train_ensemble(graphs, logits, members=0, **SMALL)
    with pytest.raises(ValueError, match="^seed: expected"):
        train_ensemble(graphs, logits, members=2, seed=-1, **SMALL)
    with pytest.raises(ValueError, match="^members: expected a non-empty list"):
        ReasonerEnsemble([])
    with pytest.raises(ValueError, match="^members: expected a non-empty list"):
        ReasonerEnsemble(ensemble.members[0])
    with pytest.raises(ValueError, match="^members\\[1\\]: expected a GraphReasoner"):
        ReasonerEnsemble([ensemble.members[0], "net"])
    other = GraphReasoner(ReasonerConfig([4, 1, 2], ["a", "b", "c"], k=4, feature_dim=6, hidden=16))
    with pytest.raises(ValueError, match="^members\\[1\\]: expected a GraphReasoner with members\\[0\\]'s config"):
        ReasonerEnsemble([ensemble.members[0], other])
    with pytest.raises(ValueError, match="^graphs: expected a GraphBatch over the classes"):
        contributions(ensemble, GraphBatch(*(getattr(graphs, f) for f in
                                             ("nodes", "present", "edges", "edge_mask", "centroids", "distance")),
                                           classes=[1, 4, 2]))
