import { describe, expect, it } from "vitest";
import { getColormap } from "../lib/colormaps";
import { colourise, level, mapRange } from "../lib/normalise";

describe("mapRange", () => {
  it("finds min and max of a slice, skipping non-finite values", () => {
    const data = new Float32Array([100, -2, NaN, 5, Infinity, 3, -100]);
    expect(mapRange(data, 1, 5)).toEqual({ min: -2, max: 5 });
    expect(mapRange(data)).toEqual({ min: -100, max: 100 });
  });

  it("gives {0, 0} when nothing is finite or the slice is empty", () => {
    expect(mapRange(new Float32Array([NaN, NaN]))).toEqual({ min: 0, max: 0 });
    expect(mapRange(new Float32Array([1, 2]), 1, 0)).toEqual({ min: 0, max: 0 });
  });
});

describe("level", () => {
  const r = { min: -1, max: 1 };
  it("maps the range onto 0..255 and clamps", () => {
    expect(level(-1, r)).toBe(0);
    expect(level(1, r)).toBe(255);
    expect(level(0, r)).toBe(128);
    expect(level(5, r)).toBe(255);
    expect(level(-5, r)).toBe(0);
  });

  it("gives 0 for a flat range and -1 for non-finite values", () => {
    expect(level(3, { min: 3, max: 3 })).toBe(0);
    expect(level(NaN, r)).toBe(-1);
    expect(level(Infinity, r)).toBe(-1);
  });
});

describe("colourise", () => {
  it("writes RGBA through the table, transparent for NaN", () => {
    const lut = getColormap("gray");
    const out = new Uint8ClampedArray(3 * 4);
    colourise(new Float32Array([9, 0, NaN, 10]), 1, 3, { min: 0, max: 10 }, lut, out);
    expect(Array.from(out)).toEqual([0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  });

  it("refuses an output buffer that is too small", () => {
    expect(() => colourise([1, 2], 0, 2, { min: 0, max: 1 }, getColormap("gray"), new Uint8Array(4))).toThrow(/need 2/);
  });
});
