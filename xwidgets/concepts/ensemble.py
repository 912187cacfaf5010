"""An ensemble of graph reasoning networks: several :class:`GraphReasoner` distilled from
the same graphs and logits, each from its own initialisation, whose scores and node and
edge contributions are averaged (a deep ensemble, Lakshminarayanan et al., "Simple and
Scalable Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017, used
here for the stability of the explanation rather than for uncertainty).

Why: distillation only asks a network to reproduce the classifier's logits, and several
explanations reproduce them equally well. On the synthetic set "a window above a door"
and "a window high on the body panel" separate the two relation classes about equally,
so which edge a single network credits depends on its initialisation (the defining edge
ranked first in 5-85% of one held-out seed's relation images over five initialisations,
with the same fidelity). Averaging keeps what the members agree on.

Exactness: each member's embedding network is linear, so its contributions split its
score exactly (:mod:`~xwidgets.concepts.contributions`); the averages therefore split
the averaged score exactly, and the ensemble's prediction is the averaged score's argmax.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .._validation import bad_argument
from .graph import GraphBatch
from .reasoner import _FORMAT as _MEMBER_FORMAT
from .reasoner import GraphReasoner, ReasonerConfig, train_reasoner

__all__ = ["ReasonerEnsemble", "train_ensemble", "load_reasoner"]

_FORMAT = "xwidgets.ReasonerEnsemble/1"


class ReasonerEnsemble(nn.Module):
    """Several :class:`GraphReasoner` of one configuration; scores and contributions are
    the members' means.

    Args:
        members: the networks (the same :class:`ReasonerConfig`; typically
            :func:`train_ensemble`'s, one initialisation seed each).
    """

    def __init__(self, members: Sequence[GraphReasoner]):
        super().__init__()
        if isinstance(members, GraphReasoner) or not isinstance(members, Sequence) or not members:
            raise bad_argument("members", "a non-empty list of GraphReasoner", members)
        for i, net in enumerate(members):
            if not isinstance(net, GraphReasoner):
                raise bad_argument(f"members[{i}]", "a GraphReasoner", net)
            if net.config.to_dict() != members[0].config.to_dict():
                raise bad_argument(f"members[{i}]", f"a GraphReasoner with members[0]'s config "
                                   f"{members[0].config.to_dict()}", net.config.to_dict())
        self.members = nn.ModuleList(members)
        self.info: dict[str, Any] = {}

    @property
    def config(self) -> ReasonerConfig:
        return self.members[0].config

    @property
    def classes(self) -> list[int]:
        return list(self.config.classes)

    def __len__(self) -> int:
        return len(self.members)

    def check_batch(self, batch: GraphBatch) -> None:
        """Raise a clear error when ``batch`` does not fit the members."""
        self.members[0].check_batch(batch)

    @torch.no_grad()
    def scores(self, batch: GraphBatch) -> torch.Tensor:
        """(N, C) the members' mean class scores (evaluation mode)."""
        return torch.stack([net.scores(batch) for net in self.members]).mean(0)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        """(N, C) the members' mean class scores."""
        return torch.stack([net(batch).scores for net in self.members]).mean(0)

    def save(self, path: str | pathlib.Path, info: dict[str, Any] | None = None) -> pathlib.Path:
        """Write every member's state dict in one ``.pt`` (tensors only, keys
        ``members.<i>.<name>``) and ``<path>.json`` (the config, the number of members
        and ``info``); no pickled objects."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, path)
        meta = {"format": _FORMAT, "config": self.config.to_dict(), "members": len(self),
                "info": dict(info or self.info)}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        return path

    def __repr__(self) -> str:
        return f"ReasonerEnsemble(members={len(self)}, classes={self.config.class_names})"


def train_ensemble(graphs: GraphBatch, logits: torch.Tensor | np.ndarray, *, members: int = 5, seed: int = 0,
                   progress: bool = True, **kwargs: Any) -> ReasonerEnsemble:
    """Distil ``members`` networks with :func:`train_reasoner` (seeds ``seed``, ``seed +
    1``, ...; every other argument shared) into a :class:`ReasonerEnsemble`."""
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or members < 1:
        raise bad_argument("members", "a positive int", members)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise bad_argument("seed", "a non-negative int", seed)
    start = time.perf_counter()
    iterator = range(int(members))
    if progress and members > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="ensemble members", leave=False)
    nets = [train_reasoner(graphs, logits, seed=int(seed) + i, progress=progress, **kwargs) for i in iterator]
    ensemble = ReasonerEnsemble(nets)
    ensemble.info = {"train_seconds": round(time.perf_counter() - start, 2), "members": [net.info for net in nets]}
    return ensemble.eval()


def load_reasoner(path: str | pathlib.Path, map_location: str | torch.device = "cpu") -> GraphReasoner | ReasonerEnsemble:
    """A :class:`GraphReasoner` or :class:`ReasonerEnsemble` written by its ``save``
    (the ``.json`` next to the ``.pt`` says which)."""
    path = pathlib.Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise bad_argument("path", "a reasoner .pt file with its .json next to it", str(path), "No such file")
    meta = json.loads(meta_path.read_text())
    kind = meta.get("format") if isinstance(meta, dict) else None
    if kind == _MEMBER_FORMAT:
        return GraphReasoner.load(path, map_location)
    if kind != _FORMAT or not isinstance(meta.get("members"), int) or meta["members"] < 1:
        raise bad_argument("path", f"a file written by GraphReasoner.save ({_MEMBER_FORMAT}) or "
                           f"ReasonerEnsemble.save ({_FORMAT})", str(meta_path), f"its format is {kind!r}")
    config = ReasonerConfig(**meta["config"])
    ensemble = ReasonerEnsemble([GraphReasoner(config) for _ in range(meta["members"])])
    ensemble.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    ensemble.info = dict(meta.get("info", {}))
    return ensemble.eval()
