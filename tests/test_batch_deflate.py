"""The store's deflate: standard zlib streams (any reader inflates them), from ISA-L."""

from __future__ import annotations

import zlib

import numpy as np

from xwidgets.batch import deflate as deflate_module
from xwidgets.batch.deflate import deflate


def test_isal_is_the_backend_when_installed():
    # isal is a dependency (pyproject), so a normal install must use it, not the slow fallback
    assert deflate_module.BACKEND == "isal"


def test_streams_inflate_with_the_standard_library():
    rng = np.random.default_rng(0)
    smooth = np.repeat(np.arange(256, dtype=np.uint8), 64).tobytes()   # compressible
    noise = rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()      # not
    for data in (b"", smooth, noise):
        packed = deflate(data)
        assert zlib.decompress(packed) == data
    assert len(deflate(smooth)) < len(smooth) / 10
