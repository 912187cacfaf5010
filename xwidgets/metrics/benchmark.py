"""``benchmark``: several saliency methods scored by several metrics on the same images.

    result = xw.benchmark(model, images, methods=["gradcam", "rise"], metrics=["deletion", "insertion"])
    result.table()        # method, metric, mean, std, n, higher_is_better, seconds
    result.ranks()        # per-metric rank of each method (1 = best) and the mean rank
    result.show()         # the Leaderboard widget: sortable, every cell's map one click away
    result.plot()         # a static figure: ranks as colours, means as text
    result.to_markdown()  # for bench/RESULTS.md, with the protocol under the table

Every method's maps come from ``xw.explain`` on the same prepared images and targets,
every score from ``xw.evaluate`` under the metric's protocol (its published defaults
updated by ``metric_params``), so one table states one protocol (METHODS.md, "Common
evaluation protocol"; Hedström et al., Quantus, JMLR 2023, on why metrics must be
compared under a stated setup). A method that cannot run on the model (attention
methods on a CNN, T-TAME without a trained explainer) is skipped with its reason; one
that fails, or a metric that fails on one method's maps, is recorded with its message
and a warning, and the others go on: nothing computed is lost.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import time
import types
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._validation import bad_argument
from ..models.adapter import ModelAdapter, wrap
from ..models.inputs import Images
from ..saliency.explain import _describe_target, explain
from ..saliency.registry import MethodSpec, get_method, list_methods
from ..saliency.result import Saliency
from ..saliency.targets import Target, TargetPlan
from .evaluate import _check_ground_truth, evaluate
from .registry import MetricResult, MetricSpec, get_metric, list_metrics

__all__ = ["benchmark", "BenchmarkResult", "BenchmarkIssue", "BenchmarkWarning", "applicable_methods",
           "applicable_metrics", "average_ranks", "summarise_scores"]

#: keys of ``method_params[name]`` that go to ``xw.explain`` itself, not to the method
EXPLAIN_OPTIONS = ("layer", "batch_size")


class BenchmarkWarning(UserWarning):
    """A method or metric failed (or a method asked for could not run); the benchmark went on."""


@dataclasses.dataclass(frozen=True)
class BenchmarkIssue:
    """A method skipped (it cannot run on this model) or a method or metric that failed.

    kind: ``"skipped"`` or ``"failed"``. method: the method. metric: the metric when a
    metric failed on that method's maps, else None. message: why.
    """

    kind: str
    method: str
    metric: str | None
    message: str

    def __str__(self) -> str:
        where = self.method if self.metric is None else f"{self.metric} on {self.method}"
        return f"{where} {self.kind}: {self.message}"


# --------------------------------------------------------------------------- scores and ranks
def summarise_scores(scores: np.ndarray) -> tuple[float, float, int]:
    """(mean, sample standard deviation, n) of the finite scores; NaN mean without any,
    NaN standard deviation below two."""
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    mean = float(finite.mean()) if n else math.nan
    std = float(finite.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def average_ranks(values: Sequence[float], higher_is_better: bool) -> list[float]:
    """Rank of each value, 1 = best (the highest when ``higher_is_better``, else the
    lowest); equal values share the average of their ranks; NaN values get NaN.

    The same rule as js/leaderboard.ts ``averageRanks``, so the table and the widget agree.
    """
    vals = [float(v) if v is not None else math.nan for v in values]
    valid = [i for i, v in enumerate(vals) if math.isfinite(v)]
    valid.sort(key=lambda i: (-vals[i] if higher_is_better else vals[i], i))
    ranks = [math.nan] * len(vals)
    start = 0
    while start < len(valid):
        stop = start
        while stop + 1 < len(valid) and vals[valid[stop + 1]] == vals[valid[start]]:
            stop += 1
        shared = (start + stop) / 2 + 1
        for j in range(start, stop + 1):
            ranks[valid[j]] = shared
        start = stop + 1
    return ranks


def _mean_of_finite(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _have_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _format_number(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return "\u2013"
    if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 10 ** (digits + 3)):
        return f"{value:.{max(1, digits - 1)}e}"
    return f"{value:.{digits}f}"


def _format_param(value: Any) -> str:
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- the result
@dataclasses.dataclass(eq=False)
class BenchmarkResult:
    """Everything a benchmark computed.

    Attributes:
        model: the model's display name. device: where it ran.
        num_images: images scored. target: what was explained, as text.
        methods, metrics: the methods and metrics asked for (or chosen), in order,
            including the ones skipped or failed.
        saliency: ``{method: Saliency}``, the maps of every method that ran.
        results: ``{method: {metric: MetricResult}}``, every score computed.
        method_seconds: wall-clock seconds each method took for its maps.
        metric_seconds: ``{method: {metric: seconds}}`` of each evaluation.
        protocols: ``{metric: parameters}``, the protocol each metric was measured under.
        higher_is_better: ``{metric: bool}``. metric_specs: ``{metric: MetricSpec}``.
        method_params: ``{method: parameters}`` as passed (defaults otherwise).
        issues: every method skipped and every method or metric that failed.
        ground_truth: whether ground truth was given.
    """

    model: str
    device: str
    num_images: int
    target: Any
    methods: list[str]
    metrics: list[str]
    saliency: dict[str, Saliency]
    results: dict[str, dict[str, MetricResult]]
    method_seconds: dict[str, float]
    metric_seconds: dict[str, dict[str, float]]
    protocols: dict[str, dict[str, Any]]
    higher_is_better: dict[str, bool]
    metric_specs: dict[str, MetricSpec]
    method_params: dict[str, dict[str, Any]]
    issues: list[BenchmarkIssue]
    ground_truth: bool = False

    # ------------------------------------------------------------------ access
    @property
    def errors(self) -> list[BenchmarkIssue]:
        """The methods and (method, metric) pairs that failed."""
        return [i for i in self.issues if i.kind == "failed"]

    @property
    def skipped(self) -> list[BenchmarkIssue]:
        """The methods that could not run on this model, with the reason."""
        return [i for i in self.issues if i.kind == "skipped"]

    @property
    def ran(self) -> list[str]:
        """The methods that produced maps, in order."""
        return [m for m in self.methods if m in self.saliency]

    def issue(self, method: str, metric: str | None = None) -> BenchmarkIssue | None:
        """The issue recorded for ``method`` (and ``metric``), if any."""
        for i in self.issues:
            if i.method == method and i.metric == metric:
                return i
        return None

    def summary(self, method: str, metric: str) -> tuple[float, float, int]:
        """(mean, std, n) of ``metric`` on ``method``'s maps; (NaN, NaN, 0) when not computed."""
        result = self.results.get(method, {}).get(metric)
        return summarise_scores(result.scores) if result is not None else (math.nan, math.nan, 0)

    def means(self) -> dict[str, dict[str, float]]:
        """``{method: {metric: mean}}`` for every method that ran (NaN where not computed)."""
        return {m: {k: self.summary(m, k)[0] for k in self.metrics} for m in self.ran}

    def rank_table(self) -> dict[str, dict[str, float]]:
        """``{method: {metric: rank, ..., "mean_rank": r}}`` for every method that ran:
        rank 1 is the best mean (respecting ``higher_is_better``), ties share the average
        rank, NaN where the method has no score; the mean rank is over the metrics the
        method has a rank for."""
        means = self.means()
        ran = self.ran
        out: dict[str, dict[str, float]] = {m: {} for m in ran}
        for k in self.metrics:
            ranks = average_ranks([means[m][k] for m in ran], self.higher_is_better[k])
            for m, r in zip(ran, ranks):
                out[m][k] = r
        for m in ran:
            out[m]["mean_rank"] = _mean_of_finite([out[m][k] for k in self.metrics])
        return out

    def ranked_methods(self) -> list[str]:
        """The methods that ran, best mean rank first (methods without any rank last)."""
        table = self.rank_table()
        order = {m: i for i, m in enumerate(self.ran)}
        return sorted(self.ran, key=lambda m: (not math.isfinite(table[m]["mean_rank"]), table[m]["mean_rank"]
                                              if math.isfinite(table[m]["mean_rank"]) else 0.0, order[m]))

    # ------------------------------------------------------------------ tables
    def records(self) -> list[dict[str, Any]]:
        """One dict per (method, metric) computed: method, metric, mean, std, n,
        higher_is_better, seconds (the method's maps), metric_seconds."""
        rows = []
        for m in self.ran:
            for k in self.metrics:
                if k not in self.results.get(m, {}):
                    continue
                mean, std, n = self.summary(m, k)
                rows.append({
                    "method": m, "metric": k, "mean": mean, "std": std, "n": n,
                    "higher_is_better": self.higher_is_better[k], "seconds": self.method_seconds[m],
                    "metric_seconds": self.metric_seconds[m][k],
                })
        return rows

    def table(self, *, records: bool = False) -> Any:
        """The long table of :meth:`records`: a pandas DataFrame when pandas is installed
        (and ``records`` is False), else the list of dicts."""
        rows = self.records()
        pandas = None if records else _have_pandas()
        if pandas is None:
            return rows
        columns = ["method", "metric", "mean", "std", "n", "higher_is_better", "seconds", "metric_seconds"]
        return pandas.DataFrame(rows, columns=columns)

    def ranks(self, *, records: bool = False) -> Any:
        """Each method's rank per metric (1 = best, ties averaged) and its mean rank, best
        mean rank first: a DataFrame indexed by method (columns: the metrics, then
        ``mean_rank``) when pandas is installed and ``records`` is False, else a list of
        dicts ``{"method", <metric>: rank, ..., "mean_rank"}``."""
        table = self.rank_table()
        rows = [{"method": m, **{k: table[m][k] for k in self.metrics}, "mean_rank": table[m]["mean_rank"]}
                for m in self.ranked_methods()]
        pandas = None if records else _have_pandas()
        if pandas is None:
            return rows
        return pandas.DataFrame(rows, columns=["method", *self.metrics, "mean_rank"]).set_index("method")

    def to_markdown(self, *, digits: int = 3, title: str | None = None) -> str:
        """A Markdown table (methods by metrics: mean ± std, rank; the best mean in bold),
        with the protocol stated under it: model, images, target, device, each metric's
        parameters, the methods' parameters, and what was skipped or failed."""
        if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 10:
            raise bad_argument("digits", "an int in [0, 10]", digits)
        table = self.rank_table()
        best = {k: min((table[m][k] for m in self.ran if math.isfinite(table[m][k])), default=math.nan)
                for k in self.metrics}
        lines = [f"### {_md(title)}", ""] if title else []
        arrows = {True: "\u2191", False: "\u2193"}
        head = ["Method", *[f"{_md(k)} {arrows[self.higher_is_better[k]]}" for k in self.metrics], "Mean rank", "Maps (s)"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" + "---:|" * (len(head) - 1))
        for m in self.ranked_methods():
            cells = [f"`{_md(m)}`"]
            for k in self.metrics:
                mean, std, n = self.summary(m, k)
                if k not in self.results.get(m, {}):
                    cells.append("failed" if self.issue(m, k) else "\u2013")
                    continue
                text = _format_number(mean, digits)
                if math.isfinite(table[m][k]) and table[m][k] == best[k]:
                    text = f"**{text}**"
                if math.isfinite(std):
                    text += f" \u00b1 {_format_number(std, digits)}"
                if math.isfinite(table[m][k]):
                    text += f" ({table[m][k]:g})"
                cells.append(text)
            mean_rank = table[m]["mean_rank"]
            cells.append(f"{mean_rank:.2f}" if math.isfinite(mean_rank) else "\u2013")
            cells.append(f"{self.method_seconds[m]:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        images = f"{self.num_images} image{'s' if self.num_images != 1 else ''}"
        lines += [
            "",
            f"Model `{_md(self.model)}` on {self.device}, {images}, target {_md(repr(self.target))}"
            f"{', with ground truth' if self.ground_truth else ''}. Each cell: mean \u00b1 sample standard deviation "
            "over the maps, then the rank among the methods in parentheses (1 = best; equal means share the average "
            "rank); \u2191 higher is better, \u2193 lower is better. Mean rank: over the metrics the method has a "
            "score for. Maps (s): wall-clock seconds to compute the method's maps.",
            "",
            "Protocol of each metric:",
            "",
        ]
        for k in self.metrics:
            spec = self.metric_specs[k]
            params = ", ".join(f"{p}={_format_param(v)}" for p, v in self.protocols[k].items()) or "no parameters"
            lines.append(f"- `{_md(k)}` ({_md(spec.paper)}): {_md(params)}")
        passed = {m: p for m, p in self.method_params.items() if p}
        lines += ["", "Methods: published defaults" + (", except:" if passed else ".")]
        if passed:
            lines.append("")
            for m, p in passed.items():
                lines.append(f"- `{_md(m)}`: " + _md(", ".join(f"{k}={_format_param(v)}" for k, v in p.items())))
        if self.issues:
            lines += ["", "Skipped or failed:", ""]
            lines += [f"- {_md(str(i))}" for i in self.issues]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ views
    def show(self, **kwargs: Any):
        """The :class:`~xwidgets.widgets.Leaderboard` of this result (see it for options)."""
        from ..widgets.leaderboard import Leaderboard

        return Leaderboard(self, **kwargs)

    def widget(self, **kwargs: Any):
        """Alias of :meth:`show`."""
        return self.show(**kwargs)

    def save_html(self, path: str | pathlib.Path, *, title: str | None = None, **kwargs: Any) -> pathlib.Path:
        """Write the leaderboard as a self-contained HTML report (works offline)."""
        from ..report import write_report

        return write_report(path, self.show(**kwargs), title=title or f"xwidgets benchmark: {self.model}")

    def plot(self, *, digits: int = 3, cmap: str = "viridis_r", ax: Any = None):
        """A matplotlib figure: methods (best mean rank first) by metrics, each cell
        coloured by the method's rank on that metric and labelled with its mean."""
        import matplotlib.pyplot as plt

        methods = self.ranked_methods()
        table = self.rank_table()
        ranks = np.array([[table[m][k] for k in self.metrics] for m in methods], dtype=float).reshape(len(methods), len(self.metrics))
        if ax is None:
            fig, ax = plt.subplots(figsize=(4.0 + 1.3 * len(self.metrics), 1.6 + 0.45 * max(1, len(methods))),
                                   layout="constrained")
        else:
            fig = ax.figure
        shown = np.ma.masked_invalid(ranks)
        colours = plt.get_cmap(cmap).with_extremes(bad="#e6e6e6")
        image = ax.imshow(shown, cmap=colours, vmin=1, vmax=max(2, len(methods)), aspect="auto")
        arrows = {True: "\u2191", False: "\u2193"}
        ax.set_xticks(range(len(self.metrics)), [f"{k} {arrows[self.higher_is_better[k]]}" for k in self.metrics],
                      rotation=30, ha="right")
        ax.set_yticks(range(len(methods)), [f"{m} ({table[m]['mean_rank']:.2g})" if math.isfinite(table[m]["mean_rank"])
                                            else m for m in methods])
        norm = image.norm
        for i, m in enumerate(methods):
            for j, k in enumerate(self.metrics):
                mean = self.summary(m, k)[0]
                text = _format_number(mean, digits) if k in self.results.get(m, {}) else (
                    "failed" if self.issue(m, k) else "\u2013")
                dark = math.isfinite(ranks[i, j]) and np.mean(colours(norm(ranks[i, j]))[:3]) < 0.5
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        fig.colorbar(image, ax=ax, label="rank (1 = best)")
        ax.set_ylabel("method (mean rank)")
        ax.set_title(f"{self.model}, {self.num_images} image{'s' if self.num_images != 1 else ''}", fontsize=10)
        return fig

    def __repr__(self) -> str:
        failed, skipped = len(self.errors), len(self.skipped)
        return (f"BenchmarkResult(model={self.model!r}, methods={len(self.ran)} of {len(self.methods)} ran, "
                f"metrics={len(self.metrics)}, images={self.num_images}, failed={failed}, skipped={skipped})")


# --------------------------------------------------------------------------- planning
def _cannot_run(adapter: ModelAdapter, spec: MethodSpec, params: Mapping[str, Any]) -> str | None:
    """Why ``spec`` cannot run on this model (with these parameters), or None."""
    try:
        if spec.family == "attention":
            from ..models.attention import find_attention_blocks

            find_attention_blocks(adapter.model)
        elif spec.family == "learned":
            from ..saliency.tame import resolve_explainer

            resolve_explainer(spec.name, params.get("explainer"), adapter, params.get("extractor"))
        if spec.uses_layer and params.get("layer") is None:
            adapter.layer(adapter.cam_layer)
    except (ValueError, TypeError, KeyError, RuntimeError) as e:
        return str(e)
    return None


def applicable_methods(model: Any, method_params: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> tuple[list[str], dict[str, str]]:
    """(the registered methods that can run on ``model``, ``{method: why not}`` for the
    others): attention methods need attention blocks, T-TAME and P-TAME a trained
    explainer (or the shipped one of a bundled toy model), CAM methods a layer to read."""
    adapter = wrap(model)
    params = _check_params("method_params", method_params, [s.name for s in list_methods()])
    runnable, skipped = [], {}
    for spec in list_methods():
        reason = _cannot_run(adapter, spec, params.get(spec.name, {}))
        if reason is None:
            runnable.append(spec.name)
        else:
            skipped[spec.name] = reason
    return runnable, skipped


def applicable_metrics(ground_truth: bool = False) -> list[str]:
    """The registered metrics that ``benchmark(metrics=None)`` runs: every one, except those
    that need ground truth when there is none."""
    if not isinstance(ground_truth, bool):
        raise bad_argument("ground_truth", "True or False", ground_truth)
    return [s.name for s in list_metrics() if ground_truth or not s.needs_ground_truth]


def _check_names(argument: str, value: Any, known: Callable[[str], Any]) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) == 0:
        raise bad_argument(argument, f"None or a non-empty list of {argument[:-1]} names", value)
    names: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise bad_argument(f"{argument}[{i}]", f"a {argument[:-1]} name (str)", name)
        known(name)  # a misspelt name fails here, with close names
        if name in names:
            raise bad_argument(argument, f"distinct {argument[:-1]} names", value, f"{name!r} appears twice")
        names.append(name)
    return names


def _check_params(argument: str, value: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_argument(argument, "None or a dict {name: {parameter: value}}", value)
    out: dict[str, dict[str, Any]] = {}
    for key, params in value.items():
        if key not in names:
            raise bad_argument(f"{argument} keys", f"names among {', '.join(names)}", key)
        if not isinstance(params, Mapping) or not all(isinstance(p, str) for p in params):
            raise bad_argument(f"{argument}[{key!r}]", "a dict {parameter name: value}", params)
        out[key] = dict(params)
    return out


def _check_method_params(adapter: ModelAdapter, spec: MethodSpec, params: Mapping[str, Any]) -> None:
    where = f"method_params[{spec.name!r}]"
    own = {k: v for k, v in params.items() if k not in EXPLAIN_OPTIONS}
    try:
        spec.make_params(**own)
    except TypeError as e:
        raise TypeError(f"{where}: {e}") from None
    layer = params.get("layer")
    if layer is not None:
        if not spec.uses_layer:
            raise bad_argument(f"{where}['layer']", f"None: {spec.name} does not read a layer", layer)
        if not isinstance(layer, str):
            raise bad_argument(f"{where}['layer']", "a layer's dotted name (str)", layer)
        adapter.layer(layer)  # an unknown name fails here, with close names
    size = params.get("batch_size", 1)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise bad_argument(f"{where}['batch_size']", "a positive int", size)


def _protocol(spec: MetricSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    fields = {f.name for f in dataclasses.fields(spec.params)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise TypeError(f"metric_params[{spec.name!r}]: unknown parameter(s) {', '.join(unknown)}; "
                        f"its parameters are {', '.join(sorted(fields)) or '(none)'}")
    return dataclasses.asdict(spec.params(**params))


def _message(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Progress:
    """A tqdm.auto bar over the steps (one per method, one per method and metric), or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total > 0:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="benchmark", leave=False)

    def step(self, text: str, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- the runner
def benchmark(
    model: Any,
    images: Images | None,
    methods: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    *,
    target: Target = "pred",
    ground_truth: Sequence[Any] | None = None,
    method_params: Mapping[str, Mapping[str, Any]] | None = None,
    metric_params: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> BenchmarkResult:
    """Explain ``images`` with every method and score every map with every metric.

    Args:
        model: a ModelAdapter or any classifier ``nn.Module``.
        images: what ``xw.explain`` takes (prepared once, shared by every method); None
            with ``ground_truth`` uses the samples' images.
        methods: method names (``xw.list_methods()``); None: every registered method
            that can run on this model (the others are recorded as skipped, with why).
        metrics: metric names (``xw.list_metrics()``); None: every registered metric,
            those that need ground truth only when ``ground_truth`` is given.
        target: what to explain, as in ``xw.explain`` (the same for every method).
        ground_truth: one synthetic ``Sample`` per image, for localisation and part
            metrics.
        method_params: ``{method: {parameter: value}}`` (``layer`` and ``batch_size``
            go to ``xw.explain``); defaults are the published ones.
        metric_params: ``{metric: {parameter: value}}``: the protocol, over the
            metric's published defaults.
        batch_size: images per forward pass.
        progress: show a tqdm progress bar.

    Returns:
        a :class:`BenchmarkResult`. Bad arguments raise before any work; a method or
        metric that fails while running is recorded in ``result.errors`` with a
        :class:`BenchmarkWarning`, and the others go on.
    """
    adapter: ModelAdapter = wrap(model)
    if not isinstance(progress, bool):
        raise bad_argument("progress", "True or False", progress)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)

    # ---- what to run (names first: a misspelt name fails before any image is prepared)
    method_names = [s.name for s in list_methods()] if methods is None else _check_names("methods", methods, get_method)
    if metrics is None:
        metric_names = applicable_metrics(ground_truth is not None)
    else:
        metric_names = _check_names("metrics", metrics, get_metric)
    specs = {k: get_metric(k) for k in metric_names}
    needing = [k for k in metric_names if specs[k].needs_ground_truth]
    if needing and ground_truth is None:
        raise bad_argument("ground_truth", f"one synthetic Sample per image for metric(s) {', '.join(needing)}", None,
                           "Pass e.g. [dataset.sample(i) for i in indices] from xwidgets.data.synthetic.SyntheticParts, "
                           "or leave those metrics out")
    m_params = _check_params("method_params", method_params, method_names)
    k_params = _check_params("metric_params", metric_params, metric_names)
    for name, params in m_params.items():
        _check_method_params(adapter, get_method(name), params)
    protocols = {k: _protocol(specs[k], k_params.get(k, {})) for k in metric_names}

    # ---- the images, once
    if images is None:
        if ground_truth is None:
            raise bad_argument("images", "images (or None with ground_truth)", None)
        if isinstance(ground_truth, (str, bytes)) or not isinstance(ground_truth, Sequence) or not all(
                hasattr(s, "image") for s in ground_truth):
            raise bad_argument("ground_truth", "a list of synthetic Samples (their images are used)", ground_truth)
        images = [s.image for s in ground_truth]
    inputs, display = adapter.prepare(images)
    n_images = int(inputs.shape[0])
    TargetPlan(target, n_images)  # a bad target fails here, not once per method
    if ground_truth is not None:
        _check_ground_truth(ground_truth, types.SimpleNamespace(images=display), needing[0] if needing else "benchmark")
        ground_truth = list(ground_truth)

    # ---- which methods can run on this model
    issues: list[BenchmarkIssue] = []
    runnable: list[str] = []
    for name in method_names:
        reason = _cannot_run(adapter, get_method(name), m_params.get(name, {}))
        if reason is None:
            runnable.append(name)
            continue
        issues.append(BenchmarkIssue("skipped", name, None, reason))
        if methods is not None:
            warnings.warn(f"benchmark: {name} cannot run on {adapter.name}, skipped: {reason}", BenchmarkWarning,
                          stacklevel=2)

    saliency: dict[str, Saliency] = {}
    results: dict[str, dict[str, MetricResult]] = {}
    method_seconds: dict[str, float] = {}
    metric_seconds: dict[str, dict[str, float]] = {}
    bar = _Progress(len(runnable) * (1 + len(metric_names)), progress)
    try:
        for name in runnable:
            params = dict(m_params.get(name, {}))
            options = {"batch_size": params.pop("batch_size", batch_size), "layer": params.pop("layer", None)}
            start = time.perf_counter()
            try:
                sal = explain(adapter, inputs, method=name, target=target, **options, **params)
            except Exception as e:  # noqa: BLE001 - recorded, the others go on
                issues.append(BenchmarkIssue("failed", name, None, _message(e)))
                warnings.warn(f"benchmark: {name} failed, recorded in result.errors: {_message(e)}", BenchmarkWarning,
                              stacklevel=2)
                bar.step(f"{name} failed", 1 + len(metric_names))
                continue
            method_seconds[name] = time.perf_counter() - start
            saliency[name] = sal
            results[name] = {}
            metric_seconds[name] = {}
            bar.step(name)
            for k in metric_names:
                start = time.perf_counter()
                try:
                    results[name][k] = evaluate(adapter, sal, k, ground_truth=ground_truth, **k_params.get(k, {}))
                except Exception as e:  # noqa: BLE001 - recorded, the others go on
                    issues.append(BenchmarkIssue("failed", name, k, _message(e)))
                    warnings.warn(f"benchmark: {k} failed on {name}'s maps, recorded in result.errors: {_message(e)}",
                                  BenchmarkWarning, stacklevel=2)
                else:
                    metric_seconds[name][k] = time.perf_counter() - start
                bar.step(f"{name} / {k}")
    finally:
        bar.close()

    return BenchmarkResult(
        model=adapter.name,
        device=str(inputs.device),
        num_images=n_images,
        target=_describe_target(target),
        methods=method_names,
        metrics=metric_names,
        saliency=saliency,
        results=results,
        method_seconds=method_seconds,
        metric_seconds=metric_seconds,
        protocols=protocols,
        higher_is_better={k: specs[k].higher_is_better for k in metric_names},
        metric_specs=specs,
        method_params=m_params,
        issues=issues,
        ground_truth=ground_truth is not None,
    )

