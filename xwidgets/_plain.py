"""JSON-like copies of settings and metadata, for the files weights are saved with."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """``value`` as JSON-like values only (what ``json`` and ``torch.load(weights_only=True)``
    accept): dicts with str keys, lists, str, bool, None, int and float (numpy scalars
    included); anything else becomes its ``repr``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return repr(value)
