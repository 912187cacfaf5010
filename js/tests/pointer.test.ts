import { describe, expect, it } from "vitest";
import { cellAt, cellCentre } from "../lib/pointer";

const rect = { left: 10, top: 20, width: 320, height: 160 };

describe("cellAt", () => {
  it("maps a CSS position to the map cell, whatever the canvas pixel size", () => {
    expect(cellAt(10, 20, rect, 4, 8)).toEqual({ row: 0, col: 0, index: 0 });
    expect(cellAt(10 + 39.9, 20 + 39.9, rect, 4, 8)).toEqual({ row: 0, col: 0, index: 0 });
    expect(cellAt(10 + 40, 20 + 40, rect, 4, 8)).toEqual({ row: 1, col: 1, index: 9 });
  });

  it("keeps the far edges inside the map", () => {
    expect(cellAt(330, 180, rect, 4, 8)).toEqual({ row: 3, col: 7, index: 31 });
  });

  it("returns null outside the rect, for empty maps and zero-size rects", () => {
    expect(cellAt(9, 30, rect, 4, 8)).toBeNull();
    expect(cellAt(50, 181, rect, 4, 8)).toBeNull();
    expect(cellAt(50, 50, rect, 0, 8)).toBeNull();
    expect(cellAt(50, 50, { ...rect, width: 0 }, 4, 8)).toBeNull();
    expect(cellAt(NaN, 50, rect, 4, 8)).toBeNull();
  });

  it("is the inverse of cellCentre for every cell", () => {
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        const p = cellCentre(row, col, rect, 7, 5);
        expect(cellAt(p.x, p.y, rect, 7, 5)).toEqual({ row, col, index: row * 5 + col });
      }
    }
  });
});
