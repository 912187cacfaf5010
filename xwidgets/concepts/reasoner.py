"""The graph reasoning network (seed 000, paragraph 0021; VRX, Ge et al., "A Peek Into the
Reasoning of Neural Networks: Interpreting with Structural Visual Concepts", CVPR 2021,
section 3.3): GRN(h) = E(G(h)) = F(I). A small GNN ``G`` runs over every candidate class's
structural concept graph; an embedding network ``E`` fuses the class graphs' embeddings
into the C class scores; it is trained by distillation to reproduce the classifier ``F``.

The design, in dense batched torch over :class:`~xwidgets.concepts.graph.GraphBatch`
tensors (N images, C classes, k nodes, D node features, E edge features):

* Nodes: the node features are standardised (statistics of the training graphs), encoded
  by a shared linear-ReLU layer, and zeroed where the concept is absent.
* Class-specific edge weights: ``e^c_ij = sigmoid(MLP_c(a_ij))`` from the edge i -> j's
  spatial features ``a_ij`` with one small MLP per class (VRX learns one scalar per
  directed edge and class; computing it from the geometry lets a class weigh "window
  above door" differently from "door above window"). Zero on masked edges.
* Message passing (``layers`` rounds, shared across classes): ``h_i <- ReLU(W_s h_i +
  sum_j e^c_ij W_m [h_j || enc(a_ij)] / (k - 1))``, on present nodes only.
* Read-out: a node's embedding ``r_i`` (``node_readout="input"``: from its own encoded
  feature, so it says what the concept is and relations must go through edges;
  ``"final"``: from its state after message passing, as in VRX) and an edge's embedding
  ``z_ij = e^c_ij MLP([h_i || h_j || a_ij])`` (``edge_readout="pair"``: the two concepts
  after message passing in their arrangement; ``"geometry"``: ``MLP(a_ij)`` only, as
  VRX's edge stream). Both are signed and zero where absent.
* ``E``: one linear layer over every class graph's node embeddings (one weight per node
  slot, as VRX) and edge embeddings (summed over the graph's edges first when
  ``edge_pool``: one weight for all edges of a class graph, so "a window above a door"
  counts wherever the matching put the two concepts; VRX flattens them) -> C scores.
  Because it is linear, gradient x embedding at its input splits each score exactly
  into node and edge contributions plus a bias (:mod:`~xwidgets.concepts.contributions`).

Distillation (:func:`train_reasoner`): KL divergence between the classifier's and the
network's softmax at temperature ``T`` (times T^2, Hinton et al. 2015) plus the MSE
between the standardised logits; sparsity penalties on the edge contributions (an edge
must earn its share: the relation classes need edges, presence classes do not) and on
the cross-class blocks of ``E`` (a class is explained by its own graph first). Adam with
cosine decay, seeded. Evaluation mode at explanation time (no batch statistics: the
reference's train-mode pitfall does not arise, there is no BatchNorm).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._validation import bad_argument
from .graph import EDGE_FEATURES, GraphBatch

__all__ = ["ReasonerConfig", "GraphReasoner", "ReasonerOutput", "train_reasoner", "reasoner_fidelity"]

_FORMAT = "xwidgets.GraphReasoner/1"
NODE_READOUTS = ("input", "final")
EDGE_READOUTS = ("pair", "geometry")


@dataclasses.dataclass
class ReasonerConfig:
    """The shape and hyper-parameters of a :class:`GraphReasoner` (JSON-ready).

    classes: the C class indices, in the order of the GraphBatch and of the scores;
    class_names: their names; k: nodes per class graph; feature_dim: D; edge_dim: E;
    hidden: node state width; edge_hidden: width of the edge-weight MLPs and of the
    edge encoding; node_out, edge_out: read-out widths per node and per edge; layers:
    message-passing rounds; node_readout: "input" or "final"; edge_readout: "pair" or
    "geometry"; node_pool, edge_pool: sum a class graph's node (edge) embeddings before
    E (see the module docstring).
    """

    classes: list[int]
    class_names: list[str]
    k: int
    feature_dim: int
    edge_dim: int = len(EDGE_FEATURES)
    hidden: int = 32
    edge_hidden: int = 16
    node_out: int = 8
    edge_out: int = 4
    layers: int = 2
    node_readout: str = "input"
    edge_readout: str = "pair"
    node_pool: bool = False
    edge_pool: bool = True

    def __post_init__(self) -> None:
        self.classes = [int(c) for c in self.classes]
        self.class_names = [str(n) for n in self.class_names]
        if not self.classes or len(self.class_names) != len(self.classes) or len(set(self.classes)) != len(self.classes):
            raise bad_argument("classes", "distinct class indices, one name each", self.classes)
        for name in ("k", "feature_dim", "edge_dim", "hidden", "edge_hidden", "node_out", "edge_out"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise bad_argument(name, "a positive int", value)
            setattr(self, name, int(value))
        if isinstance(self.layers, bool) or not isinstance(self.layers, (int, np.integer)) or self.layers < 0:
            raise bad_argument("layers", "an int >= 0", self.layers)
        self.layers = int(self.layers)
        if self.node_readout not in NODE_READOUTS:
            raise bad_argument("node_readout", f"one of {', '.join(map(repr, NODE_READOUTS))}", self.node_readout)
        if self.edge_readout not in EDGE_READOUTS:
            raise bad_argument("edge_readout", f"one of {', '.join(map(repr, EDGE_READOUTS))}", self.edge_readout)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ReasonerOutput:
    """One forward pass: ``scores`` (N, C); the read-out embeddings E sees, ``node_embed``
    (N, C, k, node_out) and ``edge_embed`` (N, C, k, k, edge_out); the class-specific
    ``edge_weight`` (N, C, k, k) in [0, 1]."""

    scores: torch.Tensor
    node_embed: torch.Tensor
    edge_embed: torch.Tensor
    edge_weight: torch.Tensor


class GraphReasoner(nn.Module):
    """GRN(h) = E(G(h)): a GNN over each class's structural concept graph and a linear
    embedding network over all class graphs (see the module docstring)."""

    def __init__(self, config: ReasonerConfig):
        super().__init__()
        if not isinstance(config, ReasonerConfig):
            raise bad_argument("config", "a ReasonerConfig", config)
        self.config = cfg = config
        C, k, H, Eh, Ed = len(cfg.classes), cfg.k, cfg.hidden, cfg.edge_hidden, cfg.edge_dim
        self.register_buffer("node_mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("node_scale", torch.ones(cfg.feature_dim))
        self.register_buffer("logit_mean", torch.zeros(C))
        self.register_buffer("logit_scale", torch.ones(()))
        self.encode = nn.Linear(cfg.feature_dim, H)
        # class-specific edge weights e^c_ij = sigmoid(MLP_c(a_ij)), batched over classes
        self.weight_w1 = nn.Parameter(torch.randn(C, Ed, Eh) / math.sqrt(Ed))
        self.weight_b1 = nn.Parameter(torch.zeros(C, Eh))
        self.weight_w2 = nn.Parameter(torch.randn(C, Eh) / math.sqrt(Eh))
        self.weight_b2 = nn.Parameter(torch.zeros(C))
        self.edge_encode = nn.Linear(Ed, Eh)
        self.self_layers = nn.ModuleList(nn.Linear(H, H) for _ in range(cfg.layers))
        # the message W_m [h_j || enc(a_ij)] is computed as U h_j + V enc(a_ij) (same map, no pair tensor)
        self.message_nodes = nn.ModuleList(nn.Linear(H, H, bias=False) for _ in range(cfg.layers))
        self.message_edges = nn.ModuleList(nn.Linear(Eh, H, bias=False) for _ in range(cfg.layers))
        self.node_read = nn.Linear(H, cfg.node_out)
        # edge read-out MLP([h_i || h_j || a_ij]): its first layer split by input, likewise
        self.edge_from = nn.Linear(H, Eh)
        self.edge_to = nn.Linear(H, Eh, bias=False)
        self.edge_geometry = nn.Linear(Ed, Eh, bias=False)
        self.edge_out = nn.Linear(Eh, cfg.edge_out)
        width = C * ((1 if cfg.node_pool else k) * cfg.node_out + (1 if cfg.edge_pool else k * k) * cfg.edge_out)
        self.fuse = nn.Linear(width, C)  # E

    # ------------------------------------------------------------------ forward
    @property
    def classes(self) -> list[int]:
        return list(self.config.classes)

    def check_batch(self, batch: GraphBatch) -> None:
        """Raise a clear error when ``batch`` does not fit this network."""
        cfg = self.config
        if not isinstance(batch, GraphBatch):
            raise bad_argument("graphs", "a GraphBatch (stack_graphs' output)", batch)
        if list(batch.classes) != cfg.classes:
            raise bad_argument("graphs", f"a GraphBatch over the classes {cfg.classes}, in that order", batch.classes)
        n, c, k, d = batch.nodes.shape
        if (k, d) != (cfg.k, cfg.feature_dim) or tuple(batch.edges.shape[-1:]) != (cfg.edge_dim,):
            raise bad_argument("graphs", f"k={cfg.k} nodes of {cfg.feature_dim} features and {cfg.edge_dim} edge "
                               "features", batch.nodes, f"its edges have {batch.edges.shape[-1]} features")

    def edge_weights(self, edges: torch.Tensor, edge_mask: torch.Tensor) -> torch.Tensor:
        """(N, C, k, k, E) edge features -> (N, C, k, k) class-specific weights in [0, 1]."""
        hidden = F.relu(torch.einsum("nckle,ceh->ncklh", edges, self.weight_w1)
                        + self.weight_b1[None, :, None, None])
        logit = torch.einsum("ncklh,ch->nckl", hidden, self.weight_w2) + self.weight_b2[None, :, None, None]
        return torch.sigmoid(logit) * edge_mask

    def forward(self, batch: GraphBatch) -> ReasonerOutput:
        """Scores and the read-out embeddings of a GraphBatch (see :class:`ReasonerOutput`)."""
        self.check_batch(batch)
        cfg = self.config
        dev = self.encode.weight.device
        present = batch.present.to(dev).float()
        mask = batch.edge_mask.to(dev).float()
        x = (batch.nodes.to(dev).float() - self.node_mean) / self.node_scale
        a = batch.edges.to(dev).float() * mask[..., None]
        h0 = F.relu(self.encode(x)) * present[..., None]
        e = self.edge_weights(a, mask)
        a_enc = F.relu(self.edge_encode(a)) * mask[..., None]
        h = h0
        norm = 1.0 / max(cfg.k - 1, 1)
        for self_layer, msg_nodes, msg_edges in zip(self.self_layers, self.message_nodes, self.message_edges):
            # sum_j e_ij (U h_j + V enc(a_ij)) / (k - 1)
            msg = torch.einsum("nckl,nclh->nckh", e, msg_nodes(h)) + msg_edges(torch.einsum("nckl,ncklh->nckh", e, a_enc))
            h = F.relu(self_layer(h) + msg * norm) * present[..., None]
        node_source = h0 if cfg.node_readout == "input" else h
        node_embed = self.node_read(node_source) * present[..., None]
        hidden = self.edge_geometry(a)
        if cfg.edge_readout == "pair":
            hidden = hidden + self.edge_from(h)[:, :, :, None] + self.edge_to(h)[:, :, None]
        else:
            hidden = hidden + self.edge_from.bias
        hidden = F.relu(hidden)
        edge_embed = self.edge_out(hidden) * e[..., None]
        scores = self.fuse_scores(node_embed, edge_embed)
        return ReasonerOutput(scores, node_embed, edge_embed, e)

    def fuse_scores(self, node_embed: torch.Tensor, edge_embed: torch.Tensor) -> torch.Tensor:
        """E: (N, C, k, node_out) and (N, C, k, k, edge_out) embeddings -> (N, C) scores
        (node and edge embeddings summed over a class graph's slots first when pooled)."""
        n = node_embed.shape[0]
        nodes = node_embed.sum(2) if self.config.node_pool else node_embed
        edges = edge_embed.sum((2, 3)) if self.config.edge_pool else edge_embed
        return self.fuse(torch.cat([nodes.reshape(n, -1), edges.reshape(n, -1)], 1))

    def fuse_blocks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """E's weight per input slot: ((C_out, C_graph, k, node_out), (C_out, C_graph, k, k, edge_out));
        pooled embeddings share one weight over their slots (broadcast views)."""
        cfg = self.config
        C, k = len(cfg.classes), cfg.k
        w = self.fuse.weight
        kn = 1 if cfg.node_pool else k
        split = C * kn * cfg.node_out
        wn = w[:, :split].reshape(C, C, kn, cfg.node_out).expand(C, C, k, cfg.node_out)
        ke = 1 if cfg.edge_pool else k
        we = w[:, split:].reshape(C, C, ke, ke, cfg.edge_out).expand(C, C, k, k, cfg.edge_out)
        return wn, we

    @torch.no_grad()
    def scores(self, batch: GraphBatch) -> torch.Tensor:
        """(N, C) class scores (evaluation mode)."""
        was = self.training
        self.eval()
        try:
            return self(batch).scores
        finally:
            self.train(was)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | pathlib.Path, info: dict[str, Any] | None = None) -> pathlib.Path:
        """Write the state dict (``.pt``, tensors only) and ``<path>.json`` (the config and
        ``info``); no pickled objects."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, path)
        meta = {"format": _FORMAT, "config": self.config.to_dict(), "info": dict(info or getattr(self, "info", {}))}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path, map_location: str | torch.device = "cpu") -> "GraphReasoner":
        """A network written by :meth:`save` (``torch.load(weights_only=True)``)."""
        path = pathlib.Path(path)
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise bad_argument("path", "a GraphReasoner .pt file with its .json next to it", str(path), "No such file")
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise bad_argument("path", f"a file written by GraphReasoner.save ({_FORMAT})", str(meta_path))
        net = cls(ReasonerConfig(**meta["config"]))
        net.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
        net.info = dict(meta.get("info", {}))
        return net.eval()


# ---------------------------------------------------------------------------- training


def _subset(batch: GraphBatch, index: torch.Tensor) -> GraphBatch:
    return GraphBatch(batch.nodes[index], batch.present[index], batch.edges[index], batch.edge_mask[index],
                      batch.centroids[index], batch.distance[index], list(batch.classes))


def _check_logits(logits: Any, n: int, c: int) -> torch.Tensor:
    t = torch.as_tensor(logits, dtype=torch.float32) if not isinstance(logits, torch.Tensor) else logits.float()
    if t.shape != (n, c) or not torch.isfinite(t).all():
        raise bad_argument("logits", f"({n}, {c}) finite classifier logits for the batch's classes", logits)
    return t


def _positive(value: Any, argument: str, *, integer: bool = False, zero_ok: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and (value >= 0 if zero_ok else value > 0)
    if integer:
        ok = ok and float(value) == int(value)
    if not ok:
        raise bad_argument(argument, f"a {'non-negative' if zero_ok else 'positive'} {'int' if integer else 'number'}",
                           value)
    return float(value)


def train_reasoner(
    graphs: GraphBatch,
    logits: torch.Tensor | np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 0.005,
    temperature: float = 2.0,
    mse_weight: float = 1.0,
    edge_l1: float = 0.1,
    cross_l1: float = 0.01,
    weight_decay: float = 0.003,
    seed: int = 0,
    progress: bool = True,
    **config: Any,
) -> GraphReasoner:
    """Distil the classifier into a :class:`GraphReasoner` on the graphs of its training images.

    Args:
        graphs: the training images' graphs (``stack_graphs``), C classes of k nodes.
        logits: (N, C) the classifier's logits for those images and classes, in the
            batch's class order.
        class_names: the C class names (default: the indices as text).
        epochs, batch_size, lr: Adam with cosine decay, mini-batches of images.
        temperature: the softmax temperature of the KL term (multiplied by T^2).
        mse_weight: weight of the MSE between standardised logits and scores.
        edge_l1: weight of the mean |edge contribution| penalty (edges must earn their share).
        cross_l1: weight of the L1 penalty on the cross-class blocks of E.
        weight_decay: Adam's L2 penalty.
        seed: seeds the initialisation and the batch order.
        progress: a tqdm progress bar over the epochs.
        **config: :class:`ReasonerConfig` fields (hidden, edge_hidden, node_out, edge_out,
            layers, node_readout).

    Returns:
        the trained network in evaluation mode; ``net.info["history"]`` holds the loss per epoch.
    """
    if not isinstance(graphs, GraphBatch) or len(graphs) == 0:
        raise bad_argument("graphs", "a non-empty GraphBatch (stack_graphs' output)", graphs)
    n, c, k, d = graphs.nodes.shape
    target = _check_logits(logits, n, c)
    epochs = int(_positive(epochs, "epochs", integer=True))
    batch_size = int(_positive(batch_size, "batch_size", integer=True))
    lr = _positive(lr, "lr")
    temperature = _positive(temperature, "temperature")
    mse_weight = _positive(mse_weight, "mse_weight", zero_ok=True)
    edge_l1 = _positive(edge_l1, "edge_l1", zero_ok=True)
    cross_l1 = _positive(cross_l1, "cross_l1", zero_ok=True)
    weight_decay = _positive(weight_decay, "weight_decay", zero_ok=True)
    seed = int(_positive(seed, "seed", integer=True, zero_ok=True))
    if not isinstance(progress, bool):
        raise bad_argument("progress", "True or False", progress)
    names = [str(x) for x in (class_names if class_names is not None else graphs.classes)]
    if len(names) != c:
        raise bad_argument("class_names", f"{c} names, one per class of the batch", class_names)
    cfg = ReasonerConfig(classes=list(graphs.classes), class_names=names, k=k, feature_dim=d,
                         edge_dim=int(graphs.edges.shape[-1]), **config)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = GraphReasoner(cfg)
        generator = torch.Generator().manual_seed(seed)
    # standardisation: node features over present nodes; logits per class and overall scale
    present = graphs.present.reshape(-1)
    feats = graphs.nodes.reshape(-1, d).float()[present]
    if len(feats) > 1:
        net.node_mean.copy_(feats.mean(0))
        net.node_scale.copy_(feats.std(0).clamp_min(1e-3))
    net.logit_mean.copy_(target.mean(0))
    net.logit_scale.copy_((target - target.mean(0)).std().clamp_min(1e-3))
    with torch.no_grad():
        net.fuse.bias.copy_(target.mean(0))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    eye = torch.eye(c, dtype=torch.bool)
    history = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="graph reasoning network", leave=False)
    net.train()
    try:
        for epoch in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for lo in range(0, n, batch_size):
                idx = order[lo: lo + batch_size]
                out = net(_subset(graphs, idx))
                t = target[idx]
                kl = F.kl_div(F.log_softmax(out.scores / temperature, 1), F.softmax(t / temperature, 1),
                              reduction="batchmean") * temperature ** 2
                mse = F.mse_loss((out.scores - net.logit_mean) / net.logit_scale, (t - net.logit_mean) / net.logit_scale)
                loss = kl + mse_weight * mse
                wn, we = net.fuse_blocks()
                if edge_l1:
                    # |contribution| of every edge to every score: |W_e| . |z| (exact for a linear E)
                    contrib = torch.einsum("ocklf,ncklf->nockl", we, out.edge_embed)
                    loss = loss + edge_l1 * contrib.abs().sum((2, 3, 4)).mean() / c
                if cross_l1:
                    loss = loss + cross_l1 * (wn[~eye].abs().sum() + we[~eye].abs().sum())
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            history.append(round(total / n, 5))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history[-1]:.4f}")
    finally:
        if bar is not None:
            bar.close()
    net.eval()
    net.info = {"history": history, "train_seconds": round(time.perf_counter() - start, 2), "train_images": n,
                "hyperparameters": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "temperature": temperature,
                                    "mse_weight": mse_weight, "edge_l1": edge_l1, "cross_l1": cross_l1,
                                    "weight_decay": weight_decay, "seed": seed}}
    return net


def reasoner_fidelity(net: Any, graphs: GraphBatch, logits: torch.Tensor | np.ndarray) -> float:
    """Top-1 agreement between the scores of ``net`` (a GraphReasoner or a ReasonerEnsemble)
    and the classifier's ``logits`` (N, C, the batch's classes) on ``graphs``: VRX's fidelity."""
    n, c = graphs.nodes.shape[:2]
    target = _check_logits(logits, n, c)
    return float((net.scores(graphs).argmax(1).cpu() == target.argmax(1)).float().mean())
