import { describe, expect, it } from "vitest";
import {
  SORT_RANK,
  SORT_TIME,
  ariaSort,
  averageRanks,
  bestRows,
  finiteOrNull,
  formatRank,
  formatSeconds,
  isSortOrder,
  meanRanks,
  rankMatrix,
  readMetricEntries,
  readMethodEntries,
  readNotes,
  readSortBy,
  readTable,
  sortKeys,
  sortRows,
  type MethodEntry,
  type MetricEntry,
} from "../leaderboard";

const metric = (name: string, higherIsBetter: boolean): MetricEntry => ({
  name, higherIsBetter, kind: "", summary: "", paper: "", protocol: "",
});
const method = (name: string, seconds: number | null): MethodEntry => ({ name, detail: "", seconds });

// The Python tests' table (tests/test_leaderboard.py): A, B, C x up (higher), down (lower), fails (higher; B missing).
const MEANS: Array<Array<number | null>> = [
  [0.8, 0.25, 1.0],
  [0.5, 0.125, null],
  [0.2, 0.25, 2.0],
];
const METRICS = [metric("up", true), metric("down", false), metric("fails", true)];
const METHODS = [method("A", 0.5), method("B", 0.05), method("C", 2.0)];

describe("averageRanks", () => {
  it("ranks 1 = best, respecting the direction", () => {
    expect(averageRanks([0.2, 0.9, 0.5], true)).toEqual([3, 1, 2]);
    expect(averageRanks([0.2, 0.9, 0.5], false)).toEqual([1, 3, 2]);
  });

  it("shares the average rank between equal values and skips missing ones", () => {
    expect(averageRanks([0.1, 0.5, 0.5, null, 0.9], true)).toEqual([4, 2.5, 2.5, null, 1]);
    expect(averageRanks([0.5, 0.5, 0.5], false)).toEqual([2, 2, 2]);
    expect(averageRanks([NaN, Infinity, 1], true)).toEqual([null, null, 1]);
    expect(averageRanks([], true)).toEqual([]);
  });
});

describe("rankMatrix and meanRanks", () => {
  it("agree with Python's BenchmarkResult.rank_table on the shared table", () => {
    const ranks = rankMatrix(MEANS, METRICS.map((m) => m.higherIsBetter));
    expect(ranks).toEqual([
      [1, 2.5, 2],
      [2, 1, null],
      [3, 2.5, 1],
    ]);
    const mean = meanRanks(ranks);
    expect(mean[0]).toBeCloseTo(5.5 / 3, 12);
    expect(mean[1]).toBe(1.5);
    expect(mean[2]).toBeCloseTo(6.5 / 3, 12);
    expect(meanRanks([[null, null]])).toEqual([null]);
  });
});

describe("sortRows", () => {
  it("puts the best first, the worst first on the second click, missing values always last", () => {
    expect(sortRows([0.2, null, 0.9, 0.2], true, "best")).toEqual([2, 0, 3, 1]);
    expect(sortRows([0.2, null, 0.9, 0.2], true, "worst")).toEqual([0, 3, 2, 1]);
    expect(sortRows([0.2, null, 0.9, 0.2], false, "best")).toEqual([0, 3, 2, 1]);
    expect(sortRows([0.2, null, 0.9, 0.2], false, "worst")).toEqual([2, 0, 3, 1]);
  });

  it("keeps equal values in their order (stable)", () => {
    expect(sortRows([1, 1, 1], true, "best")).toEqual([0, 1, 2]);
    expect(sortRows([1, 1, 1], true, "worst")).toEqual([0, 1, 2]);
  });
});

describe("sortKeys", () => {
  it("sorts by a metric, the mean rank or the time, in the same order as Python's sorted_methods", () => {
    const order = (sortBy: number, o: "best" | "worst") => {
      const { keys, higherIsBetter } = sortKeys(sortBy, MEANS, METRICS, METHODS);
      return sortRows(keys, higherIsBetter, o).map((n) => METHODS[n].name).join("");
    };
    expect(order(SORT_RANK, "best")).toBe("BAC");
    expect(order(0, "best")).toBe("ABC");
    expect(order(0, "worst")).toBe("CBA");
    expect(order(1, "best")).toBe("BAC");
    expect(order(2, "best")).toBe("CAB");
    expect(order(2, "worst")).toBe("ACB");
    expect(order(SORT_TIME, "best")).toBe("BAC");
  });
});

describe("bestRows and ariaSort", () => {
  it("finds every row tied for the best", () => {
    expect(bestRows([0.25, 0.125, 0.25], false)).toEqual([1]);
    expect(bestRows([0.25, 0.125, 0.25], true)).toEqual([0, 2]);
    expect(bestRows([null, null], true)).toEqual([]);
  });

  it("says which way the values run down the table", () => {
    expect(ariaSort(true, "best")).toBe("descending");
    expect(ariaSort(true, "worst")).toBe("ascending");
    expect(ariaSort(false, "best")).toBe("ascending");
    expect(ariaSort(false, "worst")).toBe("descending");
  });
});

describe("reading traits", () => {
  it("reads sort_by, falling back to the mean rank", () => {
    expect(readSortBy(2, 3)).toBe(2);
    expect(readSortBy(-2, 3)).toBe(SORT_TIME);
    expect(readSortBy(3, 3)).toBe(SORT_RANK);
    expect(readSortBy("x", 3)).toBe(SORT_RANK);
    expect(readSortBy(1.5, 3)).toBe(SORT_RANK);
    expect(isSortOrder("best") && isSortOrder("worst") && !isSortOrder("up")).toBe(true);
  });

  it("reads tables, entries and notes defensively", () => {
    expect(readTable([[1, null, "x"], [NaN]], 3, 2)).toEqual([[1, null], [null, null], [null, null]]);
    expect(readNotes([["", "boom"]], 1, 3)).toEqual([["", "boom", ""]]);
    expect(readMethodEntries([{ name: "<b>A</b>", seconds: 0.5 }, null])).toEqual([
      { name: "<b>A</b>", detail: "", seconds: 0.5 },
      { name: "method 1", detail: "", seconds: null },
    ]);
    const [m] = readMetricEntries([{ name: "down", higher_is_better: false, protocol: "steps=10" }]);
    expect(m.higherIsBetter).toBe(false);
    expect(m.protocol).toBe("steps=10");
    expect(readMetricEntries([{ name: "up" }])[0].higherIsBetter).toBe(true);
    expect(finiteOrNull(Infinity)).toBeNull();
  });

  it("formats ranks and times", () => {
    expect(formatRank(1)).toBe("1");
    expect(formatRank(2.5)).toBe("2.5");
    expect(formatRank(5.5 / 3)).toBe("1.83");
    expect(formatRank(null)).toBe("\u2013");
    expect(formatSeconds(0.0512)).toBe("51 ms");
    expect(formatSeconds(2.314)).toBe("2.31 s");
    expect(formatSeconds(null)).toBe("\u2013");
  });
});
