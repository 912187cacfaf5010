"""``explain_dataset``: explain a whole dataset in batches into a resumable store.

The run is three separate steps, so that an engine only replaces the middle one:

1. :func:`pending_batches` reads the dataset in batches and asks the store which
   (image, version) pairs are already complete; only the rest is read and computed
   (a map-style dataset skips stored items without reading them).
2. ``compute_batch`` (compute.py) turns a batch into rows and compressed maps, on
   any process that holds a replica of the model.
3. ``DatasetStore.write`` stores a batch in one transaction, in the one process
   that owns the store.

An engine is a function ``engine(adapter, source, plan, store, run_id, *, batch_size,
retry_errors, on_batch) -> None`` that does 1-3 for every batch and calls
``on_batch(items, records, skipped)`` after each write. ``run_local`` is the
in-process engine; ``engine="ray"`` loads ``run_ray`` from
``xwidgets/batch/ray_engine.py`` with the same signature.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from .._validation import bad_argument
from ..metrics.registry import get_metric
from ..models.adapter import ModelAdapter, wrap
from ..saliency.explain import _params_dict
from ..saliency.registry import get_method
from ..saliency.targets import TargetPlan
from .compute import MethodJob, MetricJob, Plan, compute_batch
from .sources import Item, Source
from .store import MAP_DTYPES, BatchRecords, DatasetStore
from .versioning import canonical, describe_target, model_fingerprint, model_key, version_key

__all__ = ["explain_dataset", "pending_batches", "run_local", "make_plan", "WorkBatch", "ENGINES"]

#: what the callback and progress bar get after each batch
OnBatch = Callable[[Sequence[Item], BatchRecords, int], None]


@dataclasses.dataclass
class WorkBatch:
    """Items to compute and, per version, the positions of the items it still needs;
    ``skipped``: items found complete in the store since the previous batch."""

    items: list[Item]
    todo: dict[str, list[int]]
    skipped: int


def pending_batches(source: Source, plan: Plan, store: DatasetStore, batch_size: int,
                    retry_errors: bool = False) -> Iterator[WorkBatch]:
    """Batches of up to ``batch_size`` items that still need some version of ``plan``
    (the last batch may be smaller; a batch may be empty when the rest was stored)."""
    wanted = {job.version: plan.metric_keys for job in plan.jobs}
    buffer: list[tuple[Item, list[str]]] = []
    skipped = 0

    def needs(ids: list[Any]) -> dict[Any, list[str]]:
        done = store.done(wanted, ids, retry_errors)
        return {i: [v for v in wanted if i not in done[v]] for i in ids}

    def take(count: int) -> WorkBatch:
        nonlocal buffer, skipped
        chunk, buffer = buffer[:count], buffer[count:]
        todo: dict[str, list[int]] = {job.version: [] for job in plan.jobs}
        for position, (_, versions) in enumerate(chunk):
            for version in versions:
                todo[version].append(position)
        work = WorkBatch([item for item, _ in chunk], todo, skipped)
        skipped = 0
        return work

    if source.positional:
        for start in range(0, source.total or 0, batch_size):
            ids = list(range(start, min(start + batch_size, source.total or 0)))
            missing = needs(ids)
            for i in ids:
                if missing[i]:
                    buffer.append((source.item(i), missing[i]))
                else:
                    skipped += 1
            while len(buffer) >= batch_size:
                yield take(batch_size)
    else:
        chunk: list[Item] = []
        for item in source:
            chunk.append(item)
            if len(chunk) == batch_size:
                missing = needs([it.image_id for it in chunk])
                for it in chunk:
                    if missing[it.image_id]:
                        buffer.append((it, missing[it.image_id]))
                    else:
                        skipped += 1
                chunk = []
                while len(buffer) >= batch_size:
                    yield take(batch_size)
        if chunk:
            missing = needs([it.image_id for it in chunk])
            for it in chunk:
                if missing[it.image_id]:
                    buffer.append((it, missing[it.image_id]))
                else:
                    skipped += 1
    while buffer:
        yield take(batch_size)
    if skipped:
        yield WorkBatch([], {job.version: [] for job in plan.jobs}, skipped)


def run_local(adapter: ModelAdapter, source: Source, plan: Plan, store: DatasetStore, run_id: int, *,
              batch_size: int, retry_errors: bool, on_batch: OnBatch) -> None:
    """The in-process engine: read, compute and write one batch after the other."""
    for work in pending_batches(source, plan, store, batch_size, retry_errors):
        records = BatchRecords()
        if work.items:
            records = compute_batch(adapter, plan, work.items, work.todo)
            store.write(records, run_id)
        on_batch(work.items, records, work.skipped)


def _ray_engine() -> Callable[..., None]:
    try:
        from .ray_engine import run_ray
    except ImportError as error:
        raise ImportError(
            'engine="ray": the Ray engine is not available (xwidgets/batch/ray_engine.py or the ray package is '
            f'missing: {error}); use engine="local"'
        ) from error
    return run_ray


#: engine name -> a function returning the engine (imported only when asked for)
ENGINES: dict[str, Callable[[], Callable[..., None]]] = {"local": lambda: run_local, "ray": _ray_engine}


def _metric_key(name: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    changed = {k: v for k, v in canonical(dict(params)).items() if canonical(defaults.get(k)) != v}
    if not changed:
        return name
    return f"{name}({','.join(f'{k}={v!r}' for k, v in sorted(changed.items()))})"


def _metric_jobs(metrics: Any) -> tuple[MetricJob, ...]:
    if metrics is None:
        return ()
    if isinstance(metrics, str):
        metrics = (metrics,)
    if isinstance(metrics, Mapping):
        entries = list(metrics.items())
    elif isinstance(metrics, (list, tuple)):
        entries = [(m, {}) for m in metrics]
    else:
        raise bad_argument("metrics", "metric names or a dict {name: params}", metrics)
    jobs: list[MetricJob] = []
    for name, params in entries:
        spec = get_metric(name)  # unknown names fail here, with close names
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise bad_argument(f"metrics[{name!r}]", "a dict of the metric's parameters", params)
        try:
            protocol = spec.params(**params)
        except TypeError as error:
            raise bad_argument(f"metrics[{name!r}]", f"parameters among {', '.join(spec.defaults())}",
                               dict(params), str(error)) from None
        key = _metric_key(spec.name, dataclasses.asdict(protocol), spec.defaults())
        if any(j.key == key for j in jobs):
            raise bad_argument("metrics", "each metric once", [j.key for j in jobs] + [key])
        jobs.append(MetricJob(key, spec.name, dict(params), spec.needs_ground_truth))
    return tuple(jobs)


def _check_target(target: Any) -> None:
    if isinstance(target, str) and target == "label":
        return
    if isinstance(target, (list, tuple)) or hasattr(target, "shape"):
        raise bad_argument("target", '"pred", "label", a class index, TopK(k), Contrast or a callable (one spec for '
                           "every image; per-image classes come from the labels with \"label\")", target)
    TargetPlan(target, 1)  # the same messages as xw.explain


def make_plan(adapter: ModelAdapter, methods: Sequence[str], params: Mapping[str, Mapping[str, Any]],
              metrics: Any, target: Any, layer: str | None, thumbnail_size: int, map_dtype: str) -> Plan:
    """Resolve methods, parameters, layers, metrics and version keys (no data read)."""
    fingerprint = model_fingerprint(adapter)
    key = model_key(adapter, fingerprint)
    jobs = []
    for name in methods:
        spec = get_method(name)
        overrides = dict(params.get(name, {}))
        resolved = canonical(_params_dict(spec.make_params(**overrides)))
        used_layer = None
        if spec.uses_layer:
            used_layer = layer or adapter.cam_layer
            adapter.layer(used_layer)  # unknown names fail here, with suggestions
        jobs.append(MethodJob(spec.name, overrides, resolved, used_layer,
                              version_key(key, spec.name, resolved, used_layer, target)))
    return Plan(tuple(jobs), _metric_jobs(metrics), target, key, thumbnail_size, map_dtype, fingerprint)


def explain_dataset(
    model: Any,
    dataset: Any,
    methods: str | Sequence[str] = ("gradcam",),
    *,
    store: str | Any,
    metrics: Sequence[str] | Mapping[str, Mapping[str, Any]] = (),
    batch_size: int = 32,
    target: Any = "pred",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    layer: str | None = None,
    engine: str = "local",
    progress: bool = True,
    callback: Callable[[int, int | None, list[dict[str, Any]]], Any] | None = None,
    device: str | torch.device | None = None,
    thumbnail_size: int = 64,
    map_dtype: str = "float16",
    retry_errors: bool = False,
) -> DatasetStore:
    """Explain every image of ``dataset`` with each method into the store at ``store``.

    Streams the dataset in batches (one batch of images and maps in memory; maps leave
    the device per batch), stores each batch in one transaction, and skips what the
    store already holds, so an interrupted run resumes where it stopped without
    recomputing anything. Results are versioned by model weights, preprocessing,
    method, parameters, layer and target (``versioning.py``): a run with other
    settings writes a new version and reads never mix versions. An image that cannot
    be read or explained records its error in its row and the run goes on.

    Args:
        model: a ModelAdapter or any classifier ``nn.Module`` (as ``xw.explain``).
        dataset: a ``SyntheticParts``, a torch Dataset, a list or (N, ...) array of
            images, a dict {image_id: item}, a DataLoader, or any iterable of images, ``(image, label)``, ``(image, label,
            id)``, dicts with "image"/"label"/"id", or synthetic Samples
            (``xwidgets.batch.sources``). Image ids are the index unless given.
        methods: a method name or a list of them (``xw.list_methods()``).
        store: a directory (created if new or empty), or an open DatasetStore.
        metrics: metric names, or {name: protocol params} (``xw.list_metrics()``),
            scored per row with the maps and stored with them. Ground-truth metrics
            (pointing game, ...) need a dataset of synthetic Samples (SyntheticParts).
        batch_size: images per forward/backward pass.
        target: "pred", "label" (each item's own label), a class index, TopK(k)
            (k rows per image), Contrast, or a callable on the logits.
        params: {method: {parameter: value}} overriding the published defaults.
        layer: the layer CAM methods read (default: the model's CAM layer).
        engine: "local" (this process) or "ray" (xwidgets/batch/ray_engine.py).
        progress: show a tqdm progress bar (with ETA when ``len(dataset)`` works).
        callback: ``callback(done, total, rows)`` after each batch: items handled so
            far (stored ones included), the total (or None) and the batch's new
            :meth:`DatasetStore.table` rows.
        device: move the model to this device first (default: where it is).
        thumbnail_size: longest side of the stored thumbnails (0: no thumbnails).
        map_dtype: "float16" (default, half the size) or "float32" to store maps.
        retry_errors: recompute images (and metric values) whose stored row is an error.

    Returns:
        the :class:`DatasetStore` (open; read it with ``.table()``, ``.load_map()``...).
    """
    from .. import __version__

    adapter = wrap(model)
    if device is not None:
        adapter.to(device)
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, (list, tuple)) or not methods or not all(isinstance(m, str) for m in methods):
        raise bad_argument("methods", "a method name or a non-empty list of them", methods)
    if len(set(methods)) != len(methods):
        raise bad_argument("methods", "each method once", list(methods))
    for name in methods:
        get_method(name)  # fail before any work on a misspelt name
    params = {} if params is None else params
    if not isinstance(params, Mapping) or not all(isinstance(v, Mapping) for v in params.values()):
        raise bad_argument("params", "a dict {method: {parameter: value}}", params)
    unknown = sorted(set(params) - set(methods))
    if unknown:
        raise bad_argument("params", f"keys among the methods {list(methods)}", unknown)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("batch_size", "a positive int", batch_size)
    if isinstance(thumbnail_size, bool) or not isinstance(thumbnail_size, int) or thumbnail_size < 0:
        raise bad_argument("thumbnail_size", "an int >= 0 (0: no thumbnails)", thumbnail_size)
    if map_dtype not in MAP_DTYPES:
        raise bad_argument("map_dtype", f"one of {', '.join(map(repr, MAP_DTYPES))}", map_dtype)
    if not isinstance(engine, str) or engine not in ENGINES:
        raise bad_argument("engine", f"one of {', '.join(map(repr, ENGINES))}", engine)
    if callback is not None and not callable(callback):
        raise bad_argument("callback", "None or a callable(done, total, rows)", callback)
    if not isinstance(progress, bool):
        raise bad_argument("progress", "True or False", progress)
    if not isinstance(retry_errors, bool):
        raise bad_argument("retry_errors", "True or False", retry_errors)
    _check_target(target)
    metric_jobs = _metric_jobs(metrics)
    ground_truth = any(m.needs_ground_truth for m in metric_jobs)
    source = Source(dataset, ground_truth=ground_truth)
    if ground_truth and source.has_samples is False:
        needing = [m.key for m in metric_jobs if m.needs_ground_truth]
        raise bad_argument("metrics", "metrics the dataset can score", needing,
                           "These need synthetic ground truth: pass a SyntheticParts or an iterable of its Samples")
    run_engine = ENGINES[engine]()  # a missing engine fails before the store is touched
    plan = make_plan(adapter, methods, params, metrics, target, layer, thumbnail_size, map_dtype)
    if isinstance(store, DatasetStore):
        opened = store
    else:
        opened = DatasetStore(store, create=True)

    config = {
        "methods": list(methods), "params": canonical(dict(params)), "metrics": plan.metric_keys,
        "target": describe_target(target), "layer": layer, "batch_size": batch_size, "engine": engine,
        "map_dtype": map_dtype, "thumbnail_size": thumbnail_size, "retry_errors": retry_errors,
        "versions": {job.method: job.version for job in plan.jobs},
    }
    run_id = opened.begin_run(engine, _describe_dataset(dataset), config, __version__)
    opened.register_model(plan.model_key, adapter.name, plan.fingerprint, dataclasses.asdict(adapter.preprocess),
                          adapter.labels)
    for job in plan.jobs:
        opened.register_version(job.version, job.method, plan.model_key, job.resolved, job.layer,
                                describe_target(target), run_id, __version__)

    from tqdm.auto import tqdm

    counts = {"done": 0, "computed": 0, "skipped": 0, "errors": 0}
    bar = tqdm(total=source.total, desc="explain_dataset", unit="img", disable=not progress, leave=True)

    def on_batch(items: Sequence[Item], records: BatchRecords, skipped: int) -> None:
        counts["done"] += len(items) + skipped
        counts["computed"] += len(items)
        counts["skipped"] += skipped
        counts["errors"] += records.errors
        bar.update(len(items) + skipped)
        bar.set_postfix(stored=counts["skipped"], errors=counts["errors"], refresh=False)
        if callback is not None:
            rows: list[dict[str, Any]] = []
            if items:
                ids = [item.image_id for item in items]
                for job in plan.jobs:
                    rows += opened.rows(ids, version=job.version)
            callback(counts["done"], source.total, rows)

    status = "failed"
    try:
        run_engine(adapter, source, plan, opened, run_id, batch_size=batch_size, retry_errors=retry_errors,
                   on_batch=on_batch)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        bar.close()
        opened.end_run(run_id, status, counts["computed"], counts["skipped"], counts["errors"])
    return opened


def _describe_dataset(dataset: Any) -> str:
    """A short description of the dataset for the runs table (never the repr of a
    list or array of images, which would print every pixel)."""
    if hasattr(dataset, "shape") and hasattr(dataset, "dtype"):
        text = f"{type(dataset).__name__} of shape {tuple(dataset.shape)} and dtype {dataset.dtype}"
    elif isinstance(dataset, (list, tuple)):
        text = f"{type(dataset).__name__} of length {len(dataset)}"
    elif type(dataset).__repr__ is not object.__repr__ and not isinstance(dataset, torch.utils.data.DataLoader):
        text = repr(dataset)
    else:
        text = type(dataset).__name__
    return text if len(text) <= 200 else text[:197] + "..."
