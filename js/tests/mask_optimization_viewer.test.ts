import { describe, expect, it } from "vitest";
import {
  FrameCache,
  isValueRange,
  maskRange,
  nearestIndex,
  readFrames,
  readLive,
  readRows,
  sparkline,
  stepText,
} from "../mask_optimization_viewer";
import { f32, half } from "./payloads";

/** A `frames` payload: T steps x R rows of 1 x 2 masks; mask values from `fill(t, r, i)`. */
function framesPayload(steps: number[], rows: number, fill: (t: number, r: number, i: number) => number, losses?: number[]) {
  const values: number[] = [];
  steps.forEach((_, t) => {
    for (let r = 0; r < rows; r++) for (let i = 0; i < 2; i++) values.push(fill(t, r, i));
  });
  return {
    seq: steps.length,
    steps,
    masks: { data: half(values), dtype: "float16", shape: [steps.length, rows, 1, 2] },
    losses: losses === undefined ? null : { data: f32(losses), dtype: "float32", shape: [steps.length, rows] },
  };
}

function livePayload(seq: number, step: number, start: number, values: number[], kept = true, losses?: number[]) {
  return {
    seq,
    step,
    start,
    kept,
    masks: { data: half(values), dtype: "float16", shape: [values.length / 2, 1, 2] },
    losses: losses === undefined ? null : { data: f32(losses), dtype: "float32", shape: [losses.length] },
  };
}

describe("readFrames", () => {
  it("decodes float16 masks at any byte offset, with steps and losses", () => {
    const set = readFrames(framesPayload([10, 20], 2, (t, r, i) => [0, 0.25, 0.5, 0.75, 1, 2, 0.5, 0][t * 4 + r * 2 + i], [1, 2, 0.5, 0.25]), 2);
    expect(set).not.toBeNull();
    expect(set!.steps).toEqual([10, 20]);
    expect([set!.rows, set!.height, set!.width]).toEqual([2, 1, 2]);
    expect(Array.from(set!.masks)).toEqual([0, 0.25, 0.5, 0.75, 1, 2, 0.5, 0]);
    expect(Array.from(set!.losses!)).toEqual([1, 2, 0.5, 0.25]);
  });

  it("is null for the empty state and says what is wrong otherwise", () => {
    expect(readFrames({}, 3)).toBeNull();
    expect(readFrames(undefined, 3)).toBeNull();
    expect(() => readFrames(framesPayload([1], 2, () => 0), 3)).toThrow(/masks of 2 rows but rows lists 3/);
    const bad = framesPayload([1, 2], 1, () => 0);
    bad.steps = [1];
    expect(() => readFrames(bad, 1)).toThrow(/2 frames of masks but 1 steps/);
    const flat = { ...framesPayload([1], 1, () => 0), masks: { data: half([0, 0]), dtype: "float16", shape: [1, 2] } };
    expect(() => readFrames(flat, 1)).toThrow(/expected shape \[T, R, H, W\]/);
    const losses = { ...framesPayload([1], 1, () => 0), losses: { data: f32([1, 2]), dtype: "float32", shape: [2] } };
    expect(() => readFrames(losses, 1)).toThrow(/frames.losses: expected shape \[1, 1\]; got \[2\]/);
  });
});

describe("readLive", () => {
  it("decodes one callback's rows and checks that they fit", () => {
    const live = readLive(livePayload(3, 40, 1, [0.5, 1, 0.25, 0], true, [2, 0.5]), 3)!;
    expect([live.seq, live.step, live.start, live.count, live.kept]).toEqual([3, 40, 1, 2, true]);
    expect(Array.from(live.masks)).toEqual([0.5, 1, 0.25, 0]);
    expect(Array.from(live.losses!)).toEqual([2, 0.5]);
    expect(readLive({}, 3)).toBeNull();
    expect(() => readLive(livePayload(1, 1, 2, [0, 0, 0, 0]), 3)).toThrow(/rows 2 to 4 do not fit the 3 rows/);
  });
});

describe("readRows", () => {
  it("fills in what is missing", () => {
    expect(readRows([{ image: 1, label: "Image 1: cat", detail: "area 0.1" }, null])).toEqual([
      { image: 1, label: "Image 1: cat", detail: "area 0.1" },
      { image: 0, label: "row 1", detail: "" },
    ]);
    expect(readRows("nope")).toEqual([]);
  });
});

describe("FrameCache", () => {
  it("accumulates live frames row block by row block, NaN where not optimised yet", () => {
    const cache = new FrameCache();
    cache.merge(readLive(livePayload(1, 10, 0, [0.5, 0.5, 1, 1], true, [2, 1]), 3)!, 3);
    expect(cache.steps()).toEqual([10]);
    expect(Array.from(cache.masksOf(10)!.subarray(0, 4))).toEqual([0.5, 0.5, 1, 1]);
    expect(Number.isNaN(cache.masksOf(10)![4])).toBe(true); // row 2: the next batch
    expect(cache.loss(10, 1)).toBe(1);
    expect(cache.loss(10, 2)).toBeNaN();
    // the next batch of images: same step, rows [2, 3)
    cache.merge(readLive(livePayload(2, 10, 2, [0.25, 0.75]), 3)!, 3);
    expect(Array.from(cache.masksOf(10)!)).toEqual([0.5, 0.5, 1, 1, 0.25, 0.75]);
    expect(cache.seq).toBe(2);
    expect(cache.newest()).toBe(10);
  });

  it("prunes to the kept steps but never the newest live step", () => {
    const cache = new FrameCache();
    for (const step of [1, 2, 3, 4]) cache.merge(readLive(livePayload(step, step, 0, [step / 4, 0]), 1)!, 1);
    cache.prune([1, 3]); // the kernel kept every 2nd step; 4 is the newest (its kept_steps may come later)
    expect(cache.steps()).toEqual([1, 3, 4]);
    expect(cache.size).toBe(3);
    cache.prune([1, 3, 4]);
    expect(cache.steps()).toEqual([1, 3, 4]);
  });

  it("holds a live step the kernel did not keep as a transient frame", () => {
    const cache = new FrameCache();
    cache.merge(readLive(livePayload(1, 5, 0, [1, 1]), 1)!, 1);
    cache.merge(readLive(livePayload(2, 3, 0, [0.5, 0.5], false), 1)!, 1);
    expect(cache.steps()).toEqual([5]);
    expect(cache.has(3)).toBe(true);
    expect(cache.newest()).toBe(3);
    expect(Array.from(cache.masksOf(3)!)).toEqual([0.5, 0.5]);
  });

  it("load replaces everything; live older than the record is ignored by the widget (seq)", () => {
    const cache = new FrameCache();
    cache.merge(readLive(livePayload(1, 99, 0, [1, 1]), 1)!, 1);
    cache.load(readFrames(framesPayload([2, 4, 6], 1, (t) => [0, 0.5, 1][t], [3, 2, 1]), 1)!);
    expect(cache.steps()).toEqual([2, 4, 6]);
    expect(cache.has(99)).toBe(false);
    expect(cache.seq).toBe(3);
    expect(cache.newest()).toBe(6);
    expect(cache.lossSeries(0)).toEqual({ steps: [2, 4, 6], values: new Float32Array([3, 2, 1]) });
    // a live frame with another mask size starts a new cache
    cache.merge(readLive({ ...livePayload(7, 1, 0, [0, 0]), masks: { data: half([0, 0.5, 1, 1]), dtype: "float16", shape: [1, 2, 2] } }, 1)!, 1);
    expect(cache.steps()).toEqual([1]);
    expect([cache.height, cache.width]).toEqual([2, 2]);
  });
});

describe("slider and value range", () => {
  it("nearestIndex finds the kept step nearest a step (ties: the lower)", () => {
    const steps = [10, 20, 40];
    expect(nearestIndex(steps, 10)).toBe(0);
    expect(nearestIndex(steps, 29)).toBe(1);
    expect(nearestIndex(steps, 30)).toBe(1);
    expect(nearestIndex(steps, 31)).toBe(2);
    expect(nearestIndex(steps, 1000)).toBe(2);
    expect(nearestIndex([], 5)).toBe(0);
  });

  it("maskRange: unit, the frame's own range, or the row's range over the run", () => {
    const cache = new FrameCache();
    cache.load(readFrames(framesPayload([1, 2], 2, (t, r, i) => (r === 0 ? [[0.25, 0.5], [0.5, 0.75]][t][i] : 2)), 2)!);
    expect(maskRange("unit", cache, 1, 0)).toEqual({ min: 0, max: 1 });
    expect(maskRange("frame", cache, 1, 0)).toEqual({ min: 0.25, max: 0.5 });
    expect(maskRange("frame", cache, 2, 0)).toEqual({ min: 0.5, max: 0.75 });
    expect(maskRange("run", cache, 1, 0)).toEqual({ min: 0.25, max: 0.75 });
    expect(maskRange("run", cache, 1, 1)).toEqual({ min: 2, max: 2 });
    expect(isValueRange("run")).toBe(true);
    expect(isValueRange("log")).toBe(false);
  });

  it("sparkline spans the box, largest value on top, NaN as gaps", () => {
    const points = sparkline([3, Number.NaN, 1, 2], 100, 50, 5);
    expect(points[0]).toEqual({ x: 5, y: 5 });
    expect(points[1]).toBeNull();
    expect(points[2]).toEqual({ x: 65, y: 45 });
    expect(points[3]).toEqual({ x: 95, y: 25 });
    expect(sparkline([7], 100, 50)).toEqual([{ x: 50, y: 25 }]);
  });

  it("stepText says the step, the loss when known, and live", () => {
    expect(stepText(null, Number.NaN, false)).toBe("No masks yet");
    expect(stepText(120, 0.43219, true)).toBe("Step 120 \u00b7 loss 0.4322 \u00b7 live");
    expect(stepText(5, Number.NaN, false)).toBe("Step 5");
  });
});
