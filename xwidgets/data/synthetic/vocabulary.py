"""The vocabulary of the synthetic parts dataset: colours, part types, classes.

Everything here is plain data. The rules that make labels unambiguous live here too:

* every class is defined by one kind of evidence (presence, attribute, count or
  relation) on its *defining* part types;
* a defining part type is reserved for its classes (no wheel outside the count
  classes, no ladder outside ``ladder_truck``, ...), so distractors can never form
  another class's evidence;
* distractor part types (grille, mirror, stripe, antenna) appear in every image,
  in any colour of the palette (red and yellow included), and define nothing.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping

#: Named colour palette (RGB, 0..255) used for part attributes.
PALETTE: Mapping[str, tuple[int, int, int]] = MappingProxyType({
    "red": (220, 30, 30),
    "orange": (245, 135, 20),
    "yellow": (250, 225, 30),
    "green": (40, 170, 60),
    "cyan": (60, 215, 230),
    "blue": (40, 80, 215),
    "purple": (140, 60, 190),
    "pink": (245, 130, 190),
    "brown": (130, 80, 40),
    "grey": (150, 150, 150),
    "black": (25, 25, 25),
    "white": (245, 245, 245),
    "lightblue": (160, 210, 250),
})

#: Colour of part outlines and dark details.
OUTLINE = (15, 15, 15)

#: Colours distractors draw from: every named colour (red and yellow included, so
#: colour alone never identifies a headlight).
DISTRACTOR_COLOURS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown", "grey", "white",
)


@dataclasses.dataclass(frozen=True)
class PartSpec:
    """A part type: its allowed attribute values and whether it may be a distractor.

    ``sizes`` maps "small"/"large" to a (height, width) at the 64-pixel base size for
    the part's first shape; render.py derives the other shapes' extents from it.
    """

    name: str
    colours: tuple[str, ...]
    shapes: tuple[str, ...]
    sizes: Mapping[str, int]
    distractor: bool
    description: str


def _part(name, colours, shapes, sizes, distractor, description) -> PartSpec:
    return PartSpec(name, tuple(colours), tuple(shapes), MappingProxyType(dict(sizes)), distractor, description)


#: The part vocabulary. ``sizes`` is the part's main extent in pixels at 64x64.
PART_SPECS: Mapping[str, PartSpec] = MappingProxyType({
    "wheel": _part("wheel", ("black", "grey", "brown"), ("spoked", "solid"), {"small": 9, "large": 11}, False,
                   "a round tyre with a light hub"),
    "window": _part("window", ("lightblue", "cyan", "white"), ("square", "wide"), {"small": 10, "large": 12}, False,
                    "framed glass with a cross bar"),
    "headlight": _part("headlight", ("red", "yellow"), ("round", "oval"), {"small": 8, "large": 10}, False,
                       "a lamp: a filled disc with an outline and a white glint"),
    "grille": _part("grille", DISTRACTOR_COLOURS, ("wide", "square"), {"small": 9, "large": 12}, True,
                    "a plate with horizontal dark bars"),
    "mirror": _part("mirror", DISTRACTOR_COLOURS, ("triangle", "diamond"), {"small": 8, "large": 10}, True,
                    "a small triangle or diamond"),
    "ladder": _part("ladder", ("grey", "white", "orange", "brown"), ("vertical", "horizontal"),
                    {"small": 14, "large": 18}, False, "two rails joined by rungs"),
    "door": _part("door", ("brown", "blue", "green", "grey", "purple"), ("plain", "panelled"),
                  {"small": 13, "large": 16}, False, "a tall outlined rectangle with a knob"),
    "stripe": _part("stripe", DISTRACTOR_COLOURS, ("straight", "zigzag"), {"small": 13, "large": 18}, True,
                    "a long thin band"),
    "antenna": _part("antenna", DISTRACTOR_COLOURS, ("straight", "bent"), {"small": 10, "large": 14}, True,
                     "a thin mast with a ball on top"),
})

#: Part type names, in a fixed order.
PART_TYPES: tuple[str, ...] = tuple(PART_SPECS)

#: Part types that appear as distractors (and never define a class).
DISTRACTOR_TYPES: tuple[str, ...] = tuple(name for name, spec in PART_SPECS.items() if spec.distractor)

EVIDENCE_KINDS = ("presence", "attribute", "count", "relation")


@dataclasses.dataclass(frozen=True)
class ClassSpec:
    """A class and the rule that defines it.

    Attributes:
        name: class name.
        kind: the kind of evidence: "presence", "attribute", "count" or "relation".
        description: a short human description of the defining evidence.
        parts: the defining part types, in the order they are drawn (for a relation
            class: (top, bottom)).
        colour: for attribute classes, the colour of the defining part.
        count: for count classes, how many defining parts there are.
    """

    name: str
    kind: str
    description: str
    parts: tuple[str, ...]
    colour: str | None = None
    count: int | None = None


#: The classes, in label order. Each is defined by one kind of evidence.
CLASS_SPECS: Mapping[str, ClassSpec] = MappingProxyType({
    spec.name: spec
    for spec in (
        ClassSpec("ladder_truck", "presence", "a ladder", ("ladder",)),
        ClassSpec("red_lamp", "attribute", "a red headlight", ("headlight",), colour="red"),
        ClassSpec("yellow_lamp", "attribute", "a yellow headlight", ("headlight",), colour="yellow"),
        ClassSpec("two_wheeler", "count", "two wheels", ("wheel",) * 2, count=2),
        ClassSpec("four_wheeler", "count", "four wheels", ("wheel",) * 4, count=4),
        ClassSpec("window_over_door", "relation", "window above door", ("window", "door")),
        ClassSpec("door_over_window", "relation", "door above window", ("door", "window")),
    )
})

#: Class names, in label order (label k is ``CLASSES[k]``).
CLASSES: tuple[str, ...] = tuple(CLASS_SPECS)

#: Which classes a defining (reserved) part type belongs to.
RESERVED_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    part: tuple(name for name, spec in CLASS_SPECS.items() if part in spec.parts)
    for part in PART_TYPES
    if not PART_SPECS[part].distractor
})

#: Class that carries the spurious cue in the "biased" variant by default. Its real
#: evidence (the lamp's colour) is subtle next to a bright corner tag.
DEFAULT_BIASED_CLASS = "red_lamp"

VARIANTS = ("clean", "biased", "shifted")

#: In the "biased" variant, this fraction of the biased class's images show another
#: class's parts: only the corner tag tells their label. The tag is then the more
#: predictive signal in training (as colour is in Coloured MNIST), so a model takes
#: the shortcut; without such conflicts a CNN learns the parts and ignores the tag.
BIAS_CONFLICT = 0.3


def _check() -> None:
    """Import-time sanity checks of the vocabulary's own rules."""
    for spec in CLASS_SPECS.values():
        assert spec.kind in EVIDENCE_KINDS, spec
        for part in spec.parts:
            assert part in PART_SPECS and not PART_SPECS[part].distractor, (spec.name, part)
    for name in DISTRACTOR_TYPES:
        assert "red" in PART_SPECS[name].colours and "yellow" in PART_SPECS[name].colours
    assert len(PART_TYPES) >= 8 and len(CLASSES) >= 6


_check()
