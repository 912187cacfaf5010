"""ExplanationGallery: many images' explanations as thumbnails, filtered by class and by
correctness, each one click away from the linked explorer.

Browse the :class:`~xwidgets.widgets.explorer_data.ExplanationData` of many images (the
structural concept graphs of VRX, Ge et al., CVPR 2021, with their sentences): a grid of
small PNG thumbnails, each captioned with its predicted class and probability, its true
class and a right / wrong mark; filters by class (of the prediction or of the truth) and by
correctness (which needs ``true_class`` on the items). Clicking a thumbnail opens that
explanation in a :class:`~xwidgets.widgets.ConceptExplorer` drawn below the grid, inside
this widget: the very same front-end module, on a model whose state is the gallery's
``explorer`` (or ``explorers[opened]``) and whose ``selected`` and ``selected_class`` are
the gallery's, so Python reads and sets the explorer's selection here. The front end is
``js/explanation_gallery.ts``.

Where the opened explanation comes from:

* ``preload=True`` (default for at most :data:`PRELOAD_LIMIT` items): every explanation is
  sent once, in ``explorers``; opening one needs no kernel, so the gallery also works in a
  notebook exported to HTML (``xwidgets.report.export_notebook``).
* ``preload=False``: only the thumbnails are sent; when ``opened`` changes (a click, or
  Python), the kernel sends that explanation in ``explorer``.

Offline reports (``write_report``, ``save_html``) always carry every explanation.

Trait contract (Python <-> JS):

==================  ==============================================================
``items``           ``[{"title", "predicted", "probability", "true", "correct"}]`` (N):
                    the predicted class index and its probability (or None), the true
                    class index (None: unknown) and whether they agree (None: unknown)
``thumbnails``      ``[{"png": bytes, "width", "height"}]`` (N): small PNGs
``class_names``     ``[{"index", "label"}]``: every class predicted or true, by index
``class_filter``    int: show items of this class index; -1 all (synced both ways)
``class_role``      ``"predicted"`` or ``"true"``: which class ``class_filter`` tests
``correctness``     ``"all"``, ``"correct"`` or ``"wrong"`` (items without a true class
                    only pass ``"all"``)
``opened``          int: the item shown in the explorer, -1 none (synced both ways)
``explorer``        ``{}`` or ``{"item": i, **ConceptExplorer data traits}`` of the
                    opened item (when not preloaded)
``explorers``       ``[]`` or every item's ConceptExplorer data traits (preloaded)
``selected_class``  int: the class the explorer shows (-1 when none is opened)
``selected``        str: the explorer's selected node or edge id, "" none
``graph_layout``    as ``ConceptExplorer``: ``"patches"``, ``"spring"``, ``"kamada_kawai"``
``opacity``, ``colormap``: the explorer's saliency overlay
``title``           heading text
==================  ==============================================================
"""

from __future__ import annotations

import io
import numbers
from typing import Any, Iterable, Mapping, Sequence

import traitlets

from .._validation import bad_argument, describe
from ._common import COLORMAPS, check_choice, check_opacity, validated_choice, validated_opacity
from .base import XWidget
from .concept_explorer import LAYOUTS, explorer_payload
from .explorer_data import ExplanationData

__all__ = ["ExplanationGallery", "CLASS_ROLES", "CORRECTNESS", "PRELOAD_LIMIT", "gallery_matches"]

#: which class of an item the class filter tests (js/explanation_gallery.ts, CLASS_ROLES)
CLASS_ROLES = ("predicted", "true")
#: the correctness filter's choices (js/explanation_gallery.ts, CORRECTNESS)
CORRECTNESS = ("all", "correct", "wrong")
#: up to this many items, ``preload="auto"`` sends every explanation up front
PRELOAD_LIMIT = 16
#: default longest side of a thumbnail, in pixels
THUMBNAIL_SIZE = 112


def gallery_matches(item: Mapping[str, Any], class_filter: int, class_role: str, correctness: str) -> bool:
    """Whether an entry of the ``items`` trait passes the filters (the front end's
    ``matches`` does the same)."""
    if class_filter >= 0:
        value = item["predicted"] if class_role == "predicted" else item["true"]
        if value != class_filter:
            return False
    if correctness == "correct":
        return item["correct"] is True
    if correctness == "wrong":
        return item["correct"] is False
    return True


#: outline colours of a thumbnail's concepts: for the class (RdBu's dark red), against (dark blue)
_FOR, _AGAINST = (178, 24, 43), (33, 102, 172)


def _thumbnail_png(data: ExplanationData, size: int, outlines: int) -> tuple[bytes, int, int]:
    """The image shrunk (Lanczos) so that its longer side is at most ``size``, with the boxes
    of the predicted class's ``outlines`` concepts of largest |contribution| drawn on it
    (red: for the class, blue: against), as a PNG with an adaptive 256-colour palette."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(data.image, mode="RGB")
    scale = min(1.0, size / max(pil.width, pil.height))
    width, height = max(1, round(pil.width * scale)), max(1, round(pil.height * scale))
    if scale < 1.0:
        pil = pil.resize((width, height), Image.Resampling.LANCZOS)
    nodes = [n for n in data.graph(data.predicted).nodes if n.box is not None and n.present]
    nodes.sort(key=lambda n: -abs(n.contribution))
    draw = ImageDraw.Draw(pil)
    sx, sy = width / data.width, height / data.height
    for n in nodes[:outlines]:
        x0, y0, x1, y1 = n.box
        draw.rectangle((x0 * sx, y0 * sy, max(x0 * sx, x1 * sx - 1), max(y0 * sy, y1 * sy - 1)),
                       outline=_FOR if n.contribution >= 0 else _AGAINST, width=2 if size >= 64 else 1)
    buffer = io.BytesIO()
    pil.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), width, height


def _class_labels(items: list[ExplanationData], labels: Any) -> dict[int, str]:
    """Label of every class index that appears, from the candidates, then ``labels``."""
    given: dict[int, str] = {}
    if labels is not None:
        if isinstance(labels, Mapping):
            pairs = list(labels.items())
        elif isinstance(labels, Sequence) and not isinstance(labels, (str, bytes)):
            pairs = list(enumerate(labels))
        else:
            raise bad_argument("labels", "None, a list of class names by index or a dict index -> name", labels)
        for k, v in pairs:
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not isinstance(v, str):
                raise bad_argument(f"labels[{k!r}]", "a str class name under an int index", v)
            given[int(k)] = v
    found: dict[int, tuple[str, int]] = {}
    for i, data in enumerate(items):
        for c in data.classes:
            if c.index in found and found[c.index][0] != c.label:
                raise bad_argument(f"items[{i}].classes", f"class {c.index} labelled {found[c.index][0]!r} as in "
                                   f"items[{found[c.index][1]}] (explanations of one model)", c.label)
            found.setdefault(c.index, (c.label, i))
    out = {k: v for k, (v, _) in found.items()}
    for data in items:
        if data.true_class is not None and data.true_class not in out:
            out[data.true_class] = given.get(data.true_class, f"class {data.true_class}")
    return out


class ExplanationGallery(XWidget):
    """Thumbnails of many explanations, filtered by class and correctness; click one to
    open it in the linked explorer below.

    Args:
        items: a list of :class:`~xwidgets.widgets.explorer_data.ExplanationData` (or
            dicts for ``ExplanationData.from_dict``), one per image, all of one model.
        captions: one caption per item (default: the item's title, else ``"Image <i>"``).
        labels: names of true classes that are no item's candidate (a list by index or a
            dict); otherwise such a class is called ``"class <index>"``.
        thumbnail_size: longest side of a thumbnail in pixels (16 to 512).
        outlines: how many of the predicted class's concepts (largest |contribution|)
            each thumbnail outlines (red: for the class, blue: against); 0 for none.
        preload: send every explanation up front (True), only on opening (False), or
            ``"auto"``: up front for at most :data:`PRELOAD_LIMIT` items.
        class_filter: show only items whose class (see ``class_role``) has this index;
            None for all.
        class_role: ``"predicted"`` (default) or ``"true"``.
        correctness: ``"all"`` (default), ``"correct"`` or ``"wrong"``.
        opened: the item open in the explorer first (None: none).
        layout: the explorer's graph layout (``"patches"``, ``"spring"``, ``"kamada_kawai"``).
        opacity, colormap: the explorer's saliency overlay.
        title: heading.
    """

    _module = "explanation_gallery"

    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumbnails = traitlets.List(traitlets.Dict()).tag(sync=True)
    class_names = traitlets.List(traitlets.Dict()).tag(sync=True)
    class_filter = traitlets.Int(-1).tag(sync=True)
    class_role = traitlets.Unicode("predicted").tag(sync=True)
    correctness = traitlets.Unicode("all").tag(sync=True)
    opened = traitlets.Int(-1).tag(sync=True)
    explorer = traitlets.Dict().tag(sync=True)
    explorers = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected_class = traitlets.Int(-1).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    graph_layout = traitlets.Unicode("patches").tag(sync=True)
    opacity = traitlets.Float(0.45).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        items: Iterable[ExplanationData],
        *,
        captions: Sequence[str] | None = None,
        labels: Sequence[str] | Mapping[int, str] | None = None,
        thumbnail_size: int = THUMBNAIL_SIZE,
        outlines: int = 3,
        preload: bool | str = "auto",
        class_filter: int | None = None,
        class_role: str = "predicted",
        correctness: str = "all",
        opened: int | None = None,
        layout: str = "patches",
        opacity: float = 0.45,
        colormap: str = "viridis",
        title: str = "Explanations",
    ) -> None:
        if isinstance(items, (ExplanationData, str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise bad_argument("items", "a list of ExplanationData, one per image", items)
        data: list[ExplanationData] = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                item = ExplanationData.from_dict(item)
            if not isinstance(item, ExplanationData):
                raise bad_argument(f"items[{i}]", "an ExplanationData (or a dict for ExplanationData.from_dict)", item)
            try:
                item.validate()
            except ValueError as error:
                raise ValueError(f"items[{i}].{error}") from None
            data.append(item)
        if not data:
            raise bad_argument("items", "at least one ExplanationData", data)
        n = len(data)
        if captions is None:
            caption_list = [d.title or f"Image {i + 1}" for i, d in enumerate(data)]
        else:
            if isinstance(captions, (str, bytes)) or not isinstance(captions, Sequence) or len(captions) != n:
                raise bad_argument("captions", f"None or a list of {n} str, one per item", captions)
            for i, c in enumerate(captions):
                if not isinstance(c, str):
                    raise bad_argument(f"captions[{i}]", "a str", c)
            caption_list = list(captions)
        names = _class_labels(data, labels)
        if isinstance(thumbnail_size, bool) or not isinstance(thumbnail_size, numbers.Integral) or not 16 <= thumbnail_size <= 512:
            raise bad_argument("thumbnail_size", "an int in [16, 512] (pixels)", thumbnail_size)
        if isinstance(outlines, bool) or not isinstance(outlines, numbers.Integral) or outlines < 0:
            raise bad_argument("outlines", "an int >= 0 (concepts outlined per thumbnail)", outlines)
        if not (preload is True or preload is False or preload == "auto"):
            raise bad_argument("preload", "True, False or 'auto'", preload)
        if class_filter is None:
            class_filter = -1
        elif isinstance(class_filter, bool) or not isinstance(class_filter, numbers.Integral) or int(class_filter) not in names:
            raise bad_argument("class_filter", f"None or a class index of the items ({', '.join(map(str, sorted(names)))})",
                               class_filter)
        class_role = check_choice("class_role", class_role, CLASS_ROLES)
        correctness = check_choice("correctness", correctness, CORRECTNESS)
        if opened is None:
            opened = -1
        elif isinstance(opened, bool) or not isinstance(opened, numbers.Integral) or not 0 <= opened < n:
            raise bad_argument("opened", f"None or an item position in [0, {n})", opened)
        layout = check_choice("layout", layout, LAYOUTS)
        opacity = check_opacity(opacity)
        colormap = check_choice("colormap", colormap, COLORMAPS)
        if not isinstance(title, str):
            raise bad_argument("title", "a str", title)

        self._data = data
        self._preload = preload is True or (preload == "auto" and n <= PRELOAD_LIMIT)
        self._payloads: dict[tuple[int, str], dict[str, Any]] = {}
        thumbnails = []
        for d in data:
            png, width, height = _thumbnail_png(d, int(thumbnail_size), int(outlines))
            thumbnails.append({"png": png, "width": width, "height": height})
        entries = []
        for i, d in enumerate(data):
            probability = d.candidate(d.predicted).probability
            entries.append({"title": caption_list[i], "predicted": d.predicted,
                            "probability": None if probability is None else float(f"{probability:.6g}"),
                            "true": d.true_class, "correct": d.correct})
        super().__init__(
            items=entries,
            thumbnails=thumbnails,
            class_names=[{"index": k, "label": names[k]} for k in sorted(names)],
            class_filter=int(class_filter),
            class_role=class_role,
            correctness=correctness,
            graph_layout=layout,
            explorers=self._all_payloads(layout) if self._preload else [],
            opacity=opacity,
            colormap=colormap,
            title=title,
        )
        if opened >= 0:
            self.opened = int(opened)

    # ------------------------------------------------------------------ payloads
    def _payload(self, i: int, layout: str) -> dict[str, Any]:
        key = (i, layout)
        if key not in self._payloads:
            self._payloads[key] = explorer_payload(self._data[i], layout)
        return self._payloads[key]

    def _all_payloads(self, layout: str) -> list[dict[str, Any]]:
        return [self._payload(i, layout) for i in range(len(self._data))]

    # ------------------------------------------------------------------ access
    @property
    def data(self) -> list[ExplanationData]:
        """The explanations, in the gallery's order."""
        return list(self._data)

    @property
    def preloaded(self) -> bool:
        """Whether every explanation was sent up front (``explorers``)."""
        return self._preload

    @property
    def opened_data(self) -> ExplanationData | None:
        """The explanation open in the explorer, or None."""
        return None if self.opened < 0 else self._data[self.opened]

    @property
    def visible(self) -> list[int]:
        """Positions of the items that pass the filters, in order."""
        return [i for i, item in enumerate(self.items)
                if gallery_matches(item, self.class_filter, self.class_role, self.correctness)]

    def open_item(self, item: int | None) -> None:
        """Open item ``item`` in the explorer (None closes it), as a click would.
        (``open`` is ipywidgets' own method, which opens the widget's comm.)"""
        n = len(self._data)
        if item is None:
            item = -1
        elif isinstance(item, bool) or not isinstance(item, numbers.Integral) or not 0 <= item < n:
            raise bad_argument("item", f"None or an item position in [0, {n})", item)
        self.opened = int(item)

    def filter(self, class_index: int | None = None, *, role: str | None = None, correctness: str | None = None) -> list[int]:
        """Set the filters (``class_index`` None: every class) and return the visible items."""
        indices = [int(c["index"]) for c in self.class_names]
        if class_index is not None and (isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral)
                                        or int(class_index) not in indices):
            raise bad_argument("class_index", f"None or a class index of the items ({', '.join(map(str, indices))})", class_index)
        role = self.class_role if role is None else check_choice("role", role, CLASS_ROLES)
        correctness = self.correctness if correctness is None else check_choice("correctness", correctness, CORRECTNESS)
        with self.hold_trait_notifications():
            self.class_filter = -1 if class_index is None else int(class_index)
            self.class_role = role
            self.correctness = correctness
        return self.visible

    def report_state(self) -> dict[str, Any]:
        """The state a report needs: every explanation embedded, so that each thumbnail
        opens offline (``explorer`` is then not needed)."""
        state = super().report_state()
        state["explorers"] = self._all_payloads(self.graph_layout)
        state["explorer"] = {}
        return state

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("opened")
    def _validate_opened(self, proposal: Any) -> int:
        value = proposal["value"]
        n = len(self.items)
        if not -1 <= value < n:
            raise traitlets.TraitError(f"opened: expected -1 or an item position in [0, {n}); got {describe(value)}")
        return value

    @traitlets.observe("opened")
    def _opened_changed(self, change: Any) -> None:
        i = change["new"]
        with self.hold_sync(), self.hold_trait_notifications():
            if self._preload or i < 0:
                self.explorer = {}
            else:
                self.explorer = {"item": i, **self._payload(i, self.graph_layout)}
            # an item opens on its prediction, nothing selected (a click sends the same)
            self.selected = ""
            self.selected_class = -1 if i < 0 else self._data[i].predicted

    @traitlets.validate("selected_class")
    def _validate_selected_class(self, proposal: Any) -> int:
        value = proposal["value"]
        data = self.opened_data
        if data is None:
            if value != -1:
                raise traitlets.TraitError(f"selected_class: expected -1 while no item is opened; got {describe(value)}")
            return value
        if value not in data.class_indices:
            raise traitlets.TraitError(f"selected_class: expected the index of a candidate class of item {self.opened} "
                                       f"({', '.join(map(str, data.class_indices))}); got {describe(value)}")
        return value

    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> str:
        value = proposal["value"]
        if value == "":
            return value
        ids = self._ids()
        if value not in ids:
            raise traitlets.TraitError(f"selected: expected '' or a node or edge id of class {self.selected_class} of "
                                       f"item {self.opened} ({', '.join(map(repr, ids)) or 'none opened'}); got {describe(value)}")
        return value

    @traitlets.observe("selected_class")
    def _class_changed(self, change: Any) -> None:
        if self.selected and self.selected not in self._ids():
            self.selected = ""

    def _ids(self) -> list[str]:
        data = self.opened_data
        if data is None or self.selected_class not in data.class_indices:
            return []
        return data.graph(self.selected_class).ids

    @traitlets.validate("class_filter")
    def _validate_class_filter(self, proposal: Any) -> int:
        value = proposal["value"]
        indices = [int(c["index"]) for c in self.class_names]
        if value != -1 and indices and value not in indices:
            raise traitlets.TraitError(f"class_filter: expected -1 or a class index of the items "
                                       f"({', '.join(map(str, indices))}); got {describe(value)}")
        return value

    @traitlets.validate("class_role", "correctness", "graph_layout", "colormap")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"class_role": CLASS_ROLES, "correctness": CORRECTNESS, "graph_layout": LAYOUTS, "colormap": COLORMAPS})

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        return validated_opacity(proposal)

    @traitlets.observe("graph_layout")
    def _layout_changed(self, change: Any) -> None:
        if not self._data:
            return
        with self.hold_sync(), self.hold_trait_notifications():
            if self._preload:
                self.explorers = self._all_payloads(change["new"])
            elif self.opened >= 0:
                self.explorer = {"item": self.opened, **self._payload(self.opened, change["new"])}

    # ------------------------------------------------------------------ repr
    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "title", self.title
        yield "items", len(self.items)
        yield "shown", len(self.visible)
        yield "correct", sum(1 for it in self.items if it["correct"] is True)
        yield "wrong", sum(1 for it in self.items if it["correct"] is False)
        yield "class_filter", self.class_filter
        yield "class_role", self.class_role
        yield "correctness", self.correctness
        yield "opened", self.opened
        yield "selected", self.selected
        yield "preloaded", self._preload
