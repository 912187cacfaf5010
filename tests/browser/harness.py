"""A plain harness page for any xwidgets front-end module (no Jupyter).

The built ESM of the widget's module, a fake anywidget model and the page are served
through page.route (ES modules do not import from file://); every other request is
aborted and recorded in ``page.blocked``. The state is the Python widget's own
(``report_state``), so the trait contract is exercised end to end. Binary values are put
at an odd offset inside a larger buffer, as Jupyter may deliver them.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib

import numpy as np
from PIL import Image

from xwidgets.report import encode_state

STATIC = pathlib.Path(__file__).resolve().parents[2] / "xwidgets" / "static"
ORIGIN = "http://xw.test"
#: what ``open_harness`` waits for once a SaliencyViewer has drawn
SALIENCY_READY = '[data-testid="xw-saliency"][data-ready="true"]'

HARNESS = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xwidgets harness</title></head>
<body style="margin:16px; background:#fff">
<div id="host"></div>
<script type="application/json" id="state">__STATE__</script>
<script type="module">
import widget from "/__MODULE__.js";

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$binary") {
      const s = atob(v.$binary);
      const buf = new Uint8Array(s.length + 7);
      for (let i = 0; i < s.length; i++) buf[3 + i] = s.charCodeAt(i);
      return new DataView(buf.buffer, 3, s.length);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

class FakeModel {
  constructor(state) { this.state = { ...state }; this.listeners = {}; this.saves = 0; this.sets = []; this.sent = []; }
  get(k) { return this.state[k]; }
  set(k, v) {
    this.sets.push([k, v]);
    if (this.state[k] === v) return;
    this.state[k] = v;
    for (const cb of [...(this.listeners["change:" + k] || [])]) cb(this, v);
    for (const cb of [...(this.listeners["change"] || [])]) cb(this);
  }
  on(e, cb) { (this.listeners[e] ||= []).push(cb); }
  off(e, cb) {
    if (e == null) { this.listeners = {}; return; }
    if (cb == null) { delete this.listeners[e]; return; }
    this.listeners[e] = (this.listeners[e] || []).filter((f) => f !== cb);
  }
  save_changes() { this.saves += 1; }
  send(msg) { this.sent.push(msg); }
  listenerCount() { return Object.values(this.listeners).reduce((n, l) => n + l.length, 0); }
}

const model = new FakeModel(revive(JSON.parse(document.getElementById("state").textContent)));
window.model = model;
window.cleanup = await widget.render({ model, el: document.getElementById("host") });
window.rendered = true;
</script>
</body></html>
"""


def open_harness(page, widget, ready_selector: str, state: dict | None = None) -> None:
    """Render ``widget`` (an XWidget; or ``state`` instead of its own) in ``page``; wait
    for ``ready_selector``."""
    module = widget.report_module
    state = json.dumps(encode_state(widget.report_state() if state is None else state)).replace("<", "\\u003c")
    html = HARNESS.replace("__STATE__", state).replace("__MODULE__", module)
    esm = (STATIC / f"{module}.js").read_bytes()
    blocked: list[str] = []

    def handle(route):
        url = route.request.url
        if url == f"{ORIGIN}/":
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        elif url == f"{ORIGIN}/{module}.js":
            route.fulfill(status=200, content_type="text/javascript", body=esm)
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)
    page.blocked = blocked
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.rendered === true")
    page.wait_for_selector(ready_selector)


def canvas_rgba(locator) -> np.ndarray:
    """A canvas's pixels as an (H, W, 4) uint8 array."""
    url = locator.evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def saliency_canvas(page) -> np.ndarray:
    """The SaliencyViewer's canvas pixels as an (H, W, 4) uint8 array."""
    return canvas_rgba(page.locator('[data-testid="xw-canvas"]'))


def model_get(page, name: str):
    return page.evaluate("k => window.model.get(k)", name)
