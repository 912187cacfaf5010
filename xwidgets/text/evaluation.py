"""How well a joint space names patches, checked against the statements of pairs.

Seed 000, paragraph 0027: the trained space relates a concept's visual features to
text features. These measures use the structured :class:`~xwidgets.text.pairs.Statement`
of each pair, never the caption's prose:

* :func:`naming_accuracy`: top-1 retrieval of "a <colour> <type>" phrases; the
  fraction of patches whose nearest phrase states the right type, and the right
  colour.
  With ``as_crops=True`` the patches are rectangular crops (background included).
* :func:`position_accuracy`: among the nine region wordings of the right noun
  phrase, the fraction of patches whose nearest one names the right region.
* :func:`zero_shot_accuracy`: for patches of a type held out of training, the
  fraction named as that type among "a <type>" phrases of every part type, and the
  chance level.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from .._validation import bad_argument
from ..data.synthetic import PART_TYPES
from .joint import JointSpace
from .pairs import COLOUR_WORDS, TYPE_WORDS, Pairs, Phrase, naming_phrases
from .spatial import REGION_PHRASES, REGIONS

__all__ = ["naming_accuracy", "position_accuracy", "zero_shot_accuracy", "crops"]


def _check(space: Any, pairs: Any) -> None:
    if not isinstance(space, JointSpace):
        raise bad_argument("space", "a JointSpace", space)
    if not isinstance(pairs, Pairs) or not pairs.has_statements:
        raise bad_argument("pairs", "Pairs whose every pair has a Statement (synthetic_pairs)", pairs)


def crops(pairs: Pairs, margin: int = 3) -> list[np.ndarray]:
    """Each pair's patch as a rectangular crop of its image: the mask's bounding box
    widened by ``margin`` pixels (clipped), background included."""
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
        raise bad_argument("margin", "an int >= 0", margin)
    out = []
    for pair in pairs:
        if pair.mask is None:
            out.append(pair.image)
            continue
        ys, xs = np.nonzero(pair.mask)
        h, w = pair.mask.shape
        out.append(np.ascontiguousarray(pair.image[max(0, ys.min() - margin): min(h, ys.max() + 1 + margin),
                                                   max(0, xs.min() - margin): min(w, xs.max() + 1 + margin)]))
    return out


def naming_accuracy(space: JointSpace, pairs: Pairs, phrases: Sequence[Phrase] | None = None, *,
                    as_crops: bool = False) -> dict[str, Any]:
    """Top-1 naming of each pair's patch against ``phrases`` (default: every allowed
    "a <colour> <type>"): {"type": accuracy, "colour": accuracy over pairs whose
    statement has a colour, "n": pairs, "per_type": {type: accuracy}}. ``as_crops``:
    name rectangular crops (:func:`crops`, no mask, no position) instead of masks."""
    _check(space, pairs)
    candidates = list(phrases) if phrases is not None else naming_phrases()
    names = space.name(crops(pairs) if as_crops else pairs, phrases=candidates)
    truth = pairs.statements
    type_ok = np.array([n.type == s.type for n, s in zip(names, truth)])
    coloured = [(n, s) for n, s in zip(names, truth) if s.colour is not None]
    per_type = {t: float(type_ok[[s.type == t for s in truth]].mean()) for t in PART_TYPES if any(s.type == t for s in truth)}
    return {
        "type": float(type_ok.mean()),
        "colour": float(np.mean([n.colour == s.colour for n, s in coloured])) if coloured else float("nan"),
        "n": len(names),
        "per_type": per_type,
    }


def position_accuracy(space: JointSpace, pairs: Pairs) -> dict[str, Any]:
    """For each pair with a stated position: the nearest of the nine phrases "a
    <colour> <type> <canonical region wording>" (its own type and colour) names the
    right region. {"accuracy", "n", "chance"}."""
    _check(space, pairs)
    rows = [i for i, s in enumerate(pairs.statements) if s.position is not None and s.type is not None]
    if not rows:
        raise bad_argument("pairs", "pairs with stated positions", pairs)
    sub = pairs.subset(rows)
    emb = space.embed_images(sub)
    correct = []
    for e, s in zip(emb, sub.statements):
        noun = (f"a {COLOUR_WORDS[s.colour][0]} " if s.colour else "a ") + TYPE_WORDS[s.type][0]
        texts = [f"{noun} {REGION_PHRASES[r][0]}" for r in REGIONS]
        sims = space._phrase_matrix([Phrase(t) for t in texts]) @ e
        correct.append(REGIONS[int(sims.argmax())] == s.position)
    return {"accuracy": float(np.mean(correct)), "n": len(correct), "chance": 1.0 / len(REGIONS)}


def zero_shot_accuracy(space: JointSpace, pairs: Pairs, held_out: str) -> dict[str, Any]:
    """Patches of type ``held_out`` named among "a <type>" for every part type:
    {"accuracy", "chance" (1 / number of types), "n", "predicted" (counts)}."""
    _check(space, pairs)
    if held_out not in PART_TYPES:
        raise bad_argument("held_out", f"one of {', '.join(PART_TYPES)}", held_out)
    rows = [i for i, s in enumerate(pairs.statements) if s.type == held_out]
    if not rows:
        raise bad_argument("pairs", f"pairs whose patches are {held_out!r} parts", pairs)
    names = space.name(pairs.subset(rows), phrases=naming_phrases(colours=False))
    predicted = Counter(n.type for n in names)
    return {
        "accuracy": predicted[held_out] / len(names),
        "chance": 1.0 / len(PART_TYPES),
        "n": len(names),
        "predicted": dict(predicted.most_common()),
    }

