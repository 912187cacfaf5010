"""AspectReport: a class x aspect matrix of relevant aspect presence; click a cell to see
its images with their aspect masks (seed 001, the aspect-presence patent).

Built from an :class:`~xwidgets.aspects.AspectDatasetReport` (``report.show()``). Each
cell counts the images of a class (the class explained) in which an aspect was present
*and relevant to the output*; its shade is that count's share of the class, and the
plain-presence count is shown under it, so an aspect that is often present but rarely
relevant stands out. Clicking a cell lists up to ``per_cell`` of its images with the
aspect's relevant mask drawn over them; the outliers (images whose combination of
relevant aspects is rare for their class) are listed under the matrix. Selection is
client-side. The front end is ``js/aspect_report.ts``.

Trait contract (Python <-> JS):

==================  ============================================================
``classes``         ``[{"name": str, "images": int}]`` (K): classes with images
``aspects``         ``[str]`` (A)
``counts``          ``[[int]]`` (K x A): images where the aspect was relevant
``present_counts``  ``[[int]]`` (K x A) plain presence, or ``[]``
``images``          ``[{"png": bytes, "width": int, "height": int}]`` (M)
``captions``        ``[str]`` (M): each image's caption
``cells``           ``[[[[image, mask], ...]]]`` (K x A lists): a cell's images
                    (positions in ``images``) and their masks (rows of ``masks``)
``masks``           ``{"data", "dtype": "uint8", "shape": [E, H, W]}``: relevant
                    masks, 0..255
``outliers``        ``[{"image": int, "class": int, "aspects": [str], "rarity": float,
                    "unusual": [[aspect, relevant: bool, agreement: float]]}]``:
                    the relevant aspects, and those on which the image is unusual
``selected``        ``[]`` or ``[class, aspect]``: the cell shown (synced)
``title``, ``subtitle``: heading, and the line under it
==================  ============================================================
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from .base import XWidget
from .serialise import array_payload, image_payload

__all__ = ["AspectReport"]


class AspectReport(XWidget):
    """The class x aspect matrix of an aspect report; a cell's images one click away.

    Args:
        report: an :class:`~xwidgets.aspects.AspectDatasetReport` (``aspect_report``).
        per_cell: images sent per cell (most relevant first), at most.
        max_outliers: outliers listed, at most.
        selected: None or (class name, aspect name): the cell shown first.
        title: heading (default ``"Relevant aspects per class"``).
    """

    _module = "aspect_report"

    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    aspects = traitlets.List(traitlets.Unicode()).tag(sync=True)
    counts = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    present_counts = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    captions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    cells = traitlets.List(traitlets.List(traitlets.List())).tag(sync=True)
    masks = traitlets.Dict().tag(sync=True)
    outliers = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    subtitle = traitlets.Unicode("").tag(sync=True)

    def __init__(self, report: Any, *, per_cell: int = 8, max_outliers: int = 12,
                 selected: tuple[str, str] | None = None, title: str | None = None) -> None:
        from ..aspects.report import AspectDatasetReport

        if not isinstance(report, AspectDatasetReport):
            raise bad_argument("report", "an AspectDatasetReport (from aspect_report or AspectPresence.report)", report)
        for name, value in (("per_cell", per_cell), ("max_outliers", max_outliers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "per_cell" else 0):
                raise bad_argument(name, "a positive int" if name == "per_cell" else "an int >= 0", value)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)
        shown = [c for c in range(len(report.classes)) if report.totals[c] > 0]
        if not shown:
            raise bad_argument("report", "a report over at least one image", report)
        presence = report.presence
        masks_all = presence.relevant.masks
        scores = presence.relevant.scores
        aspects = list(report.aspects)

        image_pos: dict[int, int] = {}

        def position(i: int) -> int:
            if i not in image_pos:
                image_pos[i] = len(image_pos)
            return image_pos[i]

        mask_rows: list[np.ndarray] = []
        cells: list[list[list[list[int]]]] = []
        for c in shown:
            row = []
            for a in range(len(aspects)):
                members = np.flatnonzero((report.explained == c) & report.relevant[:, a])
                members = members[np.argsort(-scores[members, a], kind="stable")][:per_cell]
                entries = []
                for i in members:
                    if masks_all is not None:
                        mask_rows.append(np.clip(np.rint(masks_all[i, a] * 255), 0, 255).astype(np.uint8))
                        entries.append([position(int(i)), len(mask_rows) - 1])
                    else:
                        entries.append([position(int(i)), -1])
                row.append(entries)
            cells.append(row)
        outliers = []
        for i in report.outliers[:max_outliers]:
            c = int(report.explained[i])
            outliers.append({"image": position(int(i)), "class": shown.index(c),
                             "aspects": list(report.combination(int(i))), "rarity": round(float(report.rarity[i]), 4),
                             "unusual": [[a, on, round(share, 4)] for a, on, share in report.unusual(int(i))]})
        order = sorted(image_pos, key=image_pos.get)
        h, w = presence.images.shape[1:3]
        masks = np.stack(mask_rows) if mask_rows else np.zeros((0, h, w), np.uint8)
        captions = [f"Image {i} \u00b7 {presence.labels[int(report.explained[i])]}" for i in order]

        selected_list: list[int] = []
        if selected is not None:
            if isinstance(selected, (str, bytes)) or not isinstance(selected, (tuple, list)) or len(selected) != 2:
                raise bad_argument("selected", "None or (class name, aspect name)", selected)
            names = [report.classes[c] for c in shown]
            if selected[0] not in names:
                raise bad_argument("selected[0]", f"a class with images ({', '.join(names)})", selected[0])
            if selected[1] not in aspects:
                raise bad_argument("selected[1]", f"an aspect ({', '.join(aspects)})", selected[1])
            selected_list = [names.index(selected[0]), aspects.index(selected[1])]

        self.report = report
        self._shown = shown
        self._image_index = order
        n = len(presence)
        k = len(report.outliers)
        subtitle = (f"{n} image{'s' if n != 1 else ''} \u00b7 {presence.method} at {presence.source_layer} \u2192 "
                    f"{presence.target_layer} \u00b7 {k} outlier{'s' if k != 1 else ''}")
        super().__init__(
            classes=[{"name": report.classes[c], "images": int(report.totals[c])} for c in shown],
            aspects=aspects,
            counts=[[int(v) for v in report.counts[c]] for c in shown],
            present_counts=[] if report.present_counts is None else
            [[int(v) for v in report.present_counts[c]] for c in shown],
            images=[image_payload(presence.images[i]) for i in order],
            captions=captions,
            cells=cells,
            masks=array_payload(masks, "uint8"),
            outliers=outliers,
            selected=selected_list,
            title=title if title is not None else "Relevant aspects per class",
            subtitle=subtitle,
        )

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> list[int]:
        value = list(proposal["value"])
        k, a = len(self.classes), len(self.aspects)
        if value and not (len(value) == 2 and 0 <= value[0] < k and 0 <= value[1] < a):
            raise traitlets.TraitError(f"selected: expected [] or [class, aspect] in [0, {k}) x [0, {a}); "
                                       f"got {describe(value)}")
        return value

    # ------------------------------------------------------------------ access
    @property
    def selected_cell(self) -> tuple[str, str] | None:
        """The cell shown, as (class name, aspect name), or None."""
        if not self.selected:
            return None
        return self.classes[self.selected[0]]["name"], self.aspects[self.selected[1]]

    @property
    def selected_images(self) -> list[int]:
        """Positions (in the report's images) of the images the selected cell shows."""
        if not self.selected:
            return []
        k, a = self.selected
        return [self._image_index[e[0]] for e in self.cells[k][a]]

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "classes", len(self.classes)
        yield "aspects", len(self.aspects)
        yield "images", len(self.images)
        yield "outliers", len(self.outliers)
        yield "selected", self.selected_cell
