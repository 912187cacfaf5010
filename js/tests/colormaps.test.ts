import { describe, expect, it } from "vitest";
import { COLORMAP_NAMES, DEFAULT_COLORMAP, colormapColor, colormapGradient, getColormap, isColormap } from "../lib/colormaps";

function rgb(lut: Uint8Array, i: number): number[] {
  return Array.from(lut.slice(i * 4, i * 4 + 4));
}

describe("colour maps", () => {
  it("has the colour-blind-safe default and at least viridis, magma, cividis, gray", () => {
    expect(DEFAULT_COLORMAP).toBe("viridis");
    for (const name of ["viridis", "magma", "cividis", "gray"]) expect(COLORMAP_NAMES).toContain(name);
  });

  it.each(COLORMAP_NAMES.map((n) => [n]))("%s is a 256-entry opaque RGBA table", (name) => {
    const lut = getColormap(name);
    expect(lut.length).toBe(256 * 4);
    for (let i = 0; i < 256; i++) expect(lut[i * 4 + 3]).toBe(255);
  });

  it("matches matplotlib at the ends and the middle", () => {
    expect(rgb(getColormap("viridis"), 0)).toEqual([68, 1, 84, 255]);
    expect(rgb(getColormap("viridis"), 128)).toEqual([33, 145, 140, 255]);
    expect(rgb(getColormap("viridis"), 255)).toEqual([253, 231, 37, 255]);
    expect(rgb(getColormap("magma"), 255)).toEqual([252, 253, 191, 255]);
    expect(rgb(getColormap("cividis"), 0)).toEqual([0, 34, 78, 255]);
    expect(rgb(getColormap("gray"), 77)).toEqual([77, 77, 77, 255]);
  });

  it("sequential maps get brighter from 0 to 255", () => {
    for (const name of COLORMAP_NAMES) {
      const lut = getColormap(name);
      const lum = (i: number) => 0.2126 * lut[i * 4] + 0.7152 * lut[i * 4 + 1] + 0.0722 * lut[i * 4 + 2];
      expect(lum(255)).toBeGreaterThan(lum(128));
      expect(lum(128)).toBeGreaterThan(lum(0));
    }
  });

  it("falls back to the default for unknown names", () => {
    expect(isColormap("jet")).toBe(false);
    expect(isColormap(3)).toBe(false);
    expect(getColormap("jet")).toBe(getColormap("viridis"));
  });

  it("builds CSS colours and gradients", () => {
    expect(colormapColor("gray", 300)).toBe("rgb(255, 255, 255)");
    const g = colormapGradient("viridis", 3);
    expect(g).toBe("linear-gradient(to right, rgb(68, 1, 84) 0.00%, rgb(33, 145, 140) 50.00%, rgb(253, 231, 37) 100.00%)");
  });
});
