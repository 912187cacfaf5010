"""Turning a dataset into a stream of items ``(image_id, image, label, sample)``.

Accepted datasets (``xw.explain_dataset``'s ``dataset``):

* ``SyntheticParts``: its uint8 images and labels; with a ground-truth metric, each
  item also carries its ``Sample`` (parts, masks, defining evidence).
* Map-style datasets (anything with ``len`` and integer ``[i]``: a torch ``Dataset``,
  a list, an (N, H, W, 3) uint8 array, an (N, 3, H, W) tensor), read index by index.
* A dict ``{image_id: item}``.
* Any other iterable (a generator, an ``IterableDataset``), read in order; a
  ``DataLoader`` is unbatched.

An item is an image (anything ``xw.explain`` takes for one image: PIL, HxWx3 uint8,
a path, a uint8 tensor, a preprocessed float tensor 3xHxW), an ``(image, label)`` or
``(image, label, id)`` tuple, a dict with ``"image"`` and optional ``"label"`` and
``"id"``, or a synthetic ``Sample``. Image ids are the dataset index unless the item
gives one (an int or a str, unique within the dataset). As in ``xw.explain``, float
tensors are taken to be preprocessed model inputs: a torchvision dataset should end
its transform with the model's normalisation, or yield PIL images.

Nothing is read before it is needed: one batch of items is in memory at a time, and
a map-style dataset can skip stored items without reading them.
"""

from __future__ import annotations

import dataclasses
import operator
import os
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from PIL import Image

from .._validation import bad_argument

__all__ = ["Item", "Source"]


@dataclasses.dataclass
class Item:
    """One dataset element. ``error`` is set (and ``image`` may be None) when the
    element could not be read or parsed; the run records it and goes on."""

    image_id: int | str
    image: Any = None
    label: int | None = None
    sample: Any = None
    error: BaseException | None = None


def _is_sample(value: Any) -> bool:
    return hasattr(value, "instance_mask") and hasattr(value, "evidence") and hasattr(value, "image")


def _label(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise bad_argument("label", "an int class index or None", value)
    try:
        return int(operator.index(value))
    except TypeError:
        raise bad_argument("label", "an int class index or None", value) from None


def _image_id(value: Any) -> int | str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise bad_argument("id", "an int or a str image id", value)
    try:
        return int(operator.index(value))
    except TypeError:
        raise bad_argument("id", "an int or a str image id", value) from None


def parse_item(raw: Any, default_id: int | str) -> Item:
    """An :class:`Item` from one dataset element (see the module docstring); a bad
    element gives an Item with ``error`` set instead of raising."""
    image_id = default_id
    try:
        if _is_sample(raw):
            return Item(image_id, raw.image, _label(raw.label), raw)
        if isinstance(raw, dict):
            if "id" in raw:
                image_id = _image_id(raw["id"])
            if "image" not in raw:
                raise bad_argument("dataset item", 'a dict with an "image" key', sorted(map(str, raw)))
            sample = raw.get("sample")
            return Item(image_id, raw["image"], _label(raw.get("label")), sample)
        if isinstance(raw, tuple) and len(raw) in (2, 3):
            if len(raw) == 3:
                image_id = _image_id(raw[2])
            image = raw[0]
            sample = image if _is_sample(image) else None
            return Item(image_id, sample.image if sample is not None else image, _label(raw[1]), sample)
        if isinstance(raw, tuple):
            raise bad_argument("dataset item", "an image, (image, label) or (image, label, id)", raw)
        return Item(image_id, raw)
    except Exception as error:  # noqa: BLE001  (recorded in the item's row)
        return Item(image_id, None, None, None, error)


def _explicit_id(raw: Any) -> bool:
    return (isinstance(raw, dict) and "id" in raw) or (isinstance(raw, tuple) and len(raw) == 3)


class Source:
    """A dataset as a stream of :class:`Item`.

    ``total`` is the number of items when ``len`` works (else None). ``indexable``:
    :meth:`item` reads item i (a map-style dataset). ``positional``: image ids are the
    indices 0..total-1, so stored items can be skipped without reading them.
    ``has_samples``: whether items carry synthetic ground truth (None: an iterable,
    not known before reading it). A dict ``{image_id: item}`` is read in its order.
    """

    def __init__(self, dataset: Any, *, ground_truth: bool = False) -> None:
        self.dataset = dataset
        self.ground_truth = ground_truth
        self.synthetic = _is_synthetic(dataset)
        self.loader = isinstance(dataset, torch.utils.data.DataLoader)
        self.mapping = isinstance(dataset, Mapping)
        if isinstance(dataset, (str, os.PathLike, Image.Image, bytes)):
            raise bad_argument("dataset", "an iterable or torch Dataset of images (not one image)", dataset)
        if isinstance(dataset, (np.ndarray, torch.Tensor)) and dataset.ndim != 4:
            raise bad_argument(
                "dataset", "a batch of images: an (N, H, W, 3) uint8 array or an (N, 3, H, W) tensor", dataset,
                "Wrap a single image in a list",
            )
        self.total: int | None = None
        if not self.loader:
            try:
                self.total = len(dataset)
            except TypeError:
                self.total = None
        self.indexable = (self.total is not None and not self.loader and not self.mapping
                          and hasattr(dataset, "__getitem__")
                          and not isinstance(dataset, torch.utils.data.IterableDataset))
        if not self.indexable and not hasattr(dataset, "__iter__"):
            raise bad_argument("dataset", "an iterable or a torch Dataset of images", dataset)
        self._first: Any = None
        self.positional = self.synthetic
        if self.indexable and not self.synthetic:
            if self.total == 0:
                self.positional = True
            else:
                try:
                    self._first = dataset[0]
                except Exception:  # noqa: BLE001  (item 0 records its own error when read again)
                    self._first = None
                self.positional = not _explicit_id(self._first)
        first = self._first
        if self.synthetic:
            self.has_samples: bool | None = True
        elif first is not None:
            self.has_samples = bool(_is_sample(first) or (isinstance(first, dict) and first.get("sample") is not None)
                                    or (isinstance(first, tuple) and len(first) > 0 and _is_sample(first[0])))
        else:
            self.has_samples = None  # an iterable: told only by reading it
        if self.loader and self.dataset.batch_size is not None:
            try:
                self.total = len(dataset.dataset)
            except TypeError:
                self.total = None

    def item(self, index: int) -> Item:
        """Item ``index`` of a positional source (its id is ``index``)."""
        if self.synthetic:
            try:
                if self.ground_truth:
                    sample = self.dataset.sample(index)
                    return Item(index, sample.image, int(sample.label), sample)
                return _synthetic_item(self.dataset, index)
            except Exception as error:  # noqa: BLE001
                return Item(index, None, None, None, error)
        if index == 0 and self._first is not None:
            raw, self._first = self._first, None
            return parse_item(raw, 0)
        try:
            raw = self.dataset[index]
        except Exception as error:  # noqa: BLE001  (a failing read is that item's error)
            return Item(index, None, None, None, error)
        return parse_item(raw, index)

    def __iter__(self) -> Iterator[Item]:
        if self.indexable:
            for index in range(self.total or 0):
                yield self.item(index)
            return
        if self.mapping:
            for key, raw in self.dataset.items():
                try:
                    image_id = _image_id(key)
                except ValueError as error:
                    yield Item(str(key), None, None, None, error)
                    continue
                yield parse_item(raw, image_id)
            return
        position = 0
        for raw in self.dataset:
            if self.loader:
                for element in _unbatch(raw):
                    yield parse_item(element, position)
                    position += 1
            else:
                yield parse_item(raw, position)
                position += 1


def _synthetic_item(dataset: Any, index: int) -> Item:
    from ..data.synthetic.render import render

    image, label, _ = render(dataset.seed, index, dataset.size, dataset.variant, dataset.biased_class, records=False)
    return Item(index, image, int(label))


def _is_synthetic(dataset: Any) -> bool:
    from ..data.synthetic import SyntheticParts

    return isinstance(dataset, SyntheticParts)


def _unbatch(batch: Any) -> list[Any]:
    """A DataLoader's collated batch back into elements: a tensor of images, an
    (images, labels[, ids]) tuple/list, or a dict of batched fields."""
    if isinstance(batch, torch.Tensor):
        return list(batch)
    if isinstance(batch, dict):
        keys = list(batch)
        n = len(batch[keys[0]])
        return [{k: batch[k][i] for k in keys} for i in range(n)]
    if isinstance(batch, (list, tuple)) and batch and all(hasattr(b, "__len__") for b in batch):
        n = len(batch[0])
        return [tuple(part[i] for part in batch) for i in range(n)]
    return [batch]
