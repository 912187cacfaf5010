import { describe, expect, it } from "vitest";
import {
  ChildModel,
  classCounts,
  correctnessOf,
  explorerData,
  matches,
  nextVisible,
  readClassNames,
  readFilter,
  readItems,
  tally,
  visibleItems,
  type Filter,
} from "../explanation_gallery";
import { StaticModel } from "../lib/model";

// Items as Python's ExplanationGallery sends them: predicted / true class indices; item 1
// and 3 are wrong, item 4 has no true class.
const RAW = [
  { title: "a", predicted: 6, probability: 0.7, true: 6, correct: true },
  { title: "b", predicted: 6, probability: 0.4, true: 5, correct: false },
  { title: "c", predicted: 1, probability: 0.8, true: 1, correct: true },
  { title: "d", predicted: 1, probability: 0.5, true: 2, correct: false },
  { title: "e", predicted: 2, probability: 0.9, true: null, correct: null },
];
const ITEMS = readItems(RAW);
const ALL: Filter = { classIndex: -1, role: "predicted", correctness: "all" };

describe("reading the traits", () => {
  it("reads items, deriving correctness when it is missing and tolerating junk", () => {
    expect(ITEMS[1]).toEqual({ title: "b", predicted: 6, probability: 0.4, trueClass: 5, correct: false });
    expect(ITEMS[4].trueClass).toBeNull();
    expect(ITEMS[4].correct).toBeNull();
    const odd = readItems([{ predicted: 3, true: 3 }, { predicted: 3, true: 4, probability: Number.NaN }, null]);
    expect(odd.map((i) => i.correct)).toEqual([true, false, null]);
    expect(odd[1].probability).toBeNull();
    expect(odd[2]).toEqual({ title: "Image 3", predicted: -1, probability: null, trueClass: null, correct: null });
    expect(readItems("nope")).toEqual([]);
  });

  it("reads class names and filters, falling back to showing everything", () => {
    const names = readClassNames([{ index: 1, label: "red lamp" }, { index: 6 }, { label: "no index" }]);
    expect([...names]).toEqual([[1, "red lamp"], [6, "class 6"]]);
    const model = new StaticModel({ class_filter: 6, class_role: "true", correctness: "wrong" });
    expect(readFilter(model)).toEqual({ classIndex: 6, role: "true", correctness: "wrong" });
    const bad = new StaticModel({ class_filter: 2.5, class_role: "guessed", correctness: "maybe" });
    expect(readFilter(bad)).toEqual(ALL);
    expect(readFilter(new StaticModel({ class_filter: -7 })).classIndex).toBe(-1);
  });
});

describe("filtering", () => {
  it("filters by the predicted class", () => {
    expect(visibleItems(ITEMS, ALL)).toEqual([0, 1, 2, 3, 4]);
    expect(visibleItems(ITEMS, { ...ALL, classIndex: 6 })).toEqual([0, 1]);
    expect(visibleItems(ITEMS, { ...ALL, classIndex: 2 })).toEqual([4]);
    expect(visibleItems(ITEMS, { ...ALL, classIndex: 5 })).toEqual([]);
  });

  it("filters by the true class; an unknown truth never matches a class", () => {
    const byTruth: Filter = { ...ALL, role: "true" };
    expect(visibleItems(ITEMS, { ...byTruth, classIndex: 6 })).toEqual([0]);
    expect(visibleItems(ITEMS, { ...byTruth, classIndex: 5 })).toEqual([1]);
    expect(visibleItems(ITEMS, { ...byTruth, classIndex: 2 })).toEqual([3]);
    expect(visibleItems(ITEMS, byTruth)).toEqual([0, 1, 2, 3, 4]);
  });

  it("filters by correctness; items without a true class pass only 'all'", () => {
    expect(visibleItems(ITEMS, { ...ALL, correctness: "correct" })).toEqual([0, 2]);
    expect(visibleItems(ITEMS, { ...ALL, correctness: "wrong" })).toEqual([1, 3]);
    expect(matches(ITEMS[4], { ...ALL, correctness: "correct" })).toBe(false);
    expect(matches(ITEMS[4], { ...ALL, correctness: "wrong" })).toBe(false);
    expect(correctnessOf(ITEMS[4])).toBe("unknown");
    expect(correctnessOf(ITEMS[1])).toBe("wrong");
  });

  it("combines the class and correctness filters", () => {
    expect(visibleItems(ITEMS, { classIndex: 6, role: "predicted", correctness: "wrong" })).toEqual([1]);
    expect(visibleItems(ITEMS, { classIndex: 1, role: "predicted", correctness: "correct" })).toEqual([2]);
    expect(visibleItems(ITEMS, { classIndex: 1, role: "true", correctness: "wrong" })).toEqual([]);
  });

  it("counts what each class option would show under the other filters", () => {
    const counts = classCounts(ITEMS, [1, 2, 5, 6], { ...ALL, classIndex: 6, correctness: "wrong" });
    expect(Object.fromEntries(counts)).toEqual({ "-1": 2, 1: 1, 2: 0, 5: 0, 6: 1 });
    const truth = classCounts(ITEMS, [1, 2, 5, 6], { ...ALL, role: "true" });
    expect(Object.fromEntries(truth)).toEqual({ "-1": 5, 1: 1, 2: 1, 5: 1, 6: 1 });
    expect(tally(ITEMS)).toEqual({ correct: 2, wrong: 2, unknown: 1 });
  });

  it("moves the keyboard focus among the visible thumbnails only", () => {
    const visible = [0, 2, 4];
    expect(nextVisible(visible, 0, "ArrowRight")).toBe(2);
    expect(nextVisible(visible, 4, "ArrowRight")).toBe(0);
    expect(nextVisible(visible, 0, "ArrowLeft")).toBe(4);
    expect(nextVisible(visible, 2, "End")).toBe(4);
    expect(nextVisible(visible, 3, "ArrowRight")).toBe(2); // a hidden item: from the first
    expect(nextVisible(visible, 2, "a")).toBeNull();
    expect(nextVisible([], 0, "ArrowRight")).toBeNull();
  });
});

describe("the opened explanation", () => {
  const payload = (tag: string) => ({ image: { tag }, graphs: [] });

  it("comes from the preloaded list, else from the kernel's explorer of that very item", () => {
    const all = [payload("0"), payload("1")];
    expect(explorerData(1, all, {})).toBe(all[1]);
    expect(explorerData(-1, all, {})).toBeNull();
    const sent = { item: 3, ...payload("3") };
    expect(explorerData(3, [], sent)).toBe(sent);
    expect(explorerData(2, [], sent)).toBeNull(); // still the previous item's: wait
    expect(explorerData(3, [], {})).toBeNull();
    expect(explorerData(5, all, sent)).toBeNull();
  });

  it("the child model passes its shared traits back on save, once", () => {
    const saved: Array<Record<string, unknown>> = [];
    const child = new ChildModel({ selected: "", selected_class: 1, opacity: 0.5, graphs: [] }, (c) =>
      saved.push({ selected: c.get("selected"), selected_class: c.get("selected_class") }),
    );
    child.set("selected_class", 2);
    child.set("selected", "n1");
    expect(saved).toEqual([]);
    child.save_changes();
    expect(saved).toEqual([{ selected: "n1", selected_class: 2 }]);
    expect(child.saves).toBe(1);
  });
});
