"""Part stamps: small cached label arrays that render.py pastes onto the canvas.

A stamp is an (h, w) uint8 array of *layers*: 0 transparent, 1 the part's colour,
2 dark (outline and dark details), 3 the part type's light detail colour (a wheel's
hub, a headlight's glint, a door's knob). Every stamp gets a dark outline, so a part
stays visible on a body panel of its own colour. Stamps are drawn once per
(type, shape, size, image size) and cached.
"""

from __future__ import annotations

import functools

import numpy as np

from .vocabulary import PART_SPECS

FILL, DARK, DETAIL = 1, 2, 3

#: Light detail colour per part type (layer 3).
DETAIL_COLOURS = {
    "wheel": (205, 205, 205),
    "headlight": (255, 255, 255),
    "door": (240, 200, 60),
}


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates relative to the stamp's centre."""
    y = np.arange(h, dtype=np.float32)[:, None] - (h - 1) / 2
    x = np.arange(w, dtype=np.float32)[None, :] - (w - 1) / 2
    return y, x


def _outline(layers: np.ndarray, t: int) -> np.ndarray:
    """Pad by ``t`` and add a dark outline ``t`` pixels thick around the non-empty layers."""
    out = np.pad(layers, t)
    solid = out > 0
    grown = solid.copy()
    for _ in range(t):
        step = grown.copy()
        step[1:] |= grown[:-1]
        step[:-1] |= grown[1:]
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        grown = step
    out[grown & ~solid] = DARK
    return out


def _wheel(d: int, shape: str, t: int) -> np.ndarray:
    y, x = _grid(d, d)
    r = np.sqrt(y * y + x * x)
    radius = d / 2
    layers = np.zeros((d, d), np.uint8)
    layers[r <= radius] = FILL  # tyre
    hub = r <= radius - 2.0 * t
    layers[hub] = DETAIL
    if shape == "spoked":
        spokes = hub & ((np.abs(x) < 0.5 * t) | (np.abs(y) < 0.5 * t))
        layers[spokes] = DARK
    layers[r <= 0.9 * t] = DARK  # axle
    return layers


def _headlight(d: int, shape: str, t: int) -> np.ndarray:
    h, w = (d, d) if shape == "round" else (d - t, d + 3 * t)
    y, x = _grid(h, w)
    inside = (y / (h / 2)) ** 2 + (x / (w / 2)) ** 2 <= 1.0
    layers = np.where(inside, FILL, 0).astype(np.uint8)
    glint = inside & (y < -h / 6) & (y >= -h / 6 - 2 * t) & (x < -w / 6) & (x >= -w / 6 - 2 * t)
    layers[glint] = DETAIL
    return layers


def _window(d: int, shape: str, t: int) -> np.ndarray:
    h, w = (d, d) if shape == "square" else (d - t, d + 4 * t)
    layers = np.full((h, w), FILL, np.uint8)
    cy, cx = h // 2, w // 2
    layers[cy - t // 2: cy - t // 2 + t, :] = DARK  # cross bars: four panes
    layers[:, cx - t // 2: cx - t // 2 + t] = DARK
    return layers


def _door(d: int, shape: str, t: int) -> np.ndarray:
    h, w = d, max(6 * t, int(round(d * 0.62)))
    layers = np.full((h, w), FILL, np.uint8)
    if shape == "panelled":
        p0, p1 = 2 * t, max(3 * t, h // 2 - t)
        layers[p0:p1, 2 * t: w - 2 * t] = DARK
        layers[p0 + t: p1 - t, 3 * t: w - 3 * t] = FILL
    ky = h // 2 + t
    layers[ky: ky + 2 * t, w - 3 * t: w - t] = DETAIL  # knob
    return layers


def _ladder(d: int, shape: str, t: int) -> np.ndarray:
    length, width = d, 7 * t
    layers = np.zeros((length, width), np.uint8)
    layers[:, :t] = FILL  # rails
    layers[:, width - t:] = FILL
    rungs = (np.arange(length) // t) % 3 == 0  # a rung every 3 pixels (x scale)
    layers[rungs, :] = FILL
    layers[-t:, :] = FILL
    return layers if shape == "vertical" else np.ascontiguousarray(layers.T)


def _grille(d: int, shape: str, t: int) -> np.ndarray:
    h, w = (d, d) if shape == "square" else (d - 2 * t, d + 5 * t)
    layers = np.full((h, w), FILL, np.uint8)
    yy = np.arange(h)[:, None] // t
    xx = np.arange(w)[None, :] // t
    holes = (yy % 3 == 1) & (xx % 3 == 1)  # a grid of dark holes
    layers[holes] = DARK
    return layers


def _mirror(d: int, shape: str, t: int) -> np.ndarray:
    y, x = _grid(d, d)
    if shape == "triangle":
        inside = np.abs(x) <= (y + d / 2) / 2 + 0.25
    else:
        inside = np.abs(x) + np.abs(y) <= d / 2
    return np.where(inside, FILL, 0).astype(np.uint8)


def _stripe(d: int, shape: str, t: int) -> np.ndarray:
    if shape == "straight":
        return np.full((2 * t, d), FILL, np.uint8)
    h = 5 * t
    layers = np.zeros((h, d), np.uint8)
    period = 6 * t
    x = np.arange(d)
    tri = np.abs((x % period) - period / 2) / (period / 2)  # 0..1 triangle wave
    top = np.round(tri * (h - 2 * t)).astype(int)
    for k in range(2 * t):
        layers[top + k, x] = FILL
    return layers


def _antenna(d: int, shape: str, t: int) -> np.ndarray:
    ball = 3 * t
    w = ball + (2 * t if shape == "bent" else 0)
    layers = np.zeros((d, w), np.uint8)
    y, x = _grid(ball, ball)
    layers[:ball, :ball][(y * y + x * x) <= (ball / 2) ** 2] = FILL
    mast_x = ball // 2 - t // 2
    if shape == "straight":
        layers[ball:, mast_x: mast_x + t] = FILL
    else:
        kink = ball + (d - ball) // 2
        layers[ball:kink, mast_x: mast_x + t] = FILL
        layers[kink - t: kink, mast_x: mast_x + 2 * t + t] = FILL
        layers[kink:, mast_x + 2 * t: mast_x + 3 * t] = FILL
    return layers


_DRAW = {
    "wheel": _wheel,
    "headlight": _headlight,
    "window": _window,
    "door": _door,
    "ladder": _ladder,
    "grille": _grille,
    "mirror": _mirror,
    "stripe": _stripe,
    "antenna": _antenna,
}


@functools.lru_cache(maxsize=None)
def stamp(part_type: str, shape: str, size: str, image_size: int) -> np.ndarray:
    """The (read-only) layer stamp of a part at an image size, outline included."""
    spec = PART_SPECS[part_type]
    scale = image_size / 64.0
    t = max(1, int(round(scale)))
    d = max(3, int(round(spec.sizes[size] * scale)))
    layers = _outline(_DRAW[part_type](d, shape, t), t)
    layers.setflags(write=False)
    return layers


@functools.lru_cache(maxsize=None)
def stamp_mask(part_type: str, shape: str, size: str, image_size: int) -> np.ndarray:
    """Boolean footprint of :func:`stamp` (cached)."""
    mask = stamp(part_type, shape, size, image_size) > 0
    mask.setflags(write=False)
    return mask
