"""Mapping models from a source layer of the explained model to a target layer of an
aspect model (seed 001, claims 6-8 and 12, FIGS. 4a and 5a-5b).

A mapping model is trained to output the aspect model's target representation given the
explained model's source representation of the same image, by mean squared error on
unlabelled images (claim 12). For convolutional layers it is a small image-to-image
network: a few convolutions (``kind="conv"``) or a small U-Net (``kind="unet"``,
Ronneberger et al. 2015), resampled to the target's grid. The identity is used when both
layers are inputs (with a conversion between the two models' preprocessing if they
differ) and when the two models share the layers up to the source layer (claim 8: the
very same modules).

:func:`fit_mappings` trains the candidate pairs together, scores each on held-out images
(R^2: the fraction of the target's variance explained) and picks the deepest pair whose
R^2 reaches ``threshold``, as the patent suggests ("deepest source and target layers
satisfying a minimum performance threshold"). Half of the training pairs are masked
(``masked_fraction``): a random blob mask on the source grid multiplies the source
representation, and the target is the aspect model's representation of the image masked
the same way; the mapping thus learns what a masked source representation means.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.hooks import capture, frozen_eval
from ..models.inputs import Images
from ..models.layers import get_layer
from ..models.preprocess import Preprocess
from .recognisers import INPUT_LAYER, AspectModel
from .synthetic import random_smooth_masks

__all__ = ["PairScore", "AspectMapping", "MappingNet", "fit_mappings", "candidate_pairs", "MAPPING_KINDS"]

#: Architectures of learned mappings.
MAPPING_KINDS = ("conv", "unet")


# ----------------------------------------------------------------------------- networks
class MappingNet(nn.Module):
    """An image-to-image mapping (C_s, h_s, w_s) -> (C_t, h_t, w_t).

    Inputs are standardised per channel and outputs de-standardised with statistics of
    the training data (buffers). ``kind="conv"``: conv3x3-ReLU, resample to the target
    grid, conv3x3-ReLU, conv1x1. ``kind="unet"``: a two-level U-Net (encoder, pooled
    level, decoder with the skip), resampled to the target grid, conv1x1.
    """

    def __init__(self, c_in: int, c_out: int, out_size: Sequence[int], hidden: int = 64, kind: str = "conv") -> None:
        super().__init__()
        if kind not in MAPPING_KINDS:
            raise bad_argument("kind", f"one of {', '.join(map(repr, MAPPING_KINDS))}", kind)
        self.config = {"c_in": int(c_in), "c_out": int(c_out), "out_size": [int(s) for s in out_size],
                       "hidden": int(hidden), "kind": kind}
        self.out_size = tuple(int(s) for s in out_size)
        self.kind = kind
        h = hidden
        for name, c in (("in_mean", c_in), ("in_std", c_in), ("out_mean", c_out), ("out_std", c_out)):
            self.register_buffer(name, torch.zeros(c) if "mean" in name else torch.ones(c))
        if kind == "conv":
            self.enc = nn.Sequential(nn.Conv2d(c_in, h, 3, padding=1), nn.ReLU())
            self.dec = nn.Sequential(nn.Conv2d(h, h, 3, padding=1), nn.ReLU())
        else:
            self.enc = nn.Sequential(nn.Conv2d(c_in, h, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(h, h, 3, padding=1), nn.ReLU())
            self.low = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(h, 2 * h, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(2 * h, 2 * h, 3, padding=1), nn.ReLU())
            self.up = nn.Conv2d(2 * h, h, 1)
            self.dec = nn.Sequential(nn.Conv2d(2 * h, h, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(h, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.in_mean.view(1, -1, 1, 1)) / self.in_std.view(1, -1, 1, 1)
        e = self.enc(x)
        if self.kind == "unet":
            low = F.interpolate(self.up(self.low(e)), size=e.shape[-2:], mode="nearest")
            e = torch.cat([e, low], dim=1)
        if tuple(e.shape[-2:]) != self.out_size:
            e = F.interpolate(e, size=self.out_size, mode="bilinear", align_corners=False)
        y = self.out(self.dec(e))
        return y * self.out_std.view(1, -1, 1, 1) + self.out_mean.view(1, -1, 1, 1)


class _PixelConversion(nn.Module):
    """Input to input: undo the source model's normalisation, apply the target's,
    resize if the input sizes differ (the identity when both are the same)."""

    def __init__(self, source: Preprocess, target: Preprocess) -> None:
        super().__init__()
        self.size = tuple(target.size)
        for name, values in (("s_mean", source.mean), ("s_std", source.std), ("t_mean", target.mean),
                             ("t_std", target.std)):
            self.register_buffer(name, torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("factor", torch.tensor(target.scale / source.scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = (x * self.s_std + self.s_mean) * self.factor  # the target's pixel units
        if tuple(pixels.shape[-2:]) != self.size:
            pixels = F.interpolate(pixels, size=self.size, mode="bilinear", align_corners=False)
        return (pixels - self.t_mean) / self.t_std


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass
class PairScore:
    """One (source layer, target layer) pair tried by :func:`fit_mappings`.

    kind: "identity" (both inputs), "shared" (same modules: identity) or "learned";
    r2: held-out R^2 on plain images; r2_masked: on masked ones; seconds: its training
    time (the shared representation passes not counted); depth: (source, target) positions
    in their layer lists, the order "deepest" refers to.
    """

    source: str
    target: str
    kind: str
    r2: float
    r2_masked: float
    seconds: float
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    depth: tuple[int, int]

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(source_shape=list(self.source_shape), target_shape=list(self.target_shape), depth=list(self.depth),
                 r2=round(self.r2, 4), r2_masked=round(self.r2_masked, 4), seconds=round(self.seconds, 2))
        return d


class AspectMapping:
    """The mapping models of one (explained model, aspect model) couple and the chosen pair.

    Calling it maps a source representation at :attr:`source_layer` to the target
    representation at :attr:`target_layer`. :attr:`pairs` holds every pair tried, with
    its held-out R^2.
    """

    def __init__(self, pairs: Sequence[PairScore], nets: dict[tuple[str, str], nn.Module],
                 chosen: tuple[str, str], threshold: float, model_name: str = "", aspect_model_name: str = "") -> None:
        self.pairs = list(pairs)
        self.nets = dict(nets)
        if tuple(chosen) not in self.nets:
            raise bad_argument("chosen", f"a pair with a mapping ({', '.join(map(str, self.nets))})", chosen)
        self.chosen = tuple(chosen)
        self.threshold = float(threshold)
        self.model_name = model_name
        self.aspect_model_name = aspect_model_name

    def __repr__(self) -> str:
        s = self.score(*self.chosen)
        r2 = f"{s.r2:.3f}" if s is not None else "?"
        return (f"AspectMapping({self.source_layer!r} -> {self.target_layer!r}, R^2={r2}, "
                f"pairs tried={len(self.pairs)}, threshold={self.threshold})")

    @property
    def source_layer(self) -> str:
        return self.chosen[0]

    @property
    def target_layer(self) -> str:
        return self.chosen[1]

    def score(self, source: str, target: str) -> PairScore | None:
        for p in self.pairs:
            if (p.source, p.target) == (source, target):
                return p
        return None

    def scores_table(self) -> list[dict[str, Any]]:
        """Every pair tried, deepest first, as plain dicts (with ``chosen``)."""
        rows = sorted(self.pairs, key=lambda p: p.depth, reverse=True)
        return [{**p.as_dict(), "chosen": (p.source, p.target) == self.chosen} for p in rows]

    def use(self, source: str, target: str) -> "AspectMapping":
        """The same mappings with another pair chosen."""
        if (source, target) not in self.nets:
            raise bad_argument("(source, target)", f"a pair with a mapping ({', '.join(map(str, self.nets))})",
                               (source, target))
        return AspectMapping(self.pairs, self.nets, (source, target), self.threshold, self.model_name,
                             self.aspect_model_name)

    @torch.no_grad()
    def __call__(self, values: torch.Tensor, pair: tuple[str, str] | None = None) -> torch.Tensor:
        net = self.nets[tuple(pair) if pair is not None else self.chosen]
        if not isinstance(values, torch.Tensor):
            values = torch.as_tensor(np.asarray(values), dtype=torch.float32)
        device = next(iter(list(net.parameters()) + list(net.buffers())), values).device
        was = net.training
        net.eval()
        try:
            return net(values.to(device).float())
        finally:
            net.train(was)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, all_pairs: bool = False) -> Path:
        """Save the pairs' scores and the chosen mapping (every learned one with
        ``all_pairs``); float32 state dicts, loaded with ``weights_only=True``."""
        path = Path(path)
        nets = {}
        for key, net in self.nets.items():
            if key != self.chosen and not all_pairs:
                continue
            entry: dict[str, Any] = {"type": type(net).__name__}
            if isinstance(net, MappingNet):
                entry["config"] = dict(net.config)
            elif isinstance(net, _PixelConversion):
                entry["config"] = {"size": list(net.size)}
            entry["state"] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            nets[f"{key[0]}\t{key[1]}"] = entry
        torch.save({
            "format": 1, "pairs": [p.as_dict() for p in self.pairs], "chosen": list(self.chosen),
            "threshold": self.threshold, "model": self.model_name, "aspect_model": self.aspect_model_name, "nets": nets,
        }, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "AspectMapping":
        """A mapping saved by :meth:`save`."""
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(data, dict) or data.get("format") != 1:
            raise bad_argument("path", "a file written by AspectMapping.save", str(path))
        pairs = []
        for d in data["pairs"]:
            pairs.append(PairScore(d["source"], d["target"], d["kind"], float(d["r2"]), float(d["r2_masked"]),
                                   float(d["seconds"]), tuple(d["source_shape"]), tuple(d["target_shape"]),
                                   tuple(d["depth"])))
        nets: dict[tuple[str, str], nn.Module] = {}
        for key, entry in data["nets"].items():
            source, target = key.split("\t")
            if entry["type"] == "MappingNet":
                cfg = entry["config"]
                net: nn.Module = MappingNet(cfg["c_in"], cfg["c_out"], cfg["out_size"], cfg["hidden"], cfg["kind"])
            elif entry["type"] == "_PixelConversion":
                net = _PixelConversion(Preprocess(), Preprocess())
                net.size = tuple(int(s) for s in entry["config"]["size"])
            else:
                net = nn.Identity()
            net.load_state_dict(entry["state"])
            nets[(source, target)] = net.eval()
        return cls(pairs, nets, tuple(data["chosen"]), data["threshold"], data.get("model", ""),
                   data.get("aspect_model", ""))


# ----------------------------------------------------------------------------- pairs
def _grids(adapter: ModelAdapter, names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    h, w = adapter.preprocess.size
    with frozen_eval(adapter.model), capture(adapter.model, list(names), gradients=False) as records, torch.no_grad():
        adapter.logits(torch.zeros(1, 3, h, w, device=adapter.device))
    return {n: tuple(records[n].activation.shape[1:]) for n in names if records[n].activation is not None}


def _aspect_grids(aspect_model: AspectModel, names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    h, w = aspect_model.preprocess.size
    inner = [n for n in names if n != INPUT_LAYER]
    with frozen_eval(aspect_model.module), capture(aspect_model.module, inner, gradients=False) as records, \
            torch.no_grad():
        aspect_model.module(torch.zeros(1, 3, h, w, device=aspect_model.device))
    out = {n: tuple(records[n].activation.shape[1:]) for n in inner if records[n].activation is not None}
    if INPUT_LAYER in names:
        out[INPUT_LAYER] = (3, h, w)
    return out


def _spatial_children(adapter: ModelAdapter) -> list[str]:
    names = [n for n, _ in adapter.model.named_children()]
    grids = _grids(adapter, names)
    return [n for n in names if n in grids and len(grids[n]) == 3 and grids[n][1] * grids[n][2] > 1]


def _shared(adapter: ModelAdapter, aspect_model: AspectModel, source: str, target: str) -> bool:
    """Claim 8: the aspect model reuses the explained model's modules up to the layer."""
    if source == INPUT_LAYER or target == INPUT_LAYER:
        return False
    if adapter.preprocess != aspect_model.preprocess:
        return False
    try:
        return get_layer(adapter.model, source) is get_layer(aspect_model.module, target)
    except KeyError:
        return False


def candidate_pairs(model: Any, aspect_model: AspectModel, source_layers: Sequence[str] | None = None,
                    target_layers: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The pairs :func:`fit_mappings` tries by default, shallow to deep: both inputs; every
    pair of layers the two models share (same modules); and for each internal source
    layer, the target layers on the same grid, else those within a factor of two of it
    (the patent's preference for layers of similar size)."""
    adapter = wrap(model)
    sources = list(source_layers) if source_layers is not None else [INPUT_LAYER, *_spatial_children(adapter)]
    targets = list(target_layers) if target_layers is not None else list(aspect_model.layers)
    s_grids = _grids(adapter, [s for s in sources if s != INPUT_LAYER])
    t_grids = _aspect_grids(aspect_model, targets)
    pairs = []
    for s in sources:
        if s == INPUT_LAYER:
            if INPUT_LAYER in targets:
                pairs.append((s, INPUT_LAYER))
            continue
        inner = [t for t in targets if t != INPUT_LAYER]
        shared = [t for t in inner if _shared(adapter, aspect_model, s, t)]
        if shared:
            pairs.extend((s, t) for t in shared)
            continue
        if s not in s_grids or len(s_grids[s]) != 3:
            continue
        hs, ws = s_grids[s][1:]
        same = [t for t in inner if t in t_grids and len(t_grids[t]) == 3 and t_grids[t][1:] == (hs, ws)]
        near = [t for t in inner if t in t_grids and len(t_grids[t]) == 3
                and max(t_grids[t][1] / hs, hs / t_grids[t][1], t_grids[t][2] / ws, ws / t_grids[t][2]) <= 2]
        pairs.extend((s, t) for t in (same or near))
    return pairs


# ----------------------------------------------------------------------------- training
def _source_reps(adapter: ModelAdapter, inputs: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    inner = [n for n in layers if n != INPUT_LAYER]
    out: dict[str, torch.Tensor] = {}
    if inner:
        with frozen_eval(adapter.model), capture(adapter.model, inner, gradients=False) as records, torch.no_grad():
            adapter.logits(inputs)
        out = {n: records[n].activation.float() for n in inner}
    if INPUT_LAYER in layers:
        out[INPUT_LAYER] = inputs
    return out


def _target_reps(aspect_model: AspectModel, inputs: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    inner = [n for n in layers if n != INPUT_LAYER]
    out: dict[str, torch.Tensor] = {}
    if inner:
        with frozen_eval(aspect_model.module), capture(aspect_model.module, inner, gradients=False) as records, \
                torch.no_grad():
            aspect_model.module(inputs)
        out = {n: records[n].activation.float() for n in inner}
    if INPUT_LAYER in layers:
        out[INPUT_LAYER] = inputs
    return out


def _grid_masks(n: int, grid: tuple[int, int], size: tuple[int, int], generator: torch.Generator,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary blob masks on a source grid (n, 1, h, w) and the same at the input size."""
    soft = random_smooth_masks(n, max(grid), generator, device=device)
    if tuple(soft.shape[-2:]) != tuple(grid):
        soft = F.interpolate(soft, size=grid, mode="bilinear", align_corners=False)
    on_grid = (soft >= 0.5).float()
    return on_grid, F.interpolate(on_grid, size=size, mode="nearest")


class _R2:
    """Streaming pooled R^2 = 1 - SSE / SST (SST about the per-channel mean)."""

    def __init__(self) -> None:
        self.sse = 0.0
        self.n = 0
        self.sum: torch.Tensor | None = None
        self.sq: torch.Tensor | None = None

    def add(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.sse += float(((pred - target) ** 2).sum())
        c = target.transpose(0, 1).reshape(target.shape[1], -1).double()
        self.sum = c.sum(1) if self.sum is None else self.sum + c.sum(1)
        self.sq = (c ** 2).sum(1) if self.sq is None else self.sq + (c ** 2).sum(1)
        self.n += c.shape[1]

    def value(self) -> float:
        if self.sum is None or self.sq is None or self.n == 0:
            return float("nan")
        sst = float((self.sq - self.sum ** 2 / self.n).sum())
        return 1.0 - self.sse / sst if sst > 0 else (1.0 if self.sse == 0 else float("-inf"))


def _default_hidden(grid: tuple[int, ...]) -> int:
    side = max(grid[-2:])
    return 64 if side <= 16 else 48 if side <= 32 else 32


def fit_mappings(
    model: Any,
    aspect_model: AspectModel,
    train_images: Images,
    test_images: Images,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    threshold: float = 0.8,
    kind: str = "conv",
    hidden: int | None = None,
    epochs: int = 4,
    batch_size: int = 32,
    lr: float = 2e-3,
    masked_fraction: float = 0.5,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[int, int, dict[str, float]], None] | None = None,
) -> AspectMapping:
    """Train mapping models for layer pairs of ``model`` -> ``aspect_model`` and choose
    the deepest pair whose held-out R^2 reaches ``threshold`` (seed 001, claim 12).

    Args:
        model: the explained classifier (ModelAdapter or nn.Module).
        aspect_model: an :class:`~xwidgets.aspects.AspectModel`.
        train_images, test_images: unlabelled images (anything ``xw.explain`` takes);
            R^2 is measured on ``test_images``.
        pairs: (source layer, target layer) pairs; default :func:`candidate_pairs`.
        threshold: the R^2 the chosen pair must reach, in (0, 1]. When no pair reaches it
            the best one is chosen, with a warning.
        kind: "conv" or "unet" (:class:`MappingNet`); hidden: its width (default by grid).
        epochs, batch_size, lr: Adam on the MSE (scaled by the target's variance).
        masked_fraction: the fraction of training pairs masked by random blobs (module
            docstring); 0 trains on plain pairs only, as the patent's basic embodiment.
        seed: torch seed for initialisation, order and masks.
        progress: a tqdm progress bar; callback: called as ``callback(step, total,
            {"source->target": loss})`` after every step.
    """
    from tqdm.auto import tqdm

    adapter = wrap(model)
    if not isinstance(aspect_model, AspectModel):
        raise bad_argument("aspect_model", "an xwidgets.aspects.AspectModel", aspect_model)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise bad_argument("threshold", "a number in (0, 1]", threshold)
    if kind not in MAPPING_KINDS:
        raise bad_argument("kind", f"one of {', '.join(map(repr, MAPPING_KINDS))}", kind)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_argument(name, "a positive int", value)
    if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
        raise bad_argument("hidden", "None or a positive int", hidden)
    if isinstance(masked_fraction, bool) or not isinstance(masked_fraction, (int, float)) \
            or not 0 <= masked_fraction <= 1:
        raise bad_argument("masked_fraction", "a number in [0, 1]", masked_fraction)
    if callback is not None and not callable(callback):
        raise bad_argument("callback", "None or a callable(step, total, losses)", callback)

    sources_all = [INPUT_LAYER, *_spatial_children(adapter)]
    if pairs is None:
        pairs = candidate_pairs(adapter, aspect_model)
    else:
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
            raise bad_argument("pairs", "a non-empty list of (source layer, target layer)", pairs)
        checked = []
        for i, p in enumerate(pairs):
            if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2:
                raise bad_argument(f"pairs[{i}]", "a (source layer, target layer) pair", p)
            s, t = str(p[0]), str(p[1])
            if s != INPUT_LAYER:
                adapter.layer(s)
            aspect_model.check_layer(t, f"pairs[{i}][1]")
            if (s == INPUT_LAYER) != (t == INPUT_LAYER):
                raise bad_argument(f"pairs[{i}]", "both layers inputs or both internal layers", p)
            checked.append((s, t))
            if s not in sources_all:
                sources_all.append(s)
        pairs = checked
    if not pairs:
        raise bad_argument("pairs", "at least one candidate pair", pairs,
                           "No target layer matches a source layer's grid: pass pairs=[(source, target), ...]")
    source_layers = sorted({s for s, _ in pairs}, key=sources_all.index)
    target_layers = sorted({t for _, t in pairs}, key=lambda t: aspect_model.layers.index(t)
                           if t in aspect_model.layers else len(aspect_model.layers))

    train_x, _ = adapter.prepare(train_images)
    test_x, _ = adapter.prepare(test_images)
    convert = _PixelConversion(adapter.preprocess, aspect_model.preprocess).to(train_x.device)
    same_preprocess = adapter.preprocess == aspect_model.preprocess

    def to_aspect_inputs(x: torch.Tensor) -> torch.Tensor:
        return x if same_preprocess else convert(x)

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    size = tuple(train_x.shape[-2:])
    probe_s = _source_reps(adapter, train_x[:1], source_layers)
    probe_t = _target_reps(aspect_model, to_aspect_inputs(train_x[:1]), target_layers)

    nets: dict[tuple[str, str], nn.Module] = {}
    kinds: dict[tuple[str, str], str] = {}
    learned: list[tuple[str, str]] = []
    for s, t in pairs:
        if s == INPUT_LAYER:
            nets[(s, t)], kinds[(s, t)] = (nn.Identity() if same_preprocess else convert), "identity"
        elif _shared(adapter, aspect_model, s, t):
            nets[(s, t)], kinds[(s, t)] = nn.Identity(), "shared"
        else:
            cs, ct = probe_s[s].shape[1], probe_t[t].shape[1]
            net = MappingNet(cs, ct, probe_t[t].shape[-2:], hidden or _default_hidden(probe_s[s].shape), kind)
            nets[(s, t)], kinds[(s, t)] = net.to(train_x.device), "learned"
            learned.append((s, t))

    seconds = {p: 0.0 for p in pairs}
    if learned:
        # per-channel statistics of the training representations (first batches)
        stats_x = train_x[: min(len(train_x), 256)]
        rs = _source_reps(adapter, stats_x, source_layers)
        rt = _target_reps(aspect_model, to_aspect_inputs(stats_x), target_layers)
        scale: dict[tuple[str, str], float] = {}
        for s, t in learned:
            net = nets[(s, t)]
            for prefix, rep in (("in", rs[s]), ("out", rt[t])):
                getattr(net, f"{prefix}_mean").copy_(rep.mean(dim=(0, 2, 3)))
                getattr(net, f"{prefix}_std").copy_(rep.std(dim=(0, 2, 3)).clamp_min(1e-3))
            scale[(s, t)] = float(rt[t].var()) or 1.0
        optimisers = {p: torch.optim.Adam(nets[p].parameters(), lr=lr) for p in learned}
        steps = math.ceil(len(train_x) / batch_size)
        total = steps * epochs
        schedules = {p: torch.optim.lr_scheduler.CosineAnnealingLR(o, total) for p, o in optimisers.items()}
        bar = tqdm(total=total, desc="mapping models", disable=not progress, leave=False)
        step = 0
        try:
            for _epoch in range(epochs):
                order = torch.randperm(len(train_x), generator=generator)
                for b in range(steps):
                    x = train_x[order[b * batch_size: (b + 1) * batch_size].to(train_x.device)]
                    sreps = _source_reps(adapter, x, source_layers)
                    treps = _target_reps(aspect_model, to_aspect_inputs(x), target_layers)
                    masked_pick = torch.rand(x.shape[0], generator=generator) < masked_fraction
                    k = int(masked_pick.sum())
                    losses = {}
                    masked_cache: dict[tuple[int, int], tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}
                    for s, t in learned:
                        src, tgt = sreps[s], treps[t]
                        if k:
                            grid = tuple(src.shape[-2:])
                            if grid not in masked_cache:
                                on_grid, on_input = _grid_masks(k, grid, size, generator, x.device)
                                xm = x[masked_pick.to(x.device)] * on_input
                                masked_cache[grid] = (on_grid, _target_reps(aspect_model, to_aspect_inputs(xm),
                                                                            target_layers))
                            on_grid, mreps = masked_cache[grid]
                            src = src.clone()
                            src[masked_pick.to(src.device)] = src[masked_pick.to(src.device)] * on_grid
                            tgt = tgt.clone()
                            tgt[masked_pick.to(tgt.device)] = mreps[t]
                        t0 = time.perf_counter()
                        net = nets[(s, t)]
                        net.train()
                        loss = F.mse_loss(net(src), tgt) / scale[(s, t)]
                        optimisers[(s, t)].zero_grad(set_to_none=True)
                        loss.backward()
                        optimisers[(s, t)].step()
                        schedules[(s, t)].step()
                        seconds[(s, t)] += time.perf_counter() - t0
                        losses[f"{s}->{t}"] = float(loss.detach())
                    step += 1
                    bar.update(1)
                    bar.set_postfix({k_: f"{v:.3f}" for k_, v in list(losses.items())[:3]}, refresh=False)
                    if callback is not None:
                        callback(step, total, losses)
        finally:
            bar.close()

    # held-out R^2, plain and masked
    r2 = {p: _R2() for p in pairs}
    r2m = {p: _R2() for p in pairs}
    test_gen = torch.Generator().manual_seed(seed + 1)
    for net in nets.values():
        net.eval()
    with torch.no_grad():
        for lo in range(0, len(test_x), batch_size):
            x = test_x[lo: lo + batch_size]
            sreps = _source_reps(adapter, x, source_layers)
            treps = _target_reps(aspect_model, to_aspect_inputs(x), target_layers)
            masks: dict[tuple[int, int], tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}
            for s, t in pairs:
                r2[(s, t)].add(nets[(s, t)](sreps[s]), treps[t])
                grid = tuple(sreps[s].shape[-2:])
                if grid not in masks:
                    on_grid, on_input = _grid_masks(x.shape[0], grid, size, test_gen, x.device)
                    masks[grid] = (on_grid, _target_reps(aspect_model, to_aspect_inputs(x * on_input), target_layers))
                on_grid, mreps = masks[grid]
                r2m[(s, t)].add(nets[(s, t)](sreps[s] * on_grid), mreps[t])

    scores = []
    for s, t in pairs:
        depth = (sources_all.index(s), aspect_model.layers.index(t) if t in aspect_model.layers else -1)
        scores.append(PairScore(s, t, kinds[(s, t)], r2[(s, t)].value(), r2m[(s, t)].value(), seconds[(s, t)],
                                tuple(probe_s[s].shape[1:]), tuple(probe_t[t].shape[1:]), depth))
    passing = [p for p in scores if p.r2 >= threshold]
    if passing:
        best = max(passing, key=lambda p: p.depth)
    else:
        best = max(scores, key=lambda p: p.r2)
        warnings.warn(f"fit_mappings: no pair reached R^2 {threshold}; using the best, {best.source} -> "
                      f"{best.target} (R^2 {best.r2:.3f})", stacklevel=2)
    return AspectMapping(scores, nets, (best.source, best.target), threshold, adapter.name, aspect_model.name)
