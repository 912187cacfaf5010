import { describe, expect, it } from "vitest";
import { cellAt, cellAtRelative, crosshairAt, relativeIn } from "../lib/pointer";
import { navigateGrid, readGridCell } from "../lib/selection";

const rect = { left: 10, top: 20, width: 200, height: 100 };

describe("relative positions", () => {
  it("maps a client position into [0, 1] x [0, 1] of a box", () => {
    expect(relativeIn(10, 20, rect)).toEqual({ fx: 0, fy: 0 });
    expect(relativeIn(110, 70, rect)).toEqual({ fx: 0.5, fy: 0.5 });
    expect(relativeIn(210, 120, rect)).toEqual({ fx: 1, fy: 1 });
    expect(relativeIn(9, 50, rect)).toBeNull();
    expect(relativeIn(50, 50, { ...rect, height: 0 })).toBeNull();
  });

  it("finds the map cell like cellAt does", () => {
    for (const [x, y] of [[10, 20], [57.3, 88.8], [209.99, 119.99], [210, 120]]) {
      const p = relativeIn(x, y, rect);
      expect(p).not.toBeNull();
      expect(cellAtRelative(p!, 7, 9)).toEqual(cellAt(x, y, rect, 7, 9));
    }
    expect(cellAtRelative({ fx: 1.2, fy: 0 }, 7, 9)).toBeNull();
    expect(cellAtRelative({ fx: 0.5, fy: 0.5 }, 0, 9)).toBeNull();
  });
});

describe("crosshairAt", () => {
  it("marks the centre of the hovered map cell, on a half pixel", () => {
    // 4 x 4 map over 160 x 160: cell (1, 2) spans x 80..120, y 40..80
    expect(crosshairAt({ fx: 0.55, fy: 0.3 }, 160, 160, 4, 4)).toEqual({ x: 100.5, y: 60.5 });
  });

  it("marks the same map cell in boxes of any size (the grid's synchronised hover)", () => {
    const p = relativeIn(10 + 0.37 * 200, 20 + 0.81 * 100, rect)!;
    const rows = 224;
    const cols = 224;
    const cell = cellAtRelative(p, rows, cols)!;
    for (const [w, hgt] of [[160, 160], [96, 96], [320, 240], [57, 113]]) {
      const at = crosshairAt(p, w, hgt, rows, cols)!;
      // inside the box, within a pixel of the same relative position: the centre of the cell
      expect(at.x).toBeGreaterThan(0);
      expect(at.x).toBeLessThan(w);
      expect(at.y).toBeLessThan(hgt);
      expect(Math.abs(at.x / w - (cell.col + 0.5) / cols)).toBeLessThan(1 / w + 1e-9);
      expect(Math.abs(at.y / hgt - (cell.row + 0.5) / rows)).toBeLessThan(1 / hgt + 1e-9);
    }
  });

  it("reads back the same map cell where a box has a pixel per cell or more", () => {
    const rows = 7;
    const cols = 9;
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const p = { fx: (col + 0.3) / cols, fy: (row + 0.6) / rows };
        for (const [w, hgt] of [[160, 160], [45, 21], [320, 240]]) {
          const at = crosshairAt(p, w, hgt, rows, cols)!;
          expect(cellAt(at.x, at.y, { left: 0, top: 0, width: w, height: hgt }, rows, cols)).toEqual({ row, col, index: row * cols + col });
        }
      }
    }
  });

  it("stays inside the box at the far edge and refuses empty input", () => {
    expect(crosshairAt({ fx: 1, fy: 1 }, 10, 10, 1, 1)).toEqual({ x: 5.5, y: 5.5 });
    expect(crosshairAt({ fx: 1, fy: 1 }, 3, 3, 2, 2)).toEqual({ x: 2.5, y: 2.5 });
    expect(crosshairAt({ fx: 0.5, fy: 0.5 }, 0, 10, 4, 4)).toBeNull();
    expect(crosshairAt({ fx: 2, fy: 0.5 }, 10, 10, 4, 4)).toBeNull();
  });
});

describe("grid cells", () => {
  it("reads [row, col] or nothing", () => {
    expect(readGridCell([1, 2], 3, 4)).toEqual([1, 2]);
    expect(readGridCell([], 3, 4)).toBeNull();
    expect(readGridCell([3, 0], 3, 4)).toBeNull();
    expect(readGridCell([0, -1], 3, 4)).toBeNull();
    expect(readGridCell([0.5, 1], 3, 4)).toBeNull();
    expect(readGridCell("1,2", 3, 4)).toBeNull();
  });

  it("moves the focus with arrows (stopping at the edges), Home and End", () => {
    expect(navigateGrid([1, 1], "ArrowRight", 3, 4)).toEqual([1, 2]);
    expect(navigateGrid([1, 3], "ArrowRight", 3, 4)).toEqual([1, 3]);
    expect(navigateGrid([0, 1], "ArrowUp", 3, 4)).toEqual([0, 1]);
    expect(navigateGrid([0, 1], "ArrowDown", 3, 4)).toEqual([1, 1]);
    expect(navigateGrid([2, 0], "ArrowLeft", 3, 4)).toEqual([2, 0]);
    expect(navigateGrid([2, 2], "Home", 3, 4)).toEqual([2, 0]);
    expect(navigateGrid([2, 0], "End", 3, 4)).toEqual([2, 3]);
    expect(navigateGrid([2, 0], "a", 3, 4)).toBeNull();
    expect(navigateGrid([0, 0], "ArrowDown", 0, 4)).toBeNull();
  });
});
