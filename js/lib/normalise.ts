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
 * through `lut` (256 x RGBA). Non-finite values get alpha 0. With `fadeCentre` (signed
 * displays) the alpha grows with the distance from the middle of the range (0 for a
 * symmetric range; see centreAlpha): 0 is transparent, +-max opaque, so a sparse signed
 * map shows its strong values over the image instead of veiling it in the middle colour.
 */
export function colourise(
  data: ArrayLike<number>,
  start: number,
  length: number,
  range: Range,
  lut: Uint8Array,
  out: Uint8ClampedArray | Uint8Array,
  fadeCentre = false,
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
      out[o + 3] = fadeCentre ? centreAlpha(k) : 255;
    }
  }
}

/**
 * Alpha of level `k` (0..255) when fading the centre: sqrt(|k - 127.5| / 127.5), as 0..255.
 * The square root keeps a value at a quarter of the peak half opaque: signed attribution
 * maps are sparse, and a linear ramp would hide all but their few strongest pixels.
 */
export function centreAlpha(k: number): number {
  return Math.round(Math.sqrt(Math.abs(k - 127.5) / 127.5) * 255);
}

// --- signed display ------------------------------------------------------------------------
//
// `scale` chooses how values become colours: "minmax" stretches [min, max] over a sequential
// colour map (the default above); "signed" uses a diverging map centred on 0 with symmetric
// limits [-a, a], so that 0 is always the neutral middle colour and equal magnitudes of
// either sign get equally strong colours; "auto" is "signed" for maps with both signs and
// "minmax" otherwise. The limit a is the 99th percentile of |value| (SIGNED_QUANTILE), as
// in SmoothGrad's figures (Smilkov et al. 2017): signed attributions (gradient x input,
// integrated gradients) are heavy-tailed, and at a = max|value| one outlier pixel would
// leave the rest of the map invisible. Stronger values saturate; read-outs stay exact.

export const SCALES = ["auto", "minmax", "signed"] as const;

export type Scale = (typeof SCALES)[number];

export function isScale(value: unknown): value is Scale {
  return typeof value === "string" && (SCALES as readonly string[]).includes(value);
}

/**
 * A map "has both signs" when its negative and its positive parts each reach at least
 * `tolerance` of its largest magnitude: round-off below zero in a ReLU'd CAM does not count.
 */
export const SIGN_TOLERANCE = 0.01;

export function hasBothSigns(range: Range, tolerance = SIGN_TOLERANCE): boolean {
  const peak = Math.max(Math.abs(range.min), Math.abs(range.max));
  if (!(peak > 0)) return false;
  return -range.min >= tolerance * peak && range.max >= tolerance * peak;
}

/** The quantile of |value| that sets the limits of a signed display. */
export const SIGNED_QUANTILE = 0.99;

/**
 * The `q` quantile (nearest rank) of |data[start, start + length)| over its finite values;
 * 0 when there are none.
 */
export function absQuantile(data: ArrayLike<number>, start = 0, length = data.length - start, q = SIGNED_QUANTILE): number {
  const values = new Float32Array(length);
  let n = 0;
  for (let i = start, end = start + length; i < end; i++) {
    const v = data[i];
    if (Number.isFinite(v)) values[n++] = Math.abs(v);
  }
  if (n === 0) return 0;
  const sorted = values.subarray(0, n).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[rank];
}

/** The largest magnitude in a range. */
export function peakOf(range: Range): number {
  return Math.max(Math.abs(range.min), Math.abs(range.max));
}

/** [-a, a]: limits centred on 0, a = `limit` when positive, else the range's largest magnitude. */
export function symmetricRange(range: Range, limit?: number): Range {
  const a = limit !== undefined && limit > 0 ? limit : peakOf(range);
  return { min: -a, max: a };
}

/** The union of ranges; {0, 0} for an empty list. */
export function unionRange(ranges: Iterable<Range>): Range {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const r of ranges) {
    if (r.min < min) min = r.min;
    if (r.max > max) max = r.max;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** Whether a map with data range `range` is drawn signed under `scale`. */
export function isSignedDisplay(scale: Scale, range: Range): boolean {
  return scale === "signed" || (scale === "auto" && hasBothSigns(range));
}

export interface Display {
  /** the value range stretched over the colour map */
  range: Range;
  /** drawn with the diverging map, centred on 0 */
  signed: boolean;
}

/**
 * How a map with data range `range` is displayed under `scale`; `limit` (see absQuantile)
 * sets the symmetric limits of a signed display (the range's largest magnitude if absent).
 */
export function displayFor(scale: Scale, range: Range, limit?: number): Display {
  const signed = isSignedDisplay(scale, range);
  return { range: signed ? symmetricRange(range, limit) : range, signed };
}
