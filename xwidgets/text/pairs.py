"""Image-text pairs: one patch of an image and a caption that describes it.

Seed 000 claim 2 and paragraph 0024: the second model learns its image-text mapping
from "a plurality of image-text pairs", pre-processed into pairs and augmented "by
varying the textual descriptions". Two sources:

* :func:`synthetic_pairs`: one pair per part instance of the synthetic parts dataset
  (the patch is the part's instance mask on its image), captioned from the ground
  truth ("a red headlight at the top left of the image") by a seeded template
  grammar (several sentence frames, word orders and synonyms). Each caption comes
  with a :class:`Statement`, a structured record of what it states, so naming can be
  checked without parsing prose.
* :func:`load_pairs`: a user's own pairs, a folder of images (or crops) and a CSV of
  captions (and optionally patch masks).
"""

from __future__ import annotations

import csv as _csv
import dataclasses
import math
import numbers
import pathlib
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from .._validation import bad_argument
from ..data.synthetic import PART_SPECS, PART_TYPES, SyntheticParts
from .spatial import REGION_PHRASES, region_of

__all__ = [
    "Statement", "Pair", "Pairs", "Phrase", "synthetic_pairs", "load_pairs", "caption",
    "naming_phrases", "TYPE_WORDS", "COLOUR_WORDS",
]

#: Words that name each part type in captions (the first is canonical). A type held
#: out of training loses all of its words.
TYPE_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "wheel": ("wheel", "tyre"),
    "window": ("window", "glass pane"),
    "headlight": ("headlight", "head lamp", "lamp"),
    "grille": ("grille", "grill", "radiator grille"),
    "mirror": ("mirror", "side mirror", "wing mirror"),
    "ladder": ("ladder",),
    "door": ("door",),
    "stripe": ("stripe", "band"),
    "antenna": ("antenna", "aerial"),
})

#: Words that name each colour of the palette (the first is canonical).
COLOUR_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "red": ("red",), "orange": ("orange",), "yellow": ("yellow",), "green": ("green",),
    "cyan": ("cyan", "turquoise"), "blue": ("blue",), "purple": ("purple", "violet"), "pink": ("pink",),
    "brown": ("brown",), "grey": ("grey", "gray"), "black": ("black",), "white": ("white",),
    "lightblue": ("light blue", "pale blue"),
})

# Noun-phrase frames ({a} is the article of the word after it) and sentence frames.
_NOUN_FRAMES = (
    "{a} {colour} {type}",
    "{a} {colour} {type}",
    "{a} {size} {colour} {type}",
    "{a} {colour} {shape} {type}",
    "{a} {type} in {colour}",
    "{a} {colour}-coloured {type}",
)
_NOUN_FRAMES_NO_COLOUR = ("{a} {type}", "{a} {size} {type}", "{a} {shape} {type}")
_SENTENCE_FRAMES = (
    "{np} {pos}",
    "{np} {pos}",
    "there is {np} {pos}",
    "{np} is shown {pos}",
    "{np} appears {pos}",
    "a photo of {np} {pos}",
    "{Pos}, {np}",
    "{Pos} there is {np}",
)
_SENTENCE_FRAMES_NO_POSITION = ("{np}", "a photo of {np}", "there is {np}", "{np} in the image")
_SHAPE_WORDS = {"spoked": "spoked", "solid": "solid", "square": "square", "wide": "wide", "round": "round",
                "oval": "oval", "triangle": "triangular", "diamond": "diamond-shaped", "vertical": "vertical",
                "horizontal": "horizontal", "plain": "plain", "panelled": "panelled", "straight": "straight",
                "zigzag": "zigzag", "bent": "bent"}


@dataclasses.dataclass(frozen=True)
class Statement:
    """What a caption states (None: not stated).

    type: a part type (``PART_TYPES``); colour: a palette colour name; position: a
    region of :data:`~xwidgets.text.spatial.REGIONS`; size: "small" or "large";
    shape: the part's shape attribute.
    """

    type: str | None = None
    colour: str | None = None
    position: str | None = None
    size: str | None = None
    shape: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Statement":
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Phrase:
    """A candidate phrase for naming, with what it states when known."""

    text: str
    statement: Statement | None = None


@dataclasses.dataclass(frozen=True)
class Pair:
    """One image-text pair: ``image`` (H, W, 3) uint8, ``mask`` (H, W) bool (the
    patch; None: the whole image), ``caption``, ``statement`` (None for user pairs)
    and ``source`` (where it came from)."""

    image: np.ndarray
    mask: np.ndarray | None
    caption: str
    statement: Statement | None
    source: str


class Pairs(Sequence[Pair]):
    """Image-text pairs: source images, one patch mask (or None) per pair, captions.

    Several pairs may share an image (``image_index``), so a model's features are
    computed once per image. ``pairs[i]`` is a :class:`Pair`; ``pairs[a:b]`` and
    ``pairs.subset(indices)`` are :class:`Pairs`.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        image_index: Sequence[int],
        masks: Sequence[np.ndarray | None],
        captions: Sequence[str],
        statements: Sequence[Statement | None] | None = None,
        sources: Sequence[str] | None = None,
    ) -> None:
        self.images = [np.asarray(im) for im in images]
        for i, im in enumerate(self.images):
            if im.ndim != 3 or im.shape[-1] != 3 or im.dtype != np.uint8:
                raise bad_argument(f"images[{i}]", "an (H, W, 3) uint8 RGB array", im)
        self.image_index = np.asarray(image_index, np.int64).reshape(-1)
        n = len(self.image_index)
        if len(self.image_index) and (self.image_index.min() < 0 or self.image_index.max() >= len(self.images)):
            raise bad_argument("image_index", f"indices in [0, {len(self.images)})", self.image_index)
        self.masks = list(masks)
        self.captions = [str(c) for c in captions]
        self.statements = list(statements) if statements is not None else [None] * n
        self.sources = [str(s) for s in sources] if sources is not None else [f"pair {i}" for i in range(n)]
        for name, seq in (("masks", self.masks), ("captions", self.captions), ("statements", self.statements),
                          ("sources", self.sources)):
            if len(seq) != n:
                raise bad_argument(name, f"one entry per pair ({n})", seq)
        for i, (k, m) in enumerate(zip(self.image_index, self.masks)):
            if m is None:
                continue
            m = np.asarray(m)
            if m.dtype != bool or m.shape != self.images[k].shape[:2]:
                raise bad_argument(f"masks[{i}]", f"None or a bool mask of its image's shape {self.images[k].shape[:2]}", m)
            if not m.any():
                raise bad_argument(f"masks[{i}]", "a mask with at least one pixel", m)
            self.masks[i] = m

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return self.subset(range(len(self))[i])
        i = int(i)
        return Pair(self.images[self.image_index[i]], self.masks[i], self.captions[i], self.statements[i], self.sources[i])

    def subset(self, indices: Iterable[int]) -> "Pairs":
        """The pairs at ``indices`` (images shared, not copied)."""
        idx = [int(i) for i in indices]
        return Pairs(self.images, self.image_index[idx], [self.masks[i] for i in idx], [self.captions[i] for i in idx],
                     [self.statements[i] for i in idx], [self.sources[i] for i in idx])

    @property
    def has_statements(self) -> bool:
        """Whether every pair carries a structured :class:`Statement`."""
        return len(self) > 0 and all(s is not None for s in self.statements)

    def __repr__(self) -> str:
        return f"Pairs({len(self)} pairs on {len(self.images)} images, {len(set(self.captions))} distinct captions)"


# ----------------------------------------------------------------------------- the grammar


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _fill(frame: str, **words: str) -> str:
    """Fill a noun frame, choosing the article from the word that follows {a}."""
    after = frame.split("{a}", 1)[1].strip() if "{a}" in frame else ""
    text = frame.replace("{a}", "\0")
    text = text.format(**words)
    follower = after.format(**words) if after else ""
    return text.replace("\0", _article(follower)).strip()


def caption(
    rng: np.random.Generator,
    part_type: str,
    colour: str | None = None,
    position: str | None = None,
    size: str | None = None,
    shape: str | None = None,
) -> tuple[str, Statement]:
    """One caption for a part and the :class:`Statement` of what it says.

    ``colour`` and ``position`` (a region) are stated when given; ``size`` and
    ``shape`` are stated only when the drawn frame uses them. Wording (frame,
    synonyms, region phrasing) is drawn from ``rng``.
    """
    if part_type not in TYPE_WORDS:
        raise bad_argument("part_type", f"one of {', '.join(PART_TYPES)}", part_type)
    if colour is not None and colour not in COLOUR_WORDS:
        raise bad_argument("colour", f"None or one of {', '.join(COLOUR_WORDS)}", colour)
    if position is not None and position not in REGION_PHRASES:
        raise bad_argument("position", f"None or one of {', '.join(REGION_PHRASES)}", position)
    type_word = str(rng.choice(TYPE_WORDS[part_type]))
    frames = _NOUN_FRAMES if colour is not None else _NOUN_FRAMES_NO_COLOUR
    frame = str(rng.choice(frames))
    if "{size}" in frame and size is None or "{shape}" in frame and shape is None:
        frame = frames[0]
    words = {"type": type_word, "size": size or "", "shape": _SHAPE_WORDS.get(shape or "", shape or "")}
    if colour is not None:
        words["colour"] = str(rng.choice(COLOUR_WORDS[colour]))
    noun = _fill(frame, **words)
    if position is None:
        text = str(rng.choice(_SENTENCE_FRAMES_NO_POSITION)).format(np=noun)
    else:
        pos = str(rng.choice(REGION_PHRASES[position]))
        text = str(rng.choice(_SENTENCE_FRAMES)).format(np=noun, pos=pos, Pos=pos[:1].upper() + pos[1:])
    statement = Statement(
        type=part_type, colour=colour, position=position,
        size=size if "{size}" in frame else None, shape=shape if "{shape}" in frame else None,
    )
    return text, statement


def naming_phrases(types: Sequence[str] | None = None, *, colours: bool = True) -> list[Phrase]:
    """Candidate phrases for naming a synthetic part: "a <colour> <type>" for every
    colour the vocabulary allows for each type (``colours=False``: "a <type>"),
    canonical words only, with their statements."""
    types = PART_TYPES if types is None else tuple(types)
    for t in types:
        if t not in PART_SPECS:
            raise bad_argument("types", f"part types from {', '.join(PART_TYPES)}", t)
    out = []
    for t in types:
        word = TYPE_WORDS[t][0]
        if not colours:
            out.append(Phrase(f"{_article(word)} {word}", Statement(type=t)))
            continue
        for c in PART_SPECS[t].colours:
            cw = COLOUR_WORDS[c][0]
            out.append(Phrase(f"{_article(cw)} {cw} {word}", Statement(type=t, colour=c)))
    return out


# ----------------------------------------------------------------------------- synthetic pairs


def _int(value: Any, argument: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise bad_argument(argument, f"an int >= {low}", value)
    return int(value)


def _rate(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1 or math.isnan(value):
        raise bad_argument(argument, "a number in [0, 1]", value)
    return float(value)


def synthetic_pairs(
    n_images: int = 500,
    seed: int = 0,
    *,
    size: int = 64,
    variant: str = "clean",
    exclude_types: Sequence[str] = (),
    captions_per_part: int = 1,
    caption_seed: int | None = None,
    position_rate: float = 0.85,
    colour_rate: float = 0.95,
    min_pixels: int = 12,
) -> Pairs:
    """Pairs from the synthetic parts dataset: one per visible part instance of images
    ``0 .. n_images-1`` of ``SyntheticParts(seed=seed, size=size, variant=variant)``.

    The patch is the part's instance mask; its caption names the type, the colour
    (with probability ``colour_rate``) and the region of its centroid (with
    probability ``position_rate``), worded by :func:`caption` from a generator seeded
    with ``caption_seed`` (default ``seed``). Parts of ``exclude_types`` are left out
    (a zero-shot split); parts with fewer than ``min_pixels`` visible pixels too.
    """
    n_images = _int(n_images, "n_images", 1)
    seed = _int(seed, "seed", 0)
    captions_per_part = _int(captions_per_part, "captions_per_part", 1)
    min_pixels = _int(min_pixels, "min_pixels", 1)
    position_rate = _rate(position_rate, "position_rate")
    colour_rate = _rate(colour_rate, "colour_rate")
    if isinstance(exclude_types, str) or not all(t in PART_SPECS for t in exclude_types):
        raise bad_argument("exclude_types", f"a list of part types from {', '.join(PART_TYPES)}", exclude_types)
    caption_seed = seed if caption_seed is None else _int(caption_seed, "caption_seed", 0)
    dataset = SyntheticParts(n=n_images, seed=seed, size=size, variant=variant)
    rng = np.random.default_rng([caption_seed, 7001])
    images, index, masks, captions, statements, sources = [], [], [], [], [], []
    for i in range(n_images):
        sample = dataset.sample(i)
        images.append(sample.image)
        h, w = sample.instance_mask.shape
        for part in sample.parts:
            if part.type in exclude_types:
                continue
            mask = sample.instance_mask == part.id
            if int(mask.sum()) < min_pixels:
                continue
            cx, cy = part.centroid
            region = region_of(cx + 0.5, cy + 0.5, w, h)
            for _ in range(captions_per_part):
                text, statement = caption(
                    rng, part.type,
                    colour=part.colour if rng.random() < colour_rate else None,
                    position=region if rng.random() < position_rate else None,
                    size=part.attributes.get("size"), shape=part.attributes.get("shape"),
                )
                index.append(i)
                masks.append(mask)
                captions.append(text)
                statements.append(statement)
                sources.append(f"synthetic(seed={seed})[{i}] part {part.id}")
    return Pairs(images, index, masks, captions, statements, sources)


# ----------------------------------------------------------------------------- user pairs


def _read_rgb(path: pathlib.Path) -> np.ndarray:
    with Image.open(path) as opened:
        return np.asarray(opened.convert("RGB"), dtype=np.uint8).copy()


def load_pairs(
    folder: str | pathlib.Path,
    csv: str | pathlib.Path,
    *,
    file_column: str = "file",
    caption_column: str = "caption",
    mask_column: str | None = None,
) -> Pairs:
    """A user's image-text pairs: a folder of images (or crops) and a CSV with one row
    per pair.

    Args:
        folder: the folder the CSV's file names are relative to.
        csv: the CSV file (a header row, then one row per pair); a relative path that
            does not exist is looked up inside ``folder``.
        file_column: the column of image file names.
        caption_column: the column of captions.
        mask_column: optional column of patch-mask image files (non-zero pixels are
            the patch, same size as the image); an empty cell means the whole image.
    """
    folder_path = pathlib.Path(folder)
    if not folder_path.is_dir():
        raise bad_argument("folder", "an existing folder of images", str(folder))
    csv_path = pathlib.Path(csv)
    if not csv_path.is_file() and not csv_path.is_absolute() and (folder_path / csv_path).is_file():
        csv_path = folder_path / csv_path
    if not csv_path.is_file():
        raise bad_argument("csv", "an existing CSV file", str(csv))
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = _csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    for argument, column in (("file_column", file_column), ("caption_column", caption_column), ("mask_column", mask_column)):
        if column is not None and column not in columns:
            raise bad_argument(argument, f"a column of {csv_path.name} (its columns: {', '.join(columns) or 'none'})", column)
    if not rows:
        raise bad_argument("csv", "at least one row of pairs after the header", str(csv_path))
    images: list[np.ndarray] = []
    loaded: dict[str, int] = {}
    index, masks, captions, sources = [], [], [], []
    for r, row in enumerate(rows, start=2):  # row 1 is the header
        name = (row.get(file_column) or "").strip()
        text = (row.get(caption_column) or "").strip()
        if not name:
            raise bad_argument("file_column", f"an image file name in every row ({csv_path.name} row {r} is empty)", name)
        if not text:
            raise bad_argument("caption_column", f"a caption in every row ({csv_path.name} row {r} is empty)", text)
        path = folder_path / name
        if not path.is_file():
            raise bad_argument("folder", f"the image file {name!r} named in {csv_path.name} row {r}", str(folder_path),
                               "No such file")
        if name not in loaded:
            loaded[name] = len(images)
            images.append(_read_rgb(path))
        k = loaded[name]
        mask = None
        if mask_column is not None and (row.get(mask_column) or "").strip():
            mpath = folder_path / row[mask_column].strip()
            if not mpath.is_file():
                raise bad_argument("mask_column", f"an existing mask file (row {r})", str(mpath), "No such file")
            with Image.open(mpath) as opened:
                mask = np.asarray(opened.convert("L")) > 0
            if mask.shape != images[k].shape[:2]:
                raise bad_argument("mask_column", f"a mask of its image's size {images[k].shape[:2]} (row {r})", mask)
            if not mask.any():
                raise bad_argument("mask_column", f"a mask with at least one non-zero pixel (row {r})", str(mpath))
        index.append(k)
        masks.append(mask)
        captions.append(text)
        sources.append(f"{name} (row {r})")
    return Pairs(images, index, masks, captions, None, sources)
