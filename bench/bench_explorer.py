#!/usr/bin/env python3
"""The ConceptExplorer's two limits (issue 8): payload and click-to-highlight latency.

* Payload of one explanation: a 224 px image with its saliency map, 12 nodes per graph and
  5 candidate classes (``ExplanationData.example(4, num_nodes=12)``): the JSON state plus the
  binary buffers the front end receives (``ConceptExplorer.payload_nbytes``; the front-end
  bundle, sent once per widget, is stated apart). Limit: 300 KB.
* Click-to-highlight latency in headless Chromium (Debian's /usr/bin/chromium, Playwright):
  ``performance.now()`` around the click handler (set the ``selected`` trait, save, update
  the graph, the patches, the phrases and the image's veil), median of 50 real clicks
  alternating between two nodes. Also the same clicks dispatched in the page with a forced
  style and layout after each (what the handler leaves to the browser before paint).
  Limit: 16 ms. Chromium coarsens performance.now() to 0.1 ms on pages that are not
  cross-origin isolated, so sub-millisecond medians are multiples of 0.1 ms.

Prints a table; writes nothing.

    python bench/bench_explorer.py [--clicks 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xwidgets.widgets import ConceptExplorer, ExplanationData  # noqa: E402
from xwidgets.widgets.base import bundle_path  # noqa: E402

PAYLOAD_LIMIT = 300_000
LATENCY_LIMIT_MS = 16.0
READY = '[data-testid="xw-explorer"][data-ready="true"]'

IN_PAGE = """async ([a, b, n]) => {
  const root = document.querySelector('[data-testid="xw-explorer"]');
  const pick = (ref) => document.querySelector(`[data-testid="xw-node"][data-ref="${ref}"]`);
  const out = [];
  for (let i = 0; i < n; i++) {
    const el = pick(i % 2 === 0 ? a : b);
    const t0 = performance.now();
    el.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    void root.getBoundingClientRect().height;  // force style and layout
    out.push(performance.now() - t0);
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  }
  return out;
}"""


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(values):.3f} ms, p90 {p90:.3f} ms, max {max(values):.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=50)
    args = parser.parse_args()

    data = ExplanationData.example(4, size=224, num_classes=5, num_nodes=12)
    widget = ConceptExplorer(data)
    size = widget.payload_nbytes()
    bundle = bundle_path("concept_explorer").stat().st_size
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other work)")
    print(f"explanation: 224x224 image + saliency map, {len(data.classes)} classes, "
          f"{len(data.graphs[0].nodes)} nodes and {len(data.graphs[0].edges)} edges per class")
    print(f"payload: {size} bytes ({size / 1000:.1f} KB; limit {PAYLOAD_LIMIT / 1000:.0f} KB) = "
          f"image PNG {len(widget.image['png'])} + saliency uint8 {len(widget.saliency['data'])} + "
          f"masks {len(widget.masks['data'])} + JSON {size - len(widget.image['png']) - len(widget.saliency['data']) - len(widget.masks['data'])}"
          f"; front-end bundle {bundle} bytes, once per widget")

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.harness import open_harness

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 900, "height": 700}, device_scale_factor=1).new_page()
            open_harness(page, widget, READY)
            handler = []
            for i in range(args.clicks):
                page.click(f'[data-testid="xw-node"][data-ref="{"n1" if i % 2 == 0 else "n2"}"]')
                handler.append(float(page.get_attribute('[data-testid="xw-explorer"]', "data-highlight-ms")))
            with_layout = page.evaluate(IN_PAGE, ["n3", "n4", args.clicks])
            version = browser.version
        finally:
            browser.close()

    print(f"chromium {version}, headless")
    print(f"click-to-highlight (handler), {args.clicks} clicks: {summary(handler)} (limit {LATENCY_LIMIT_MS:g} ms)")
    print(f"click + forced style/layout, {args.clicks} clicks: {summary(with_layout)}")
    print()
    print("| ConceptExplorer (224 px, 12 nodes, 5 classes) | measured | limit |")
    print("|---|---|---|")
    print(f"| payload of one explanation | {size / 1000:.1f} KB | {PAYLOAD_LIMIT / 1000:.0f} KB |")
    print(f"| click-to-highlight, median of {args.clicks} | {statistics.median(handler):.2f} ms | {LATENCY_LIMIT_MS:g} ms |")
    print(f"| click + style and layout, median of {args.clicks} | {statistics.median(with_layout):.2f} ms | |")


if __name__ == "__main__":
    main()
