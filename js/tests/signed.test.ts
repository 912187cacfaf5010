import { describe, expect, it } from "vitest";
import { DIVERGING_COLORMAP, getColormap } from "../lib/colormaps";
import {
  SCALES,
  absQuantile,
  centreAlpha,
  colourise,
  displayFor,
  hasBothSigns,
  isScale,
  isSignedDisplay,
  level,
  symmetricRange,
  unionRange,
} from "../lib/normalise";

function rgb(lut: Uint8Array, i: number): number[] {
  return Array.from(lut.slice(i * 4, i * 4 + 3));
}

const lum = (c: number[]) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];

describe("diverging colour map", () => {
  const lut = getColormap(DIVERGING_COLORMAP);

  it("is matplotlib's RdBu_r: blue, near-white middle, red", () => {
    expect(DIVERGING_COLORMAP).toBe("RdBu_r");
    expect(rgb(lut, 0)).toEqual([5, 48, 97]);
    expect(rgb(lut, 128)).toEqual([247, 246, 246]);
    expect(rgb(lut, 255)).toEqual([103, 0, 31]);
    for (let i = 0; i < 256; i++) expect(lut[i * 4 + 3]).toBe(255);
    expect(getColormap("RdBu_r")).not.toBe(getColormap("viridis"));
  });

  it("is brightest in the middle and darkens towards both ends", () => {
    const l = (i: number) => lum(rgb(lut, i));
    expect(l(128)).toBeGreaterThan(230);
    for (let i = 128; i < 255; i += 16) expect(l(i + 16 > 255 ? 255 : i + 16)).toBeLessThan(l(i));
    for (let i = 127; i > 0; i -= 16) expect(l(Math.max(0, i - 16))).toBeLessThan(l(i));
  });

  it("is blue for negatives and red for positives", () => {
    const [r0, , b0] = rgb(lut, 40);
    const [r1, , b1] = rgb(lut, 215);
    expect(b0).toBeGreaterThan(r0);
    expect(r1).toBeGreaterThan(b1);
  });
});

describe("signed display", () => {
  it("knows its scales", () => {
    expect(SCALES).toEqual(["auto", "minmax", "signed"]);
    expect(isScale("signed")).toBe(true);
    expect(isScale("log")).toBe(false);
  });

  it("detects both signs, ignoring round-off below zero", () => {
    expect(hasBothSigns({ min: -0.5, max: 2.5 })).toBe(true);
    expect(hasBothSigns({ min: 0, max: 1 })).toBe(false);
    expect(hasBothSigns({ min: -1e-6, max: 1 })).toBe(false);
    expect(hasBothSigns({ min: -2, max: -1 })).toBe(false);
    expect(hasBothSigns({ min: 0, max: 0 })).toBe(false);
  });

  it("centres the limits on 0", () => {
    expect(symmetricRange({ min: -0.5, max: 2 })).toEqual({ min: -2, max: 2 });
    expect(symmetricRange({ min: -3, max: 2 })).toEqual({ min: -3, max: 3 });
    expect(symmetricRange({ min: -3, max: 2 }, 1.5)).toEqual({ min: -1.5, max: 1.5 });
    expect(symmetricRange({ min: -3, max: 2 }, 0)).toEqual({ min: -3, max: 3 });
    // 0 lands in the middle of the colour map
    expect(level(0, symmetricRange({ min: -0.5, max: 2 }))).toBe(128);
  });

  it("chooses the display by scale", () => {
    const signedMap = { min: -1, max: 3 };
    const cam = { min: 0, max: 3 };
    expect(isSignedDisplay("auto", signedMap)).toBe(true);
    expect(isSignedDisplay("auto", cam)).toBe(false);
    expect(isSignedDisplay("signed", cam)).toBe(true);
    expect(isSignedDisplay("minmax", signedMap)).toBe(false);
    expect(displayFor("auto", signedMap, 2)).toEqual({ range: { min: -2, max: 2 }, signed: true });
    expect(displayFor("auto", cam, 2)).toEqual({ range: cam, signed: false });
    expect(displayFor("signed", cam)).toEqual({ range: { min: -3, max: 3 }, signed: true });
  });

  it("takes the |value| quantile over finite values (nearest rank)", () => {
    const data = new Float32Array(200);
    for (let i = 0; i < 200; i++) data[i] = (i % 2 ? -1 : 1) * (i + 1);
    data[7] = NaN;
    // 199 finite values |1..200| without 8: the 99th percentile is the 198th smallest
    expect(absQuantile(data)).toBe(199);
    expect(absQuantile(data, 0, 200, 0.5)).toBe(101);
    expect(absQuantile(data, 10, 1, 0.99)).toBe(11);
    expect(absQuantile(new Float32Array([NaN]))).toBe(0);
  });

  it("unions ranges", () => {
    expect(unionRange([{ min: 0, max: 1 }, { min: -2, max: 0.5 }])).toEqual({ min: -2, max: 1 });
    expect(unionRange([])).toEqual({ min: 0, max: 0 });
  });

  it("fades the centre of a signed display to transparent", () => {
    expect(centreAlpha(0)).toBe(255);
    expect(centreAlpha(255)).toBe(255);
    expect(centreAlpha(128)).toBeLessThan(25);
    expect(centreAlpha(192)).toBeGreaterThan(170); // a quarter of the peak is well visible
    const out = new Uint8ClampedArray(4 * 3);
    colourise(new Float32Array([-1, 0, 1]), 0, 3, { min: -1, max: 1 }, getColormap(DIVERGING_COLORMAP), out, true);
    expect([out[3], out[7], out[11]]).toEqual([255, centreAlpha(128), 255]);
    // without fading every finite value is opaque
    colourise(new Float32Array([-1, 0, 1]), 0, 3, { min: -1, max: 1 }, getColormap(DIVERGING_COLORMAP), out);
    expect([out[3], out[7], out[11]]).toEqual([255, 255, 255]);
  });
});
