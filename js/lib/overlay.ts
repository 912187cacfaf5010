// Drawing a colour-mapped saliency map over its image, shared by every widget: which colour
// map and value scale the traits ask for, colourising one map into an offscreen canvas,
// drawing image and map on a canvas, painting a colour bar, and the device pixel ratio.

import { DEFAULT_COLORMAP, DIVERGING_COLORMAP, colormapGradient, getColormap, isColormap } from "./colormaps";
import { formatValue } from "./format";
import type { Drawable } from "./image";
import type { WidgetModel } from "./model";
import { colourise, isScale, type Display, type Scale } from "./normalise";

/** The value-scale picker's options (value, text). */
export const SCALE_LABELS: ReadonlyArray<[Scale, string]> = [
  ["auto", "Auto (signed when \u00b1)"],
  ["minmax", "Min\u2013max"],
  ["signed", "Signed, centred on 0"],
];

/** The `colormap` trait, or the default when it is not a known sequential map. */
export function readColormap(model: WidgetModel): string {
  const name = model.get("colormap");
  return isColormap(name) ? name : DEFAULT_COLORMAP;
}

/** The `scale` trait, or "auto" when it is not a known scale. */
export function readScale(model: WidgetModel): Scale {
  const value = model.get("scale");
  return isScale(value) ? value : "auto";
}

/** The colour map a display is drawn with: the diverging map when signed, else `colormap`. */
export function displayColormap(display: Display, colormap: string): string {
  return display.signed ? DIVERGING_COLORMAP : colormap;
}

/** The device pixel ratio canvases are drawn at: 1 to 2. */
export function pixelRatio(): number {
  return Math.min(2, Math.max(1, globalThis.devicePixelRatio || 1));
}

/**
 * Size `canvas` to show an image of `size` with its longest side `longest` CSS pixels (its
 * aspect kept), at the device pixel ratio; the pixel size changes (and the canvas clears)
 * only when it differs. Returns the CSS size.
 */
export function fitCanvas(
  canvas: HTMLCanvasElement,
  size: { width: number; height: number },
  longest: number,
): { width: number; height: number } {
  const scale = longest / Math.max(size.width, size.height);
  const width = Math.round(size.width * scale);
  const height = Math.round(size.height * scale);
  const dpr = pixelRatio();
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const w = Math.round(width * dpr);
  const hh = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== hh) {
    canvas.width = w;
    canvas.height = hh;
  }
  return { width, height };
}

/**
 * Colourise map `index` (rows x cols values from `index * rows * cols` of `data`) into
 * `heat`, sized to the map, on `colormap` (the diverging map when the display is signed).
 * False when the canvas has no 2D context.
 */
export function paintHeat(
  heat: HTMLCanvasElement,
  data: ArrayLike<number>,
  index: number,
  rows: number,
  cols: number,
  display: Display,
  colormap: string,
): boolean {
  heat.width = cols;
  heat.height = rows;
  const hctx = heat.getContext("2d");
  if (hctx === null) return false;
  const size = rows * cols;
  const pixels = hctx.createImageData(cols, rows);
  colourise(data, index * size, size, display.range, getColormap(displayColormap(display, colormap)), pixels.data, display.signed);
  hctx.putImageData(pixels, 0, 0);
  return true;
}

/** Clear `canvas`, draw `image` (when there is one) over all of it, then `heat` at `alpha`. */
export function drawOverlay(
  ctx: CanvasRenderingContext2D,
  canvas: HTMLCanvasElement,
  image: Drawable | null | undefined,
  heat: HTMLCanvasElement | null,
  alpha: number,
): void {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  if (image) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  if (heat !== null) {
    ctx.globalAlpha = alpha;
    ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  }
}

/**
 * A colour bar: `ramp` shows the colour map `display` is drawn with (`colormap` without a
 * display), `min` and `max` its range (blank without a display).
 */
export function paintColourBar(
  ramp: HTMLElement,
  min: HTMLElement,
  max: HTMLElement,
  display: Display | null,
  colormap: string,
): void {
  ramp.style.background = colormapGradient(display === null ? colormap : displayColormap(display, colormap));
  min.textContent = display === null ? "" : formatValue(display.range.min);
  max.textContent = display === null ? "" : formatValue(display.range.max);
}
