"""``AttentionGraph``: the result of a structured attention graph search for one image.

Shitole, Li, Kahng, Tadepalli & Fern, "One Explanation is Not Enough: Structured Attention
Graphs for Image Classification", NeurIPS 2021.

A plain dataclass (DESIGN.md: results are data; widgets and reports only read them):

* ``minimal_sets``: every minimal sufficient patch set the search found, with its
  probability, in discovery order; ``shown_roots`` indexes the diverse ones drawn.
* ``nodes``: the removal trees of the shown roots, a forest of :class:`SAGNode`. A root
  has ``parent`` None; a child is its parent's set less the patch ``removed``, and
  ``drop`` is the fall of the probability along that edge, in percentage points.

Patches are grid cells numbered row-major: cell ``k`` is row ``k // cols``, column
``k % cols`` of the ``grid``.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Iterable, Sequence

import numpy as np

from .._plain import plain
from .._validation import bad_argument

__all__ = ["SAGNode", "AttentionGraph", "DROP_CLASSES", "DROP_COLOURS", "drop_class"]

#: names of the edge classes by probability drop (points): below drop_bins[0], below
#: drop_bins[1], and the rest
DROP_CLASSES = ("small", "medium", "large")

#: edge colours by drop class: three viridis colours, light to dark, so the order reads in
#: lightness alone (colour-blind safe); lines also widen with the drop
DROP_COLOURS = {"small": "#7AD151", "medium": "#2A788E", "large": "#440154"}
#: the layout AttentionGraph.save writes
_FORMAT_VERSION = 1

_DROP_WIDTHS = {"small": 1.2, "medium": 2.2, "large": 3.4}


def drop_class(drop: float | None, bins: Sequence[float] = (20.0, 60.0)) -> str | None:
    """"small", "medium" or "large" for a drop in probability points (None for a root)."""
    if drop is None:
        return None
    if drop < bins[0]:
        return "small"
    return "medium" if drop < bins[1] else "large"


@dataclasses.dataclass(frozen=True)
class SAGNode:
    """One node of a removal tree.

    Attributes:
        id: position in ``AttentionGraph.nodes``.
        patches: the revealed cells, ascending (row-major cell numbers).
        probability: the target's softmax probability with only these patches revealed.
        relative: ``probability`` / the full image's probability.
        parent: the parent's id (None for a root).
        removed: the patch the parent lost to give this node (None for a root).
        drop: parent's probability - this one's, in percentage points (None for a root).
        depth: 0 for a root, 1 for its children...
        root: the id of this node's root.
    """

    id: int
    patches: tuple[int, ...]
    probability: float
    relative: float
    parent: int | None
    removed: int | None
    drop: float | None
    depth: int
    root: int


@dataclasses.dataclass
class AttentionGraph:
    """The structured attention graph of one image (see the module docstring).

    Attributes:
        image: (H, W, 3) uint8, the image as the model saw it.
        grid: (rows, columns) of patches.
        target, label: the class explained and its name.
        full_probability: the target's probability on the whole image.
        threshold: sufficiency, as a fraction of ``full_probability``.
        nodes: the removal trees (a forest) of the shown roots.
        minimal_sets: every minimal sufficient set found: (patches, probability).
        shown_roots: indices into ``minimal_sets`` of the roots drawn, in tree order.
        ranking: (rows, columns) the ranking map's mean per cell.
        ranked_patches: the candidate patches, most salient first.
        saliency: (H, W) the ranking map.
        method: the saliency method that ranked the patches ("given" for user maps).
        substrate, soft_edges: how hidden patches were drawn.
        drop_bins: the edge classes' limits, in probability points.
        params: the search parameters (``SAGParams`` as a dict).
        stats: cost: ``forwards`` (model calls, the clean one included), ``rounds``,
            ``rows`` (patch sets scored) of the whole call; this image's
            ``beam_steps``, ``prune_rounds``, ``tree_levels`` and ``rows``... and times.
    """

    image: np.ndarray
    grid: tuple[int, int]
    target: int
    label: str
    full_probability: float
    threshold: float
    nodes: list[SAGNode]
    minimal_sets: list[tuple[tuple[int, ...], float]]
    shown_roots: list[int]
    ranking: np.ndarray
    ranked_patches: tuple[int, ...]
    saliency: np.ndarray
    method: str
    substrate: str = "black"
    soft_edges: bool = True
    drop_bins: tuple[float, float] = (20.0, 60.0)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=np.uint8)
        if self.image.ndim != 3 or self.image.shape[-1] != 3:
            raise bad_argument("image", "an (H, W, 3) uint8 image", self.image)
        self.grid = (int(self.grid[0]), int(self.grid[1]))
        self.saliency = np.asarray(self.saliency, dtype=np.float32)
        self.ranking = np.asarray(self.ranking, dtype=np.float32)
        for k, node in enumerate(self.nodes):
            if node.id != k:
                raise ValueError(f"AttentionGraph: nodes[{k}] has id {node.id}; ids must be positions")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Save to a compressed ``.npz`` file: the arrays, plus the trees, sets and
        settings as JSON. :meth:`load` gives back an equal graph."""
        path = pathlib.Path(path)
        meta = {
            "format_version": _FORMAT_VERSION,
            "grid": list(self.grid),
            "target": int(self.target),
            "label": self.label,
            "full_probability": float(self.full_probability),
            "threshold": float(self.threshold),
            "nodes": [plain(dataclasses.asdict(node)) for node in self.nodes],
            "minimal_sets": [[list(map(int, patches)), float(p)] for patches, p in self.minimal_sets],
            "shown_roots": [int(k) for k in self.shown_roots],
            "ranked_patches": [int(k) for k in self.ranked_patches],
            "method": self.method,
            "substrate": self.substrate,
            "soft_edges": bool(self.soft_edges),
            "drop_bins": [float(b) for b in self.drop_bins],
            "params": plain(self.params),
            "stats": plain(self.stats),
        }
        with open(path, "wb") as fh:
            np.savez_compressed(fh, image=self.image, ranking=self.ranking, saliency=self.saliency,
                                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return path

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "AttentionGraph":
        """Load a graph written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format_version") != _FORMAT_VERSION:
                raise ValueError(f"{path}: unsupported AttentionGraph format version {meta.get('format_version')!r}"
                                 f" (this xwidgets reads {_FORMAT_VERSION})")
            image, ranking, saliency = data["image"], data["ranking"], data["saliency"]
        nodes = [SAGNode(**{**n, "patches": tuple(n["patches"])}) for n in meta["nodes"]]
        return cls(
            image=image, grid=tuple(meta["grid"]), target=meta["target"], label=meta["label"],
            full_probability=meta["full_probability"], threshold=meta["threshold"], nodes=nodes,
            minimal_sets=[(tuple(patches), p) for patches, p in meta["minimal_sets"]],
            shown_roots=meta["shown_roots"], ranking=ranking, ranked_patches=tuple(meta["ranked_patches"]),
            saliency=saliency, method=meta["method"], substrate=meta["substrate"],
            soft_edges=meta["soft_edges"], drop_bins=tuple(meta["drop_bins"]),
            params=meta["params"], stats=meta["stats"],
        )

    # ------------------------------------------------------------------ structure
    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def roots(self) -> list[SAGNode]:
        """The shown roots (the minimal sets drawn as trees), most probable first."""
        return [n for n in self.nodes if n.parent is None]

    def node(self, node_id: int) -> SAGNode:
        if isinstance(node_id, bool) or not isinstance(node_id, (int, np.integer)) or not 0 <= node_id < len(self.nodes):
            raise bad_argument("node_id", f"a node id in [0, {len(self.nodes)})", node_id)
        return self.nodes[int(node_id)]

    def children(self, node_id: int) -> list[SAGNode]:
        self.node(node_id)
        return [n for n in self.nodes if n.parent == node_id]

    @property
    def edges(self) -> list[tuple[int, int, int, float]]:
        """(parent id, child id, removed patch, drop in points) of every edge."""
        return [(n.parent, n.id, n.removed, n.drop) for n in self.nodes if n.parent is not None]  # type: ignore[misc]

    def drop_class(self, node_id: int) -> str | None:
        """The edge class ("small", "medium", "large") into ``node_id`` (None for a root)."""
        return drop_class(self.node(node_id).drop, self.drop_bins)

    # ------------------------------------------------------------------ pixels
    def mask(self, patches: Iterable[int]) -> np.ndarray:
        """(H, W) float32 in [0, 1]: how much of each pixel ``patches`` reveal to the model."""
        return self.masks([tuple(patches)])[0]

    def masks(self, sets: Sequence[Iterable[int]]) -> np.ndarray:
        """(R, H, W) float32 masks of several patch sets."""
        from .search import patch_masks

        rows = np.zeros((len(sets), self.num_patches), dtype=bool)
        for r, patches in enumerate(sets):
            cells = list(patches)
            if any(not 0 <= int(c) < self.num_patches for c in cells):
                raise bad_argument("patches", f"cells in [0, {self.num_patches})", cells)
            rows[r, cells] = True
        h, w = self.image.shape[:2]
        return patch_masks(rows, self.grid, (h, w), self.soft_edges)[:, 0].numpy()

    def masked_image(self, patches: Iterable[int], dim: float = 0.25) -> np.ndarray:
        """(H, W, 3) uint8: the image with everything but ``patches`` dimmed to ``dim``."""
        m = self.mask(patches)[..., None]
        return np.clip(self.image * (dim + (1 - dim) * m), 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------ export
    def to_networkx(self):
        """A ``networkx.DiGraph``: nodes are ids with ``patches``, ``probability``, ``relative``,
        ``depth`` and ``root``; edges go parent -> child with ``removed``, ``drop`` and
        ``drop_class``. Graph attributes: target, label, full_probability, threshold, grid."""
        import networkx as nx

        g = nx.DiGraph(target=self.target, label=self.label, full_probability=self.full_probability,
                       threshold=self.threshold, grid=self.grid)
        for n in self.nodes:
            g.add_node(n.id, patches=n.patches, probability=n.probability, relative=n.relative, depth=n.depth, root=n.root)
        for parent, child, removed, drop in self.edges:
            g.add_edge(parent, child, removed=removed, drop=drop, drop_class=drop_class(drop, self.drop_bins))
        return g

    def widget(self, **kwargs: Any):
        """The interactive :class:`~xwidgets.widgets.sag_viewer.SAGViewer` of this graph."""
        from ..widgets.sag_viewer import SAGViewer

        return SAGViewer(self, **kwargs)

    def show(self, **kwargs: Any):
        return self.widget(**kwargs)

    # ------------------------------------------------------------------ drawing
    def layout(self) -> dict[int, tuple[float, float]]:
        """(x, depth) of every node: trees side by side, leaves one unit apart, a parent
        above the middle of its children."""
        positions: dict[int, tuple[float, float]] = {}
        kids: dict[int, list[int]] = {}
        for n in self.nodes:
            if n.parent is not None:
                kids.setdefault(n.parent, []).append(n.id)
        cursor = 0.0

        def place(node_id: int, depth: int) -> float:
            nonlocal cursor
            children = kids.get(node_id, [])
            if not children:
                x = cursor
                cursor += 1.0
            else:
                xs = [place(c, depth + 1) for c in children]
                x = (xs[0] + xs[-1]) / 2
            positions[node_id] = (x, float(depth))
            return x

        for root in self.roots:
            place(root.id, 0)
            cursor += 0.6  # a gap between trees
        return positions

    def plot(self, *, dim: float = 0.25, figsize: tuple[float, float] | None = None):
        """A matplotlib figure: the image with its grid and the ranking map's candidates,
        then the removal trees with masked thumbnails, probabilities, and edges coloured
        (and widened) by probability drop."""
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        pos = self.layout()
        width = max((x for x, _ in pos.values()), default=0.0) + 1
        depth = max((d for _, d in pos.values()), default=0.0) + 1
        figsize = figsize or (min(18.0, 3.0 + 0.9 * width), min(12.0, max(3.0, 1.3 * depth + 0.8)))
        fig = plt.figure(figsize=figsize)
        grid = fig.add_gridspec(1, 2, width_ratios=[2.6, max(1.0, 1.1 * width)], wspace=0.05)
        ax_img = fig.add_subplot(grid[0])
        ax_img.imshow(self.image)
        h, w = self.image.shape[:2]
        for r in range(1, self.grid[0]):
            ax_img.axhline(r * h / self.grid[0] - 0.5, color="white", lw=0.5, alpha=0.7)
        for c in range(1, self.grid[1]):
            ax_img.axvline(c * w / self.grid[1] - 0.5, color="white", lw=0.5, alpha=0.7)
        ax_img.set_title(f"{self.label}: p = {self.full_probability:.2f}\n"
                         f"{len(self.minimal_sets)} minimal sets, {len(self.roots)} shown", fontsize=9)
        ax_img.axis("off")

        ax = fig.add_subplot(grid[1])
        half = 0.42
        thumbs = self.masks([n.patches for n in self.nodes]) if self.nodes else np.zeros((0, h, w))
        for n in self.nodes:
            if n.parent is None:
                continue
            (x0, y0), (x1, y1) = pos[n.parent], pos[n.id]
            kind = drop_class(n.drop, self.drop_bins) or "small"
            ax.plot([x0, x1], [-y0 * 1.5 - half, -y1 * 1.5 + half + 0.18], color=DROP_COLOURS[kind],
                    lw=_DROP_WIDTHS[kind], solid_capstyle="round", zorder=1)
        for n, m in zip(self.nodes, thumbs):
            x, d = pos[n.id]
            y = -d * 1.5
            pix = np.clip(self.image * (dim + (1 - dim) * m[..., None]), 0, 255).astype(np.uint8)
            ax.imshow(pix, extent=(x - half, x + half, y - half, y + half), zorder=2)
            edge = "black" if n.parent is None else "none"
            ax.add_patch(plt.Rectangle((x - half, y - half), 2 * half, 2 * half, fill=False, ec=edge, lw=1.5, zorder=3))
            ax.text(x, y + half + 0.05, f"{n.probability:.0%}", ha="center", va="bottom", fontsize=8, zorder=3)
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(-(depth - 1) * 1.5 - 0.6, 0.75)
        ax.set_aspect("equal")
        ax.axis("off")
        lo, hi = self.drop_bins
        handles = [Line2D([], [], color=DROP_COLOURS[k], lw=_DROP_WIDTHS[k], label=text) for k, text in
                   zip(DROP_CLASSES, (f"drop < {lo:g}", f"{lo:g} to {hi:g}", f"drop >= {hi:g} points"))]
        if self.edges:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=7, frameon=False)
        return fig

    # ------------------------------------------------------------------ repr
    def __repr__(self) -> str:
        return (
            f"AttentionGraph(label={self.label!r}, p={self.full_probability:.3f}, grid={self.grid[0]}x{self.grid[1]}, "
            f"minimal_sets={len(self.minimal_sets)}, roots={len(self.roots)}, nodes={len(self.nodes)}, "
            f"method={self.method!r}, substrate={self.substrate!r})"
        )
