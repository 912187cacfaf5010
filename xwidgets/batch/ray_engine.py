"""The Ray engine of ``xw.explain_dataset(..., engine="ray")``: batches computed by
model-replica actors on a Ray cluster, stored by the driver.

Ray Data moves rows as Arrow tables, which suits columns of numbers but not the
arbitrary Python items a dataset may hold (PIL images, paths, synthetic Samples), so
the engine feeds Ray actors directly, one batch per task:

* the driver reads the dataset and asks the store what is pending
  (``run.pending_batches``, as the local engine does), so stored images are neither
  read nor sent;
* each actor holds one replica of the model (one GPU per actor when the cluster has
  GPUs, else one CPU per actor running torch on one thread) and runs
  ``compute.compute_batch`` on the batches it is sent;
* the picklable ``BatchRecords`` stream back to the driver, which alone writes them to
  the store, one transaction per batch, in the order they finish.

At most two batches per actor are in flight, so the driver's memory is bounded by
the number of actors, not by the dataset. The store is the same as the local
engine's: a run interrupted at any point resumes (with either engine) without
recomputing a stored image; batches that were in flight are computed again.

Running on a real cluster::

    import ray, xwidgets as xw
    ray.init(address="auto")          # on a node of a running cluster (`ray start --head` ...)
    xw.explain_dataset(model, dataset, ["gradcam"], store="/data/run1", engine="ray")

The store path is written by the driver only: put it on storage the driver's
machine writes (a local disk, or a network file system that supports SQLite's
locks). Workers only compute; they need xwidgets and torch installed (a Ray
``runtime_env`` can provide them) and, for a dataset of paths, read access to the
images. Without ``ray.init`` before the call, the engine calls ``ray.init()``, which
joins the cluster in ``RAY_ADDRESS`` or starts a local one on this machine.
Install with ``pip install "xwidgets[ray]"``.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Sequence

import torch

try:
    import ray
except ImportError as error:  # explain_dataset turns this into a message naming the extra
    raise ImportError(
        'engine="ray" needs Ray: pip install "xwidgets[ray]" (or pip install "ray[data]>=2.9")'
    ) from error

from ..models.adapter import ModelAdapter
from .compute import Plan, compute_batch
from .run import pending_batches
from .sources import Item, Source
from .store import BatchRecords, DatasetStore

__all__ = ["run_ray", "replica_count", "init_local_ray"]

#: batches in flight per actor (one computing, one queued), bounding driver memory
IN_FLIGHT_PER_ACTOR = 2


def init_local_ray(num_cpus: int | None = None, attempts: int = 2, **kwargs: Any) -> None:
    """``ray.init`` of a local instance for a laptop or a test, tried ``attempts`` times.

    Ray waits a fixed 30 s for its raylet to register (``ray/_private/node.py``, not
    configurable in Ray 2.60), which a machine busy with other work can miss; only that
    startup timeout is retried, any other error is raised at once. ``kwargs`` go to
    ``ray.init`` (defaults here: no dashboard, worker logs not forwarded).
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        from .._validation import bad_argument

        raise bad_argument("attempts", "an int >= 1", attempts)
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False, **kwargs}
    for attempt in range(attempts):
        try:
            ray.init(num_cpus=num_cpus, **options)
            return
        except Exception as error:  # noqa: BLE001  (only the startup timeout is retried)
            ray.shutdown()
            if attempt == attempts - 1 or "timed out during startup" not in str(error):
                raise


class _Replica:
    """One model replica: ``compute(items, todo)`` runs ``compute_batch`` on it."""

    def __init__(self, adapter_bytes: bytes, plan: Plan, device: str, threads: int) -> None:
        if device == "cpu":
            torch.set_num_threads(max(1, threads))
        self.adapter: ModelAdapter = torch.load(io.BytesIO(adapter_bytes), map_location=device, weights_only=False)
        self.plan = plan

    def compute(self, items: Sequence[Item], todo: dict[str, list[int]]) -> BatchRecords:
        return compute_batch(self.adapter, self.plan, items, todo)


def replica_count(num_actors: int | None = None) -> tuple[int, float, int]:
    """(actors, GPUs per actor, CPUs per actor) for the cluster Ray is connected to:
    one actor per GPU when there are GPUs, else one per CPU (``num_actors`` caps it)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        count, per_gpu, per_cpu = gpus, 1.0, 1
    else:
        count, per_gpu, per_cpu = max(1, int(resources.get("CPU", 1))), 0.0, 1
    if num_actors is not None:
        count = min(count, num_actors)
    return count, per_gpu, per_cpu


def _adapter_bytes(adapter: ModelAdapter) -> bytes:
    """The adapter serialised once for every replica (``torch.save`` so that each
    actor maps the weights straight to its own device)."""
    buffer = io.BytesIO()
    torch.save(adapter, buffer)
    return buffer.getvalue()


def run_ray(adapter: ModelAdapter, source: Source, plan: Plan, store: DatasetStore, run_id: int, *,
            batch_size: int, retry_errors: bool, on_batch: Callable[[Sequence[Item], BatchRecords, int], None],
            num_actors: int | None = None) -> None:
    """The Ray engine (same signature as ``run.run_local``): model-replica actors
    compute the pending batches; this process writes each result to ``store``.

    ``num_actors`` caps the replicas (default: one per GPU, else one per CPU of the
    cluster)."""
    if not ray.is_initialized():
        ray.init()
    count, gpus, cpus = replica_count(num_actors)
    device = "cuda" if gpus else "cpu"
    replica_class = ray.remote(num_gpus=gpus, num_cpus=cpus, max_restarts=0)(_Replica)
    weights = ray.put(_adapter_bytes(adapter))
    actors = [replica_class.remote(weights, plan, device, cpus) for _ in range(count)]
    load = [0] * count  # tasks in flight per actor
    running: dict[Any, tuple[int, list[Item], int]] = {}  # task -> (actor index, items, skipped before them)
    carried = 0  # stored items counted since the last batch handed to on_batch

    def finish(block: bool) -> None:
        if not running:
            return
        done, _ = ray.wait(list(running), num_returns=1, timeout=None if block else 0)
        for task in done:
            actor, items, skipped = running.pop(task)
            records: BatchRecords = ray.get(task)  # a failed task raises here: the run stops, resumably
            store.write(records, run_id)
            load[actor] -= 1
            on_batch(items, records, skipped)

    try:
        for work in pending_batches(source, plan, store, batch_size, retry_errors):
            if not work.items:
                carried += work.skipped
                continue
            while len(running) >= IN_FLIGHT_PER_ACTOR * count:
                finish(block=True)
            actor = load.index(min(load))
            load[actor] += 1
            task = actors[actor].compute.remote(work.items, work.todo)
            running[task] = (actor, work.items, carried + work.skipped)
            carried = 0
            finish(block=False)
        while running:
            finish(block=True)
        if carried:
            on_batch([], BatchRecords(), carried)
    finally:  # in-flight batches are dropped with their actors (a resumed run computes them)
        for actor in actors:
            ray.kill(actor)
