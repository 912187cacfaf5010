// Colour scales of a grid of maps (CompareGrid): N methods (rows) x M images (columns),
// data laid out [N, M, H, W]. `shared` says which maps share one value range:
//   "cell"   each map its own [min, max] (shape only, like the viewer)
//   "method" one range per method row, across its images (compare images for a method)
//   "global" one range over every map (compare magnitudes; meaningful when the methods
//            share units)
// and `scale` whether a row is drawn signed (diverging, symmetric about 0): "signed",
// "minmax", or "auto" (signed when the row's maps have both signs). A signed row's limits
// are +-a with a pooled the same way from the maps' own limits (the 99th percentile of
// |value|, see normalise.ts), so 0 sits in the middle of the colour map everywhere.

import { absQuantile, isSignedDisplay, mapRange, symmetricRange, unionRange, type Display, type Range, type Scale } from "./normalise";

export const SHARED_SCALES = ["cell", "method", "global"] as const;

export type SharedScale = (typeof SHARED_SCALES)[number];

export function isSharedScale(value: unknown): value is SharedScale {
  return typeof value === "string" && (SHARED_SCALES as readonly string[]).includes(value);
}

/** Per-cell data ranges of an [N, M, size] layout, index n * M + m. */
export function cellRanges(data: ArrayLike<number>, methods: number, images: number, size: number): Range[] {
  const out: Range[] = [];
  for (let c = 0; c < methods * images; c++) out.push(mapRange(data, c * size, size));
  return out;
}

/** Per-cell limits of signed displays (absQuantile of each map), index n * M + m. */
export function cellLimits(data: ArrayLike<number>, methods: number, images: number, size: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < methods * images; c++) out.push(absQuantile(data, c * size, size));
  return out;
}

/**
 * The display (range and signedness) of every cell, index n * M + m, from the per-cell
 * data ranges (cellRanges) and signed limits (cellLimits; without them a signed cell's
 * limit is its pooled range's largest magnitude).
 */
export function gridDisplays(
  ranges: readonly Range[],
  methods: number,
  images: number,
  shared: SharedScale,
  scale: Scale,
  limits?: readonly number[],
): Display[] {
  if (ranges.length !== methods * images || (limits !== undefined && limits.length !== ranges.length)) {
    throw new RangeError(`gridDisplays: expected ${methods * images} ranges and limits; got ${ranges.length}`);
  }
  const lim = (i: number): number => (limits === undefined ? 0 : limits[i]);
  const rowRanges: Range[] = [];
  const rowLimits: number[] = [];
  const rowSigned: boolean[] = [];
  for (let n = 0; n < methods; n++) {
    const cells = Array.from({ length: images }, (_, m) => n * images + m);
    const row = unionRange(cells.map((i) => ranges[i]));
    rowRanges.push(row);
    rowLimits.push(Math.max(0, ...cells.map(lim)));
    rowSigned.push(isSignedDisplay(scale, row));
  }
  const global = unionRange(rowRanges);
  const globalLimit = Math.max(0, ...rowLimits);
  const out: Display[] = [];
  for (let n = 0; n < methods; n++) {
    for (let m = 0; m < images; m++) {
      const i = n * images + m;
      const pooled = shared === "cell" ? ranges[i] : shared === "method" ? rowRanges[n] : global;
      const limit = shared === "cell" ? lim(i) : shared === "method" ? rowLimits[n] : globalLimit;
      const signed = rowSigned[n];
      out.push({ range: signed ? symmetricRange(pooled, limit) : pooled, signed });
    }
  }
  return out;
}
