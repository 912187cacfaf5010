"""Serialisers from numpy arrays to the binary trait payloads the front end reads.

Binary data travels as buffers, never as JSON lists of floats (DESIGN.md, Widgets):
images as PNG bytes, arrays as ``{"data": bytes, "dtype": str, "shape": [...]}`` with
little-endian, C-contiguous data. The front end (js/lib/buffers.ts) decodes uint8,
float16 and float32, honouring the DataView's byteOffset.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .._validation import bad_argument

__all__ = ["ARRAY_DTYPES", "png_bytes", "image_payload", "array_payload", "float16_safe"]

#: dtypes the front end decodes, with the numpy little-endian dtype they are sent as.
ARRAY_DTYPES = {"uint8": np.dtype("<u1"), "float16": np.dtype("<f2"), "float32": np.dtype("<f4")}

_FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504
#: below this magnitude a map's 256 display levels would fall among float16 subnormals
_FLOAT16_MIN_PEAK = 1e-3


def _rgb_uint8(image: Any, argument: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise bad_argument(argument, "an (H, W, 3) RGB image", array)
    if array.dtype != np.uint8:
        raise bad_argument(argument, "dtype uint8", array, "Convert with np.clip(x * 255, 0, 255).astype(np.uint8)")
    return np.ascontiguousarray(array)


def png_bytes(image: Any, *, compress_level: int = 6) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 array as PNG bytes (lossless)."""
    from PIL import Image

    array = _rgb_uint8(image, "image")
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buffer, format="PNG", compress_level=compress_level, optimize=False)
    return buffer.getvalue()


def image_payload(image: Any) -> dict[str, Any]:
    """``{"png": bytes, "width": int, "height": int}`` for the ``image`` trait."""
    array = _rgb_uint8(image, "image")
    return {"png": png_bytes(array), "width": int(array.shape[1]), "height": int(array.shape[0])}


def float16_safe(array: np.ndarray) -> bool:
    """Whether float16 keeps ``array`` readable: no overflow, and a peak well above subnormals.

    Finite values must stay below float16's maximum (65504), and the largest magnitude must
    be at least 1e-3 so that the 256 colour levels between 0 and the peak stay distinct
    (raw gradients are often 1e-6 and would flush to zero). All-zero and non-finite-only
    arrays are safe.
    """
    finite = np.abs(array[np.isfinite(array)])
    if finite.size == 0:
        return True
    peak = float(finite.max())
    return peak == 0.0 or _FLOAT16_MIN_PEAK <= peak <= _FLOAT16_MAX


def array_payload(array: Any, dtype: str = "float16") -> dict[str, Any]:
    """``{"data": bytes, "dtype": dtype, "shape": [...]}``: little-endian, C order.

    ``dtype`` is one of ``uint8``, ``float16``, ``float32``. Casting is explicit: floats to
    uint8 must already lie in [0, 255].
    """
    if dtype not in ARRAY_DTYPES:
        raise bad_argument("dtype", f"one of {sorted(ARRAY_DTYPES)}", dtype)
    source = np.asarray(array)
    if dtype == "uint8" and source.dtype != np.uint8:
        finite = source[np.isfinite(source)] if source.dtype.kind == "f" else source
        if source.size and (finite.size != source.size or finite.min() < 0 or finite.max() > 255):
            raise bad_argument("array", "values in [0, 255] to send as uint8", source)
    data = np.ascontiguousarray(source, dtype=ARRAY_DTYPES[dtype])
    return {"data": data.tobytes(), "dtype": dtype, "shape": [int(n) for n in data.shape]}
