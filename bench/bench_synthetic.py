#!/usr/bin/env python3
"""Generation speed of the synthetic parts dataset on one CPU core.

Prints images/second for the bulk path (``arrays``), the ground-truth path
(``sample``) and the torch Dataset path (``ds[i]``), at 64x64 (the default) and a
few other sizes, and updates its own section of bench/RESULTS.md (between
``<!-- synthetic:start -->`` and ``<!-- synthetic:end -->``; other sections are kept).

    python bench/bench_synthetic.py [--n 3000] [--repeats 3] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from xwidgets.data.synthetic import SyntheticParts  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- synthetic:start -->", "<!-- synthetic:end -->"


def one_core() -> str:
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def rate(fn, n: int, repeats: int) -> float:
    """Best-of-``repeats`` images/second of ``fn()`` producing ``n`` images."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def measure(n: int, repeats: int) -> list[tuple[str, int, str, float]]:
    rows = []
    for size in (64, 32, 128):
        count = n if size <= 64 else max(200, n // 4)
        for variant in (("clean", "biased") if size == 64 else ("clean",)):
            ds = SyntheticParts(n=count, seed=0, size=size, variant=variant)
            ds.arrays(0, min(count, 50))  # warm the stamp and texture caches
            rows.append((f"arrays (bulk uint8)", size, variant, rate(lambda: ds.arrays(0, count), count, repeats)))
            if size == 64:
                k = count // 2
                rows.append(("sample (image + ground truth)", size, variant,
                             rate(lambda: [ds.sample(i) for i in range(k)], k, repeats)))
                rows.append(("ds[i] (float32 tensor)", size, variant,
                             rate(lambda: [ds[i] for i in range(k)], k, repeats)))
    return rows


def table(rows, pinned: str) -> str:
    lines = [
        "## Synthetic parts dataset: generation speed",
        "",
        f"One CPU core ({pinned}, torch.set_num_threads(1)); {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}. Best of repeats. "
        "Target: at least 500 images/s at 64x64.",
        "Reproduce: `python bench/bench_synthetic.py`.",
        "",
        "| path | size | variant | images/s |",
        "|---|---:|---|---:|",
    ]
    lines += [f"| {path} | {size}x{size} | {variant} | {r:,.0f} |" for path, size, variant, r in rows]
    return "\n".join(lines)


def write_section(text: str) -> None:
    block = f"{START}\n{text}\n{END}"
    if RESULTS.exists():
        current = RESULTS.read_text()
        pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
        if pattern.search(current):
            updated = pattern.sub(lambda _: block, current, count=1)
        else:
            updated = current.rstrip("\n") + "\n\n" + block + "\n"
    else:
        updated = "# Benchmark results\n\n" + block + "\n"
    RESULTS.write_text(updated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="images per timing at 64x64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    pinned = one_core()
    rows = measure(args.n, args.repeats)
    text = table(rows, pinned)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nupdated {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
