// Map normalisation: raw saliency values -> colour-map levels 0..255 -> RGBA pixels.
//
// Each class's map is scaled to its own [min, max] for display (the read-out and the
// colour bar show the raw values). Non-finite values (NaN, +-Inf) are skipped when the
// range is computed and drawn transparent.

export interface Range {
  min: number;
  max: number;
}

/** [min, max] of the finite values of `data[start, start + length)`; {0, 0} if there are none. */
export function mapRange(data: ArrayLike<number>, start = 0, length = data.length - start): Range {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = start, end = start + length; i < end; i++) {
    const v = data[i];
    if (v < min && Number.isFinite(v)) min = v;
    if (v > max && Number.isFinite(v)) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** The colour-map level (0..255) of `value` in `range`; a flat range gives 0; NaN gives -1. */
export function level(value: number, range: Range): number {
  if (!Number.isFinite(value)) return -1;
  const span = range.max - range.min;
  if (!(span > 0)) return 0;
  const t = (value - range.min) / span;
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
}

/**
 * Colourise `length` values of `data` from `start` into `out` (RGBA, 4 * length bytes),
 * through `lut` (256 x RGBA). Non-finite values get alpha 0.
 */
export function colourise(
  data: ArrayLike<number>,
  start: number,
  length: number,
  range: Range,
  lut: Uint8Array,
  out: Uint8ClampedArray | Uint8Array,
): void {
  if (out.length < length * 4) throw new RangeError(`colourise: output holds ${out.length / 4} pixels; need ${length}`);
  for (let i = 0; i < length; i++) {
    const k = level(data[start + i], range);
    const o = i * 4;
    if (k < 0) {
      out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
    } else {
      const l = k * 4;
      out[o] = lut[l];
      out[o + 1] = lut[l + 1];
      out[o + 2] = lut[l + 2];
      out[o + 3] = 255;
    }
  }
}
