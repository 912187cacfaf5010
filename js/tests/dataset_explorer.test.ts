import { describe, expect, it } from "vitest";
import {
  classCounts,
  filterRows,
  missingThumbnails,
  NO_FILTERS,
  openedFor,
  pageSlice,
  parseBound,
  presentClasses,
  readColumns,
  readFilters,
  readThumbnailMessage,
  readThumbnailTrait,
  rowOf,
  sameId,
  sortRows,
  splitThumbnails,
  tally,
  type Columns,
  type Filters,
} from "../dataset_explorer";
import { StaticModel } from "../lib/model";

// Bytes as Python's DatasetExplorer sends them (little-endian), put at an odd offset of a
// larger buffer as Jupyter may deliver them.
function at(bytes: Uint8Array): DataView {
  const buffer = new Uint8Array(bytes.byteLength + 5);
  buffer.set(bytes, 3);
  return new DataView(buffer.buffer, 3, bytes.byteLength);
}
function i32(values: number[]): DataView {
  const v = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((x, i) => v.setInt32(i * 4, x, true));
  return at(new Uint8Array(v.buffer));
}
function u32(values: number[]): DataView {
  const v = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((x, i) => v.setUint32(i * 4, x, true));
  return at(new Uint8Array(v.buffer));
}
function f32(values: number[]): DataView {
  const v = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return at(new Uint8Array(v.buffer));
}
function i8(values: number[]): DataView {
  return at(new Uint8Array(Int8Array.from(values).buffer));
}

// Six images: 0-3 right or wrong, 4 without a label, 5 failed (no prediction).
const RAW = {
  n: 6,
  ids: { kind: "int32", data: i32([10, 11, 12, 13, 14, 15]) },
  label: i32([0, 1, 1, 2, -1, 2]),
  pred: i32([0, 2, 1, 2, 1, -1]),
  confidence: f32([0.9, 0.4, 0.7, 0.3, 0.55, Number.NaN]),
  correct: i8([1, 0, 1, 1, -1, -1]),
  error: i32([-1, -1, -1, -1, -1, 0]),
  metrics: [
    { name: "sparseness", data: f32([0.2, 0.8, 0.5, 0.8, 0.1, Number.NaN]) },
    { name: "complexity", data: f32([5, 4, 3, 2, 1, Number.NaN]) },
  ],
};
const COLS: Columns = readColumns(RAW);
const ALL: Filters = NO_FILTERS;

describe("decoding the buffers", () => {
  it("reads every column from little-endian bytes at any offset", () => {
    expect(COLS.n).toBe(6);
    expect(COLS.ids).toEqual([10, 11, 12, 13, 14, 15]);
    expect(Array.from(COLS.label)).toEqual([0, 1, 1, 2, -1, 2]);
    expect(Array.from(COLS.pred)).toEqual([0, 2, 1, 2, 1, -1]);
    expect(COLS.confidence[0]).toBeCloseTo(0.9, 6);
    expect(Number.isNaN(COLS.confidence[5])).toBe(true);
    expect(Array.from(COLS.correct)).toEqual([1, 0, 1, 1, -1, -1]);
    expect(COLS.metrics.map((m) => m.name)).toEqual(["sparseness", "complexity"]);
    expect(Array.from(COLS.metrics[1].values.slice(0, 5))).toEqual([5, 4, 3, 2, 1]);
  });

  it("reads string ids, an empty trait, and names the column whose bytes are wrong", () => {
    const mixed = readColumns({ ...RAW, ids: { kind: "json", values: [3, "b", 1, "a", "c", 0] } });
    expect(mixed.ids).toEqual([3, "b", 1, "a", "c", 0]);
    expect(readColumns({}).n).toBe(0);
    expect(() => readColumns({ ...RAW, pred: i32([1, 2]) })).toThrow("columns.pred: expected 24 bytes for 6 rows; got 8");
    expect(() => readColumns({ ...RAW, metrics: [{ name: "m", data: f32([1]) }] })).toThrow("columns.metrics[0] (m)");
    expect(() => readColumns({ ...RAW, ids: { kind: "json", values: [1] } })).toThrow("columns.ids");
    expect(() => readColumns({ ...RAW, n: -1 })).toThrow("columns.n");
  });

  it("cuts PNGs out of one buffer by offsets, leaving out empty ones", () => {
    const data = at(new Uint8Array([1, 2, 3, 4, 5, 6]));
    const pngs = splitThumbnails([4, 0, 2], [0, 2, 2, 6], data);
    expect([...pngs.keys()]).toEqual([4, 2]);
    expect(Array.from(pngs.get(4)!)).toEqual([1, 2]);
    expect(Array.from(pngs.get(2)!)).toEqual([3, 4, 5, 6]);
    expect(() => splitThumbnails([1], [0, 7], data)).toThrow("do not fit 6 bytes");
    expect(() => splitThumbnails([1, 2], [0, 2], data)).toThrow("expected 3 offsets for 2 rows");
    expect(() => splitThumbnails([1], [3, 2], data)).toThrow("offsets 3..2");
  });

  it("reads the thumbnails trait and the kernel's answer to a request", () => {
    const trait = readThumbnailTrait({ version: "v1", rows: i32([0, 5]), offsets: u32([0, 3, 3]), data: at(new Uint8Array([7, 8, 9])) });
    expect(trait!.version).toBe("v1");
    expect([...trait!.pngs.keys()]).toEqual([0]);
    expect(Array.from(trait!.pngs.get(0)!)).toEqual([7, 8, 9]);
    expect(readThumbnailTrait({})).toBeNull();
    expect(() => readThumbnailTrait({ version: "v1", rows: i32([0]) })).toThrow("thumbnails: expected");
    const msg = readThumbnailMessage({ type: "thumbnails", version: "v2", rows: [3, 1], offsets: [0, 1, 3] }, [at(new Uint8Array([1, 2, 3]))]);
    expect(msg!.version).toBe("v2");
    expect(Array.from(msg!.pngs.get(1)!)).toEqual([2, 3]);
    expect(readThumbnailMessage({ type: "other" }, [])).toBeNull();
    expect(() => readThumbnailMessage({ type: "thumbnails", rows: [1] }, [])).toThrow("rows and offsets");
  });
});

describe("filters", () => {
  it("reads the filter traits, falling back to 'no filter' on anything out of range", () => {
    const model = new StaticModel({
      true_class: 1, predicted_class: 2, correctness: "wrong", status: "ok", confidence_range: [0.2, 0.8],
      metric_ranges: { sparseness: [0.3, null], complexity: [null, null], nope: [0, 1] },
    });
    const f = readFilters(model, COLS, 3);
    expect(f.trueClass).toBe(1);
    expect(f.predictedClass).toBe(2);
    expect(f.correctness).toBe("wrong");
    expect(f.status).toBe("ok");
    expect(f.confidence).toEqual([0.2, 0.8]);
    expect([...f.metrics]).toEqual([["sparseness", [0.3, null]]]);
    const bad = readFilters(new StaticModel({
      true_class: 9, predicted_class: 1.5, correctness: "maybe", status: 3, confidence_range: [0.9, 0.1],
      metric_ranges: { sparseness: [2, 1] },
    }), COLS, 3);
    expect(bad).toEqual(ALL);
  });

  it("filters by the true class, the predicted class, or both", () => {
    expect(filterRows(COLS, ALL)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(filterRows(COLS, { ...ALL, trueClass: 1 })).toEqual([1, 2]);
    expect(filterRows(COLS, { ...ALL, predictedClass: 2 })).toEqual([1, 3]);
    expect(filterRows(COLS, { ...ALL, trueClass: 1, predictedClass: 2 })).toEqual([1]);
  });

  it("filters by correctness and status; unknown rows pass only 'all'", () => {
    expect(filterRows(COLS, { ...ALL, correctness: "correct" })).toEqual([0, 2, 3]);
    expect(filterRows(COLS, { ...ALL, correctness: "wrong" })).toEqual([1]);
    expect(filterRows(COLS, { ...ALL, status: "failed" })).toEqual([5]);
    expect(filterRows(COLS, { ...ALL, status: "ok" })).toEqual([0, 1, 2, 3, 4]);
  });

  it("filters by confidence and metric ranges (inclusive; missing values never pass a range)", () => {
    expect(filterRows(COLS, { ...ALL, confidence: [0.4, 0.7] })).toEqual([1, 2, 4]);
    expect(filterRows(COLS, { ...ALL, confidence: [0, 1] })).toEqual([0, 1, 2, 3, 4, 5]); // no filter: row 5 too
    expect(filterRows(COLS, { ...ALL, confidence: [0, 0.999] })).toEqual([0, 1, 2, 3, 4]);
    expect(filterRows(COLS, { ...ALL, metrics: new Map([["sparseness", [0.5, null]]]) })).toEqual([1, 2, 3]);
    expect(filterRows(COLS, { ...ALL, metrics: new Map([["sparseness", [null, 0.2]], ["complexity", [5, 5]]]) })).toEqual([0]);
    // bounds are rounded to float32 like the values: 0.2 (float32 0.2000000030) passes [0.2, 0.2]
    expect(filterRows(COLS, { ...ALL, metrics: new Map([["sparseness", [0.2, 0.2]]]) })).toEqual([0]);
    expect(filterRows(COLS, { ...ALL, confidence: [0.3, 0.3] })).toEqual([3]);
  });

  it("counts each class with the other filters applied", () => {
    const counts = classCounts(COLS, { ...ALL, correctness: "correct" }, "true");
    expect([...counts]).toEqual([[-1, 3], [0, 1], [1, 1], [2, 1]]);
    const pred = classCounts(COLS, { ...ALL, trueClass: 2, predictedClass: 0 }, "predicted");
    expect([...pred]).toEqual([[-1, 2], [2, 1]]); // row 5 has no prediction
    expect(presentClasses(COLS.label)).toEqual([0, 1, 2]);
    expect(tally(COLS)).toEqual({ correct: 3, wrong: 1, unknown: 2, failed: 1 });
  });
});

describe("sorting and paging", () => {
  const rows = [0, 1, 2, 3, 4, 5];
  it("sorts by a metric, stable, missing values last in either order", () => {
    expect(sortRows(COLS, rows, "sparseness", "asc")).toEqual([4, 0, 2, 1, 3, 5]);
    expect(sortRows(COLS, rows, "sparseness", "desc")).toEqual([1, 3, 2, 0, 4, 5]);
    expect(sortRows(COLS, rows, "confidence", "desc")).toEqual([0, 2, 4, 1, 3, 5]);
  });

  it("sorts classes by index, correctness, errors by text, ids numbers before strings", () => {
    expect(sortRows(COLS, rows, "label", "desc")).toEqual([3, 5, 1, 2, 0, 4]);
    expect(sortRows(COLS, rows, "pred", "asc")).toEqual([0, 2, 4, 1, 3, 5]);
    expect(sortRows(COLS, rows, "correct", "asc")).toEqual([1, 0, 2, 3, 4, 5]);
    expect(sortRows(COLS, rows, "error", "asc", ["ValueError: x"])).toEqual([5, 0, 1, 2, 3, 4]);
    const mixed = readColumns({ ...RAW, ids: { kind: "json", values: [3, "b", 1, "a", "c", 0] } });
    expect(sortRows(mixed, rows, "image_id", "asc").map((i) => mixed.ids[i])).toEqual([0, 1, 3, "a", "b", "c"]);
    expect(sortRows(mixed, rows, "image_id", "desc").map((i) => mixed.ids[i])).toEqual(["c", "b", "a", 3, 1, 0]);
    expect(sortRows(COLS, [3, 1], "nope", "asc")).toEqual([3, 1]); // an unknown column: missing everywhere
  });

  it("clamps the page and slices it", () => {
    expect(pageSlice(10, 0, 4)).toEqual({ page: 0, pages: 3, start: 0, end: 4, size: 4 });
    expect(pageSlice(10, 2, 4)).toEqual({ page: 2, pages: 3, start: 8, end: 10, size: 4 });
    expect(pageSlice(10, 7, 4).page).toBe(2);
    expect(pageSlice(10, -3, 4).page).toBe(0);
    expect(pageSlice(0, 5, 4)).toEqual({ page: 0, pages: 1, start: 0, end: 0, size: 4 });
    expect(pageSlice(10, "x", null).size).toBe(48);
  });
});

describe("selection and thumbnails on demand", () => {
  it("compares ids by type and value, finds rows", () => {
    expect(sameId(3, 3)).toBe(true);
    expect(sameId(3, "3")).toBe(false);
    expect(sameId(null, null)).toBe(false);
    expect(rowOf(COLS, 13)).toBe(3);
    expect(rowOf(COLS, "13")).toBe(-1);
    expect(rowOf(COLS, null)).toBe(-1);
  });

  it("takes the kernel's opened state only for the selected image, version and view", () => {
    const opened = { image_id: 12, version: "v1", view: "saliency", title: "Image 12", note: "thumbnail", state: { maps: {} } };
    expect(openedFor(opened, 12, "v1", "saliency")).toEqual({ state: { maps: {} }, error: null, title: "Image 12", note: "thumbnail" });
    expect(openedFor(opened, 13, "v1", "saliency")).toBeNull(); // stale: another image
    expect(openedFor(opened, 12, "v2", "saliency")).toBeNull(); // another version
    expect(openedFor(opened, 12, "v1", "concepts")).toBeNull(); // another view
    expect(openedFor({}, 12, "v1", "saliency")).toBeNull();
    const failed = { image_id: 15, version: "v1", view: "saliency", error: "Image 15 failed" };
    expect(openedFor(failed, 15, "v1", "saliency")).toEqual({ state: null, error: "Image 15 failed", title: "", note: "" });
  });

  it("asks only for the page's thumbnails that are neither here nor asked for", () => {
    expect(missingThumbnails([4, 5, 6, 7], new Set([5]), new Set([6]))).toEqual([4, 7]);
    expect(missingThumbnails([], new Set(), new Set())).toEqual([]);
  });

  it("parses range inputs: empty is an open end, junk is refused", () => {
    expect(parseBound(" 0.25 ")).toBe(0.25);
    expect(parseBound("")).toBeNull();
    expect(parseBound("abc")).toBeUndefined();
    expect(parseBound("1e400")).toBeUndefined();
  });
});
