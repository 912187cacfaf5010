"""Version keys: which model, method, parameters, target and preprocessing made a map.

A stored result is only ever read back under the key of the configuration that made
it, so a run with other parameters or a changed model writes under a new version and
never mixes with (or skips because of) stale results.

* Model fingerprint: the model's class name plus a BLAKE2b hash of every tensor of its
  ``state_dict`` (name, dtype, shape and *all* bytes): any changed weight or buffer
  changes it. It reads the weights once per run (a few ms for the toy CNN, ~30 ms for
  EfficientNet-Lite0, about a second per GB of weights).
* Model key: the fingerprint plus the preprocessing (size, resize, mean, std, scale):
  predictions are stored per model key.
* Version key: the model key plus the method's name, its resolved parameters (the
  published defaults updated by the user's), the layer a CAM method reads and the
  target spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from typing import Any

import numpy as np
import torch

from ..models.adapter import ModelAdapter

__all__ = ["model_fingerprint", "model_key", "version_key", "canonical", "describe_target"]

#: hex digits kept from a hash: 16 (64 bits) is plenty for the versions of one store
KEY_LENGTH = 16


def canonical(value: Any) -> Any:
    """``value`` as deterministic JSON-like data: dataclasses as dicts, numbers as
    int/float, tensors and arrays as lists, callables by their module and qualified
    name (never a ``repr`` holding a memory address)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__name__,
                **{f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        return {"__array__": str(array.dtype), "shape": list(array.shape), "values": array.reshape(-1).tolist()}
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if callable(value):
        return {"__callable__": f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"}
    return {"__object__": type(value).__qualname__}


def _digest(data: Any) -> str:
    text = json.dumps(canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:KEY_LENGTH]


def model_fingerprint(adapter: ModelAdapter) -> str:
    """``<class name>:<hash>``: BLAKE2b over every state_dict tensor's name, dtype,
    shape and bytes (tensors on an accelerator are copied to the host one at a time)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in adapter.model.state_dict().items():
        tensor = tensor.detach()
        hasher.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        host = tensor.cpu().contiguous().reshape(-1)
        try:
            data = host.numpy()
        except TypeError:  # bfloat16, float8 ...: numpy has no such dtype, hash the raw bytes
            data = host.view(torch.uint8).numpy()
        hasher.update(data.tobytes())
    return f"{type(adapter.model).__name__}:{hasher.hexdigest()[:KEY_LENGTH]}"


def model_key(adapter: ModelAdapter, fingerprint: str | None = None) -> str:
    """The key predictions are stored under: the fingerprint plus the preprocessing."""
    fingerprint = fingerprint or model_fingerprint(adapter)
    return _digest({"model": fingerprint, "preprocess": dataclasses.asdict(adapter.preprocess)})


def describe_target(target: Any) -> Any:
    """The target spec as deterministic JSON-like data (part of the version key)."""
    if isinstance(target, str):
        return target
    return canonical(target)


def version_key(model: str, method: str, params: dict[str, Any], layer: str | None, target: Any) -> str:
    """The version of the maps ``method`` makes with ``params`` (resolved: defaults
    included) at ``layer`` for ``target`` on the model with key ``model``."""
    return _digest({"model": model, "method": method, "params": params, "layer": layer,
                    "target": describe_target(target)})
