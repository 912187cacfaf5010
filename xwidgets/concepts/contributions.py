"""Signed node and edge contributions to the graph reasoning network's class scores
(seed 000, paragraph 0022; VRX, Ge et al., CVPR 2021, section 3.4).

For each class score s_o, the contribution of node j of class graph g is the gradient of
s_o with respect to that node's read-out embedding times the embedding, summed over the
embedding's dimensions (gradient x embedding at the input of the embedding network E);
an edge i -> j's contribution is the same product over the edge's read-out embedding,
which already carries the class-specific edge weight e^g_ij (so it is also the
contribution of that weight). E is linear, so for every image and class

    s_o = bias_o + sum_g (sum_j node[o, g, j] + sum_ij edge[o, g, i, j])

exactly: the contributions split the score. For the predicted class they say why; for
another class o they say why not (negative contributions pull s_o down). The 0-1
importance the patent describes is |contribution| over the largest of the class
(:meth:`~xwidgets.concepts.result.ConceptGraph.node_importance`).

For a :class:`~xwidgets.concepts.ensemble.ReasonerEnsemble` every quantity is the
members' mean, and the split above still holds exactly for the mean score.
"""

from __future__ import annotations

import dataclasses

import torch

from .._validation import bad_argument
from .graph import GraphBatch
from .ensemble import ReasonerEnsemble
from .reasoner import GraphReasoner

__all__ = ["Contributions", "contributions"]


@dataclasses.dataclass
class Contributions:
    """Contributions for N images, C score classes (o) and C class graphs (g), k nodes.

    scores: (N, C) the network's scores; bias: (C,) E's bias; node: (N, C_o, C_g, k);
    edge: (N, C_o, C_g, k, k); edge_weight: (N, C_g, k, k) the class-specific weights.
    For an ensemble, every field is the members' mean.
    ``own_node()``/``own_edge()`` give each class's own graph (o == g), what a
    :class:`~xwidgets.concepts.result.ConceptGraph` stores.
    """

    scores: torch.Tensor
    bias: torch.Tensor
    node: torch.Tensor
    edge: torch.Tensor
    edge_weight: torch.Tensor

    def own_node(self) -> torch.Tensor:
        """(N, C, k): each class's own graph's node contributions to its score."""
        return torch.diagonal(self.node, dim1=1, dim2=2).permute(0, 2, 1)

    def own_edge(self) -> torch.Tensor:
        """(N, C, k, k): each class's own graph's edge contributions to its score."""
        return torch.diagonal(self.edge, dim1=1, dim2=2).permute(0, 3, 1, 2)

    def graph_totals(self) -> torch.Tensor:
        """(N, C_o, C_g): the total contribution of each class graph to each score."""
        return self.node.sum(-1) + self.edge.sum((-2, -1))

    def residual(self) -> torch.Tensor:
        """(N, C): score - bias - every contribution (0 up to rounding for a linear E)."""
        return self.scores - self.bias - self.graph_totals().sum(-1)


def contributions(net: GraphReasoner | ReasonerEnsemble, graphs: GraphBatch) -> Contributions:
    """Gradient x embedding contributions of every node and edge of every class graph
    to every class score of ``net`` (see the module docstring)."""
    if isinstance(net, ReasonerEnsemble):
        net.check_batch(graphs)
        parts = [contributions(member, graphs) for member in net.members]
        return Contributions(*(torch.stack([getattr(p, f.name) for p in parts]).mean(0)
                               for f in dataclasses.fields(Contributions)))
    if not isinstance(net, GraphReasoner):
        raise bad_argument("reasoner", "a GraphReasoner or a ReasonerEnsemble", net)
    net.check_batch(graphs)
    was = net.training
    net.eval()
    try:
        with torch.enable_grad():
            out = net(graphs)
            c = out.scores.shape[1]
            nodes, edges = [], []
            for o in range(c):
                gn, ge = torch.autograd.grad(out.scores[:, o].sum(), [out.node_embed, out.edge_embed],
                                             retain_graph=o < c - 1)
                nodes.append((gn * out.node_embed).sum(-1))
                edges.append((ge * out.edge_embed).sum(-1))
    finally:
        net.train(was)
    return Contributions(
        scores=out.scores.detach(), bias=net.fuse.bias.detach().clone(), node=torch.stack(nodes, 1).detach(),
        edge=torch.stack(edges, 1).detach(), edge_weight=out.edge_weight.detach(),
    )
