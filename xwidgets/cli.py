"""The ``xwidgets`` command: ``xwidgets demo --out report.html`` and ``xwidgets methods``."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Sequence


def _demo(args: argparse.Namespace) -> int:
    import xwidgets as xw

    started = time.perf_counter()
    model = xw.models.efficientnet_lite0()
    photos = xw.data.sample_images(args.images)
    saliency = xw.explain(model, list(photos.values()), method=args.method, target=xw.TopK(args.top_k))
    for (name, _), top in zip(photos.items(), saliency.rows_groups()):
        best = int(saliency.targets[top[0]])
        print(f"{name:>10}: {saliency.labels[best]} ({saliency.probabilities[saliency.image_index[top[0]], best]:.2f})")
    path = saliency.save_html(args.out, title=f"xwidgets demo: {args.method} on EfficientNet-Lite0")
    print(f"wrote {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


def _methods(args: argparse.Namespace) -> int:
    import xwidgets as xw

    for spec in xw.list_methods():
        print(f"{spec.name:<12} {spec.family:<12} {spec.summary} ({spec.paper})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from .data.photos import SAMPLE_NAMES

    parser = argparse.ArgumentParser(prog="xwidgets", description="Explain image classifiers: saliency maps as widgets and offline reports.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="explain the bundled ImageNet model on the bundled photos and write an HTML report")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("report.html"), help="where to write the report (default: report.html)")
    demo.add_argument("--method", default="gradcam", help="saliency method (see `xwidgets methods`)")
    demo.add_argument("--top-k", type=int, default=5, help="classes per image in the viewer's class picker")
    demo.add_argument("--images", nargs="+", default=list(SAMPLE_NAMES), choices=SAMPLE_NAMES, help="which sample photos")
    demo.set_defaults(run=_demo)
    methods = commands.add_parser("methods", help="list the registered saliency methods")
    methods.set_defaults(run=_methods)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
