"""The work of one batch: items -> model inputs -> maps and metrics -> rows to store.

:func:`compute_batch` is a plain function of (model, plan, items): it reads nothing
from and writes nothing to the store, so the local engine calls it in a loop and a
distributed engine's actors call it on their own model replica, returning the
picklable :class:`~xwidgets.batch.store.BatchRecords` to the one process that writes.

Failures stay with their image: an item that cannot be read or converted gets an
error row at once; when a batch fails in the model or the method, it is retried image
by image, so only the bad image records its error; a metric that fails leaves the
maps stored and records its own error.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from ..metrics.evaluate import evaluate
from ..models.adapter import ModelAdapter
from ..models.inputs import _float_tensor_inputs, _to_pil
from ..saliency.explain import explain_prepared
from ..saliency.registry import get_method
from ..saliency.result import Saliency
from .deflate import deflate
from .sources import Item
from .store import BatchRecords, encode_map

__all__ = ["MethodJob", "MetricJob", "Plan", "compute_batch", "thumbnail_png", "png_bytes", "error_text"]


@dataclasses.dataclass(frozen=True)
class MethodJob:
    """One method of a run: ``explain(model, inputs, method, target, layer=layer,
    **params)`` writes under ``version``. ``resolved``: the parameters with their
    defaults (what the version key hashes)."""

    method: str
    params: Mapping[str, Any]
    resolved: Mapping[str, Any]
    layer: str | None
    version: str


@dataclasses.dataclass(frozen=True)
class MetricJob:
    """One metric of a run, stored under ``key`` (its name, plus its non-default
    protocol in brackets)."""

    key: str
    metric: str
    params: Mapping[str, Any]
    needs_ground_truth: bool


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything a worker needs besides the model and the items.

    target: as ``xw.explain``'s, or "label" (each item's own label).
    model_key: the key predictions are stored under (``versioning.model_key``).
    thumbnail_size: longest side of the stored thumbnails (0: none).
    map_dtype: "float16" or "float32".
    fingerprint: the model's fingerprint (``versioning.model_fingerprint``), recorded.
    """

    jobs: tuple[MethodJob, ...]
    metrics: tuple[MetricJob, ...]
    target: Any
    model_key: str
    thumbnail_size: int = 64
    map_dtype: str = "float16"
    fingerprint: str = ""

    @property
    def metric_keys(self) -> list[str]:
        return [m.key for m in self.metrics]


def error_text(error: BaseException) -> tuple[str, str]:
    """(type name, message) of an exception, as stored."""
    return type(error).__name__, str(error) or repr(error)


def png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint8 as a PNG: every row with the "Up" filter, deflated at level 1 by
    :func:`deflate` (ISA-L when installed). PIL at ``compress_level=1`` (which picks a
    filter per row) took a fifth of a toy-CNN dataset run; this is 3-4 x faster with the
    standard library's zlib and another ~3 x with ISA-L, for files within a few percent
    of PIL's size."""
    h, w, _ = pixels.shape
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(h, w * 3)
    raw = np.empty((h, w * 3 + 1), np.uint8)
    raw[:, 0] = 2  # filter type 2 (Up): each byte minus the byte above it, mod 256
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, deflate, no interlace
    data = deflate(raw.tobytes(), 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def thumbnail_png(pixels: np.ndarray, size: int) -> bytes:
    """PNG bytes of (H, W, 3) uint8 ``pixels`` scaled (bilinear) so the longest side is
    at most ``size``."""
    if max(pixels.shape[:2]) > size:
        image = Image.fromarray(np.ascontiguousarray(pixels))
        image.thumbnail((size, size), Image.BILINEAR)
        pixels = np.asarray(image)
    return png_bytes(pixels)


@dataclasses.dataclass
class _Prepared:
    """The batch's items as model inputs: ``inputs`` (n, 3, H, W) on the device and
    ``pixels`` (n, H, W, 3) uint8 for the items at ``positions`` (others failed)."""

    positions: list[int]
    inputs: torch.Tensor | None
    pixels: np.ndarray | None
    errors: dict[int, BaseException]


def _prepare(adapter: ModelAdapter, items: Sequence[Item]) -> _Prepared:
    """Each item converted alone (so a bad one fails alone), then normalised together."""
    preprocess = adapter.preprocess
    positions: list[int] = []
    pixels: list[np.ndarray] = []
    floats: dict[int, torch.Tensor] = {}
    errors: dict[int, BaseException] = {}
    for position, item in enumerate(items):
        if item.error is not None:
            errors[position] = item.error
            continue
        try:
            image = item.image
            if isinstance(image, torch.Tensor) and image.is_floating_point():
                if image.ndim != 3:
                    raise ValueError(f"images[{item.image_id}]: expected one preprocessed float tensor of shape "
                                     f"(3, {preprocess.size[0]}, {preprocess.size[1]}); got shape {tuple(image.shape)}")
                tensor = _float_tensor_inputs(image, preprocess)
                floats[len(positions)] = tensor
                pixels.append(preprocess.denormalise(tensor)[0])
            elif (isinstance(image, np.ndarray) and image.dtype == np.uint8 and preprocess.resize is None
                  and image.shape == (*preprocess.size, 3)):
                pixels.append(image)  # what fit() returns for it (PIL resizes to the same size as a copy)
            else:
                pixels.append(preprocess.fit(_to_pil(image, item.image_id)))
            positions.append(position)
        except Exception as error:  # noqa: BLE001  (that item's row records it)
            errors[position] = error
    if not positions:
        return _Prepared([], None, None, errors)
    stacked = np.stack(pixels)
    inputs = preprocess.normalise(stacked, adapter.device)
    for k, tensor in floats.items():  # keep preprocessed inputs exactly as given
        inputs[k] = tensor[0].to(inputs.device)
    return _Prepared(positions, inputs, stacked, errors)


def _subset(saliency: Saliency, image: int) -> Saliency:
    """The rows of one image of ``saliency``, as a Saliency of one image."""
    rows = saliency.rows_for_image(image)
    return dataclasses.replace(
        saliency, maps=saliency.maps[rows], images=saliency.images[image: image + 1],
        image_index=np.zeros(len(rows), np.int64), targets=saliency.targets[rows],
        probabilities=saliency.probabilities[image: image + 1],
    )


def _explain(adapter: ModelAdapter, plan: Plan, job: MethodJob, inputs: torch.Tensor, pixels: np.ndarray,
             labels: list[int | None]) -> Saliency:
    target = [int(label) for label in labels] if plan.target == "label" else plan.target
    # the inputs were built from ``pixels`` by _prepare (no re-check, no conversion back);
    # the job's layer was resolved and checked by make_plan
    return explain_prepared(adapter, inputs, pixels, job.method, target, layer=job.layer,
                            batch_size=max(1, len(inputs)), method_params=get_method(job.method).make_params(**job.params))


def _units(adapter: ModelAdapter, plan: Plan, job: MethodJob, inputs: torch.Tensor, pixels: np.ndarray,
           labels: list[int | None], positions: list[int]) -> tuple[list[tuple[Saliency, list[int]]], dict[int, BaseException]]:
    """Explain the batch at once; if that fails, image by image. Returns the
    computed (saliency, item positions) units and the errors of failed images."""
    try:
        return [(_explain(adapter, plan, job, inputs, pixels, labels), positions)], {}
    except Exception:  # noqa: BLE001  (retried image by image below)
        pass
    units, errors = [], {}
    for k, position in enumerate(positions):
        try:
            units.append((_explain(adapter, plan, job, inputs[k: k + 1], pixels[k: k + 1], labels[k: k + 1]), [position]))
        except Exception as error:  # noqa: BLE001
            errors[position] = error
    return units, errors


def _metric_scores(adapter: ModelAdapter, metric: MetricJob, saliency: Saliency,
                   samples: list[Any] | None) -> tuple[np.ndarray, dict[int, BaseException]]:
    """(rows,) scores of one metric (NaN where none), with per-image retries: the
    errors of images whose rows could not be scored."""
    def run(sal: Saliency, truth: list[Any] | None) -> np.ndarray:
        ground_truth = truth if metric.needs_ground_truth else None
        return evaluate(adapter, sal, metric.metric, ground_truth=ground_truth, **metric.params).scores

    if metric.needs_ground_truth and (samples is None or any(s is None for s in samples)):
        missing = [i for i, s in enumerate(samples or [None] * saliency.num_images) if s is None]
        error = ValueError(f"metrics: {metric.metric!r} needs synthetic ground truth (a Sample per image); "
                           "this item has none")
        scores = np.full(len(saliency), np.nan)
        errors: dict[int, BaseException] = {i: error for i in missing}
        present = [i for i in range(saliency.num_images) if i not in errors]
    else:
        present, errors, scores = list(range(saliency.num_images)), {}, None
    if scores is None:
        try:
            return run(saliency, samples), {}
        except Exception:  # noqa: BLE001  (retried image by image below)
            scores = np.full(len(saliency), np.nan)
    for image in present:
        rows = saliency.rows_for_image(image)
        try:
            scores[rows] = run(_subset(saliency, image), None if samples is None else [samples[image]])
        except Exception as error:  # noqa: BLE001
            errors[image] = error
    return scores, errors


def compute_batch(adapter: ModelAdapter, plan: Plan, items: Sequence[Item],
                  todo: Mapping[str, Sequence[int]] | None = None) -> BatchRecords:
    """Maps, predictions, metrics and thumbnails of ``items`` as rows to store.

    ``todo``: {version: positions in ``items``} of what to compute per method job
    (default: every item for every job). Failed items and metrics become error rows;
    nothing here raises because of one image.
    """
    records = BatchRecords()
    prepared = _prepare(adapter, items)
    local = {position: k for k, position in enumerate(prepared.positions)}
    for position, item in enumerate(items):
        row: dict[str, Any] = {"image_id": item.image_id, "label": item.label, "thumbnail": None,
                               "height": None, "width": None}
        if position in local:
            pixels = prepared.pixels[local[position]]
            row["height"], row["width"] = int(pixels.shape[0]), int(pixels.shape[1])
            if plan.thumbnail_size:
                row["thumbnail"] = thumbnail_png(pixels, plan.thumbnail_size)
        records.images.append(row)

    predicted: set[int] = set()
    for job in plan.jobs:
        wanted = list(range(len(items))) if todo is None else sorted(todo.get(job.version, ()))
        failed: dict[int, BaseException] = {}
        run_positions = []
        for position in wanted:
            if position in prepared.errors:
                failed[position] = prepared.errors[position]
            elif plan.target == "label" and items[position].label is None:
                failed[position] = ValueError('target: "label" explains each item\'s label; this item has none')
            else:
                run_positions.append(position)
        units: list[tuple[Saliency, list[int]]] = []
        if run_positions:
            select = [local[p] for p in run_positions]
            inputs = prepared.inputs[select]
            pixels = prepared.pixels[select]
            labels = [items[p].label for p in run_positions]
            units, errors = _units(adapter, plan, job, inputs, pixels, labels, run_positions)
            failed.update(errors)
        for position, error in sorted(failed.items()):
            error_type, message = error_text(error)
            records.results.append({"version": job.version, "image_id": items[position].image_id, "rank": 0,
                                    "error_type": error_type, "error": message})
        for saliency, positions in units:
            _store_unit(adapter, plan, job, saliency, positions, items, records, predicted)
    return records


def _store_unit(adapter: ModelAdapter, plan: Plan, job: MethodJob, saliency: Saliency, positions: list[int],
                items: Sequence[Item], records: BatchRecords, predicted: set[int]) -> None:
    """Rows of one computed Saliency (whose images are the items at ``positions``)."""
    for image, position in enumerate(positions):
        if position in predicted:
            continue
        predicted.add(position)
        probabilities = saliency.probabilities[image].astype("<f4")
        pred = int(probabilities.argmax())
        records.predictions.append({"model_key": plan.model_key, "image_id": items[position].image_id, "pred": pred,
                                    "confidence": float(probabilities[pred]), "probabilities": probabilities.tobytes()})
    samples = [items[p].sample for p in positions]
    metric_values: dict[str, tuple[np.ndarray, dict[int, BaseException]]] = {
        metric.key: _metric_scores(adapter, metric, saliency, samples) for metric in plan.metrics}
    per_row = saliency.elapsed / max(1, len(saliency))
    height, width = saliency.maps.shape[1:]
    rank_of: dict[int, int] = {}
    for r in range(len(saliency)):
        image = int(saliency.image_index[r])
        rank = rank_of.get(image, 0)
        rank_of[image] = rank + 1
        image_id = items[positions[image]].image_id
        records.results.append({
            "version": job.version, "image_id": image_id, "rank": rank, "target": int(saliency.targets[r]),
            "map": encode_map(saliency.maps[r], plan.map_dtype), "map_dtype": plan.map_dtype,
            "map_height": int(height), "map_width": int(width), "elapsed": per_row,
        })
        for key, (scores, errors) in metric_values.items():
            value = float(scores[r])
            entry: dict[str, Any] = {"version": job.version, "image_id": image_id, "rank": rank, "metric": key,
                                     "value": value if math.isfinite(value) else None, "error": None}
            if image in errors:
                entry["error"] = "{}: {}".format(*error_text(errors[image]))
            records.metrics.append(entry)
