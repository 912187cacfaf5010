import { describe, expect, it } from "vitest";
import {
  cellRect,
  childrenOf,
  dropClass,
  layoutTrees,
  moveSelection,
  nodeText,
  pathToRoot,
  patchWeights,
  readGrid,
  readNodes,
  readSelected,
  rootsOf,
  type SagNode,
} from "../sag_viewer";

// Two trees: root 0 {1, 3, 4} with children 2 {3, 4} (drop 10) and 3 {1, 4} (drop 70);
// node 2 has child 5 {4} (drop 30); root 1 {7} has no child.
const RAW = [
  { id: 0, patches: [1, 3, 4], probability: 0.9, relative: 0.95, parent: -1, removed: -1, drop: null, depth: 0, root: 0 },
  { id: 1, patches: [7], probability: 0.88, relative: 0.93, parent: -1, removed: -1, drop: null, depth: 0, root: 1 },
  { id: 2, patches: [3, 4], probability: 0.8, relative: 0.84, parent: 0, removed: 1, drop: 10, depth: 1, root: 0 },
  { id: 3, patches: [1, 4], probability: 0.2, relative: 0.21, parent: 0, removed: 3, drop: 70, depth: 1, root: 0 },
  { id: 4, patches: [3], probability: 0.5, relative: 0.53, parent: 2, removed: 4, drop: 30, depth: 2, root: 0 },
];

function nodes(): SagNode[] {
  return readNodes(RAW, 9);
}

describe("reading the traits", () => {
  it("decodes nodes and keeps drops of roots null", () => {
    const n = nodes();
    expect(n).toHaveLength(5);
    expect(n[0].drop).toBeNull();
    expect(n[3].drop).toBe(70);
    expect(n[4].parent).toBe(2);
  });

  it("rejects malformed nodes with what was wrong", () => {
    expect(() => readNodes({}, 9)).toThrow("nodes: expected a list");
    expect(() => readNodes([{ id: 0 }], 9)).toThrow("nodes[0]: expected {id, patches");
    expect(() => readNodes([{ ...RAW[0], patches: [9] }], 9)).toThrow("nodes[0].patches: expected cells in [0, 9)");
    expect(() => readNodes([{ ...RAW[0], id: 3 }], 9)).toThrow("nodes[0]: expected id 0");
    expect(() => readNodes([{ ...RAW[0], parent: 0 }], 9)).toThrow("parent among the earlier nodes");
  });

  it("reads the grid and the selection", () => {
    expect(readGrid([7, 7])).toEqual([7, 7]);
    expect(() => readGrid([7])).toThrow("grid: expected [rows, cols]");
    expect(() => readGrid([0, 3])).toThrow("grid");
    expect(readSelected(3, 5)).toBe(3);
    expect(readSelected(5, 5)).toBe(-1);
    expect(readSelected(-1, 5)).toBe(-1);
    expect(readSelected(1.5, 5)).toBe(-1);
    expect(readSelected("2", 5)).toBe(2);
  });
});

describe("drop classes", () => {
  it("splits drops at the bins", () => {
    expect(dropClass(null)).toBeNull();
    expect(dropClass(-3)).toBe("small");
    expect(dropClass(19.9)).toBe("small");
    expect(dropClass(20)).toBe("medium");
    expect(dropClass(59.9)).toBe("medium");
    expect(dropClass(60)).toBe("large");
    expect(dropClass(30, [40, 50])).toBe("small");
  });
});

describe("tree structure and layout", () => {
  it("finds roots, children and paths", () => {
    const n = nodes();
    expect(rootsOf(n)).toEqual([0, 1]);
    expect(childrenOf(n)).toEqual([[2, 3], [], [4], [], []]);
    expect(pathToRoot(n, 4)).toEqual([0, 2, 4]);
    expect(pathToRoot(n, 1)).toEqual([1]);
  });

  it("lays leaves one slot apart with parents over their children", () => {
    const [a, b] = layoutTrees(nodes());
    expect(a.root).toBe(0);
    expect(a.slots).toBe(2);
    expect(a.depth).toBe(3);
    expect(a.positions.get(4)).toEqual([0, 2]);
    expect(a.positions.get(2)).toEqual([0, 1]);
    expect(a.positions.get(3)).toEqual([1, 1]);
    expect(a.positions.get(0)).toEqual([0.5, 0]);
    expect(b.positions.get(1)).toEqual([0, 0]);
    expect(b.slots).toBe(1);
  });

  it("moves the selection along the trees with the arrow keys", () => {
    const n = nodes();
    expect(moveSelection(n, 0, "ArrowDown")).toBe(2);
    expect(moveSelection(n, 2, "ArrowRight")).toBe(3);
    expect(moveSelection(n, 3, "ArrowRight")).toBeNull();
    expect(moveSelection(n, 3, "ArrowLeft")).toBe(2);
    expect(moveSelection(n, 4, "ArrowUp")).toBe(2);
    expect(moveSelection(n, 0, "ArrowUp")).toBeNull();
    expect(moveSelection(n, 0, "ArrowRight")).toBe(1);
    expect(moveSelection(n, 1, "ArrowDown")).toBeNull();
    expect(moveSelection(n, 4, "Home")).toBe(0);
    expect(moveSelection(n, 0, "End")).toBe(1);
    expect(moveSelection(n, -1, "ArrowDown")).toBe(0);
    expect(moveSelection(n, 2, "a")).toBeNull();
    expect(moveSelection([], 0, "Home")).toBeNull();
  });
});

describe("patch masks", () => {
  it("matches torch's bilinear upsampling (align_corners=False) for soft edges", () => {
    // xwidgets.sag.patch_masks of cells {1, 3} on a 2 x 3 grid at 6 x 4 pixels
    const expected = [
      [0.0, 0.25, 0.75, 0.75, 0.25, 0.0],
      [0.25, 0.375, 0.625, 0.5625, 0.1875, 0.0],
      [0.75, 0.625, 0.375, 0.1875, 0.0625, 0.0],
      [1.0, 0.75, 0.25, 0.0, 0.0, 0.0],
    ].flat();
    const w = patchWeights([1, 3], 2, 3, 6, 4, true);
    expect(Array.from(w)).toEqual(expected.map((v) => expect.closeTo(v, 6)));
  });

  it("reveals whole cells with hard edges", () => {
    const expected = [
      [0, 0, 1, 1, 0, 0],
      [0, 0, 1, 1, 0, 0],
      [1, 1, 0, 0, 0, 0],
      [1, 1, 0, 0, 0, 0],
    ].flat();
    expect(Array.from(patchWeights([1, 3], 2, 3, 6, 4, false))).toEqual(expected);
    expect(Array.from(patchWeights([], 2, 3, 6, 4, true)).every((v) => v === 0)).toBe(true);
    expect(Array.from(patchWeights([0, 1, 2, 3, 4, 5], 2, 3, 6, 4, true)).every((v) => v === 1)).toBe(true);
  });

  it("places cell outlines", () => {
    expect(cellRect(4, 3, 3, 90, 60)).toEqual([30, 20, 30, 20]);
    expect(cellRect(8, 3, 3, 90, 60)).toEqual([60, 40, 30, 20]);
  });

  it("describes a node", () => {
    const n = nodes();
    expect(nodeText(n[0])).toContain("3 patches");
    expect(nodeText(n[0])).toContain("a root");
    expect(nodeText(n[3])).toContain("\u221270.0 points without patch 3");
    expect(nodeText(n[1])).toContain("1 patch \u00b7");
  });
});
