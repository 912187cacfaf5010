"""Leaderboard: a benchmark's methods x metrics table, sortable, every cell's map one click away.

Built from a :class:`~xwidgets.metrics.benchmark.BenchmarkResult` (``result.show()``).
Each cell is a metric's mean over the images for one method; clicking a header sorts the
rows best first (respecting the metric's ``higher_is_better``; a second click, worst
first), and each column's best mean is highlighted. Clicking a cell shows that method's
map over an image chosen with the image picker, with the metric's score on that image.
Ranks (1 = best, ties share the average rank, as ``BenchmarkResult.rank_table``) are
computed in the browser from the means, so sorting, picking and drawing need no kernel
round trip. The front end is ``js/leaderboard.ts``.

Trait contract (Python <-> JS):

================  ==============================================================
``methods``       ``[{"name": str, "detail": str, "seconds": float}]`` (N): the
                  methods that produced maps, in the benchmark's order
``metrics``       ``[{"name", "higher_is_better": bool, "kind", "summary", "paper",
                  "protocol": str}]`` (K)
``means``         ``[[float | None]]`` (N x K): each metric's mean over the images
                  (None: not computed)
``stds``          ``[[float | None]]`` (N x K): sample standard deviations
``counts``        ``[[int]]`` (N x K): images with a score
``notes``         ``[[str]]`` (N x K): why a cell has no score ("" when it has one)
``scores``        ``{"data", "dtype": "float32", "shape": [N, K, M]}``: each image's
                  score (NaN: none), for the map shown (the image's first row)
``images``        ``[{"png": bytes, "width": int, "height": int}]`` (M), same size
``columns``       ``[{"caption": str, "label": str, "probability": float|None}]`` (M):
                  each image's caption and predicted class, for the image picker
``maps``          ``{"data", "dtype": "float16"|"float32", "shape": [N, M, H, W]}``:
                  each method's map of each image (its first row)
``issues``        ``[str]``: methods skipped or failed (shown under the table)
``sort_by``       int: ``-1`` mean rank, ``-2`` the methods' time, ``k`` metric k
``sort_order``    one of :data:`SORT_ORDERS`: ``"best"`` first or ``"worst"`` first
``selected``      ``[]`` or ``[method, metric]``: the cell whose map is shown (synced)
``image``         int: the image shown (synced both ways)
``scale``, ``colormap``, ``opacity``: as every overlay widget
``title``, ``subtitle``: heading, and the line under it (model, images, target)
================  ==============================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

import numpy as np
import traitlets

from .._validation import bad_argument, describe
from ._common import (
    OverlayTraits, check_captions, check_choice, check_int, check_overlay_options, check_pair,
    checked_results, image_columns, maps_payload, method_detail, validated_cell, validated_choice,
)
from .base import XWidget
from .serialise import array_payload, image_payload

__all__ = ["Leaderboard", "SORT_ORDERS", "SORT_RANK", "SORT_TIME"]

#: which rows come first when sorted (js/leaderboard.ts, SORT_ORDERS)
SORT_ORDERS = ("best", "worst")
#: ``sort_by`` values of the two columns that are not metrics
SORT_RANK = -1
SORT_TIME = -2


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _format_param(value: Any) -> str:
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Leaderboard(XWidget, OverlayTraits):
    """A benchmark's table of methods x metrics: sortable, each cell's map one click away.

    Args:
        result: a :class:`~xwidgets.metrics.benchmark.BenchmarkResult` (``xw.benchmark``)
            in which at least one method produced maps.
        sort_by: ``"mean_rank"`` (default), ``"seconds"`` or a metric's name.
        sort_order: ``"best"`` first (default) or ``"worst"`` first.
        selected: None, or ``(method, metric)`` names: the cell whose map is shown.
        image: the image shown first (position among the benchmark's images).
        captions: one caption per image (default ``"Image <number>"``).
        scale, colormap, opacity: how maps are drawn (as in ``SaliencyViewer``).
        title: heading (default ``"Benchmark: <model>"``).
        maps_dtype: ``"float16"`` (default) or ``"float32"`` (see ``CompareGrid``).
    """

    _module = "leaderboard"

    methods = traitlets.List(traitlets.Dict()).tag(sync=True)
    metrics = traitlets.List(traitlets.Dict()).tag(sync=True)
    means = traitlets.List(traitlets.List()).tag(sync=True)
    stds = traitlets.List(traitlets.List()).tag(sync=True)
    counts = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    notes = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    scores = traitlets.Dict().tag(sync=True)
    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    maps = traitlets.Dict().tag(sync=True)
    issues = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Int(SORT_RANK).tag(sync=True)
    sort_order = traitlets.Unicode("best").tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    image = traitlets.Int(0).tag(sync=True)
    # scale, colormap, opacity: OverlayTraits
    title = traitlets.Unicode("").tag(sync=True)
    subtitle = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        result: Any,
        *,
        sort_by: str = "mean_rank",
        sort_order: str = "best",
        selected: Sequence[str] | None = None,
        image: int = 0,
        captions: Sequence[str] | None = None,
        scale: str = "auto",
        colormap: str = "viridis",
        opacity: float = 0.5,
        title: str | None = None,
        maps_dtype: str = "float16",
    ) -> None:
        from ..metrics.benchmark import BenchmarkResult

        if not isinstance(result, BenchmarkResult):
            raise bad_argument("result", "a BenchmarkResult (from xw.benchmark)", result)
        ran = result.ran
        if not ran:
            raise bad_argument("result", "a benchmark in which at least one method produced maps", result,
                               "Every method was skipped or failed: see result.issues")
        named, first = checked_results({m: result.saliency[m] for m in ran}, "result.saliency",
                                       "results with at least one image")
        metric_names = list(result.metrics)
        n_images = first.num_images

        if not isinstance(sort_by, str):
            raise bad_argument("sort_by", f"'mean_rank', 'seconds' or a metric name ({', '.join(metric_names)})", sort_by)
        if sort_by == "mean_rank":
            sort_index = SORT_RANK
        elif sort_by == "seconds":
            sort_index = SORT_TIME
        elif sort_by in metric_names:
            sort_index = metric_names.index(sort_by)
        else:
            raise bad_argument("sort_by", f"'mean_rank', 'seconds' or a metric name ({', '.join(metric_names)})", sort_by)
        sort_order = check_choice("sort_order", sort_order, SORT_ORDERS)
        selected = check_pair("selected", selected, "None or (method name, metric name)")
        if selected is None:
            selected_list: list[int] = []
        else:
            if selected[0] not in ran:
                raise bad_argument("selected[0]", f"a method that produced maps ({', '.join(ran)})", selected[0])
            if selected[1] not in metric_names:
                raise bad_argument("selected[1]", f"a metric of the benchmark ({', '.join(metric_names)})", selected[1])
            selected_list = [ran.index(selected[0]), metric_names.index(selected[1])]
        image = check_int("image", image, 0, n_images, "image position")
        caption_list = check_captions(captions, range(n_images), "image")
        opacity, colormap, scale, maps_dtype = check_overlay_options(opacity, colormap, scale, maps_dtype)
        if title is None:
            title = f"Benchmark: {result.model}"
        if not isinstance(title, str):
            raise bad_argument("title", "a str or None", title)

        # the first row of every image, per method: the map shown and the score read
        first_rows = [[int(r.saliency.rows_for_image(i)[0]) for i in range(n_images)] for r in named]
        blocks = [r.saliency.maps[rows] for r, rows in zip(named, first_rows)]
        maps, maps_dtype = maps_payload(blocks, maps_dtype, stack=True)
        #: the dtype the maps were actually sent as
        self.maps_dtype = maps_dtype
        self._method_names = list(ran)
        self._metric_names = metric_names
        self._result = result

        scores = np.full((len(ran), len(metric_names), n_images), np.nan, dtype=np.float32)
        means, stds, counts, notes = [], [], [], []
        for n, m in enumerate(ran):
            row_means, row_stds, row_counts, row_notes = [], [], [], []
            for k, metric in enumerate(metric_names):
                mean, std, count = result.summary(m, metric)
                row_means.append(_finite_or_none(mean))
                row_stds.append(_finite_or_none(std))
                row_counts.append(count)
                computed = result.results.get(m, {}).get(metric)
                if computed is None:
                    issue = result.issue(m, metric)
                    row_notes.append(issue.message if issue is not None else "not computed")
                else:
                    row_notes.append("")
                    if computed.scores.shape[0] == len(result.saliency[m]):  # one score per row, as the registry asks
                        scores[n, k] = computed.scores[first_rows[n]]
            means.append(row_means)
            stds.append(row_stds)
            counts.append(row_counts)
            notes.append(row_notes)

        metrics = []
        for k in metric_names:
            spec = result.metric_specs[k]
            protocol = ", ".join(f"{p}={_format_param(v)}" for p, v in result.protocols[k].items())
            metrics.append({
                "name": k, "higher_is_better": bool(result.higher_is_better[k]), "kind": spec.kind,
                "summary": spec.summary, "paper": spec.paper, "protocol": protocol,
            })
        methods = [{"name": r.name, "detail": method_detail(r.saliency, with_method=False),
                    "seconds": float(result.method_seconds[r.name])} for r in named]
        columns = image_columns(first, range(n_images), caption_list)
        subtitle = (f"{result.model} \u00b7 {n_images} image{'s' if n_images != 1 else ''} \u00b7 "
                    f"target {result.target!r}{' · ground truth' if result.ground_truth else ''}")

        super().__init__(
            methods=methods,
            metrics=metrics,
            means=means,
            stds=stds,
            counts=counts,
            notes=notes,
            scores=array_payload(scores, "float32"),
            images=[image_payload(first.images[i]) for i in range(n_images)],
            columns=columns,
            maps=maps,
            issues=[str(i) for i in result.issues if i.metric is None],
            sort_by=sort_index,
            sort_order=sort_order,
            selected=selected_list,
            image=image,
            scale=scale,
            colormap=colormap,
            opacity=opacity,
            title=title,
            subtitle=subtitle,
        )

    @classmethod
    def from_result(cls, result: Any, **kwargs: Any) -> "Leaderboard":
        """The leaderboard of a ``BenchmarkResult``; see the class for options."""
        return cls(result, **kwargs)

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("sort_by")
    def _validate_sort_by(self, proposal: Any) -> int:
        value = proposal["value"]
        k = len(self.metrics)
        if not SORT_TIME <= value < k:
            raise traitlets.TraitError(f"sort_by: expected an int in [{SORT_TIME}, {k}); got {describe(value)}")
        return value

    @traitlets.validate("sort_order")
    def _validate_sort_order(self, proposal: Any) -> str:
        return validated_choice(proposal, {"sort_order": SORT_ORDERS})

    @traitlets.validate("selected")
    def _validate_selected(self, proposal: Any) -> list[int]:
        return validated_cell(proposal, ("method", "metric"), (len(self.methods), len(self.metrics)))

    @traitlets.validate("image")
    def _validate_image(self, proposal: Any) -> int:
        value = proposal["value"]
        m = len(self.images)
        if not 0 <= value < m:
            raise traitlets.TraitError(f"image: expected an int in [0, {m}); got {describe(value)}")
        return value

    # ------------------------------------------------------------------ access
    @property
    def metric_names(self) -> list[str]:
        return list(self._metric_names)

    @property
    def sort_key(self) -> str:
        """What the rows are sorted by: ``"mean_rank"``, ``"seconds"`` or a metric's name."""
        if self.sort_by == SORT_RANK:
            return "mean_rank"
        if self.sort_by == SORT_TIME:
            return "seconds"
        return self._metric_names[self.sort_by]

    @property
    def sorted_methods(self) -> list[str]:
        """The methods in the order the table shows them (the same rule as the front end:
        best first under ``sort_order="best"``; methods without a value always last; ties
        keep the benchmark's order)."""
        table = self._result.rank_table()
        names = self._method_names
        if self.sort_by == SORT_RANK:
            keys, higher = [table[m]["mean_rank"] for m in names], False
        elif self.sort_by == SORT_TIME:
            keys, higher = [m["seconds"] for m in self.methods], False
        else:
            keys = [v if v is not None else math.nan for v in (row[self.sort_by] for row in self.means)]
            higher = bool(self.metrics[self.sort_by]["higher_is_better"])
        return [names[i] for i in sort_rows(keys, higher, self.sort_order)]

    @property
    def selected_cell(self) -> tuple[str, str] | None:
        """The cell whose map is shown, as (method, metric), or None."""
        if not self.selected:
            return None
        n, k = self.selected
        return self._method_names[n], self._metric_names[k]

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "methods", self._method_names
        yield "metrics", self._metric_names
        yield "images", len(self.images)
        yield "sort_by", self.sort_key
        yield "sort_order", self.sort_order
        yield "selected", self.selected_cell
        yield "image", self.image


def sort_rows(keys: Sequence[float], higher_is_better: bool, order: str = "best") -> list[int]:
    """Row positions sorted by ``keys``: best first (``order="best"``) or worst first;
    NaN keys always last; equal keys keep their order (js/leaderboard.ts ``sortRows``)."""
    if order not in SORT_ORDERS:
        raise bad_argument("order", f"one of {', '.join(map(repr, SORT_ORDERS))}", order)
    if not isinstance(higher_is_better, bool) and not isinstance(higher_is_better, numbers.Integral):
        raise bad_argument("higher_is_better", "True or False", higher_is_better)
    vals = [float(k) for k in keys]
    finite = [i for i, v in enumerate(vals) if math.isfinite(v)]
    missing = [i for i, v in enumerate(vals) if not math.isfinite(v)]
    descending = bool(higher_is_better) == (order == "best")
    finite.sort(key=lambda i: -vals[i] if descending else vals[i])
    return finite + missing
