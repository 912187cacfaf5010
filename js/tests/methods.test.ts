import { describe, expect, it } from "vitest";
import { carrySelection, classKey, readClasses, readMethods, type ClassInfo, type MethodInfo } from "../lib/methods";

const c = (index: number, label: string, probability: number | null = 0.1): ClassInfo => ({ index, label, probability });

// Two methods: Grad-CAM explains cat, dog, car; IG explains dog, tree (rows 3 and 4).
const classes = [c(0, "cat"), c(1, "dog"), c(2, "car"), c(1, "dog"), c(3, "tree")];
const methods: MethodInfo[] = [
  { name: "Grad-CAM", detail: "gradcam", start: 0, count: 3 },
  { name: "IG", detail: "integrated_gradients", start: 3, count: 2 },
];

describe("readMethods", () => {
  it("gives one method owning every row when the trait is missing or empty", () => {
    const one = [{ name: "gradcam", detail: "gradcam", start: 0, count: 5 }];
    expect(readMethods(undefined, 5, "gradcam")).toEqual(one);
    expect(readMethods([], 5, "gradcam")).toEqual(one);
    expect(readMethods(null, 5, "gradcam")).toEqual(one);
  });

  it("reads consecutive blocks, defaulting the detail to the name", () => {
    expect(readMethods([{ name: "A", start: 0, count: 2 }, { name: "B", detail: "b", start: 2, count: 1 }], 3)).toEqual([
      { name: "A", detail: "A", start: 0, count: 2 },
      { name: "B", detail: "b", start: 2, count: 1 },
    ]);
  });

  it("rejects gaps, overlaps, empty blocks and blocks that do not cover the rows", () => {
    expect(() => readMethods([{ name: "A", start: 0, count: 2 }, { name: "B", start: 3, count: 1 }], 4)).toThrow(
      /methods\[1\]: expected rows starting at 2/,
    );
    expect(() => readMethods([{ name: "A", start: 0, count: 0 }], 0)).toThrow(/count 0/);
    expect(() => readMethods([{ name: "A", start: 0, count: 2 }], 3)).toThrow(/cover 2 rows but maps hold 3/);
    expect(() => readMethods([{ name: "A", start: "x", count: 2 }], 2)).toThrow(/start NaN/);
    expect(() => readMethods("nope", 2)).toThrow(/expected a list/);
  });
});

describe("readClasses", () => {
  it("fills in missing fields", () => {
    expect(readClasses([{ index: 4, label: "x", probability: 0.5 }, null, { label: "y" }])).toEqual([
      { index: 4, label: "x", probability: 0.5 },
      { index: 1, label: "class 1", probability: null },
      { index: 2, label: "y", probability: null },
    ]);
    expect(readClasses("nope")).toEqual([]);
  });
});

describe("carrySelection", () => {
  it("keeps the class when the new method explains it", () => {
    // dog is position 1 in Grad-CAM and position 0 in IG
    expect(carrySelection(classes, methods[0], 1, methods[1])).toBe(0);
    expect(carrySelection(classes, methods[1], 0, methods[0])).toBe(1);
  });

  it("falls back to the first class when the new method does not explain it", () => {
    expect(carrySelection(classes, methods[0], 2, methods[1])).toBe(0); // car
    expect(carrySelection(classes, methods[1], 1, methods[0])).toBe(0); // tree
  });

  it("matches custom targets (index -1) by label", () => {
    const custom = [c(-1, "region"), c(0, "cat"), c(0, "cat"), c(-1, "region")];
    const ms: MethodInfo[] = [
      { name: "A", detail: "", start: 0, count: 2 },
      { name: "B", detail: "", start: 2, count: 2 },
    ];
    expect(carrySelection(custom, ms[0], 0, ms[1])).toBe(1);
    expect(classKey(custom[0])).toBe("label:region");
    expect(classKey(custom[1])).toBe("#0");
  });

  it("is safe with a position outside the old method", () => {
    expect(carrySelection(classes, methods[1], 7, methods[0])).toBe(0);
  });
});
