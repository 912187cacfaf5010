"""Dataset scale: explain whole datasets into a resumable, versioned result store.

* ``run.py``: ``explain_dataset`` and the local engine (``engine="ray"``: ray_engine.py).
* ``compute.py``: the work of one batch (a plain function a distributed actor can call).
* ``store.py``: ``DatasetStore``, the directory of results (SQLite + compressed maps).
* ``sources.py``: any dataset or iterable as a stream of (id, image, label) items.
* ``versioning.py``: version keys from the model's weights, method, params and target.
"""

from .compute import MethodJob, MetricJob, Plan, compute_batch
from .run import explain_dataset, pending_batches, run_local
from .sources import Item, Source
from .store import BatchRecords, DatasetStore, decode_map, encode_map
from .versioning import model_fingerprint, model_key, version_key

__all__ = [
    "explain_dataset", "DatasetStore", "BatchRecords", "compute_batch", "Plan", "MethodJob", "MetricJob",
    "pending_batches", "run_local", "Item", "Source", "encode_map", "decode_map", "model_fingerprint", "model_key",
    "version_key",
]
