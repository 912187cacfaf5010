"""Interventions on synthetic scenes: the same image with parts removed, another
background, the corner tag removed or added, or a relation's two parts swapped.

FunnyBirds (Hesse et al., ICCV 2023) checks explanations by re-rendering a scene
with chosen parts removed; these are that operation for ``SyntheticParts``. A scene is
redrawn from its own random streams (render.py), so every pixel away from the edit is
identical to the original, noise included:

* ``remove=[ids]``: those parts are not drawn; what lies under them (the body panel or
  the background) shows instead. Only pixels of the removed parts change.
* ``background=k``: the background (texture, its two colours, the clutter lines) comes
  from stream ``k``; the body panel, the parts, the noise and the tag are unchanged.
* ``tag=False`` / ``tag=True``: the corner tag is left out / drawn (at the scene's own
  corner). Only pixels of the tag's box change.
* ``swap=True`` (relation scenes only): the two defining parts exchange their vertical
  order inside the same space, each keeping its stamp and column, so
  ``window_over_door`` becomes ``door_over_window`` with the same parts; nothing else
  changes. The label becomes the other relation class.

Part ids are stable: a remaining part keeps its id, box and mask. ``label`` and
``class_name`` stay those of the scene (removing a lamp does not relabel the image),
except under ``swap``; ``evidence.part_ids`` lists the defining parts still drawn.

>>> from xwidgets.data.synthetic import SyntheticParts
>>> s = SyntheticParts(n=7, seed=0).sample(0)
>>> t = intervene(s, remove=s.evidence.part_ids)
>>> bool((t.image != s.image).any(axis=-1)[~s.evidence_mask].any())
False
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..._validation import bad_argument
from .render import Edit, Sample, render
from .vocabulary import CLASS_SPECS, CLASSES, VARIANTS

__all__ = ["intervene", "scene_biased_class"]


def scene_biased_class(sample: Sample) -> str:
    """A ``biased_class`` that redraws ``sample`` exactly. The renderer only asks
    whether the image's class is the biased one, which the variant and the tag tell:
    in "biased" the tag marks the biased class, in "shifted" every other class."""
    is_biased = (sample.variant == "biased" and sample.spurious_cue is not None) or (
        sample.variant == "shifted" and sample.spurious_cue is None
    )
    if is_biased:
        return sample.class_name
    return next(name for name in CLASSES if name != sample.class_name)


def _check_sample(sample: Sample) -> None:
    if not isinstance(sample, Sample):
        raise bad_argument("sample", "a synthetic Sample (SyntheticParts.sample(i))", sample)
    if sample.variant not in VARIANTS:
        raise bad_argument("sample.variant", f"one of {', '.join(VARIANTS)}", sample.variant)


def _relation_parts(sample: Sample) -> bool:
    """Whether the drawn scene is a relation scene (its first two parts are the two
    defining parts of a relation class), also for a tag-labelled ("spurious") image."""
    types = tuple(p.type for p in sample.parts[:2] if p.role == "evidence")
    return any(spec.kind == "relation" and spec.parts == types for spec in CLASS_SPECS.values())


def intervene(
    sample: Sample,
    *,
    remove: Iterable[int] = (),
    background: int | None = None,
    tag: bool | None = None,
    swap: bool = False,
    biased_class: str | None = None,
) -> Sample:
    """``sample``'s scene redrawn with an intervention (see the module docstring).

    Args:
        sample: a Sample from ``SyntheticParts.sample`` (or an earlier ``intervene``:
            edits do not compose; each call starts from the unedited scene).
        remove: ids of parts to leave out (ids of ``sample.parts``).
        background: a non-negative int: draw the background from that stream.
        tag: True draws the corner tag, False leaves it out, None keeps the variant's rule.
        swap: exchange the vertical order of a relation scene's two defining parts.
        biased_class: the dataset's ``biased_class``; inferred from the sample if None
            (:func:`scene_biased_class`).

    Returns:
        a new Sample of the same size, seed, index and variant.
    """
    _check_sample(sample)
    try:
        ids = frozenset(int(i) for i in remove)
    except (TypeError, ValueError):
        raise bad_argument("remove", "an iterable of part ids (ints)", remove) from None
    known = {p.id for p in sample.parts}
    unknown = sorted(ids - known)
    if unknown:
        raise bad_argument("remove", f"ids of the sample's parts, some of {sorted(known)}", unknown)
    if background is not None and (
        isinstance(background, (bool, np.bool_)) or not isinstance(background, (int, np.integer)) or background < 0
    ):
        raise bad_argument("background", "None or an int >= 0 (a background stream)", background)
    if tag is not None and not isinstance(tag, (bool, np.bool_)):
        raise bad_argument("tag", "None, True or False", tag)
    if not isinstance(swap, (bool, np.bool_)):
        raise bad_argument("swap", "True or False", swap)
    if swap and not _relation_parts(sample):
        raise bad_argument("swap", "False for a scene that is not a relation class's (window over door or door "
                           "over window)", swap, f"image {sample.index} shows {sample.class_name}")
    if biased_class is None:
        biased_class = scene_biased_class(sample)
    elif biased_class not in CLASSES:
        raise bad_argument("biased_class", f"a class name, one of {', '.join(CLASSES)}", biased_class)
    edit = Edit(remove=ids, background=None if background is None else int(background), swap=bool(swap),
                tag=None if tag is None else bool(tag))
    size = int(sample.instance_mask.shape[0])
    image, label, truth = render(sample.seed, sample.index, size, sample.variant, biased_class, records=True, edit=edit)
    assert truth is not None
    return Sample(image=image, label=label, class_name=CLASSES[label], index=sample.index, seed=sample.seed,
                  variant=sample.variant, **truth)
