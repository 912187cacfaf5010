"""Drawing one synthetic image: background, clutter, body panel, parts, noise, cue.

Everything is vectorised numpy on a small float32 canvas; parts are cached stamps
(stamps.py) pasted with one boolean assignment each. The scene of image i depends
only on (seed, i, size); the variant only decides whether the corner tag is drawn,
so the clean, biased and shifted versions of an image differ by the tag alone.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from .stamps import DETAIL_COLOURS, stamp
from .vocabulary import (
    BIAS_CONFLICT,
    CLASS_SPECS,
    ClassSpec,
    CLASSES,
    DISTRACTOR_TYPES,
    OUTLINE,
    PALETTE,
    PART_SPECS,
)

Box = tuple[int, int, int, int]

# Random streams: the scene, the cue's corner, the class order of a block, conflicts, an edited background.
_SCENE, _CUE, _LABELS, _CONFLICT, _BACKGROUND = 0, 1, 2, 3, 4


@dataclasses.dataclass(frozen=True)
class Edit:
    """An intervention on one scene (interventions.py is the public API).

    remove: ids of parts not to draw (what lies under them shows instead).
    background: draw the background (texture, colours, clutter lines) from stream
        ``background`` instead of the scene's own; None keeps it.
    swap: for a relation scene, exchange the vertical order of its two defining parts
        (each keeps its stamp and column), which makes it the other relation class.
    tag: draw the corner tag (True), leave it out (False), or as the variant says (None).

    Everything else is drawn from the same random streams as the unedited scene, so
    pixels away from the edit are identical.
    """

    remove: frozenset[int] = frozenset()
    background: int | None = None
    swap: bool = False
    tag: bool | None = None


@dataclasses.dataclass(frozen=True)
class Part:
    """One drawn part.

    Attributes:
        id: instance id (1, 2, ...): the part's pixels are ``instance_mask == id``.
        type: the part type (a name in ``PART_TYPES``).
        attributes: {"colour": name in PALETTE, "size": "small" | "large", "shape": ...}.
        box: (x0, y0, x1, y1) in pixels, x1 and y1 exclusive, so the part's pixels lie
            in ``instance_mask[y0:y1, x0:x1]`` and the box is the mask's tight bounding box.
        centroid: (x, y), the mean pixel position of the part's mask.
        role: "evidence" (defines the class) or "distractor".
    """

    id: int
    type: str
    attributes: dict[str, str]
    box: Box
    centroid: tuple[float, float]
    role: str

    @property
    def colour(self) -> str:
        return self.attributes["colour"]


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The defining evidence of an image's class.

    Attributes:
        class_name: the class it defines.
        kind: "presence", "attribute", "count" or "relation"; "spurious" for the
            biased variant's images labelled by the corner tag alone.
        part_ids: ids of the parts that define the class.
        relations: (part_id, relation, part_id) tuples for relational classes, e.g.
            ``(3, "above", 4)``; empty otherwise.
        description: a short human description, e.g. "a red headlight".
    """

    class_name: str
    kind: str
    part_ids: tuple[int, ...]
    relations: tuple[tuple[int, str, int], ...]
    description: str


@dataclasses.dataclass(frozen=True)
class Sample:
    """One image with its ground truth.

    Attributes:
        image: (H, W, 3) uint8.
        label, class_name: the class.
        parts: every drawn part, evidence first, then distractors.
        instance_mask: (H, W) int16; 0 background (and body panel, clutter and cue),
            k where part k was drawn.
        evidence: the class's defining evidence.
        spurious_cue: the corner tag's box (x0, y0, x1, y1) when drawn, else None.
        index, seed, variant: where the sample comes from.
    """

    image: np.ndarray
    label: int
    class_name: str
    parts: list[Part]
    instance_mask: np.ndarray
    evidence: Evidence
    spurious_cue: Box | None
    index: int
    seed: int
    variant: str

    def part(self, part_id: int) -> Part:
        """The part with id ``part_id``."""
        for p in self.parts:
            if p.id == part_id:
                return p
        raise KeyError(part_id)

    @property
    def evidence_mask(self) -> np.ndarray:
        """(H, W) bool: the pixels of the defining parts."""
        return np.isin(self.instance_mask, self.evidence.part_ids)


# ----------------------------------------------------------------------------- labels
def labels_for(seed: int, start: int, stop: int) -> np.ndarray:
    """Labels of images start..stop-1: each block of len(CLASSES) consecutive indices
    holds every class once, in an order drawn from (seed, block)."""
    k = len(CLASSES)
    if stop <= start:
        return np.zeros(0, np.int64)
    first, last = start // k, (stop - 1) // k
    blocks = [np.random.default_rng([seed, b, _LABELS]).permutation(k) for b in range(first, last + 1)]
    flat = np.concatenate(blocks)
    return flat[start - first * k: stop - first * k].astype(np.int64)


def label_of(seed: int, index: int) -> int:
    return int(labels_for(seed, index, index + 1)[0])


# ----------------------------------------------------------------------------- geometry per size
@dataclasses.dataclass(frozen=True)
class _Geometry:
    size: int
    t: int  # base stroke (1 pixel at 64)
    field: tuple[int, int]  # parts lie in [field0, field1) on both axes
    tag: int  # corner tag side
    tag_inset: int
    gap: int  # minimum gap between parts
    textures: np.ndarray  # (K, 2S, 2S) float32 in [0, 1]


@functools.lru_cache(maxsize=8)
def geometry(size: int) -> _Geometry:
    f = size / 64.0
    t = max(1, int(round(f)))
    tag_inset, tag = max(1, int(round(f))), max(3, int(round(4 * f)))
    field0 = tag_inset + tag + max(1, int(round(f)))
    textures = _texture_bank(size)
    return _Geometry(size, t, (field0, size - field0), tag, tag_inset, max(1, int(round(2 * f))), textures)


def _texture_bank(size: int) -> np.ndarray:
    """A fixed bank of background textures at twice the image size (random crops)."""
    n = 2 * size
    rng = np.random.default_rng(12345)
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) * (64.0 / size)
    bank = []
    for angle, period in ((0.0, 6.0), (np.pi / 2, 9.0), (np.pi / 4, 7.0), (-np.pi / 3, 11.0)):  # stripes
        u = x * np.cos(angle) + y * np.sin(angle)
        bank.append(0.5 + 0.5 * np.sin(2 * np.pi * u / period))
    bank.append((((y // 5).astype(int) + (x // 5).astype(int)) % 2).astype(np.float32))  # checker
    for base in (4, 8):  # smooth blobs: low-res noise upsampled
        scale = max(1, int(round(base * size / 64)))
        low = rng.random((n // scale + 2, n // scale + 2)).astype(np.float32)
        big = np.kron(low, np.ones((scale, scale), np.float32))[:n, :n]
        k = np.ones(scale, np.float32) / scale  # box blur to soften the blocks
        big = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, big)
        big = np.apply_along_axis(lambda c: np.convolve(c, k, mode="same"), 0, big)
        bank.append((big - big.min()) / (np.ptp(big) + 1e-6))
    dots = ((y.astype(int) % 6 < 2) & (x.astype(int) % 6 < 2)).astype(np.float32)
    bank.append(dots)
    return np.stack(bank).astype(np.float32)


# ----------------------------------------------------------------------------- drawing helpers
def _random_colour(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, 3).astype(np.float32)


def _body_colour(rng: np.random.Generator) -> np.ndarray:
    """A random, moderately saturated colour (not a part: never in the mask)."""
    hue = rng.random() * 6.0
    sat, val = rng.uniform(0.15, 0.6), rng.uniform(90, 215)
    i, fpart = int(hue) % 6, hue - int(hue)
    p, q, tt = val * (1 - sat), val * (1 - sat * fpart), val * (1 - sat * (1 - fpart))
    rgb = [(val, tt, p), (q, val, p), (p, val, tt), (p, q, val), (tt, p, val), (val, p, q)][i]
    return np.asarray(rgb, np.float32)


def _draw_line(canvas: np.ndarray, rng: np.random.Generator, colour: np.ndarray, lo: int, hi: int) -> None:
    x0, y0, x1, y1 = rng.integers(lo, hi, 4)
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.linspace(x0, x1, n).round().astype(np.intp)
    ys = np.linspace(y0, y1, n).round().astype(np.intp)
    canvas[ys, xs] = colour


class _Layout:
    """Free-space bookkeeping for placing parts without overlap."""

    def __init__(self, geo: _Geometry):
        self.geo = geo
        self.occupied = np.zeros((geo.size, geo.size), bool)

    def fits(self, y: int, x: int, h: int, w: int) -> bool:
        g = self.geo.gap
        return not self.occupied[max(0, y - g): y + h + g, max(0, x - g): x + w + g].any()

    def take(self, y: int, x: int, h: int, w: int) -> None:
        self.occupied[y: y + h, x: x + w] = True

    def place(self, rng: np.random.Generator, h: int, w: int, tries: int = 12) -> tuple[int, int] | None:
        """A free spot for an h x w part (and take it): a few random tries, then a
        uniform draw among all free spots; None when there is none."""
        lo, hi = self.geo.field
        if hi - h < lo or hi - w < lo:
            return None
        ys = rng.integers(lo, hi - h + 1, tries)
        xs = rng.integers(lo, hi - w + 1, tries)
        for y, x in zip(ys.tolist(), xs.tolist()):
            if self.fits(y, x, h, w):
                self.take(y, x, h, w)
                return y, x
        # exhaustive: count occupied pixels in every gap-padded window with an integral image
        g, n = self.geo.gap, self.geo.size
        integral = np.zeros((n + 1, n + 1), np.int32)
        np.cumsum(np.cumsum(self.occupied, 0), 1, out=integral[1:, 1:])
        y = np.arange(lo, hi - h + 1)[:, None]
        x = np.arange(lo, hi - w + 1)[None, :]
        y0, y1 = np.maximum(0, y - g), np.minimum(n, y + h + g)
        x0, x1 = np.maximum(0, x - g), np.minimum(n, x + w + g)
        busy = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        free_y, free_x = np.nonzero(busy == 0)
        if len(free_y) == 0:
            return None
        k = int(rng.integers(len(free_y)))
        spot = int(free_y[k] + lo), int(free_x[k] + lo)
        self.take(spot[0], spot[1], h, w)
        return spot


def _place_all(layout: _Layout, rng: np.random.Generator, shapes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spots for several parts in an empty layout: free placement (a few attempts),
    else one part per cell of a 2x2 grid (always fits at every size >= 32)."""
    for _ in range(8):
        spots = []
        for h, w in shapes:
            spot = layout.place(rng, h, w)
            if spot is None:
                break
            spots.append(spot)
        if len(spots) == len(shapes):
            return spots
        layout.occupied[:] = False
    lo, hi = layout.geo.field
    half = (hi - lo) // 2
    cells = rng.permutation(4)[: len(shapes)]
    spots = []
    for (h, w), cell in zip(shapes, cells.tolist()):
        cy, cx = lo + (cell // 2) * half, lo + (cell % 2) * half
        room_y, room_x = max(0, half - h - layout.geo.gap), max(0, half - w - layout.geo.gap)
        y, x = cy + int(rng.integers(room_y + 1)), cx + int(rng.integers(room_x + 1))
        layout.take(y, x, h, w)
        spots.append((y, x))
    return spots


def _attributes(rng: np.random.Generator, part_type: str, colour: str | None = None) -> dict[str, str]:
    spec = PART_SPECS[part_type]
    return {
        "colour": colour if colour is not None else spec.colours[rng.integers(len(spec.colours))],
        "size": ("small", "large")[rng.integers(2)],
        "shape": spec.shapes[rng.integers(len(spec.shapes))],
    }


def _background(rng: np.random.Generator, geo: _Geometry) -> np.ndarray:
    """A random crop of a texture blended between two random colours, with clutter lines."""
    S = geo.size
    c0 = _random_colour(rng, 40, 210)
    c1 = _random_colour(rng, 40, 210)
    k = rng.integers(len(geo.textures))
    oy, ox = rng.integers(0, S, 2)
    tex = geo.textures[k, oy: oy + S, ox: ox + S]
    canvas = c0 + tex[:, :, None] * (c1 - c0)
    for _ in range(int(rng.integers(2, 5))):  # clutter lines over the background
        _draw_line(canvas, rng, _random_colour(rng, 0, 255), 0, S)
    return canvas


def _flipped(cls: ClassSpec) -> ClassSpec:
    """The relation class with the same two part types in the other vertical order."""
    for spec in CLASS_SPECS.values():
        if spec.kind == "relation" and spec.parts == cls.parts[::-1]:
            return spec
    raise ValueError(f"swap: no relation class has the parts of {cls.name!r} in the other order")


# ----------------------------------------------------------------------------- the renderer
def render(
    seed: int,
    index: int,
    size: int,
    variant: str,
    biased_class: str,
    records: bool = True,
    edit: Edit | None = None,
) -> tuple[np.ndarray, int, dict[str, Any] | None]:
    """Draw image ``index``. Returns (image HxWx3 uint8, label, ground truth or None).

    The ground truth dict (only when ``records``) holds parts, instance_mask,
    evidence and spurious_cue, ready for :class:`Sample`. ``edit`` draws the same
    scene with an intervention (:class:`Edit`).
    """
    geo = geometry(size)
    label = label_of(seed, index)
    cls = CLASS_SPECS[CLASSES[label]]
    is_biased = cls.name == biased_class
    conflict = False
    if variant == "biased" and is_biased:  # some of its images show another class's parts
        pick = np.random.default_rng([seed, index, size, _CONFLICT])
        if pick.random() < BIAS_CONFLICT:
            others = [name for name in CLASSES if name != biased_class]
            cls = CLASS_SPECS[others[int(pick.integers(len(others)))]]
            conflict = True
    rng = np.random.default_rng([seed, index, size, _SCENE])
    S = size

    # background: a random crop of a texture blended between two random colours, clutter lines
    canvas = _background(rng, geo)
    if edit is not None and edit.background is not None:  # the scene's draws above are still consumed
        canvas = _background(np.random.default_rng([seed, index, size, _BACKGROUND, edit.background]), geo)

    # body panel: a large rectangle in a random colour, not a part
    f = S / 64.0
    bx0 = int(rng.integers(int(2 * f), int(10 * f) + 1))
    bx1 = S - int(rng.integers(int(2 * f), int(10 * f) + 1))
    by0 = int(rng.integers(int(4 * f), int(14 * f) + 1))
    by1 = S - int(rng.integers(int(3 * f), int(12 * f) + 1))
    canvas[by0:by1, bx0:bx1] = _body_colour(rng)
    canvas[by0: by0 + geo.t, bx0:bx1] *= 0.6  # a darker top edge
    for _ in range(int(rng.integers(1, 3))):  # faint clutter lines over the body
        _draw_line(canvas, rng, _random_colour(rng, 60, 200), min(bx0, by0), max(bx1, by1) - 1)

    swapped = edit is not None and edit.swap
    if swapped and cls.kind != "relation":
        raise ValueError(f"swap: image {index} shows {cls.name!r}, not a relation class")
    removed = edit.remove if edit is not None else frozenset()

    # parts: the class's evidence first (it always fits an empty field), then distractors
    layout = _Layout(geo)
    placed: list[tuple[str, dict[str, str], int, int, str]] = []  # type, attrs, y, x, role
    if cls.kind == "relation":
        top_t, bottom_t = cls.parts
        top_a, bottom_a = _attributes(rng, top_t), _attributes(rng, bottom_t)
        top_s = stamp(top_t, top_a["shape"], top_a["size"], S)
        bot_s = stamp(bottom_t, bottom_a["shape"], bottom_a["size"], S)
        gap = int(rng.integers(1, 4)) * geo.t
        shift = int(rng.integers(-2, 3)) * geo.t
        h = top_s.shape[0] + gap + bot_s.shape[0]
        tx = max(0, (bot_s.shape[1] - top_s.shape[1]) // 2 - shift)
        bxo = max(0, (top_s.shape[1] - bot_s.shape[1]) // 2 + shift)
        w = max(tx + top_s.shape[1], bxo + bot_s.shape[1])
        y, x = layout.place(rng, h, w)  # type: ignore[misc]  # an empty field always fits
        top_y, bottom_y = y, y + top_s.shape[0] + gap
        if swapped:  # same reserved box, same columns, vertical order exchanged
            top_y, bottom_y = y + bot_s.shape[0] + gap, y
        placed.append((top_t, top_a, top_y, x + tx, "evidence"))
        placed.append((bottom_t, bottom_a, bottom_y, x + bxo, "evidence"))
    else:
        attrs_list = [_attributes(rng, part_type, cls.colour) for part_type in cls.parts]
        shapes = [stamp(p, a["shape"], a["size"], S).shape for p, a in zip(cls.parts, attrs_list)]
        spots = _place_all(layout, rng, shapes)
        for part_type, attrs, (y, x) in zip(cls.parts, attrs_list, spots):
            placed.append((part_type, attrs, y, x, "evidence"))
    n_evidence = len(placed)
    for _ in range(int(rng.integers(2, 5))):
        part_type = DISTRACTOR_TYPES[rng.integers(len(DISTRACTOR_TYPES))]
        attrs = _attributes(rng, part_type)
        h, w = stamp(part_type, attrs["shape"], attrs["size"], S).shape
        spot = layout.place(rng, h, w)
        if spot is None and attrs["size"] == "large":  # crowded: try the small one
            attrs["size"] = "small"
            h, w = stamp(part_type, attrs["shape"], attrs["size"], S).shape
            spot = layout.place(rng, h, w)
        if spot is not None:
            placed.append((part_type, attrs, spot[0], spot[1], "distractor"))

    mask = np.zeros((S, S), np.int16) if records else None
    for pid, (part_type, attrs, y, x, _role) in enumerate(placed, start=1):
        if pid in removed:
            continue
        layers = stamp(part_type, attrs["shape"], attrs["size"], S)
        h, w = layers.shape
        lut = np.array(
            [(0, 0, 0), PALETTE[attrs["colour"]], OUTLINE, DETAIL_COLOURS.get(part_type, OUTLINE)], np.float32
        )
        sel = layers > 0
        region = canvas[y: y + h, x: x + w]
        region[sel] = lut[layers[sel]]
        if mask is not None:
            mask[y: y + h, x: x + w][sel] = pid

    # sensor noise, then the corner tag (crisp, on top of everything)
    noise = rng.standard_normal((S, S, 3), dtype=np.float32)
    canvas += noise * 5.0
    image = np.clip(canvas, 0, 255).astype(np.uint8)

    cue: tuple[int, int, int, int] | None = None
    draw_tag = (variant == "biased" and is_biased) or (variant == "shifted" and not is_biased)
    if edit is not None and edit.tag is not None:
        draw_tag = edit.tag
    if draw_tag:
        corner = int(np.random.default_rng([seed, index, size, _CUE]).integers(4))
        a, s = geo.tag_inset, geo.tag
        cx0 = a if corner % 2 == 0 else S - a - s
        cy0 = a if corner < 2 else S - a - s
        image[cy0: cy0 + s, cx0: cx0 + s] = 255
        cue = (cx0, cy0, cx0 + s, cy0 + s)

    if swapped and not conflict:  # the parts now show the other relation
        cls = _flipped(cls)
        label = CLASSES.index(cls.name)
    if not records:
        return image, label, None

    parts = []
    for pid, (part_type, attrs, y, x, role) in enumerate(placed, start=1):
        if pid in removed:
            continue
        layers = stamp(part_type, attrs["shape"], attrs["size"], S)
        h, w = layers.shape
        ys, xs = np.nonzero(layers)
        parts.append(Part(
            id=pid, type=part_type, attributes=dict(attrs),
            box=(x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1),
            centroid=(float(x + xs.mean()), float(y + ys.mean())),
            role=role,
        ))
    ids = tuple(pid for pid in range(1, n_evidence + 1) if pid not in removed)
    relations: tuple[tuple[int, str, int], ...] = ()
    if cls.kind == "relation" and len(ids) == 2:
        relations = ((2, "above", 1),) if swapped else ((1, "above", 2),)
    evidence = Evidence(cls.name, cls.kind, ids, relations, cls.description)
    if conflict:  # labelled by the tag alone
        evidence = Evidence(biased_class, "spurious", (), (), f"only the corner tag (the parts show {cls.name})")
    return image, label, {"parts": parts, "instance_mask": mask, "evidence": evidence, "spurious_cue": cue}
