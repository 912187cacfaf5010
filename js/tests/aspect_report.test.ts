import { describe, expect, it } from "vitest";
import { cellShade, cellTitle, maskToRgba, readCell, readReport, share } from "../aspect_report";

function state(overrides: Record<string, unknown> = {}) {
  return {
    classes: [{ name: "two_wheeler", images: 4 }, { name: "<b>red</b>_lamp", images: 2 }],
    aspects: ["wheel", "corner_tag"],
    counts: [[4, 0], [0, 2]],
    present_counts: [[4, 1], [0, 2]],
    cells: [[[[0, 0], [1, 1]], []], [[], [[2, 2]]]],
    outliers: [{ image: 1, class: 0, aspects: ["wheel"], rarity: 0.75, unusual: [["tag", true, 0], ["door", false, 0.1]] },
      { image: 9, class: 0 }],
    images: [{}, {}, {}],
    masks_rows: 3,
    ...overrides,
  };
}

describe("readReport", () => {
  it("decodes the widget state", () => {
    const data = readReport(state());
    expect(data.classes.map((c) => c.name)).toEqual(["two_wheeler", "<b>red</b>_lamp"]);
    expect(data.counts).toEqual([[4, 0], [0, 2]]);
    expect(data.present).toEqual([[4, 1], [0, 2]]);
    expect(data.cells[0][0]).toEqual([[0, 0], [1, 1]]);
    // an outlier pointing outside the images is dropped
    expect(data.outliers).toEqual([{ image: 1, cls: 0, aspects: ["wheel"], rarity: 0.75, unusual: ["+tag", "\u2212door"] }]);
  });

  it("takes an empty present_counts as no plain presence", () => {
    expect(readReport(state({ present_counts: [] })).present).toBeNull();
  });

  it("rejects malformed state with what was wrong", () => {
    expect(() => readReport(state({ classes: {} }))).toThrow("classes: expected a list");
    expect(() => readReport(state({ counts: [[1, 2]] }))).toThrow("counts: expected 2 rows");
    expect(() => readReport(state({ counts: [[1], [2]] }))).toThrow("counts[0]: expected 2 counts");
    expect(() => readReport(state({ cells: [[[[5, 0]], []], [[], []]] }))).toThrow("cells[0][0][0]: expected [image in [0, 3)");
    expect(() => readReport(state({ cells: [[[[0, 7]], []], [[], []]] }))).toThrow("mask in [-1, 3)");
  });
});

describe("cells", () => {
  it("reads a selected cell only when it exists", () => {
    expect(readCell([1, 1], 2, 2)).toEqual([1, 1]);
    expect(readCell([2, 0], 2, 2)).toBeNull();
    expect(readCell([], 2, 2)).toBeNull();
    expect(readCell([0.5, 1], 2, 2)).toBeNull();
    expect(readCell("0,1", 2, 2)).toBeNull();
  });

  it("gives shares and tooltips", () => {
    expect(share(3, 4)).toBe(0.75);
    expect(share(3, 0)).toBe(0);
    const data = readReport(state());
    expect(cellTitle(data, 0, 0)).toBe("wheel relevant in 4 of 4 two_wheeler images (100%); present in 4");
    expect(cellTitle(data, 0, 1)).toBe("corner_tag relevant in 0 of 4 two_wheeler images (0%); present in 1");
    expect(cellShade(0.5)).toContain("35%");
    expect(cellShade(2)).toContain("70%");
  });

  it("tints masks with alpha from the mask", () => {
    const rgba = maskToRgba(new Uint8Array([0, 255, 100]), [10, 20, 30], 0.5);
    expect(Array.from(rgba)).toEqual([10, 20, 30, 0, 10, 20, 30, 128, 10, 20, 30, 50]);
  });
});
