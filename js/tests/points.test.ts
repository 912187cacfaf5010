import { describe, expect, it } from "vitest";

import { describePath, markerText, pathOf, readPoints, toCanvas } from "../lib/points";

/** A float32 `{data, dtype, shape}` payload at an odd byte offset, as Jupyter may deliver it. */
function payload(values: number[], shape: number[]) {
  const bytes = new Uint8Array(values.length * 4 + 3);
  const view = new DataView(bytes.buffer, 3, values.length * 4);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { data: view, dtype: "float32", shape };
}

describe("points: a numbered path over the image", () => {
  it("reads no points from {} or a missing trait, and a [R, N, 2] payload otherwise", () => {
    expect(readPoints({})).toBeNull();
    expect(readPoints(undefined)).toBeNull();
    expect(readPoints(payload([], [2, 0, 2]))).toBeNull();
    const points = readPoints(payload([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]));
    expect(points).not.toBeNull();
    expect(points!.rows).toBe(2);
    expect(points!.count).toBe(2);
    expect(Array.from(points!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("rejects payloads that are not [R, N, 2] positions", () => {
    expect(() => readPoints(payload([1, 2, 3], [1, 3]))).toThrow(/points: expected shape \[R, N, 2\]; got \[1, 3\]/);
    expect(() => readPoints(payload([1, 2, 3, 4, 5, 6], [1, 2, 3]))).toThrow(/\[R, N, 2\]/);
    expect(() => readPoints("fixations")).toThrow(/points: expected/);
    expect(() => readPoints({ data: new Uint8Array(2), dtype: "uint8", shape: [1, 1, 2] })).toThrow(/uint8/);
  });

  it("takes a row's finite points in order, numbered by their place in the sequence", () => {
    const points = readPoints(payload([10, 20, Number.NaN, Number.NaN, 30, 40, 0, 0, 0, 0, 0, 0], [2, 3, 2]));
    const path = pathOf(points, 0);
    expect(path.vertices).toEqual([{ x: 10, y: 20, number: 1 }, { x: 30, y: 40, number: 3 }]);
    expect(path.markers.map(markerText)).toEqual(["1", "3"]);
    expect(describePath(path)).toBe("1 at (x 10, y 20); 3 at (x 30, y 40)");
    expect(pathOf(points, 5).vertices).toEqual([]);
    expect(pathOf(null, 0).markers).toEqual([]);
  });

  it("gives points at the same place one marker listing their numbers", () => {
    const points = readPoints(payload([5, 5, 9, 9, 5.2, 5.1, 9, 9, 20, 1], [1, 5, 2]));
    const path = pathOf(points, 0);
    expect(path.vertices.map((v) => v.number)).toEqual([1, 2, 3, 4, 5]);
    expect(path.markers.map(markerText)).toEqual(["1,3", "2,4", "5"]);
  });

  it("maps pixel centres to the centres of their canvas cells", () => {
    const image = { width: 64, height: 32 };
    const canvas = { width: 320, height: 160 };
    expect(toCanvas(0, 0, image, canvas)).toEqual({ x: 2.5, y: 2.5 });
    expect(toCanvas(63, 31, image, canvas)).toEqual({ x: 317.5, y: 157.5 });
    expect(toCanvas(31.5, 15.5, image, canvas)).toEqual({ x: 160, y: 80 });
  });
});
