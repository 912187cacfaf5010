"""Regenerate js/lib/colormap_data.ts from matplotlib (run from the repository root).

    python3 js/tools/gen_colormap_data.py

Each map is ``matplotlib.colormaps[name](np.linspace(0, 1, 256))`` rounded to 8-bit RGB and
written as hex, 256 entries x 3 bytes. ``gray`` is computed in js/lib/colormaps.ts and is not
stored. Needs matplotlib (a development tool only; xwidgets does not import this file).
"""

from __future__ import annotations

import pathlib

import matplotlib
import numpy as np

SEQUENTIAL = ["viridis", "magma", "inferno", "plasma", "cividis"]
DIVERGING = ["RdBu_r"]

HEADER = """// Generated from matplotlib {version} (`matplotlib.colormaps[name](np.linspace(0, 1, 256))`,
// rounded to 8-bit RGB) by js/tools/gen_colormap_data.py. viridis, magma, inferno and plasma
// are CC0 (van der Walt, Smith, Huff); cividis is from Nunez, Anderton and Renslow (PLOS ONE
// 2018); RdBu_r is ColorBrewer's RdBu (Cynthia Brewer, Apache-2.0), reversed so that negative
// is blue and positive red, as shipped by matplotlib. 256 entries x 3 bytes, as hex.
// Do not edit by hand.
"""


def hex_of(name: str) -> str:
    rgba = matplotlib.colormaps[name](np.linspace(0, 1, 256))
    rgb = np.round(rgba[:, :3] * 255).astype(np.uint8)
    return rgb.tobytes().hex()


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    lines = [HEADER.format(version=".".join(matplotlib.__version__.split(".")[:2])), "export const COLORMAP_HEX: Readonly<Record<string, string>> = {"]
    for name in SEQUENTIAL + DIVERGING:
        text = hex_of(name)
        chunks = [text[i : i + 96] for i in range(0, len(text), 96)]
        key = name if name.isidentifier() and name.islower() else f'"{name}"'
        lines.append(f"  {key}:")
        lines.append(" +\n".join(f'    "{c}"' for c in chunks) + ",")
    lines.append("};")
    (root / "js" / "lib" / "colormap_data.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
