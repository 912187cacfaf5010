import { describe, expect, it } from "vitest";
import {
  VIEWS,
  captionText,
  checkSameShape,
  isView,
  mapIndex,
  nextBlock,
  playStart,
  readFlowMaps,
  readView,
  readoutText,
  valueAt,
} from "../attention_flow_viewer";
import { f32, half } from "./payloads";

describe("readFlowMaps", () => {
  it("decodes [R, L, h, w] float16 maps at an odd byte offset", () => {
    // 2 rows x 3 blocks x 1 x 2 cells
    const values = [0, 0.25, 0.5, 0.75, 1, 2, 3, 0, 0.25, 0.5, 0.75, 1];
    const maps = readFlowMaps({ data: half(values), dtype: "float16", shape: [2, 3, 1, 2] }, "flow");
    expect([maps.rows, maps.blocks, maps.height, maps.width]).toEqual([2, 3, 1, 2]);
    expect(Array.from(maps.data)).toEqual(values);
  });

  it("decodes float32 maps", () => {
    const maps = readFlowMaps({ data: f32([0.1, 0.2, 0.3, 0.4]), dtype: "float32", shape: [1, 2, 2, 1] }, "block_maps");
    expect(maps.data[3]).toBeCloseTo(0.4, 6);
    expect(maps.blocks).toBe(2);
  });

  it("names the trait when the shape is not four-dimensional or the bytes do not fit", () => {
    expect(() => readFlowMaps({ data: half([0, 1]), dtype: "float16", shape: [1, 2] }, "flow")).toThrow(
      "flow: expected shape [R, L, h, w]; got [1, 2]",
    );
    expect(() => readFlowMaps({ data: half([0, 1]), dtype: "float16", shape: [1, 1, 1, 3] }, "flow")).toThrow(/needs 6 bytes; got 4/);
  });
});

describe("checkSameShape", () => {
  const ref = readFlowMaps({ data: half([0, 1, 0.5, 0.25]), dtype: "float16", shape: [1, 2, 1, 2] }, "block_maps");
  it("accepts the same shape and rejects another, naming the trait", () => {
    expect(() => checkSameShape(ref, ref, "flow")).not.toThrow();
    const other = readFlowMaps({ data: half([0, 1, 0.5, 0.25]), dtype: "float16", shape: [1, 1, 2, 2] }, "accumulated");
    expect(() => checkSameShape(ref, other, "accumulated")).toThrow(
      "accumulated: expected the shape of block_maps [1, 2, 1, 2]; got [1, 1, 2, 2]",
    );
  });
});

describe("map indexing", () => {
  it("finds map (row, block) and a cell in it", () => {
    // 2 rows x 3 blocks of 1 x 2 maps: value = 10 * row + block + cell / 10
    const values: number[] = [];
    for (let r = 0; r < 2; r++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) values.push(10 * r + b + c / 10);
    const maps = readFlowMaps({ data: f32(values), dtype: "float32", shape: [2, 3, 1, 2] }, "flow");
    expect(mapIndex(1, 2, 3)).toBe(5);
    expect(valueAt(maps, 1, 2, 1)).toBeCloseTo(12.1, 5);
    expect(valueAt(maps, 0, 1, 0)).toBeCloseTo(1, 6);
  });
});

describe("views, captions and read-out", () => {
  it("knows the two views and falls back to accumulated", () => {
    expect(VIEWS).toEqual(["accumulated", "block"]);
    expect(isView("block")).toBe(true);
    expect(isView("sum")).toBe(false);
    expect(readView("block")).toBe("block");
    expect(readView(undefined)).toBe("accumulated");
    expect(readView(3)).toBe("accumulated");
  });

  it("counts blocks from 1 in captions", () => {
    expect(captionText("accumulated", 0, 6)).toBe("Accumulated flow, block 1 of 6");
    expect(captionText("accumulated", 3, 6)).toBe("Accumulated flow, blocks 1\u20134 of 6");
    expect(captionText("block", 3, 6)).toBe("Block 4 of 6");
    expect(captionText("block", 0, 0)).toBe("No blocks");
  });

  it("puts the value drawn first in the read-out", () => {
    const values = { flow: 0.8125, sum: 2.5, own: 0.25 };
    expect(readoutText("accumulated", 2, values, 4, 1)).toBe(
      "flow 0.8125 (sum of blocks 1\u20133: 2.5) \u00b7 block 3 map 0.25 at (x 4, y 1)",
    );
    expect(readoutText("block", 0, values, 0, 0)).toBe("block 1 map 0.25 \u00b7 flow 0.8125 (sum of block 1: 2.5) at (x 0, y 0)");
  });
});

describe("playing", () => {
  it("steps to the last block and stops; restarts from the first at the end", () => {
    expect(nextBlock(0, 3)).toBe(1);
    expect(nextBlock(1, 3)).toBe(2);
    expect(nextBlock(2, 3)).toBeNull();
    expect(playStart(2, 3)).toBe(0);
    expect(playStart(1, 3)).toBe(1);
    const seen = [playStart(2, 3)];
    for (let b = nextBlock(seen[0], 3); b !== null; b = nextBlock(b, 3)) seen.push(b);
    expect(seen).toEqual([0, 1, 2]);
  });
});
