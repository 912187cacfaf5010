// Colour maps as 256-entry lookup tables.
//
// The default, viridis, is perceptually uniform and readable with the common forms of
// colour blindness (cividis even more so); gray suits printing. Keep COLORMAP_NAMES in
// step with xwidgets/widgets/saliency_viewer.py (COLORMAPS); a Python test compares them.
//
// Signed maps (both signs: gradient x input, integrated gradients, occlusion) are drawn with
// the diverging DIVERGING_COLORMAP, centred on 0: ColorBrewer's RdBu reversed (negative blue,
// zero near white, positive red), which stays readable with the common colour-vision
// deficiencies. The sequential names above are what the colour-map picker offers.

import { COLORMAP_HEX } from "./colormap_data";

export const COLORMAP_NAMES = ["viridis", "magma", "inferno", "plasma", "cividis", "gray"] as const;

export type ColormapName = (typeof COLORMAP_NAMES)[number];

export const DEFAULT_COLORMAP: ColormapName = "viridis";

export function isColormap(name: unknown): name is ColormapName {
  return typeof name === "string" && (COLORMAP_NAMES as readonly string[]).includes(name);
}

/** The diverging map of signed displays (see the file comment). */
export const DIVERGING_COLORMAP = "RdBu_r";

/** Names getColormap knows: the sequential ones and the diverging one. */
function isKnown(name: unknown): name is string {
  return isColormap(name) || name === DIVERGING_COLORMAP;
}

const cache = new Map<string, Uint8Array>();

/**
 * The RGBA lookup table of a colour map (sequential or DIVERGING_COLORMAP): 256 x 4 bytes,
 * alpha 255. An unknown name falls back to the default (the Python side validates names).
 */
export function getColormap(name: string): Uint8Array {
  const key = isKnown(name) ? name : DEFAULT_COLORMAP;
  let lut = cache.get(key);
  if (lut === undefined) {
    lut = new Uint8Array(256 * 4);
    const hex = COLORMAP_HEX[key];
    for (let i = 0; i < 256; i++) {
      for (let c = 0; c < 3; c++) {
        lut[i * 4 + c] = key === "gray" ? i : parseInt(hex.substr((i * 3 + c) * 2, 2), 16);
      }
      lut[i * 4 + 3] = 255;
    }
    cache.set(key, lut);
  }
  return lut;
}

/** `rgb(r, g, b)` of entry `i` (0..255). */
export function colormapColor(name: string, i: number): string {
  const lut = getColormap(name);
  const k = Math.max(0, Math.min(255, Math.round(i))) * 4;
  return `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
}

/** A CSS linear-gradient (left to right) through `stops` evenly spaced entries. */
export function colormapGradient(name: string, stops = 17): string {
  const parts: string[] = [];
  for (let s = 0; s < stops; s++) {
    const t = s / (stops - 1);
    parts.push(`${colormapColor(name, t * 255)} ${(t * 100).toFixed(2)}%`);
  }
  return `linear-gradient(to right, ${parts.join(", ")})`;
}
