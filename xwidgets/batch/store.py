"""The result store of dataset runs: one directory, one SQLite file.

``<store>/store.sqlite`` (Python's stdlib ``sqlite3``; any SQLite tool and
``pandas.read_sql`` read it) holds every table, and the maps as compressed blobs, so
that one transaction stores a batch's maps together with its rows: a result exists
exactly when its map and its metrics are committed. The journal is SQLite's
write-ahead log with ``synchronous=NORMAL``: a committed batch survives the process
being killed at any point (``kill -9``); a power loss may roll back the last commits,
never half of one. ``<store>/README.md`` repeats the schema for other tools.

Tables:

* ``runs``: one row per ``explain_dataset`` call: run_id, started/finished (Unix
  seconds), status (running, finished, interrupted, failed, killed: a run whose
  process died without closing it, found by its lock, see run_lock.py), engine, dataset,
  config (JSON), xwidgets_version, computed/skipped/errors counts.
* ``models``: model_key, name, fingerprint (class name + hash of the state_dict),
  preprocess (JSON), labels (JSON list of class names).
* ``versions``: version (the key, ``versioning.version_key``), method, model_key,
  params (JSON, the method's resolved parameters), layer, target (JSON), created,
  last_run (the latest run that used it: "newest" means this), xwidgets_version.
* ``images``: image_id (int or str), label (int or NULL), thumbnail (PNG bytes of the
  image as the model saw it, longest side ``thumbnail_size``), height, width.
* ``predictions``: (model_key, image_id) -> pred, confidence (softmax probability of
  pred), probabilities (float32 little-endian bytes, one per class), run_id.
* ``results``: (version, image_id, rank) -> target (the class explained; rank k is the
  k-th pass, >0 only for ``TopK``), map (the ``map_height`` x ``map_width`` map at the
  model's input size, as ``map_dtype`` little-endian bytes, byte-shuffled and
  zlib-compressed: ``map_encoding`` "zlib-shuffle", see :func:`encode_map`), error_type
  and error (set, with map NULL, when the image failed), run_id, elapsed (seconds of
  computation per row).
* ``metrics``: (version, image_id, rank, metric) -> value (REAL), error, run_id;
  ``metric`` is the metric's name, with its non-default protocol in brackets
  (``deletion(step=0.1)``).

A map read by another tool (byte k of every value is stored together, then the next k):
``np.frombuffer(zlib.decompress(map), np.uint8).reshape(itemsize, -1).T.copy().view("<" + map_dtype).reshape(map_height, map_width)``
(itemsize: 2 for float16, 4 for float32).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import sqlite3
import threading
import time
import zlib
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .._validation import bad_argument
from . import run_lock
from .deflate import deflate

__all__ = ["DatasetStore", "BatchRecords", "encode_map", "decode_map", "DB_NAME", "SCHEMA_VERSION", "MAP_ENCODING"]

DB_NAME = "store.sqlite"
SCHEMA_VERSION = 1
#: map dtypes a store writes (float16 halves the size; float32 keeps every bit)
MAP_DTYPES = ("float16", "float32")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, status TEXT, engine TEXT,
    dataset TEXT, config TEXT, xwidgets_version TEXT,
    computed INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0, errors INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS models (
    model_key TEXT PRIMARY KEY, name TEXT, fingerprint TEXT, preprocess TEXT, labels TEXT, created REAL);
CREATE TABLE IF NOT EXISTS versions (
    version TEXT PRIMARY KEY, method TEXT NOT NULL, model_key TEXT, params TEXT, layer TEXT, target TEXT,
    created REAL, last_run INTEGER, xwidgets_version TEXT);
CREATE TABLE IF NOT EXISTS images (
    image_id PRIMARY KEY, label INTEGER, thumbnail BLOB, height INTEGER, width INTEGER);
CREATE TABLE IF NOT EXISTS predictions (
    model_key TEXT, image_id, pred INTEGER, confidence REAL, probabilities BLOB, run_id INTEGER,
    PRIMARY KEY (model_key, image_id));
CREATE TABLE IF NOT EXISTS results (
    version TEXT, image_id, rank INTEGER, target INTEGER,
    map BLOB, map_encoding TEXT, map_dtype TEXT, map_height INTEGER, map_width INTEGER,
    error_type TEXT, error TEXT, run_id INTEGER, elapsed REAL,
    PRIMARY KEY (version, image_id, rank));
CREATE TABLE IF NOT EXISTS metrics (
    version TEXT, image_id, rank INTEGER, metric TEXT, value REAL, error TEXT, run_id INTEGER,
    PRIMARY KEY (version, image_id, rank, metric));
"""

_README = """# xwidgets dataset store

Written by `xwidgets.explain_dataset`; read it with `xwidgets.DatasetStore("{name}")`,
or with any SQLite tool: everything is in `store.sqlite` (schema version {schema}).

Tables: runs, models, versions, images, predictions, results, metrics (the docstring
of `xwidgets/batch/store.py` describes every column). `running/` holds one lock file per
run in progress (how a run killed without closing is told apart from a live one).

A map, from Python without xwidgets:

    import sqlite3, zlib, numpy as np
    db = sqlite3.connect("store.sqlite")
    blob, dtype, h, w = db.execute(
        "SELECT map, map_dtype, map_height, map_width FROM results WHERE image_id = 0").fetchone()
    size = np.dtype(dtype).itemsize   # map_encoding "zlib-shuffle": the bytes are grouped by position
    planes = np.frombuffer(zlib.decompress(blob), np.uint8).reshape(size, -1)
    saliency = planes.T.copy().view("<" + np.dtype(dtype).str[1:]).reshape(h, w)

Thumbnails are PNG bytes (`images.thumbnail`); probabilities are float32 bytes
(`predictions.probabilities`).
"""

# ----------------------------------------------------------------------------- encoding


#: how results.map is encoded (see encode_map)
MAP_ENCODING = "zlib-shuffle"


def encode_map(saliency: np.ndarray, dtype: str = "float16") -> bytes:
    """One (H, W) map as little-endian ``dtype`` values, byte-shuffled (the first byte
    of every value, then the second ...) and zlib-compressed at level 1 (by ISA-L when
    installed, see deflate.py). Grouping the bytes puts the smooth high bytes together:
    Grad-CAM maps shrink to ~58% at float16 (71% without the shuffle)."""
    data = np.ascontiguousarray(saliency, dtype=np.dtype(dtype).newbyteorder("<"))
    planes = data.reshape(-1).view(np.uint8).reshape(-1, data.dtype.itemsize).T
    return deflate(np.ascontiguousarray(planes).tobytes(), 1)


def decode_map(blob: bytes, dtype: str, height: int, width: int, encoding: str = MAP_ENCODING) -> np.ndarray:
    """The float32 (H, W) map stored by :func:`encode_map`."""
    if encoding != MAP_ENCODING:
        raise ValueError(f"map_encoding: expected {MAP_ENCODING!r}; got {encoding!r} (written by a newer xwidgets?)")
    kind = np.dtype(dtype).newbyteorder("<")
    planes = np.frombuffer(zlib.decompress(blob), np.uint8).reshape(kind.itemsize, -1)
    return np.ascontiguousarray(planes.T).view(kind).reshape(height, width).astype(np.float32)


@dataclasses.dataclass
class BatchRecords:
    """What one batch adds to a store: plain rows of bytes and numbers (picklable, so a
    distributed engine's workers can return them to the process that writes).

    images: dicts with image_id, label, thumbnail (bytes or None), height, width.
    predictions: dicts with model_key, image_id, pred, confidence, probabilities (bytes).
    results: dicts with version, image_id, rank, target, map (bytes or None), map_dtype,
        map_height, map_width, error_type, error, elapsed.
    metrics: dicts with version, image_id, rank, metric, value, error.
    """

    images: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    predictions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    metrics: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def errors(self) -> int:
        """Result rows with an error (a failed image counts once per method)."""
        return sum(1 for row in self.results if row.get("error") is not None)


def _now() -> float:
    return time.time()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _sql_id(value: Any) -> int | str:
    """An image id as SQLite stores it (numpy ints become Python ints)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise bad_argument("image_id", "an int or a str", value)
    try:
        import operator

        return int(operator.index(value))
    except TypeError:
        raise bad_argument("image_id", "an int or a str", value) from None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start: start + size]


# ----------------------------------------------------------------------------- the store


class DatasetStore:
    """The results of ``xw.explain_dataset`` in a directory (see the module docstring
    for the layout). Reading API, stable for widgets and tools:

    * ``DatasetStore(path)`` / ``DatasetStore.open(path)``: open an existing store.
    * ``versions(method=None) -> list[dict]``: every version, oldest first.
    * ``methods() -> list[str]``; ``latest_version(method) -> str``.
    * ``table(method=None, version=None, *, limit=None, offset=0) -> list[dict]``: one
      dict per (image, method, rank) row of the newest version of each method (or of
      ``method``, or of the given ``version``); ``to_pandas(...)`` the same as a
      DataFrame (needs pandas).
    * ``load_map(image_id, method=None, version=None, rank=0) -> np.ndarray`` (H, W)
      float32; ``load_maps(image_ids, ...) -> (N, H, W)``.
    * ``load_thumbnail(image_id, format="array")``: (h, w, 3) uint8, or PNG bytes
      with ``format="png"``.
    * ``load_probabilities(image_id, method=None, version=None) -> (C,) float32``.
    * ``labels(method=None, version=None) -> list[str]``: the model's class names;
      ``model(method=None, version=None) -> dict``: its name, key, fingerprint,
      preprocessing (a dict) and labels.
    * ``image_ids() -> list``; ``errors(method=None, version=None) -> list[dict]``;
      ``runs() -> list[dict]``; ``len(store)``: the number of images stored.

    Reads never mix versions: without ``version`` they use the newest version of the
    method (the one used by the latest run). The store may be read while a run writes.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise bad_argument("store", "a directory path (str or os.PathLike)", path)
        self.path = pathlib.Path(path)
        self._display = os.fspath(path)
        db = self.path / DB_NAME
        if self.path.exists() and not self.path.is_dir():
            raise bad_argument("store", "a directory (new or holding a store)", f"the file {self._display!r}")
        if not db.is_file():
            if not create:
                raise bad_argument(
                    "store", f"a directory holding {DB_NAME} (a store written by xw.explain_dataset)",
                    self._display, "Run xw.explain_dataset(..., store=path) first",
                )
            if self.path.exists() and any(self.path.iterdir()):
                raise bad_argument(
                    "store", "a new or empty directory, or an existing store", f"the non-empty directory {self._display!r}",
                    f"It holds no {DB_NAME}; choose another path so no file of yours is mixed into the store",
                )
            self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._run_locks: dict[int, Any] = {}  # run_id -> the open lock file of a run this object writes
        self._db = sqlite3.connect(str(db), timeout=60.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if create:
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (repr(_now()),))
            readme = self.path / "README.md"
            if not readme.exists():
                readme.write_text(_README.format(name=self.path.name, schema=SCHEMA_VERSION))
        found = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if found is None or int(found[0]) > SCHEMA_VERSION:
            raise bad_argument("store", f"a store of schema version <= {SCHEMA_VERSION}",
                               f"schema version {None if found is None else found[0]}",
                               "Upgrade xwidgets to read it")

    @classmethod
    def open(cls, path: str | os.PathLike) -> "DatasetStore":
        """Open an existing store (a ValueError naming ``store`` if there is none)."""
        return cls(path)

    @classmethod
    def create(cls, path: str | os.PathLike) -> "DatasetStore":
        """Open the store at ``path``, creating it if the directory is new or empty."""
        return cls(path, create=True)

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close the database connection (reads after this fail)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "DatasetStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ versions
    def methods(self) -> list[str]:
        """The methods with at least one version, sorted."""
        return [row[0] for row in self._query("SELECT DISTINCT method FROM versions ORDER BY method")]

    def latest_version(self, method: str) -> str:
        """The newest version of ``method``: the one the latest run used."""
        row = self._query(
            "SELECT version FROM versions WHERE method = ? ORDER BY last_run DESC, rowid DESC LIMIT 1", (method,))
        if not row:
            raise bad_argument("method", f"a method stored here ({', '.join(self.methods()) or 'none yet'})", method)
        return row[0][0]

    def versions(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``method``), oldest first: version, method, model,
        model_key, fingerprint, params, layer, target, created, last_run,
        xwidgets_version, results (maps stored), errors, latest (the newest of its method)."""
        sql = ("SELECT v.version, v.method, m.name, v.model_key, m.fingerprint, v.params, v.layer, v.target, "
               "v.created, v.last_run, v.xwidgets_version, "
               "(SELECT COUNT(*) FROM results r WHERE r.version = v.version AND r.map IS NOT NULL), "
               "(SELECT COUNT(*) FROM results r WHERE r.version = v.version AND r.error IS NOT NULL) "
               "FROM versions v LEFT JOIN models m ON m.model_key = v.model_key")
        params: tuple = ()
        if method is not None:
            sql += " WHERE v.method = ?"
            params = (method,)
        rows = self._query(sql + " ORDER BY v.rowid", params)
        latest = {m: self.latest_version(m) for m in {row[1] for row in rows}}
        keys = ("version", "method", "model", "model_key", "fingerprint", "params", "layer", "target", "created",
                "last_run", "xwidgets_version", "results", "errors")
        out = []
        for row in rows:
            entry = dict(zip(keys, row))
            entry["params"] = json.loads(entry["params"])
            entry["target"] = json.loads(entry["target"])
            entry["latest"] = latest[entry["method"]] == entry["version"]
            out.append(entry)
        return out

    def _resolve(self, method: str | None, version: str | None) -> list[tuple[str, str]]:
        """[(method, version)]: the given version, the newest of ``method``, or the
        newest of every method."""
        if version is not None:
            row = self._query("SELECT method FROM versions WHERE version = ?", (version,))
            if not row:
                known = [v["version"] for v in self.versions()]
                raise bad_argument("version", f"a version stored here ({', '.join(known) or 'none yet'})", version)
            if method is not None and row[0][0] != method:
                raise bad_argument("version", f"a version of method {method!r}", f"{version!r}, a version of {row[0][0]!r}")
            return [(row[0][0], version)]
        if method is not None:
            return [(method, self.latest_version(method))]
        return [(m, self.latest_version(m)) for m in self.methods()]

    def _one(self, method: str | None, version: str | None) -> tuple[str, str]:
        pairs = self._resolve(method, version)
        if len(pairs) != 1:
            raise bad_argument("method", f"one of {', '.join(m for m, _ in pairs)} (the store holds several)",
                               method) if pairs else bad_argument("store", "a store with results", "an empty store")
        return pairs[0]

    def labels(self, method: str | None = None, version: str | None = None) -> list[str]:
        """The class names of the model that made ``version`` (or the newest version)."""
        _, version = self._one(method, version)
        row = self._query("SELECT m.labels FROM versions v JOIN models m ON m.model_key = v.model_key "
                          "WHERE v.version = ?", (version,))
        return json.loads(row[0][0]) if row and row[0][0] else []

    def model(self, method: str | None = None, version: str | None = None) -> dict[str, Any]:
        """The model that made ``version`` (or the newest version of ``method``): name,
        model_key, fingerprint, preprocess (a dict: ``xw.Preprocess(**preprocess)``
        rebuilds it) and labels."""
        _, version = self._one(method, version)
        row = self._query("SELECT m.name, m.model_key, m.fingerprint, m.preprocess, m.labels FROM versions v "
                          "JOIN models m ON m.model_key = v.model_key WHERE v.version = ?", (version,))
        if not row:
            raise bad_argument("version", "a version whose model is recorded", version)
        name, key, fingerprint, preprocess, labels = row[0]
        return {"name": name, "model_key": key, "fingerprint": fingerprint,
                "preprocess": json.loads(preprocess) if preprocess else None,
                "labels": json.loads(labels) if labels else []}

    # ------------------------------------------------------------------ rows
    def _metric_names(self, version: str) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT metric FROM metrics WHERE version = ? ORDER BY metric",
                                          (version,))]

    def _rows(self, method: str, version: str, where: str = "", params: Sequence[Any] = (),
              limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        names = self._metric_names(version)
        metric_sql = "".join(
            f", (SELECT value FROM metrics m WHERE m.version = r.version AND m.image_id = r.image_id "
            f"AND m.rank = r.rank AND m.metric = ?) AS {_quote(name)}" for name in names)
        sql = ("SELECT r.image_id, i.label, p.pred, p.confidence, r.rank, r.target, r.map IS NOT NULL, "
               "r.error_type, r.error, r.run_id, r.elapsed" + metric_sql +
               " FROM results r LEFT JOIN images i ON i.image_id = r.image_id "
               "LEFT JOIN versions v ON v.version = r.version "
               "LEFT JOIN predictions p ON p.model_key = v.model_key AND p.image_id = r.image_id "
               "WHERE r.version = ?" + where + " ORDER BY r.image_id, r.rank")
        args: list[Any] = [*names, version, *params]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        labels = self.labels(version=version)

        def name_of(index: Any) -> str | None:
            return labels[index] if isinstance(index, int) and 0 <= index < len(labels) else None

        out = []
        for row in self._query(sql, args):
            image_id, label, pred, confidence, rank, target, has_map, error_type, error, run_id, elapsed = row[:11]
            entry = {
                "image_id": image_id, "method": method, "version": version, "rank": rank,
                "label": label, "label_name": name_of(label),
                "pred": pred, "pred_name": name_of(pred), "confidence": confidence,
                "correct": None if label is None or pred is None else bool(label == pred),
                "target": target, "target_name": name_of(target), "has_map": bool(has_map),
                "error_type": error_type, "error": error, "run_id": run_id, "elapsed": elapsed,
            }
            entry.update(zip(names, row[11:]))
            out.append(entry)
        return out

    def table(self, method: str | None = None, version: str | None = None, *, limit: int | None = None,
              offset: int = 0) -> list[dict[str, Any]]:
        """One dict per stored (image, rank) row of the newest version of each method
        (or of ``method``, or of ``version``), ordered by method then image id.

        Keys: image_id, method, version, rank, label, label_name, pred, pred_name,
        confidence (softmax probability of pred), correct (pred == label, None without
        a label), target, target_name, has_map, error_type, error, run_id, elapsed,
        then one key per metric (None where a metric has no value: NaN is stored as NULL).
        ``limit``/``offset`` page through the rows of one version.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise bad_argument("limit", "None or an int >= 0", limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise bad_argument("offset", "an int >= 0", offset)
        pairs = self._resolve(method, version)
        if limit is not None and len(pairs) > 1:
            raise bad_argument("method", "one method when paging with limit", None,
                               f"The store holds {', '.join(m for m, _ in pairs)}")
        rows: list[dict[str, Any]] = []
        for m, v in pairs:
            rows += self._rows(m, v, limit=limit, offset=offset)
        return rows

    def rows(self, image_ids: Sequence[Any], method: str | None = None,
             version: str | None = None) -> list[dict[str, Any]]:
        """The :meth:`table` rows of some images only."""
        ids = [_sql_id(i) for i in image_ids]
        out: list[dict[str, Any]] = []
        for m, v in self._resolve(method, version):
            for part in _chunks(ids):
                out += self._rows(m, v, f" AND r.image_id IN ({','.join('?' * len(part))})", part)
        return out

    def to_pandas(self, method: str | None = None, version: str | None = None):
        """:meth:`table` as a pandas DataFrame (pandas is not a dependency of xwidgets:
        an ImportError says so when it is missing)."""
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - pandas is installed in the dev environment
            raise ImportError("DatasetStore.to_pandas needs pandas: pip install pandas (or use .table())") from error
        rows = self.table(method, version)
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["image_id", "method", "version", "rank"])

    def errors(self, method: str | None = None, version: str | None = None) -> list[dict[str, Any]]:
        """Failed images and failed metric values of the newest version of each
        method (or of ``method`` / ``version``): dicts with image_id, method, version,
        rank, metric (None for a failed map), error_type, error, run_id."""
        out: list[dict[str, Any]] = []
        for m, v in self._resolve(method, version):
            for image_id, rank, error_type, error, run_id in self._query(
                    "SELECT image_id, rank, error_type, error, run_id FROM results WHERE version = ? "
                    "AND error IS NOT NULL ORDER BY image_id, rank", (v,)):
                out.append({"image_id": image_id, "method": m, "version": v, "rank": rank, "metric": None,
                            "error_type": error_type, "error": error, "run_id": run_id})
            for image_id, rank, metric, error, run_id in self._query(
                    "SELECT image_id, rank, metric, error, run_id FROM metrics WHERE version = ? "
                    "AND error IS NOT NULL ORDER BY image_id, rank, metric", (v,)):
                error_type, _, message = error.partition(": ")
                out.append({"image_id": image_id, "method": m, "version": v, "rank": rank, "metric": metric,
                            "error_type": error_type, "error": message, "run_id": run_id})
        return out

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first: run_id, started, finished, status, engine, dataset,
        config, xwidgets_version, computed, skipped, errors. A run whose process died
        shows "killed" (found when this is called)."""
        self._mark_killed_runs()
        keys = ("run_id", "started", "finished", "status", "engine", "dataset", "config", "xwidgets_version",
                "computed", "skipped", "errors")
        out = []
        for row in self._query(f"SELECT {', '.join(keys)} FROM runs ORDER BY run_id"):
            entry = dict(zip(keys, row))
            entry["config"] = json.loads(entry["config"]) if entry["config"] else {}
            out.append(entry)
        return out

    def image_ids(self) -> list[Any]:
        """Every stored image id, sorted (ints before strs)."""
        return [row[0] for row in self._query("SELECT image_id FROM images ORDER BY image_id")]

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM images")[0][0])

    def __contains__(self, image_id: Any) -> bool:
        return bool(self._query("SELECT 1 FROM images WHERE image_id = ?", (_sql_id(image_id),)))

    # ------------------------------------------------------------------ arrays
    def load_map(self, image_id: Any, method: str | None = None, version: str | None = None,
                 rank: int = 0) -> np.ndarray:
        """The (H, W) float32 map of ``image_id`` (rank ``rank`` for TopK runs) in the
        newest version of ``method`` (or in ``version``); a KeyError when there is none
        (the message gives the image's error if it failed)."""
        method, version = self._one(method, version)
        row = self._query("SELECT map, map_dtype, map_height, map_width, map_encoding, error_type, error FROM results "
                          "WHERE version = ? AND image_id = ? AND rank = ?", (version, _sql_id(image_id), int(rank)))
        if not row:
            raise KeyError(f"image_id: no result for {image_id!r} (rank {rank}) in {method} version {version}")
        blob, dtype, height, width, encoding, error_type, error = row[0]
        if blob is None:
            raise KeyError(f"image_id: {image_id!r} failed in {method} version {version}: {error_type}: {error}")
        return decode_map(blob, dtype, height, width, encoding)

    def load_maps(self, image_ids: Sequence[Any], method: str | None = None, version: str | None = None,
                  rank: int = 0) -> np.ndarray:
        """(N, H, W) float32: :meth:`load_map` of each id."""
        maps = [self.load_map(i, method, version, rank) for i in image_ids]
        return np.stack(maps) if maps else np.zeros((0, 0, 0), np.float32)

    def load_thumbnail(self, image_id: Any, format: str = "array") -> np.ndarray | bytes:
        """The image as the model saw it, longest side the run's ``thumbnail_size``:
        (h, w, 3) uint8 (``format="array"``) or PNG bytes (``format="png"``)."""
        if format not in ("array", "png"):
            raise bad_argument("format", '"array" or "png"', format)
        row = self._query("SELECT thumbnail FROM images WHERE image_id = ?", (_sql_id(image_id),))
        if not row:
            raise KeyError(f"image_id: {image_id!r} is not in this store")
        if row[0][0] is None:
            raise KeyError(f"image_id: {image_id!r} has no thumbnail (it failed before display, or thumbnail_size=0)")
        if format == "png":
            return bytes(row[0][0])
        from PIL import Image

        with Image.open(io.BytesIO(row[0][0])) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)

    def load_probabilities(self, image_id: Any, method: str | None = None, version: str | None = None) -> np.ndarray:
        """(C,) float32 softmax of the model that made ``version`` on ``image_id``."""
        _, version = self._one(method, version)
        row = self._query("SELECT p.probabilities FROM predictions p JOIN versions v ON v.model_key = p.model_key "
                          "WHERE v.version = ? AND p.image_id = ?", (version, _sql_id(image_id)))
        if not row:
            raise KeyError(f"image_id: no prediction stored for {image_id!r} by the model of version {version}")
        return np.frombuffer(row[0][0], dtype="<f4").astype(np.float32)

    def __repr__(self) -> str:
        parts = []
        for method, version in self._resolve(None, None):
            done, failed = self._query(
                "SELECT COUNT(CASE WHEN map IS NOT NULL THEN 1 END), COUNT(CASE WHEN error IS NOT NULL THEN 1 END) "
                "FROM results WHERE version = ? AND rank = 0", (version,))[0]
            count = self._query("SELECT COUNT(*) FROM versions WHERE method = ?", (method,))[0][0]
            parts.append(f"{method}: {done} maps, {failed} errors, {count} version{'s' if count != 1 else ''}")
        body = "; ".join(parts) or "no results"
        return f"DatasetStore({self._display!r}, {len(self)} images; {body})"

    # ------------------------------------------------------------------ writing (engines)
    def begin_run(self, engine: str, dataset: str, config: Mapping[str, Any], xwidgets_version: str) -> int:
        """Record a new run (status "running", its lock held until :meth:`end_run`);
        returns its run_id. Earlier runs whose writer died are marked "killed" first."""
        self._mark_killed_runs()
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (started, status, engine, dataset, config, xwidgets_version) VALUES (?, ?, ?, ?, ?, ?)",
                (_now(), "running", engine, dataset, _json(dict(config)), xwidgets_version))
            run_id = int(cursor.lastrowid)
        self._run_locks[run_id] = run_lock.hold(self.path, run_id)
        return run_id

    def _mark_killed_runs(self) -> None:
        """Set status "killed" on "running" runs whose writing process has died."""
        running = [row[0] for row in self._query("SELECT run_id FROM runs WHERE status = 'running'")]
        dead = [run_id for run_id in running if run_id not in self._run_locks and run_lock.writer_gone(self.path, run_id)]
        if not dead:
            return
        try:
            with self._transaction():
                self._db.executemany("UPDATE runs SET status = 'killed' WHERE run_id = ? AND status = 'running'",
                                     [(run_id,) for run_id in dead])
        except sqlite3.OperationalError:  # a read-only store: report, do not record
            return
        for run_id in dead:
            run_lock.lock_path(self.path, run_id).unlink(missing_ok=True)

    def end_run(self, run_id: int, status: str, computed: int, skipped: int, errors: int) -> None:
        """Close run ``run_id`` with its status (finished, interrupted, failed) and counts."""
        with self._transaction():
            self._db.execute("UPDATE runs SET finished = ?, status = ?, computed = ?, skipped = ?, errors = ? "
                             "WHERE run_id = ?", (_now(), status, computed, skipped, errors, run_id))
        run_lock.release(self.path, run_id, self._run_locks.pop(run_id, None))
        with self._lock:  # fold the write-ahead log into store.sqlite, so a copy of that one file is complete
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def register_model(self, model_key: str, name: str, fingerprint: str, preprocess: Mapping[str, Any],
                       labels: Sequence[str]) -> None:
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?, ?, ?, ?)",
                             (model_key, name, fingerprint, _json(dict(preprocess)), _json(list(labels)), _now()))

    def register_version(self, version: str, method: str, model_key: str, params: Mapping[str, Any],
                         layer: str | None, target: Any, run_id: int, xwidgets_version: str) -> None:
        """Record ``version`` (if new) and mark it used by ``run_id`` (so it is the newest)."""
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (version, method, model_key, _json(dict(params)), layer, _json(target), _now(), run_id,
                              xwidgets_version))
            self._db.execute("UPDATE versions SET last_run = ? WHERE version = ?", (run_id, version))

    def done(self, versions: Mapping[str, Sequence[str]], image_ids: Sequence[Any],
             retry_errors: bool = False) -> dict[str, set]:
        """{version: ids of ``image_ids`` already complete}: a result row is stored for
        the image (a map, or an error unless ``retry_errors``) and every metric in
        ``versions[version]`` has a row (a value, or an error unless ``retry_errors``)."""
        ids = [_sql_id(i) for i in image_ids]
        out: dict[str, set] = {}
        for version, metrics in versions.items():
            found: set = set()
            metric_clause = ""
            if metrics:
                ok_metric = "" if not retry_errors else " AND m.error IS NULL"
                metric_clause = (f" AND (r.error IS NOT NULL OR (SELECT COUNT(*) FROM metrics m WHERE m.version = r.version "
                                 f"AND m.image_id = r.image_id AND m.rank = 0 AND m.metric IN "
                                 f"({','.join('?' * len(metrics))}){ok_metric}) = {len(set(metrics))})")
            error_clause = " AND r.error IS NULL" if retry_errors else ""
            for part in _chunks(ids):
                sql = (f"SELECT r.image_id FROM results r WHERE r.version = ? AND r.rank = 0 AND r.image_id IN "
                       f"({','.join('?' * len(part))}){error_clause}{metric_clause}")
                found.update(row[0] for row in self._query(sql, [version, *part, *metrics]))
            out[version] = found
        return out

    def write(self, records: BatchRecords, run_id: int) -> None:
        """Store one batch in one transaction: all of it or (killed before the commit)
        none of it. Stored results are kept: a new row only replaces an error row, and
        a metric value only fills a missing or failed one."""
        with self._transaction():
            db = self._db
            db.executemany(
                "INSERT INTO images (image_id, label, thumbnail, height, width) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (image_id) DO UPDATE SET thumbnail = COALESCE(images.thumbnail, excluded.thumbnail), "
                "label = COALESCE(images.label, excluded.label), height = COALESCE(images.height, excluded.height), "
                "width = COALESCE(images.width, excluded.width)",
                [(_sql_id(r["image_id"]), r.get("label"), r.get("thumbnail"), r.get("height"), r.get("width"))
                 for r in records.images])
            db.executemany(
                "INSERT OR IGNORE INTO predictions VALUES (?, ?, ?, ?, ?, ?)",
                [(r["model_key"], _sql_id(r["image_id"]), r["pred"], r["confidence"], r["probabilities"], run_id)
                 for r in records.predictions])
            db.executemany(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (version, image_id, rank) DO UPDATE SET target = excluded.target, map = excluded.map, "
                "map_encoding = excluded.map_encoding, map_dtype = excluded.map_dtype, map_height = excluded.map_height, map_width = excluded.map_width, "
                "error_type = excluded.error_type, error = excluded.error, run_id = excluded.run_id, "
                "elapsed = excluded.elapsed WHERE results.error IS NOT NULL",
                [(r["version"], _sql_id(r["image_id"]), r["rank"], r.get("target"), r.get("map"),
                  MAP_ENCODING if r.get("map") is not None else None, r.get("map_dtype"),
                  r.get("map_height"), r.get("map_width"), r.get("error_type"), r.get("error"), run_id,
                  r.get("elapsed")) for r in records.results])
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (version, image_id, rank, metric) DO UPDATE SET value = excluded.value, "
                "error = excluded.error, run_id = excluded.run_id WHERE metrics.error IS NOT NULL",
                [(r["version"], _sql_id(r["image_id"]), r["rank"], r["metric"], r.get("value"), r.get("error"), run_id)
                 for r in records.metrics])
