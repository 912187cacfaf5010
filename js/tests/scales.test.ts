import { describe, expect, it } from "vitest";
import { SHARED_SCALES, cellLimits, cellRanges, gridDisplays, isSharedScale } from "../lib/scales";

// 2 methods x 3 images of 2-pixel maps, laid out [N, M, H * W].
// Row 0 (a CAM): non-negative, different peaks per image. Row 1 (a gradient): signed.
const data = new Float32Array([
  0, 1, /**/ 0, 4, /**/ 1, 2,
  -1, 2, /**/ -3, 0.5, /**/ 0.25, -0.5,
]);

describe("cellRanges and cellLimits", () => {
  it("give each map's own range and |value| quantile", () => {
    expect(cellRanges(data, 2, 3, 2)).toEqual([
      { min: 0, max: 1 }, { min: 0, max: 4 }, { min: 1, max: 2 },
      { min: -1, max: 2 }, { min: -3, max: 0.5 }, { min: -0.5, max: 0.25 },
    ]);
    expect(cellLimits(data, 2, 3, 2)).toEqual([1, 4, 2, 2, 3, 0.5]);
  });
});

describe("gridDisplays", () => {
  const ranges = cellRanges(data, 2, 3, 2);
  const limits = cellLimits(data, 2, 3, 2);

  it("per cell: each map its own range; signed rows symmetric about 0", () => {
    const d = gridDisplays(ranges, 2, 3, "cell", "auto", limits);
    expect(d.map((x) => x.signed)).toEqual([false, false, false, true, true, true]);
    expect(d[1].range).toEqual({ min: 0, max: 4 });
    expect(d[3].range).toEqual({ min: -2, max: 2 });
    expect(d[4].range).toEqual({ min: -3, max: 3 });
    expect(d[5].range).toEqual({ min: -0.5, max: 0.5 });
  });

  it("per method: one range per row across its images", () => {
    const d = gridDisplays(ranges, 2, 3, "method", "auto", limits);
    for (let m = 0; m < 3; m++) {
      expect(d[m].range).toEqual({ min: 0, max: 4 });
      expect(d[3 + m].range).toEqual({ min: -3, max: 3 });
    }
  });

  it("global: one range for every map (symmetric where the row is signed)", () => {
    const d = gridDisplays(ranges, 2, 3, "global", "auto", limits);
    for (let m = 0; m < 3; m++) {
      expect(d[m].range).toEqual({ min: -3, max: 4 });
      expect(d[3 + m].range).toEqual({ min: -4, max: 4 });
    }
  });

  it("forces the scale when asked", () => {
    const signed = gridDisplays(ranges, 2, 3, "cell", "signed", limits);
    expect(signed.every((x) => x.signed)).toBe(true);
    expect(signed[0].range).toEqual({ min: -1, max: 1 });
    const minmax = gridDisplays(ranges, 2, 3, "cell", "minmax", limits);
    expect(minmax.some((x) => x.signed)).toBe(false);
    expect(minmax[4].range).toEqual({ min: -3, max: 0.5 });
  });

  it("uses the largest magnitude when no limits are given", () => {
    const d = gridDisplays(ranges, 2, 3, "cell", "auto");
    expect(d[3].range).toEqual({ min: -2, max: 2 });
  });

  it("checks the number of ranges", () => {
    expect(() => gridDisplays(ranges.slice(1), 2, 3, "cell", "auto")).toThrow(/expected 6 ranges/);
  });

  it("knows its choices", () => {
    expect(SHARED_SCALES).toEqual(["cell", "method", "global"]);
    expect(isSharedScale("method")).toBe(true);
    expect(isSharedScale("row")).toBe(false);
  });
});
