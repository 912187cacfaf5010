"""One self-contained HTML file from xwidgets widgets.

The page inlines ``xwidgets/static/report_runtime.js`` (an IIFE carrying every widget
module and a static model that implements anywidget's model API), and the widgets' synced
state as JSON in ``<script type="application/json">``. Bytes are ``{"$binary": base64}``,
or, where zlib makes them smaller, ``{"$deflate": base64, "$size": n}``, which the runtime
inflates with the browser's own ``DecompressionStream("deflate")`` (no library, no
network). Float arrays (``{"data", "dtype": "float16"|"float32", "shape"}``) are first
delta-coded and split into byte planes (``"$delta": 2`` or ``4``): smooth saliency maps
then shrink about four times instead of two. The very same ``render`` code as in Jupyter
runs on it, interactive and client-side.

This is deliberately lighter than nbconvert's widget embedding, which needs require.js,
``@jupyter-widgets/html-manager``'s 3.5 MB ``embed-amd.js`` and anywidget's AMD module
(from CDNs unless one inlines them): a report here is the runtime (tens of KiB) plus
the data, and opens with every network request blocked. A Content-Security-Policy
forbids the page any network access at all.
"""

from __future__ import annotations

import base64
import html
import json
import math
import pathlib
import re
import zlib
from typing import Any, Iterable

import numpy as np

from .._validation import bad_argument
from ..widgets.base import XWidget, read_bundle

__all__ = ["write_report", "report_html", "encode_state", "STATE_VERSION"]

STATE_VERSION = 1

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; base-uri 'none'; form-action 'none'"
)

_PAGE_CSS = """
:root { color-scheme: light; }
body {
  margin: 0; background: #f6f7f9; color: #1f2328;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.xw-report { max-width: 1320px; margin: 0 auto; padding: 28px 24px 48px; }
.xw-report-header h1 { font-size: 22px; font-weight: 600; margin: 0 0 4px; }
.xw-report-header p { margin: 0 0 20px; color: #59636e; font-size: 13px; }
.xw-report-items { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.xw-report-item { margin: 0; }
.xw-report-error, .xw-report-noscript {
  padding: 8px 10px; border-radius: 6px; background: #fdecea; color: #8a1c12; font-size: 13px;
}
"""


#: bytes below this are not worth compressing
_MIN_COMPRESS = 64
#: element widths the "$delta" filter handles (float16 and float32 data)
_DELTA_WIDTHS = {"float16": 2, "float32": 4}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def delta_planes(data: bytes, width: int) -> bytes:
    """The "$delta" filter: little-endian unsigned ``width``-byte integers replaced by their
    differences (mod 2**(8 * width), the first from 0), then split into ``width`` byte planes.

    Lossless for any bytes (js/lib/report_state.ts, ``undelta``, inverts it). Neighbouring
    values of a smooth map have close bit patterns, so the high-byte plane is mostly zeros.
    """
    values = np.frombuffer(data, dtype=f"<u{width}")
    diffs = np.diff(values, prepend=np.zeros(1, dtype=values.dtype)).astype(f"<u{width}", copy=False)
    return np.ascontiguousarray(diffs.view(np.uint8).reshape(-1, width).T).tobytes()


def encode_bytes(data: bytes, *, compress: bool = True, width: int | None = None) -> dict[str, Any]:
    """Bytes as a JSON marker: ``{"$binary": base64}``, or the smallest of deflate with and
    without the "$delta" filter (``width`` 2 or 4) when that is smaller than the bytes."""
    plain = {"$binary": _b64(data)}
    if not compress or len(data) < _MIN_COMPRESS:
        return plain
    best = zlib.compress(data, 6)
    delta = None
    if width in (2, 4) and len(data) % width == 0:
        filtered = zlib.compress(delta_planes(data, width), 6)
        if len(filtered) < len(best):
            best, delta = filtered, width
    if len(best) >= len(data):
        return plain  # already compressed (PNG) or random: deflate does not help
    marker: dict[str, Any] = {"$deflate": _b64(best), "$size": len(data)}
    if delta is not None:
        marker["$delta"] = delta
    return marker


def _encode(value: Any, where: str, compress: bool, width: int | None = None) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return encode_bytes(bytes(value), compress=compress, width=width)
    if isinstance(value, dict):
        # an array payload {"data": bytes, "dtype": ..., "shape": ...}: its element width
        inner = _DELTA_WIDTHS.get(value.get("dtype")) if isinstance(value.get("dtype"), str) else None
        return {str(k): _encode(v, f"{where}.{k}", compress, inner if k == "data" else None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{where}[{i}]", compress) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/Infinity; JSON.parse would reject the page's state
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, np.ndarray):
        raise bad_argument(where, "bytes or JSON values in widget state (send arrays as buffers)", value)
    raise bad_argument(where, "bytes or JSON values in widget state", value)


def encode_state(state: dict[str, Any], *, compress: bool = False) -> dict[str, Any]:
    """Widget state as JSON-ready values: bytes become ``{"$binary": base64}``, or with
    ``compress`` ``{"$deflate": ...}`` markers where deflate makes them smaller."""
    return _encode(state, "state", compress)


def _script_json(document: Any) -> str:
    """JSON safe inside <script>: '<', '>' and '&' only occur in strings, so escape them there."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_SCRIPT_CLOSE = re.compile(r"</(script)", re.IGNORECASE)


def _script_js(code: str) -> str:
    """Inline JavaScript: '</script' and '<!--' cannot end or confuse the script element.

    In JS they can only occur inside strings, template literals, regular expressions or
    comments, where '<\\/' and '<\\!' mean the same characters.
    """
    return _SCRIPT_CLOSE.sub(r"<\\/\1", code).replace("<!--", "<\\!--")


def _widgets(widgets: Any) -> list[XWidget]:
    if isinstance(widgets, XWidget):
        return [widgets]
    if isinstance(widgets, (str, bytes)) or not isinstance(widgets, Iterable):
        raise bad_argument("widgets", "an xwidgets widget or a list of them", widgets)
    items = list(widgets)
    if not items:
        raise bad_argument("widgets", "at least one widget", items)
    for i, w in enumerate(items):
        if not isinstance(w, XWidget):
            raise bad_argument(f"widgets[{i}]", "an xwidgets widget (such as SaliencyViewer)", w)
    return items


def report_html(widgets: Any, *, title: str = "xwidgets report", compress: bool = True) -> str:
    """The report's HTML text (see :func:`write_report`)."""
    from .. import __version__

    items = _widgets(widgets)
    if not isinstance(title, str):
        raise bad_argument("title", "a str", title)
    document = {
        "version": STATE_VERSION,
        "widgets": [
            {"module": w.report_module, "state": encode_state(w.report_state(), compress=compress)} for w in items
        ],
    }
    runtime = _script_js(read_bundle("report_runtime"))
    state = _script_json(document)
    count = f"{len(items)} widget{'s' if len(items) != 1 else ''}"
    sections = "\n".join(
        f'<section class="xw-report-item" aria-label="Widget {i + 1}">'
        f'<div class="xw-report-widget" data-xw-widget="{i}" data-xw-module="{html.escape(w.report_module)}">'
        f"</div></section>"
        for i, w in enumerate(items)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="generator" content="xwidgets {html.escape(__version__)}">
<title>{html.escape(title)}</title>
<style>{_PAGE_CSS}</style>
</head>
<body>
<main class="xw-report">
<header class="xw-report-header">
<h1>{html.escape(title)}</h1>
<p>xwidgets {html.escape(__version__)} report, {count}. Self-contained: it works offline, with no kernel.</p>
</header>
<noscript><p class="xw-report-noscript">This report draws its figures with JavaScript, which is turned off.
Turn it on to see them; the page loads nothing from the network.</p></noscript>
<div class="xw-report-items">
{sections}
</div>
</main>
<script type="application/json" id="xw-report-state">{state}</script>
<script>{runtime}</script>
</body>
</html>
"""


def write_report(
    path: str | pathlib.Path, widgets: Any, *, title: str = "xwidgets report", compress: bool = True
) -> pathlib.Path:
    """Write ONE self-contained HTML file that renders ``widgets`` with no network at all.

    Args:
        path: the file to write (parent folders are created).
        widgets: an xwidgets widget or a list of them (SaliencyViewer, CompareGrid).
        title: the page's title and heading.
        compress: deflate binary data where that makes it smaller (the page inflates it
            with the browser's DecompressionStream; Chrome 80, Firefox 113, Safari 16.4).

    Returns:
        The path written.

    The widgets stay interactive (class switching, opacity, colour map, hover) because
    the same front-end code runs on a static in-page model. This is deliberately lighter
    than nbconvert's widget embedding (require.js plus a 3.5 MB html-manager).
    """
    if not isinstance(path, (str, pathlib.Path)):
        raise bad_argument("path", "a str or pathlib.Path", path)
    text = report_html(widgets, title=title, compress=compress)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
