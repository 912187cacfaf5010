"""What the widgets share: argument checks, trait choices, and reading `Saliency` results.

Several widgets take one or several `Saliency` results (one per method) for the same images;
:func:`named_results` and :func:`check_same_images` (both in :func:`checked_results`) turn
what the user passed into named results and check, with messages that say which result and
which image differ. :class:`OverlayTraits` holds the display traits (opacity, colour map,
value scale) that every overlay widget syncs, with the checks of what the front end sends
(:class:`OpacityChecks` for widgets that declare their own ``opacity``). The grid widgets
(CompareGrid, Leaderboard) share :func:`check_captions`, :func:`check_pair`,
:func:`image_columns` and :func:`validated_cell`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from .serialise import array_payload, float16_safe

__all__ = [
    "COLORMAPS",
    "DIVERGING_COLORMAP",
    "SCALES",
    "MAP_DTYPES",
    "check_int",
    "check_opacity",
    "check_colormap",
    "check_choice",
    "check_maps_dtype",
    "check_overlay_options",
    "format_elapsed",
    "method_detail",
    "named_results",
    "check_same_images",
    "checked_results",
    "predicted_class",
    "maps_payload",
    "OverlayTraits",
    "OpacityChecks",
    "abbreviated",
    "check_captions",
    "check_pair",
    "image_columns",
    "validated_cell",
    "validated_position",
    "class_info",
    "choose_maps_dtype",
    "trait_error_choice",
    "NamedResult",
]

#: colour maps the front end knows (js/lib/colormaps.ts, COLORMAP_NAMES); viridis is the
#: colour-blind-safe default. They colour maps shown min-max.
COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis", "gray")

#: the diverging map (js/lib/colormaps.ts, DIVERGING_COLORMAP) of maps shown signed
DIVERGING_COLORMAP = "RdBu_r"

#: how values become colours (js/lib/normalise.ts, SCALES): "minmax" stretches [min, max]
#: over the colour map; "signed" uses DIVERGING_COLORMAP centred on 0 with limits +-max|v|;
#: "auto" is "signed" for maps with both signs and "minmax" otherwise.
SCALES = ("auto", "minmax", "signed")

MAP_DTYPES = ("float16", "float32")


def check_int(argument: str, value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise bad_argument(argument, f"an int {what} in [{low}, {high})", value)
    value = int(value)
    if not low <= value < high:
        raise bad_argument(argument, f"an int {what} in [{low}, {high})", value)
    return value


def check_opacity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise bad_argument("opacity", "a number in [0, 1]", value)
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise bad_argument("opacity", "a number in [0, 1]", value)
    return value


def check_choice(argument: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise bad_argument(argument, f"one of {', '.join(repr(c) for c in choices)}", value)
    return value


def check_colormap(value: Any) -> str:
    return check_choice("colormap", value, COLORMAPS)


def check_maps_dtype(value: Any) -> str:
    return check_choice("maps_dtype", value, MAP_DTYPES)


def check_overlay_options(opacity: Any, colormap: Any, scale: Any, maps_dtype: Any) -> tuple[float, str, str, str]:
    """The display arguments every overlay widget takes, checked in this order:
    ``(opacity, colormap, scale, maps_dtype)``."""
    return (
        check_opacity(opacity),
        check_colormap(colormap),
        check_choice("scale", scale, SCALES),
        check_maps_dtype(maps_dtype),
    )


def validated_opacity(proposal: Any) -> float:
    """The body of a widget's ``opacity`` traitlets validator: the value, in [0, 1]."""
    value = proposal["value"]
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise traitlets.TraitError(f"opacity: expected a number in [0, 1]; got {describe(value)}")
    return value


def validated_choice(proposal: Any, choices: Mapping[str, tuple[str, ...]]) -> str:
    """The body of a traitlets validator of string traits with fixed choices:
    ``choices`` maps each validated trait's name to its allowed values."""
    name, value = proposal["trait"].name, proposal["value"]
    if value not in choices[name]:
        raise trait_error_choice(name, value, choices[name])
    return value


def validated_position(proposal: Any, what: str, count: int) -> int:
    """The body of a validator of a position trait among ``count`` things (at least [0, 1),
    so that an empty widget accepts 0); ``what`` names them in the message."""
    value = proposal["value"]
    k = max(1, count)
    if not 0 <= value < k:
        raise traitlets.TraitError(f"{proposal['trait'].name}: expected {what} in [0, {k}); got {describe(value)}")
    return value


def validated_cell(proposal: Any, names: tuple[str, str], counts: tuple[int, int]) -> list[int]:
    """The body of a validator of a ``[]`` or ``[row, column]`` trait (``names`` of the two
    positions in the message) in ``[0, counts[0]) x [0, counts[1])``."""
    value = list(proposal["value"])
    n, m = counts
    if value and not (len(value) == 2 and 0 <= value[0] < n and 0 <= value[1] < m):
        raise traitlets.TraitError(
            f"{proposal['trait'].name}: expected [] or [{names[0]}, {names[1]}] in [0, {n}) x [0, {m}); "
            f"got {describe(value)}"
        )
    return value


def trait_error_choice(argument: str, value: Any, choices: tuple[str, ...]):
    """The TraitError of an out-of-range choice sent by the front end."""
    return traitlets.TraitError(
        f"{argument}: expected one of {', '.join(repr(c) for c in choices)}; got {describe(value)}"
    )


def check_pair(argument: str, value: Any, expected: str) -> Sequence[Any] | None:
    """``value`` when it is a sequence of two (None for None); ``expected`` says what in the
    error (``"None or (method position, image position)"``)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise bad_argument(argument, expected, value)
    return value


def check_captions(captions: Any, numbers: Sequence[int], per: str) -> list[str]:
    """One caption per image shown (``numbers``, its image numbers): ``captions`` checked, or
    ``"Image <number>"`` for None; ``per`` says what each caption is for in the error
    (``"image shown"``)."""
    count = len(numbers)
    if captions is None:
        return [f"Image {i}" for i in numbers]
    if isinstance(captions, (str, bytes)) or not isinstance(captions, Sequence) or len(captions) != count:
        raise bad_argument("captions", f"a list of {count} str, one per {per}", captions)
    for i, c in enumerate(captions):
        if not isinstance(c, str):
            raise bad_argument(f"captions[{i}]", "a str", c)
    return list(captions)


def abbreviated(items: Sequence[Any], most: int = 6) -> list[Any]:
    """``items`` for a repr: all of them up to ``most``, else the first ``most - 1`` and
    ``"... <n> more"``."""
    items = list(items)
    return items if len(items) <= most else items[: most - 1] + [f"... {len(items) - most + 1} more"]


def format_elapsed(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def method_detail(saliency: Any, *, with_method: bool = True) -> str:
    """``"gradcam · layer features.7 · 250 ms for 6 maps"``: what the method line shows."""
    parts = [saliency.method] if with_method else []
    if saliency.layer:
        parts.append(f"layer {saliency.layer}")
    if saliency.elapsed > 0:
        parts.append(f"{format_elapsed(saliency.elapsed)} for {len(saliency)} maps")
    return " \u00b7 ".join(parts)


# --------------------------------------------------------------------------- several results
class NamedResult(NamedTuple):
    """One result with its display name and how messages refer to it (``saliency[1] ('ig')``)."""

    name: str
    saliency: Any
    where: str


def named_results(value: Any, argument: str) -> list[NamedResult]:
    """One `Saliency`, a list of them or a dict name -> `Saliency`, as named results.

    A list names each result by its method; a name that repeats gets " (2)", " (3)"...
    """
    from ..saliency.result import Saliency

    expected = "a Saliency result (from xw.explain), or a list or dict of them"
    if isinstance(value, Saliency):
        return [NamedResult(value.method, value, argument)]
    if isinstance(value, Mapping):
        items: list[tuple[Any, Any, str]] = [(k, v, f"{argument}[{k!r}]") for k, v in value.items()]
        for key, _, _ in items:
            if not isinstance(key, str) or not key.strip():
                raise bad_argument(f"{argument} keys", "non-empty str method names", key)
    elif isinstance(value, (list, tuple)):
        items = [(None, v, f"{argument}[{i}]") for i, v in enumerate(value)]
    else:
        raise bad_argument(argument, expected, value)
    if not items:
        raise bad_argument(argument, "at least one Saliency result", value)
    out: list[NamedResult] = []
    seen: dict[str, int] = {}
    for key, sal, where in items:
        if not isinstance(sal, Saliency):
            raise bad_argument(where, "a Saliency result (from xw.explain)", sal)
        name = key if key is not None else sal.method
        if key is None:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} ({seen[name]})"
        out.append(NamedResult(name, sal, f"{where} ({sal.method!r})" if key is None else where))
    return out


def check_same_images(results: list[NamedResult], argument: str) -> None:
    """Every result explains the same images, pixel for pixel, with maps of the same size.

    The message names the result that differs, the first result and what differs.
    """
    if len(results) < 2:
        return
    ref = results[0]
    a = ref.saliency
    for other in results[1:]:
        b = other.saliency
        prefix = f"{other.where}: expected the same images as {ref.where}"
        if b.images.shape != a.images.shape:
            na, nb = a.images.shape[0], b.images.shape[0]
            if na != nb:
                raise ValueError(f"{prefix}; got {nb} image{'s' if nb != 1 else ''} where it has {na}")
            raise ValueError(
                f"{prefix}; got images of {b.images.shape[2]}x{b.images.shape[1]} pixels "
                f"where it has {a.images.shape[2]}x{a.images.shape[1]}"
            )
        for i in range(a.images.shape[0]):
            if not np.array_equal(a.images[i], b.images[i]):
                diff = int(np.abs(a.images[i].astype(np.int16) - b.images[i].astype(np.int16)).max())
                raise ValueError(
                    f"{prefix}; image {i} differs (largest pixel difference {diff}). "
                    "Explain the same images, with the same preprocessing, with every method"
                )
        if b.maps.shape[1:] != a.maps.shape[1:]:
            raise ValueError(
                f"{other.where}: expected maps of the same size as {ref.where} "
                f"({a.maps.shape[2]}x{a.maps.shape[1]}); got {b.maps.shape[2]}x{b.maps.shape[1]}"
            )


def checked_results(value: Any, argument: str, needs_images: str) -> tuple[list[NamedResult], Any]:
    """:func:`named_results` of ``value``, checked to explain the same images, and the first
    result's `Saliency`; ``needs_images`` is what the error says is expected when there are
    no images."""
    results = named_results(value, argument)
    check_same_images(results, argument)
    first = results[0].saliency
    if first.num_images == 0:
        raise bad_argument(argument, needs_images, first)
    return results, first


def predicted_class(saliency: Any, image: int) -> int | None:
    """The class with the highest probability for image ``image``, or None when the result has
    no probabilities or no label per class."""
    probabilities = saliency.probabilities[image]
    if probabilities.size and len(saliency.labels) == probabilities.shape[0]:
        return int(probabilities.argmax())
    return None


def class_info(saliency: Any, row: int) -> dict[str, Any]:
    """``{"index", "label", "probability"}`` of the class that map ``row`` explains."""
    target = int(saliency.targets[row])
    probabilities = saliency.probabilities[int(saliency.image_index[row])]
    known = 0 <= target < probabilities.shape[0]
    return {
        "index": target,
        "label": saliency.target_label(int(row)),
        "probability": float(probabilities[target]) if known else None,
    }


def image_columns(saliency: Any, numbers: Sequence[int], captions: Sequence[str]) -> list[dict[str, Any]]:
    """The ``columns`` trait: for each image shown (``numbers``) its caption and the class
    predicted for it (``"label"`` "" and ``"probability"`` None when the result cannot say)."""
    columns = []
    for i, caption in zip(numbers, captions):
        top = predicted_class(saliency, i)
        if top is not None:
            columns.append({"caption": caption, "label": saliency.labels[top],
                            "probability": float(saliency.probabilities[i][top])})
        else:
            columns.append({"caption": caption, "label": "", "probability": None})
    return columns


def choose_maps_dtype(requested: str, blocks: list[np.ndarray]) -> str:
    """``requested``, or float32 when float16 cannot carry one of the blocks (one per method).

    Each method's maps are checked on their own: a method whose maps peak at 1e-6 (raw
    gradients) needs float32 even when another method's peak at 1.
    """
    if requested == "float16" and not all(float16_safe(b) for b in blocks):
        return "float32"
    return requested


def maps_payload(blocks: list[np.ndarray], requested: str, *, stack: bool) -> tuple[dict[str, Any], str]:
    """The ``maps`` trait of the blocks (one per method), stacked on a new first axis or
    concatenated, as :func:`choose_maps_dtype` decides; and the dtype they are sent as."""
    dtype = choose_maps_dtype(requested, blocks)
    return array_payload(np.stack(blocks) if stack else np.concatenate(blocks), dtype), dtype


# --------------------------------------------------------------------------- shared traits
class OpacityChecks(traitlets.HasTraits):
    """The check of the ``opacity`` trait (the subclass declares it, with its default) when
    the front end sets it."""

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        return validated_opacity(proposal)


class OverlayTraits(OpacityChecks):
    """The display traits of a widget that overlays maps shown by one or several methods:
    ``opacity``, ``colormap`` and ``scale``, checked when the front end sets them, and
    :attr:`method_names` (the subclass sets ``_method_names``)."""

    _method_names: list[str]

    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    scale = traitlets.Unicode("auto").tag(sync=True)

    @traitlets.validate("colormap", "scale")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"colormap": COLORMAPS, "scale": SCALES})

    @property
    def method_names(self) -> list[str]:
        """The methods' names, in the order given (the grid's rows, the viewer's picker)."""
        return list(self._method_names)
