"""DatasetExplorer: the results of a whole dataset run as a table and a thumbnail grid,
filtered, sorted and paged in the browser; click an image to open it in the saliency
viewer (or the linked concept explorer) drawn inside the widget.

Reads a :class:`~xwidgets.batch.store.DatasetStore` (``xw.explain_dataset``): one
method version at a time (a picker switches when the store holds several), one row per
image (the rank ``rank`` row of TopK runs), with its true label, prediction, confidence,
correctness, every stored metric and its error. The metadata travels once, as compact
binary columns (int32 / float32 / int8 bytes, a few hundred KB at 10,000 rows), so
filters by class (true and/or predicted), correctness, status, confidence and metric
ranges, sorting by any column and paging all run in the browser with no kernel round
trip. Thumbnails (the store's PNGs) travel as binary buffers: all of them up front for
small stores (``preload``), else one page at a time when the front end asks (a custom
message answered with the page's PNGs in one buffer).

A click on a row or thumbnail sets ``selected`` (the image id); the kernel then builds
the opened view and sends its state in ``opened``: a
:class:`~xwidgets.widgets.SaliencyViewer` of the image's stored maps (every rank of a
TopK run), over the image read from ``dataset`` when one is given (preprocessed like the
model's input, so it lines up with the map) or else the stored thumbnail upscaled (the
viewer's title says so); or, with ``concepts`` (a ``ConceptExplainer`` or a callable),
the linked :class:`~xwidgets.widgets.ConceptExplorer` of the image's structural concept
graphs (VRX, Ge et al., CVPR 2021). The front end renders it inside this widget with the
viewer's own module on a child model (as :class:`ExplanationGallery` does); its opacity
and colour map are this widget's traits. The front end is ``js/dataset_explorer.ts``.

Trait contract (Python <-> JS):

====================  ============================================================
``versions``          ``[{"version", "method", "label", "latest", "results", "errors"}]``
``version``           the version shown (synced both ways; the kernel resends the data)
``columns``           ``{"n": N, "ids": {"kind": "int32", "data": bytes} | {"kind":
                      "json", "values": [...]}, "label", "pred": int32 bytes (-1: none),
                      "confidence": float32 bytes (NaN: none), "correct": int8 bytes
                      (1 right, 0 wrong, -1 unknown), "error": int32 bytes (index into
                      ``error_texts``, -1 none), "metrics": [{"name", "data": float32
                      bytes (NaN: none)}]}``, little-endian
``class_names``       ``[str]``: the model's class names, by index
``error_texts``       ``[str]``: the distinct error messages
``thumbnails``        ``{}`` or ``{"version", "rows": int32 bytes, "offsets": uint32 bytes
                      (len(rows) + 1), "data": bytes}``: the PNG of row ``rows[k]`` is
                      ``data[offsets[k]:offsets[k+1]]`` (empty: none stored)
``thumbnail_size``    longest side of the stored thumbnails, pixels (layout)
``true_class``,       int class index, -1 any
``predicted_class``
``correctness``       ``"all"``, ``"correct"``, ``"wrong"``
``status``            ``"all"``, ``"ok"`` (a map), ``"failed"`` (an error)
``confidence_range``  ``[lo, hi]`` within [0, 1]; ``[0, 1]`` is no filter
``metric_ranges``     ``{metric: [lo | None, hi | None]}``: rows whose metric lies within
``sort_by``           a column: image_id, label, pred, confidence, correct, error, or a metric
``sort_order``        ``"asc"`` or ``"desc"`` (missing values last either way)
``mode``              ``"grid"`` or ``"table"``
``page``, ``page_size``  the page shown (0-based; the front end clamps), rows per page
``selected``          the opened image id (int or str), None for none (synced both ways)
``view``, ``views``   ``"saliency"`` or ``"concepts"`` (with ``concepts``): what opens
``opened``            ``{}``, or ``{"image_id", "version", "view", "title", "note",
                      "state": the viewer's synced traits}``, or ``{"image_id",
                      "version", "view", "error": str}``
``opacity``, ``colormap``: the opened viewer's overlay
``title``             heading text
====================  ============================================================

Messages: the front end sends ``{"type": "thumbnails", "version", "rows": [...]}``; the
kernel answers ``{"type": "thumbnails", "version", "rows", "offsets"}`` with one buffer
(the PNGs, concatenated).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import os
import sqlite3
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import traitlets

from .._validation import Described, bad_argument, describe
from ._common import COLORMAPS, check_choice, check_opacity, trait_error_choice, validated_choice, validated_opacity
from .base import XWidget

__all__ = [
    "DatasetExplorer", "CORRECTNESS", "STATUSES", "SORT_ORDERS", "MODES", "VIEWS", "BASE_COLUMNS",
    "PRELOAD_LIMIT", "PAGE_SIZE", "MAX_PAGE", "REPORT_THUMBNAILS", "Columns", "matching_rows", "sorted_rows",
]

#: the correctness filter's choices (js/dataset_explorer.ts, CORRECTNESS)
CORRECTNESS = ("all", "correct", "wrong")
#: the status filter's choices: every row, rows with a map, rows with an error
STATUSES = ("all", "ok", "failed")
SORT_ORDERS = ("asc", "desc")
#: what the rows are shown as
MODES = ("grid", "table")
#: what opens on a click: the saliency viewer, or the linked concept explorer
VIEWS = ("saliency", "concepts")
#: sortable columns besides the metrics (js/dataset_explorer.ts, BASE_COLUMNS)
BASE_COLUMNS = ("image_id", "label", "pred", "confidence", "correct", "error")
#: ``preload="auto"`` sends every thumbnail up front up to this many rows (the store's
#: 64 px PNGs of synthetic images are ~9.7 KB each: 256 rows ~2.5 MB)
PRELOAD_LIMIT = 256
#: default rows per page (grid and table)
PAGE_SIZE = 48
#: the largest page size, and the most thumbnails one request is answered with
MAX_PAGE = 500
#: an offline report carries the thumbnails of at most this many rows (the first in the
#: shown order)
REPORT_THUMBNAILS = 1000

_INT32 = np.dtype("<i4")
_FLOAT32 = np.dtype("<f4")


# ----------------------------------------------------------------------------- columns and their logic
@dataclasses.dataclass
class Columns:
    """The rows of one version as arrays (what ``columns`` carries): ``ids`` (a list),
    ``label``/``pred`` int32 (-1: none), ``confidence`` float32 (NaN: none), ``correct``
    int8 (1, 0, -1: unknown), ``error`` int32 (index into ``error_texts``, -1: none),
    ``metrics`` {name: float32 (NaN: none)}."""

    ids: list[Any]
    label: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray
    error: np.ndarray
    metrics: dict[str, np.ndarray]
    error_texts: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def payload(self) -> dict[str, Any]:
        """The ``columns`` trait: little-endian bytes per column (ids as int32 when they all fit)."""
        ints = all(isinstance(i, int) and not isinstance(i, bool) and -2**31 <= i < 2**31 for i in self.ids)
        ids = ({"kind": "int32", "data": np.asarray(self.ids, _INT32).tobytes()} if ints
               else {"kind": "json", "values": list(self.ids)})
        return {
            "n": len(self.ids),
            "ids": ids,
            "label": self.label.astype(_INT32).tobytes(),
            "pred": self.pred.astype(_INT32).tobytes(),
            "confidence": self.confidence.astype(_FLOAT32).tobytes(),
            "correct": self.correct.astype(np.int8).tobytes(),
            "error": self.error.astype(_INT32).tobytes(),
            "metrics": [{"name": k, "data": v.astype(_FLOAT32).tobytes()} for k, v in self.metrics.items()],
        }


def _columns(rows: list[dict[str, Any]], metric_names: list[str], metric_errors: Mapping[Any, str]) -> Columns:
    texts: dict[str, int] = {}

    def code(text: str | None) -> int:
        if text is None:
            return -1
        return texts.setdefault(text, len(texts))

    def num(value: Any) -> float:
        return math.nan if value is None else float(value)

    errors = []
    for r in rows:
        if r["error"] is not None or r["error_type"] is not None:
            errors.append(code(f"{r['error_type'] or 'Error'}: {r['error'] or ''}".rstrip(": ")))
        else:
            errors.append(code(metric_errors.get(r["image_id"])))
    return Columns(
        ids=[r["image_id"] for r in rows],
        label=np.array([-1 if r["label"] is None else r["label"] for r in rows], np.int32),
        pred=np.array([-1 if r["pred"] is None else r["pred"] for r in rows], np.int32),
        confidence=np.array([num(r["confidence"]) for r in rows], np.float32),
        correct=np.array([-1 if r["correct"] is None else int(r["correct"]) for r in rows], np.int8),
        error=np.array(errors, np.int32),
        metrics={m: np.array([num(r.get(m)) for r in rows], np.float32) for m in metric_names},
        error_texts=list(texts),
    )


def matching_rows(columns: Columns, *, true_class: int = -1, predicted_class: int = -1, correctness: str = "all",
                  status: str = "all", confidence_range: Sequence[float] = (0.0, 1.0),
                  metric_ranges: Mapping[str, Sequence[float | None]] | None = None) -> np.ndarray:
    """Positions of the rows that pass every filter, in row order (the front end's
    ``filterRows`` does the same). The columns are float32: each bound is rounded to
    float32 first (a value shown as 0.2 passes ``<= 0.2``), as the front end does."""
    keep = np.ones(len(columns), bool)
    if true_class >= 0:
        keep &= columns.label == true_class
    if predicted_class >= 0:
        keep &= columns.pred == predicted_class
    if correctness == "correct":
        keep &= columns.correct == 1
    elif correctness == "wrong":
        keep &= columns.correct == 0
    if status == "ok":
        keep &= columns.error < 0
    elif status == "failed":
        keep &= columns.error >= 0
    lo, hi = float(confidence_range[0]), float(confidence_range[1])
    if lo > 0.0 or hi < 1.0:
        c = columns.confidence.astype(np.float64)
        with np.errstate(invalid="ignore"):
            keep &= np.isfinite(c) & (c >= _f32(lo)) & (c <= _f32(hi))
    for name, (low, high) in (metric_ranges or {}).items():
        if low is None and high is None:
            continue
        v = columns.metrics[name].astype(np.float64)
        ok = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            if low is not None:
                ok &= v >= _f32(low)
            if high is not None:
                ok &= v <= _f32(high)
        keep &= ok
    return np.flatnonzero(keep)


def _f32(value: float) -> float:
    """``value`` rounded to float32 (JavaScript's Math.fround)."""
    return float(np.float32(value))


def sorted_rows(columns: Columns, rows: Iterable[int], sort_by: str, order: str) -> list[int]:
    """``rows`` sorted by column ``sort_by`` (stable: ties keep row order), missing values
    last in either order (the front end's ``sortRows`` does the same). Ids sort numbers
    before strings; classes by index; errors by their text."""
    rows = [int(r) for r in rows]

    def value(i: int) -> Any:
        if sort_by == "image_id":
            v = columns.ids[i]
            return (1, v) if isinstance(v, str) else (0, v)
        if sort_by in ("label", "pred"):
            v = int(getattr(columns, sort_by)[i])
            return None if v < 0 else v
        if sort_by == "correct":
            v = int(columns.correct[i])
            return None if v < 0 else v
        if sort_by == "error":
            v = int(columns.error[i])
            return None if v < 0 else columns.error_texts[v]
        array = columns.confidence if sort_by == "confidence" else columns.metrics[sort_by]
        v = float(array[i])
        return None if math.isnan(v) else v

    keyed = [(value(i), i) for i in rows]
    present = [(v, i) for v, i in keyed if v is not None]
    missing = [i for v, i in keyed if v is None]
    present.sort(key=lambda t: t[0], reverse=order == "desc")
    return [i for _, i in present] + missing


# ----------------------------------------------------------------------------- reading the dataset
def _dataset_reader(dataset: Any, store: Any) -> Callable[[Any], Any] | None:
    """A function image id -> ``Item`` (xwidgets.batch.sources) reading ``dataset``."""
    from ..batch.sources import Item, Source, parse_item

    if dataset is None:
        return None
    if isinstance(dataset, Mapping):
        def from_mapping(image_id: Any) -> Item:
            if image_id not in dataset:
                return Item(image_id, error=KeyError(f"{image_id!r} is not a key of the dataset dict"))
            return parse_item(dataset[image_id], image_id)
        return from_mapping
    if callable(dataset) and not hasattr(dataset, "__getitem__") and not hasattr(dataset, "__iter__"):
        def from_callable(image_id: Any) -> Item:
            try:
                raw = dataset(image_id)
            except Exception as error:  # noqa: BLE001  (shown where the image opens)
                return Item(image_id, error=error)
            return parse_item(raw, image_id)
        return from_callable
    source = Source(dataset)  # a clear error for one image, a string, ...
    if not source.indexable:
        raise bad_argument(
            "dataset", "None, a map-style dataset (len and [i]: a SyntheticParts, a torch Dataset, a list or an "
            "array of images), a dict {image_id: image} or a callable image_id -> image", dataset,
            "An iterable cannot be read by image id",
        )
    if source.positional:
        largest = max((i for i in store.image_ids() if isinstance(i, int)), default=-1)
        if largest >= (source.total or 0):
            raise bad_argument("dataset", f"the dataset the store was made from (image ids up to {largest})",
                               Described(f"a dataset of {source.total} items"))

        def positional(image_id: Any) -> Item:
            if isinstance(image_id, bool) or not isinstance(image_id, int) or not 0 <= image_id < (source.total or 0):
                return Item(image_id, error=KeyError(f"{image_id!r} is not an index of the dataset ({source.total} items)"))
            return source.item(image_id)
        return positional
    positions: dict[Any, int] = {}

    def by_id(image_id: Any) -> Item:
        if not positions:  # items carry their own ids: read them all once to find each one
            for position in range(source.total or 0):
                positions.setdefault(source.item(position).image_id, position)
        if image_id not in positions:
            return Item(image_id, error=KeyError(f"no item of the dataset has the id {image_id!r}"))
        return source.item(positions[image_id])
    return by_id


def _stored_preprocess(store: Any, version: str) -> Any:
    """The :class:`~xwidgets.models.Preprocess` of the model that made ``version``, read from
    the store's documented ``models`` table (``DatasetStore`` has no reader for it)."""
    from ..batch.store import DB_NAME
    from ..models.preprocess import Preprocess

    uri = (store.path / DB_NAME).resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        row = db.execute("SELECT m.preprocess FROM versions v JOIN models m ON m.model_key = v.model_key "
                         "WHERE v.version = ?", (version,)).fetchone()
    if row is None or not row[0]:
        raise ValueError(f"dataset: the store holds no preprocessing for version {version}, so dataset images "
                         "cannot be made to line up with its maps")
    return Preprocess(**json.loads(row[0]))


def _plain_id(value: Any) -> Any:
    """An image id as the store keeps it: numpy ints become ints; anything else is left as is."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


class _OpenError(Exception):
    """An image that cannot be opened (shown in the widget, raised by ``open_image``)."""


def _check_int_or_none(argument: str, value: Any, low: int, high: int, what: str) -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= int(value) < high:
        raise bad_argument(argument, f"None or {what} in [{low}, {high})", value)
    return int(value)


def _range_pair(argument: str, value: Any, *, open_ends: bool) -> list[float | None]:
    expected = ("[low, high] with low <= high; None for an open end" if open_ends
                else "(low, high) with 0 <= low <= high <= 1")
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or len(value) != 2:
        raise bad_argument(argument, expected, value)
    got = Described(_short(list(value)))
    out: list[float | None] = []
    for v in value:
        if v is None and open_ends:
            out.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise bad_argument(argument, expected, got)
        out.append(float(v))
    lo, hi = out
    if lo is not None and hi is not None and lo > hi:
        raise bad_argument(argument, expected, got)
    if not open_ends and not (0.0 <= lo <= hi <= 1.0):  # type: ignore[operator]
        raise bad_argument(argument, expected, got)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- the widget
class DatasetExplorer(XWidget):
    """A table and a thumbnail grid over a dataset store, with filters, sorting and
    paging in the browser; click an image to open it in the saliency viewer (or the linked
    concept explorer) inside the widget.

    Args:
        store: a :class:`~xwidgets.batch.store.DatasetStore` or its directory.
        method: the method shown first (default: the first stored, alphabetically).
        version: a version key shown first (default: the newest version of ``method``).
        dataset: where opened images come from: the dataset the store was made from (a
            ``SyntheticParts``, a map-style torch Dataset, a list or array of images), a
            dict ``{image_id: image}`` or a callable ``image_id -> image``; images are
            preprocessed like the model's input (the store keeps the model's
            preprocessing). None: the stored thumbnail, upscaled to the map's size.
        concepts: a :class:`~xwidgets.concepts.ConceptExplainer`, or a callable
            ``(image_id, image) -> ConceptGraph | ExplanationData``: images then open in
            the linked ConceptExplorer (``view="concepts"``), the map as its overlay.
        rank: which rank of a TopK run the rows show (0: the first target).
        preload: send every thumbnail up front (True), one page at a time on request
            (False), or ``"auto"``: up front for at most :data:`PRELOAD_LIMIT` rows.
        true_class, predicted_class: show only rows of this class index (None: any).
        correctness: ``"all"``, ``"correct"`` or ``"wrong"``.
        status: ``"all"``, ``"ok"`` or ``"failed"``.
        confidence_range: ``(low, high)`` within [0, 1].
        metric_ranges: ``{metric: (low, high)}``, None for an open end.
        sort_by: a column (:data:`BASE_COLUMNS` or a metric name); sort_order ``"asc"``/``"desc"``.
        mode: ``"grid"`` (thumbnails) or ``"table"``.
        page_size: rows per page, 1 to :data:`MAX_PAGE`.
        selected: the image id opened first (None: none).
        view: ``"saliency"`` or ``"concepts"`` (default: concepts when given).
        opacity, colormap: the opened viewer's overlay.
        title: heading (default: the store's directory name).
    """

    _module = "dataset_explorer"

    versions = traitlets.List(traitlets.Dict()).tag(sync=True)
    version = traitlets.Unicode("").tag(sync=True)
    columns = traitlets.Dict().tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    error_texts = traitlets.List(traitlets.Unicode()).tag(sync=True)
    thumbnails = traitlets.Dict().tag(sync=True)
    thumbnail_size = traitlets.Int(64).tag(sync=True)
    true_class = traitlets.Int(-1).tag(sync=True)
    predicted_class = traitlets.Int(-1).tag(sync=True)
    correctness = traitlets.Unicode("all").tag(sync=True)
    status = traitlets.Unicode("all").tag(sync=True)
    confidence_range = traitlets.List(traitlets.Float(), [0.0, 1.0]).tag(sync=True)
    metric_ranges = traitlets.Dict().tag(sync=True)
    sort_by = traitlets.Unicode("image_id").tag(sync=True)
    sort_order = traitlets.Unicode("asc").tag(sync=True)
    mode = traitlets.Unicode("grid").tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    selected = traitlets.Union([traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None).tag(sync=True)
    view = traitlets.Unicode("saliency").tag(sync=True)
    views = traitlets.List(traitlets.Unicode(), ["saliency"]).tag(sync=True)
    opened = traitlets.Dict().tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        store: Any,
        *,
        method: str | None = None,
        version: str | None = None,
        dataset: Any = None,
        concepts: Any = None,
        rank: int = 0,
        preload: bool | str = "auto",
        true_class: int | None = None,
        predicted_class: int | None = None,
        correctness: str = "all",
        status: str = "all",
        confidence_range: Sequence[float] = (0.0, 1.0),
        metric_ranges: Mapping[str, Sequence[float | None]] | None = None,
        sort_by: str = "image_id",
        sort_order: str = "asc",
        mode: str = "grid",
        page_size: int = PAGE_SIZE,
        selected: int | str | None = None,
        view: str | None = None,
        opacity: float = 0.5,
        colormap: str = "viridis",
        title: str | None = None,
    ) -> None:
        from ..batch.store import DatasetStore
        from ..concepts.explainer import ConceptExplainer

        if not isinstance(store, DatasetStore):
            if not isinstance(store, (str, os.PathLike)):
                raise bad_argument("store", "a DatasetStore or the directory of one (xw.explain_dataset)", store)
            store = DatasetStore(store)  # names `store` when there is none
        all_versions = store.versions()
        if not all_versions:
            raise bad_argument("store", "a store with results", repr(store), "Run xw.explain_dataset(..., store=...) first")
        methods = sorted({v["method"] for v in all_versions})
        if method is not None and method not in methods:
            raise bad_argument("method", f"None or a method stored here ({', '.join(methods)})", method)
        if version is not None:
            keys = [v["version"] for v in all_versions]
            if version not in keys:
                raise bad_argument("version", f"None or a version stored here ({', '.join(keys)})", version)
            found = next(v for v in all_versions if v["version"] == version)
            if method is not None and found["method"] != method:
                raise bad_argument("version", f"a version of method {method!r}", f"{version!r}, a version of {found['method']!r}")
        else:
            version = store.latest_version(method if method is not None else methods[0])
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 0:
            raise bad_argument("rank", "an int >= 0 (the rank of a TopK run's rows)", rank)
        if not (preload is True or preload is False or preload == "auto"):
            raise bad_argument("preload", "True, False or 'auto'", preload)
        if concepts is not None and not isinstance(concepts, ConceptExplainer) and not callable(concepts):
            raise bad_argument("concepts", "None, a ConceptExplainer or a callable (image_id, image) -> ConceptGraph",
                               concepts)
        views = ["saliency", "concepts"] if concepts is not None else ["saliency"]
        if view is None:
            view = views[-1]
        view = check_choice("view", view, tuple(views))
        correctness = check_choice("correctness", correctness, CORRECTNESS)
        status = check_choice("status", status, STATUSES)
        sort_order = check_choice("sort_order", sort_order, SORT_ORDERS)
        mode = check_choice("mode", mode, MODES)
        if isinstance(page_size, bool) or not isinstance(page_size, numbers.Integral) or not 1 <= page_size <= MAX_PAGE:
            raise bad_argument("page_size", f"an int in [1, {MAX_PAGE}]", page_size)
        confidence = _range_pair("confidence_range", confidence_range, open_ends=False)
        opacity = check_opacity(opacity)
        colormap = check_choice("colormap", colormap, COLORMAPS)
        if title is not None and not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)

        self._store = store
        self._rank = int(rank)
        self._preload = preload
        self._concepts = concepts
        self._viewer: XWidget | None = None
        self._loading = True
        self._load(version)  # self._columns, _rows_by_id, _labels, ...
        n_classes = len(self._labels)
        true_class = _check_int_or_none("true_class", true_class, 0, n_classes, "a class index")
        predicted_class = _check_int_or_none("predicted_class", predicted_class, 0, n_classes, "a class index")
        metrics = list(self._columns.metrics)
        ranges: dict[str, list[float | None]] = {}
        if metric_ranges is not None:
            if not isinstance(metric_ranges, Mapping):
                raise bad_argument("metric_ranges", "None or a dict {metric: (low, high)}", metric_ranges)
            for name, pair in metric_ranges.items():
                if name not in metrics:
                    raise bad_argument("metric_ranges", f"keys among the stored metrics ({', '.join(metrics) or 'none'})", name)
                ranges[name] = _range_pair(f"metric_ranges[{name!r}]", pair, open_ends=True)
        sort_by = check_choice("sort_by", sort_by, (*BASE_COLUMNS, *metrics))
        self._reader = _dataset_reader(dataset, store)
        selected = _plain_id(selected)
        if selected is not None and selected not in self._rows_by_id:
            raise bad_argument("selected", "None or an image id of the rows shown", selected)

        super().__init__(
            versions=self._version_list(all_versions),
            version=version,
            columns=self._columns.payload(),
            class_names=self._labels,
            error_texts=self._columns.error_texts,
            thumbnails=self._preloaded(),
            thumbnail_size=self._thumb_size,
            true_class=true_class,
            predicted_class=predicted_class,
            correctness=correctness,
            status=status,
            confidence_range=confidence,
            metric_ranges=ranges,
            sort_by=sort_by,
            sort_order=sort_order,
            mode=mode,
            page_size=int(page_size),
            view=view,
            views=views,
            opacity=opacity,
            colormap=colormap,
            title=store.path.name if title is None else title,
        )
        self._loading = False
        self.on_msg(self._on_message)
        if selected is not None:
            self.selected = selected

    # ------------------------------------------------------------------ loading a version
    def _load(self, version: str) -> None:
        store = self._store
        info = next(v for v in store.versions() if v["version"] == version)
        rows = store.table(version=version)
        by_id: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:
            by_id.setdefault(r["image_id"], []).append(r)
        shown = [r for r in rows if r["rank"] == self._rank]
        if not shown:
            ranks = sorted({r["rank"] for r in rows})
            raise bad_argument("rank", f"a rank stored for {info['method']} ({', '.join(map(str, ranks)) or 'no rows'})",
                               self._rank)
        fixed = {"image_id", "method", "version", "rank", "label", "label_name", "pred", "pred_name", "confidence",
                 "correct", "target", "target_name", "has_map", "error_type", "error", "run_id", "elapsed"}
        metric_names = sorted(k for k in shown[0] if k not in fixed)
        metric_errors: dict[Any, str] = {}
        for e in store.errors(version=version):
            if e["metric"] is not None and e["rank"] == self._rank:
                metric_errors.setdefault(e["image_id"], f"{e['metric']}: {e['error_type']}: {e['error']}")
        self._info = info
        self._table = shown
        self._rows_by_id = {k: sorted(v, key=lambda r: r["rank"]) for k, v in by_id.items() if any(
            r["rank"] == self._rank for r in v)}
        self._positions = {r["image_id"]: i for i, r in enumerate(shown)}
        self._columns = _columns(shown, metric_names, metric_errors)
        labels = store.labels(version=version)
        largest = int(max(self._columns.label.max(initial=-1), self._columns.pred.max(initial=-1)))
        self._labels = list(labels) if len(labels) > largest else [*labels, *(f"class {k}" for k in range(len(labels), largest + 1))]
        self._preprocess: Any = None
        self._thumb_size = 64
        for r in shown[:1]:
            try:
                self._thumb_size = max(store.load_thumbnail(r["image_id"]).shape[:2])
            except KeyError:
                pass

    @staticmethod
    def _version_list(all_versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for v in all_versions:
            label = f"{v['method']} \u00b7 {v['version'][:10]}" + (" (newest)" if v["latest"] else "")
            out.append({"version": v["version"], "method": v["method"], "label": label, "latest": bool(v["latest"]),
                        "results": int(v["results"]), "errors": int(v["errors"])})
        return out

    # ------------------------------------------------------------------ thumbnails
    def _thumbnail_parts(self, rows: Sequence[int]) -> tuple[list[int], list[int], bytes]:
        """(rows, offsets, the PNGs concatenated) of rows ``rows`` (an empty PNG: none stored)."""
        offsets, chunks, at = [0], [], 0
        for i in rows:
            try:
                png = self._store.load_thumbnail(self._columns.ids[i], format="png")
            except KeyError:
                png = b""
            chunks.append(png)
            at += len(png)
            offsets.append(at)
        return [int(i) for i in rows], offsets, b"".join(chunks)

    def _thumbnail_trait(self, rows: Sequence[int]) -> dict[str, Any]:
        rows, offsets, data = self._thumbnail_parts(rows)
        return {"version": self._info["version"], "rows": np.asarray(rows, _INT32).tobytes(),
                "offsets": np.asarray(offsets, np.dtype("<u4")).tobytes(), "data": data}

    def _preloaded(self) -> dict[str, Any]:
        n = len(self._columns)
        if self._preload is True or (self._preload == "auto" and n <= PRELOAD_LIMIT):
            return self._thumbnail_trait(range(n))
        return {}

    @property
    def preloaded(self) -> bool:
        """Whether every thumbnail was sent up front."""
        return bool(self.thumbnails)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The front end asks for the thumbnails of some rows (a page it shows)."""
        if not isinstance(content, dict) or content.get("type") != "thumbnails":
            return
        if content.get("version") != self.version:
            return  # asked before another version was chosen
        rows = content.get("rows")
        n = len(self._columns)
        if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool) and 0 <= r < n
                                                 for r in rows):
            return
        rows = list(dict.fromkeys(rows))[:MAX_PAGE]
        rows, offsets, data = self._thumbnail_parts(rows)
        self.send({"type": "thumbnails", "version": self.version, "rows": rows, "offsets": offsets}, [data])

    # ------------------------------------------------------------------ access
    @property
    def store(self) -> Any:
        """The :class:`~xwidgets.batch.store.DatasetStore` shown."""
        return self._store

    @property
    def method(self) -> str:
        """The method of the version shown."""
        return self._info["method"]

    @property
    def data(self) -> Columns:
        """The rows of the version shown, as arrays (what ``columns`` carries)."""
        return self._columns

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The :meth:`DatasetStore.table` rows shown (rank ``rank``), in store order."""
        return [dict(r) for r in self._table]

    @property
    def ids(self) -> list[Any]:
        """Every image id of the version shown, in store order."""
        return list(self._columns.ids)

    def _filters(self) -> dict[str, Any]:
        return {"true_class": self.true_class, "predicted_class": self.predicted_class, "correctness": self.correctness,
                "status": self.status, "confidence_range": self.confidence_range, "metric_ranges": self.metric_ranges}

    @property
    def visible(self) -> list[Any]:
        """Ids of the rows that pass the filters, in the shown order (sorted)."""
        rows = sorted_rows(self._columns, matching_rows(self._columns, **self._filters()), self.sort_by, self.sort_order)
        return [self._columns.ids[i] for i in rows]

    @property
    def pages(self) -> int:
        """How many pages the filtered rows fill (at least 1)."""
        return max(1, math.ceil(len(self.visible) / self.page_size))

    @property
    def page_ids(self) -> list[Any]:
        """Ids on the page shown (``page`` clamped to the last page, as the front end does)."""
        visible = self.visible
        page = min(self.page, max(0, math.ceil(len(visible) / self.page_size) - 1))
        return visible[page * self.page_size:(page + 1) * self.page_size]

    def filter(self, *, true_class: int | None = None, predicted_class: int | None = None, correctness: str | None = None,
               status: str | None = None, confidence_range: Sequence[float] | None = None,
               metric_ranges: Mapping[str, Sequence[float | None]] | None = None) -> list[Any]:
        """Set the filters (None leaves one as it is; ``true_class=-1``: any class) and go to
        the first page; returns :attr:`visible`."""
        n = len(self._labels)
        updates: dict[str, Any] = {}
        for name, value in (("true_class", true_class), ("predicted_class", predicted_class)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not -1 <= value < n:
                    raise bad_argument(name, f"-1 (any) or a class index in [0, {n})", value)
                updates[name] = int(value)
        if correctness is not None:
            updates["correctness"] = check_choice("correctness", correctness, CORRECTNESS)
        if status is not None:
            updates["status"] = check_choice("status", status, STATUSES)
        if confidence_range is not None:
            updates["confidence_range"] = _range_pair("confidence_range", confidence_range, open_ends=False)
        if metric_ranges is not None:
            if not isinstance(metric_ranges, Mapping):
                raise bad_argument("metric_ranges", "a dict {metric: (low, high)}", metric_ranges)
            metrics = list(self._columns.metrics)
            ranges = {}
            for name, pair in metric_ranges.items():
                if name not in metrics:
                    raise bad_argument("metric_ranges", f"keys among the stored metrics ({', '.join(metrics) or 'none'})", name)
                ranges[name] = _range_pair(f"metric_ranges[{name!r}]", pair, open_ends=True)
            updates["metric_ranges"] = ranges
        with self.hold_sync(), self.hold_trait_notifications():
            for name, value in updates.items():
                setattr(self, name, value)
            self.page = 0
        return self.visible

    def sort(self, by: str, order: str = "asc") -> list[Any]:
        """Sort by column ``by`` (:data:`BASE_COLUMNS` or a metric); returns :attr:`visible`."""
        by = check_choice("by", by, (*BASE_COLUMNS, *self._columns.metrics))
        order = check_choice("order", order, SORT_ORDERS)
        with self.hold_sync(), self.hold_trait_notifications():
            self.sort_by, self.sort_order, self.page = by, order, 0
        return self.visible

    # ------------------------------------------------------------------ opening an image
    @property
    def viewer(self) -> XWidget | None:
        """The widget of the opened image (a SaliencyViewer or a ConceptExplorer), shown
        inside this one; None when none is open or it could not be built."""
        return self._viewer

    def open_image(self, image_id: Any) -> XWidget | None:
        """Open ``image_id`` (None closes), as a click would; returns :attr:`viewer`, or
        raises a ValueError saying why the image cannot be shown."""
        image_id = _plain_id(image_id)
        if image_id is not None and image_id not in self._rows_by_id:
            raise bad_argument("image_id", f"None or an image id of the rows shown ({len(self._rows_by_id)} images of "
                               f"{self.method})", image_id)
        self.selected = image_id
        if self.opened.get("error"):
            raise ValueError(self.opened["error"])
        return self._viewer

    def close_image(self) -> None:
        """Close the opened image."""
        self.selected = None

    def viewer_for(self, image_id: Any, view: str | None = None) -> XWidget:
        """A new widget of ``image_id`` (not shown inside this one): a SaliencyViewer, or
        with ``view="concepts"`` a ConceptExplorer."""
        if image_id not in self._rows_by_id:
            raise bad_argument("image_id", "an image id of the rows shown", image_id)
        view = check_choice("view", self.view if view is None else view, tuple(self.views))
        try:
            widget, _ = self._build(image_id, view)
        except _OpenError as error:
            raise ValueError(str(error)) from None
        return widget

    def _image(self, image_id: Any, size: tuple[int, int]) -> tuple[Any, np.ndarray, str]:
        """(what a concept explainer gets, display pixels at ``size``, a note on where they came from)."""
        from PIL import Image

        if self._reader is not None:
            from ..models.inputs import prepare_images

            item = self._reader(image_id)
            if item.error is not None:
                raise _OpenError(f"dataset: cannot read image {image_id!r}: {type(item.error).__name__}: {item.error}")
            stored = self._rows_by_id[image_id][0]["label"]
            if item.label is not None and stored is not None and item.label != stored:
                raise _OpenError(f"dataset: image {image_id!r} has label {item.label} there but {stored} in the store: "
                                 "pass the dataset the store was made from")
            if self._preprocess is None:
                try:
                    self._preprocess = _stored_preprocess(self._store, self.version)
                except ValueError as error:
                    raise _OpenError(str(error)) from None
            try:
                _, pixels = prepare_images(item.image, self._preprocess, "cpu")
            except (ValueError, TypeError) as error:
                raise _OpenError(f"dataset: image {image_id!r}: {error}") from None
            pixels = pixels[0]
            if pixels.shape[:2] != size:
                raise _OpenError(f"dataset: image {image_id!r} becomes {pixels.shape[1]}x{pixels.shape[0]} pixels but "
                                 f"its maps are {size[1]}x{size[0]}: pass the dataset the store was made from")
            return item.image, pixels, "image from the dataset"
        try:
            thumb = self._store.load_thumbnail(image_id)
        except KeyError:
            pixels = np.full((*size, 3), 128, np.uint8)
            return pixels, pixels, "no image stored (run with thumbnail_size > 0, or pass dataset=)"
        h, w = thumb.shape[:2]
        if (h, w) == tuple(size):
            return thumb, thumb, f"image: the stored {w}\u00d7{h} thumbnail"
        pixels = np.asarray(Image.fromarray(thumb).resize((size[1], size[0]), Image.Resampling.BICUBIC), np.uint8)
        return pixels, pixels, (f"image: the stored {w}\u00d7{h} thumbnail, upscaled to {size[1]}\u00d7{size[0]} "
                                "(pass dataset= for the full image)")

    def _maps(self, image_id: Any) -> tuple[list[dict[str, Any]], np.ndarray | None, str]:
        """(rows with a map, their maps (R, H, W) or None, the first error text)."""
        rows = self._rows_by_id[image_id]
        with_map = [r for r in rows if r["has_map"]]
        failed = next((r for r in rows if not r["has_map"]), None)
        error = "" if failed is None else f"{failed['error_type']}: {failed['error']}"
        if not with_map:
            return [], None, error
        maps = np.stack([self._store.load_map(image_id, version=self.version, rank=r["rank"]) for r in with_map])
        return with_map, maps, error

    def _title(self, image_id: Any) -> str:
        r = self._rows_by_id[image_id][0]
        parts = [f"Image {image_id}"]
        if r["pred"] is not None:
            name = self._labels[r["pred"]] if 0 <= r["pred"] < len(self._labels) else f"class {r['pred']}"
            confidence = "" if r["confidence"] is None else f" ({r['confidence'] * 100:.1f}%)"
            parts.append(f"predicted {name}{confidence}")
        if r["label"] is not None:
            name = self._labels[r["label"]] if 0 <= r["label"] < len(self._labels) else f"class {r['label']}"
            parts.append(f"true {name}")
        return ": ".join(parts[:2]) + "".join(f", {p}" for p in parts[2:])

    def _build(self, image_id: Any, view: str) -> tuple[XWidget, str]:
        """The widget of ``image_id`` in ``view`` and the note on its image; an _OpenError
        says why there is none."""
        from ..saliency.result import Saliency
        from .saliency_viewer import SaliencyViewer

        with_map, maps, error = self._maps(image_id)
        method = self.method
        if view == "saliency":
            if maps is None:
                raise _OpenError(f"Image {image_id!r} has no {method} map: it failed ({error}).")
            raw, pixels, note = self._image(image_id, maps.shape[1:])
            try:
                probabilities = self._store.load_probabilities(image_id, version=self.version)
            except KeyError:
                probabilities = np.zeros(len(self._labels), np.float32)
            labels = self._labels if len(self._labels) == probabilities.size else [f"class {k}" for k in range(probabilities.size)]
            version_params = next((v for v in self._store.versions(method) if v["version"] == self.version), {})
            sal = Saliency(maps=maps, images=pixels[None], image_index=np.zeros(len(with_map), np.int64),
                           targets=[-1 if r["target"] is None else r["target"] for r in with_map],
                           probabilities=probabilities[None], labels=labels, method=method,
                           params=dict(version_params.get("params") or {}), layer=version_params.get("layer"))
            position = next((k for k, r in enumerate(with_map) if r["rank"] == self._rank), 0)
            title = f"{self._title(image_id)} \u00b7 {note}"
            return SaliencyViewer(sal, 0, selected=position, opacity=self.opacity, colormap=self.colormap, title=title), note
        # concepts
        from ..concepts.explainer import ConceptExplainer
        from ..concepts.result import ConceptGraph
        from .concept_explorer import ConceptExplorer
        from .explorer_data import ExplanationData
        from .from_concept_graph import explanation_data

        size = maps.shape[1:] if maps is not None else (self._thumb_size, self._thumb_size)
        raw, pixels, note = self._image(image_id, size)
        label = self._rows_by_id[image_id][0]["label"]
        try:
            if isinstance(self._concepts, ConceptExplainer):
                result = self._concepts.explain(raw, true_class=label)
            else:
                result = self._concepts(image_id, raw)
        except Exception as error:  # noqa: BLE001  (shown in the widget)
            raise _OpenError(f"concepts: explaining image {image_id!r} failed: {type(error).__name__}: {error}") from None
        title = f"{self._title(image_id)} \u00b7 {note}"
        if isinstance(result, ConceptGraph):
            saliency = None
            if maps is not None and result.image.shape[:2] == maps.shape[1:]:
                saliency = maps[0]
            data = explanation_data(result, saliency=saliency, title=title)
        elif isinstance(result, (ExplanationData, Mapping)):
            data = result
        else:
            raise _OpenError(f"concepts: expected a ConceptGraph or an ExplanationData for image {image_id!r}; "
                             f"got {describe(result)}")
        return ConceptExplorer(data, opacity=self.opacity, colormap=self.colormap, title=title), note

    def _reopen(self) -> None:
        """Build ``opened`` for ``selected`` and ``view`` (the kernel's answer to a click)."""
        old, self._viewer = self._viewer, None
        if old is not None:
            old.close()
        image_id = self.selected
        if image_id is None:
            self.opened = {}
            return
        head = {"image_id": image_id, "version": self.version, "view": self.view}
        try:
            widget, note = self._build(image_id, self.view)
        except _OpenError as error:
            self.opened = {**head, "error": str(error)}
            return
        self._viewer = widget
        self.opened = {**head, "title": self._title(image_id), "note": note, "state": widget.report_state()}

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and value not in self._rows_by_id:
            raise traitlets.TraitError(f"selected: expected None or an image id of the rows shown ({len(self._rows_by_id)} "
                                       f"images of {self._info['method']}); got {describe(value)}")
        return value

    @traitlets.observe("selected", "view")
    def _selected_changed(self, change: Any) -> None:
        if not self._loading:
            with self.hold_sync():
                self._reopen()

    @traitlets.validate("version")
    def _validate_version(self, proposal: Any) -> str:
        value = proposal["value"]
        known = [v["version"] for v in self.versions] or [v["version"] for v in self._store.versions()]
        if value not in known:
            raise traitlets.TraitError(f"version: expected a version of the store ({', '.join(known)}); got {describe(value)}")
        return value

    @traitlets.observe("version")
    def _version_changed(self, change: Any) -> None:
        if self._loading or change["new"] == self._info["version"]:
            return
        self._loading = True
        try:
            self._load(change["new"])
            with self.hold_sync():
                self.columns = self._columns.payload()
                self.class_names = self._labels
                self.error_texts = self._columns.error_texts
                self.thumbnails = self._preloaded()
                self.thumbnail_size = self._thumb_size
                self.metric_ranges = {k: v for k, v in self.metric_ranges.items() if k in self._columns.metrics}
                if self.sort_by not in (*BASE_COLUMNS, *self._columns.metrics):
                    self.sort_by = "image_id"
                n = len(self._labels)
                if self.true_class >= n:
                    self.true_class = -1
                if self.predicted_class >= n:
                    self.predicted_class = -1
                self.page = 0
                if self.selected is not None and self.selected not in self._rows_by_id:
                    self.selected = None
                self._loading = False
                self._reopen()
        finally:
            self._loading = False

    @traitlets.validate("true_class", "predicted_class")
    def _validate_class(self, proposal: Any) -> int:
        name, value = proposal["trait"].name, proposal["value"]
        n = len(self._labels)
        if not -1 <= value < n:
            raise traitlets.TraitError(f"{name}: expected -1 (any) or a class index in [0, {n}); got {describe(value)}")
        return value

    @traitlets.validate("correctness", "status", "sort_order", "mode", "colormap", "view")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"correctness": CORRECTNESS, "status": STATUSES, "sort_order": SORT_ORDERS, "mode": MODES,
                   "colormap": COLORMAPS, "view": tuple(self.views)})

    @traitlets.validate("sort_by")
    def _validate_sort_by(self, proposal: Any) -> str:
        value = proposal["value"]
        choices = (*BASE_COLUMNS, *self._columns.metrics)
        if value not in choices:
            raise trait_error_choice("sort_by", value, choices)
        return value

    @traitlets.validate("confidence_range")
    def _validate_confidence(self, proposal: Any) -> list[float]:
        value = proposal["value"]
        if len(value) != 2 or not all(math.isfinite(v) for v in value) or not 0.0 <= value[0] <= value[1] <= 1.0:
            raise traitlets.TraitError(f"confidence_range: expected [low, high] with 0 <= low <= high <= 1; got {_short(list(value))}")
        return value

    @traitlets.validate("metric_ranges")
    def _validate_metric_ranges(self, proposal: Any) -> dict[str, Any]:
        value = proposal["value"]
        metrics = list(self._columns.metrics)
        for name, pair in value.items():
            if name not in metrics:
                raise traitlets.TraitError(f"metric_ranges: expected keys among the stored metrics "
                                           f"({', '.join(metrics) or 'none'}); got {describe(name)}")
            try:
                _range_pair(f"metric_ranges[{name!r}]", pair, open_ends=True)
            except ValueError as error:
                raise traitlets.TraitError(str(error)) from None
        return value

    @traitlets.validate("page")
    def _validate_page(self, proposal: Any) -> int:
        value = proposal["value"]
        if value < 0:
            raise traitlets.TraitError(f"page: expected an int >= 0; got {describe(value)}")
        return value

    @traitlets.validate("page_size")
    def _validate_page_size(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= MAX_PAGE:
            raise traitlets.TraitError(f"page_size: expected an int in [1, {MAX_PAGE}]; got {describe(value)}")
        return value

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        return validated_opacity(proposal)

    @traitlets.observe("opacity", "colormap")
    def _overlay_changed(self, change: Any) -> None:
        if self._viewer is not None:
            setattr(self._viewer, change["name"], change["new"])

    # ------------------------------------------------------------------ reports, repr
    def report_state(self) -> dict[str, Any]:
        """The synced state, with the thumbnails of the first :data:`REPORT_THUMBNAILS`
        rows in the shown order (a report has no kernel to ask)."""
        state = super().report_state()
        if not self.thumbnails or len(self._columns) > REPORT_THUMBNAILS:
            order = sorted_rows(self._columns, matching_rows(self._columns, **self._filters()), self.sort_by,
                                self.sort_order)
            rest = sorted(set(range(len(self._columns))) - set(order))
            state["thumbnails"] = self._thumbnail_trait((order + rest)[:REPORT_THUMBNAILS])
        return state

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        c = self._columns
        yield "title", self.title
        yield "method", self.method
        yield "version", self.version[:10]
        yield "images", len(c)
        yield "shown", len(self.visible)
        yield "correct", int((c.correct == 1).sum())
        yield "wrong", int((c.correct == 0).sum())
        yield "failed", int((c.error >= 0).sum())
        yield "metrics", ", ".join(c.metrics) or None
        for name, default in (("true_class", -1), ("predicted_class", -1), ("correctness", "all"), ("status", "all")):
            if getattr(self, name) != default:
                yield name, getattr(self, name)
        if list(self.confidence_range) != [0.0, 1.0]:
            yield "confidence_range", list(self.confidence_range)
        if self.metric_ranges:
            yield "metric_ranges", dict(sorted(self.metric_ranges.items()))
        yield "sort", f"{self.sort_by} {self.sort_order}"
        yield "mode", self.mode
        yield "page", self.page
        yield "selected", self.selected
        yield "view", self.view
        yield "preloaded", self.preloaded
