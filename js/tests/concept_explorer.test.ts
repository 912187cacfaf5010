import { describe, expect, it } from "vitest";
import {
  classPosition,
  clickSelection,
  contributionColour,
  edgeTooltip,
  edgeWidth,
  inkOn,
  keepSelection,
  linksOf,
  litNodes,
  maskHas,
  nextNode,
  nodeRadius,
  nodeTooltip,
  readClassEntries,
  readGraph,
  readGraphs,
  readMasks,
  readSaliency,
  refKind,
  rimToRim,
  spotlightAlpha,
  tooltipOf,
  type GraphView,
} from "../concept_explorer";

// A graph as Python's ConceptExplorer sends it: three nodes (the third absent, without a
// box), two edges, a sentence cut into segments.
const node = (id: string, number: number, extra: Record<string, unknown> = {}) => ({
  id, name: `part ${id}`, number, present: true, box: [0, 0, 4, 4], centroid: [2, 2], mask: -1,
  contribution: 0.5, importance: 0.5, pos: [2, 2], ...extra,
});
const RAW = {
  nodes: [
    node("n1", 1, { contribution: 0.9, importance: 1, mask: 0 }),
    node("n2", 2, { contribution: -0.3, importance: 0.3, pos: [10, 2] }),
    node("a7", 3, { present: false, box: null, centroid: null, contribution: -0.6, importance: 0.6, pos: [5, 12] }),
  ],
  edges: [
    { id: "e1", source: "n1", target: "n2", relation: "left of", contribution: 0.4 },
    { id: "e2", source: "n2", target: "a7", relation: "above", contribution: -0.1 },
  ],
  segments: [
    { text: "Because of ", kind: "", ref: "" },
    { text: "part n1", kind: "node", ref: "n1" },
    { text: " and ", kind: "", ref: "" },
    { text: "n1 left of n2", kind: "edge", ref: "e1" },
    { text: "; not ", kind: "", ref: "" },
    { text: "part a7", kind: "node", ref: "a7" },
    { text: ".", kind: "", ref: "" },
  ],
  extent: [16, 14],
  band: 10,
};

function graph(): GraphView {
  return readGraph(structuredClone(RAW));
}

describe("readGraph", () => {
  it("reads nodes, edges, segments and indexes the ids", () => {
    const g = graph();
    expect(g.nodes.map((n) => n.id)).toEqual(["n1", "n2", "a7"]);
    expect(g.nodeIndex.get("a7")).toBe(2);
    expect(g.edgeIndex.get("e2")).toBe(1);
    expect(g.nodes[2]).toMatchObject({ present: false, box: null, centroid: null, number: 3 });
    expect(g.nodes[0].mask).toBe(0);
    expect(g.extent).toEqual([16, 14]);
    expect(g.band).toBe(10);
    expect(g.segments[3]).toEqual({ text: "n1 left of n2", kind: "edge", ref: "e1" });
  });

  it("rejects what would break the links, saying where", () => {
    const dup = structuredClone(RAW);
    dup.nodes[1].id = "n1";
    expect(() => readGraph(dup, "graphs[2]")).toThrow(/graphs\[2\]\.nodes\[1\]\.id/);
    const clash = structuredClone(RAW);
    clash.edges[0].id = "n2";
    expect(() => readGraph(clash)).toThrow(/edges\[0\]\.id/);
    const dangling = structuredClone(RAW);
    dangling.edges[1].target = "n9";
    expect(() => readGraph(dangling)).toThrow(/source and target/);
    const phrase = structuredClone(RAW);
    phrase.segments[1].ref = "e1";
    expect(() => readGraph(phrase)).toThrow(/segments\[1\]\.ref: "e1" is not a node/);
    const nan = structuredClone(RAW) as { nodes: Array<Record<string, unknown>> };
    nan.nodes[0].contribution = null;
    expect(() => readGraph(nan)).toThrow(/nodes\[0\]\.contribution: expected a finite number/);
    expect(() => readGraphs({})).toThrow(/graphs: expected a list/);
    expect(() => readGraph({ ...structuredClone(RAW), extent: [0, 3] })).toThrow(/extent/);
  });

  it("clamps importance to [0, 1] and defaults the optional fields", () => {
    const raw = structuredClone(RAW) as { nodes: Array<Record<string, unknown>>; edges?: unknown; segments?: unknown; band?: unknown };
    raw.nodes[0].importance = 3;
    delete raw.edges;
    delete raw.segments;
    raw.band = null;
    const g = readGraph(raw);
    expect(g.nodes[0].importance).toBe(1);
    expect(g.edges).toEqual([]);
    expect(g.segments).toEqual([]);
    expect(g.band).toBeNull();
  });
});

describe("selection links: node <-> patch <-> phrase", () => {
  it("a node lights itself (and so its patch) and its phrases; its edges and their phrases are related", () => {
    const links = linksOf(graph(), "n1");
    expect([...links.nodes]).toEqual([["n1", "selected"]]);
    expect([...links.edges]).toEqual([["e1", "related"]]);
    expect([...links.segments]).toEqual([[1, "selected"], [3, "related"]]);
    expect(litNodes(links)).toEqual(["n1"]);
  });

  it("an edge lights itself and its phrase; both its nodes, their patches and phrases as related", () => {
    const links = linksOf(graph(), "e1");
    expect([...links.edges]).toEqual([["e1", "selected"]]);
    expect([...links.nodes]).toEqual([["n1", "related"], ["n2", "related"]]);
    expect([...links.segments]).toEqual([[1, "related"], [3, "selected"]]);
    expect(litNodes(links)).toEqual(["n1", "n2"]);
  });

  it("an absent node's phrase links to it; its edge is related", () => {
    const links = linksOf(graph(), "a7");
    expect(links.nodes.get("a7")).toBe("selected");
    expect(links.edges.get("e2")).toBe("related");
    expect(links.segments.get(5)).toBe("selected");
  });

  it("nothing for no selection or an unknown id", () => {
    for (const ref of ["", "n9", "E1"]) {
      const links = linksOf(graph(), ref);
      expect(links.nodes.size + links.edges.size + links.segments.size).toBe(0);
    }
    expect(linksOf(null, "n1").nodes.size).toBe(0);
  });

  it("refKind tells nodes from edges", () => {
    const g = graph();
    expect([refKind(g, "n2"), refKind(g, "e2"), refKind(g, "x"), refKind(g, ""), refKind(null, "n1")]).toEqual(["node", "edge", null, null, null]);
  });

  it("a click on the selected item clears it; on another selects that one", () => {
    expect(clickSelection("n1", "n1")).toBe("");
    expect(clickSelection("n1", "e1")).toBe("e1");
    expect(clickSelection("", "n2")).toBe("n2");
  });
});

describe("keyboard navigation", () => {
  it("arrows step through the nodes in their order, wrapping; Home and End jump", () => {
    const g = graph();
    expect(nextNode(g, "n1", "ArrowRight")).toBe("n2");
    expect(nextNode(g, "n2", "ArrowDown")).toBe("a7");
    expect(nextNode(g, "a7", "ArrowRight")).toBe("n1");
    expect(nextNode(g, "n1", "ArrowLeft")).toBe("a7");
    expect(nextNode(g, "n2", "ArrowUp")).toBe("n1");
    expect(nextNode(g, "n2", "Home")).toBe("n1");
    expect(nextNode(g, "n1", "End")).toBe("a7");
    // the full cycle visits every node once
    const seen = ["n1"];
    for (let i = 0; i < 3; i++) seen.push(nextNode(g, seen[seen.length - 1], "ArrowRight") as string);
    expect(seen).toEqual(["n1", "n2", "a7", "n1"]);
  });

  it("starts at the first (forward) or last (back) node from no node or an edge", () => {
    const g = graph();
    expect(nextNode(g, "", "ArrowRight")).toBe("n1");
    expect(nextNode(g, "e1", "ArrowLeft")).toBe("a7");
  });

  it("other keys and empty graphs do not navigate", () => {
    expect(nextNode(graph(), "n1", "Enter")).toBeNull();
    expect(nextNode(graph(), "n1", "a")).toBeNull();
    expect(nextNode(null, "n1", "ArrowRight")).toBeNull();
    expect(nextNode(readGraph({ nodes: [], extent: [1, 1] }), "", "ArrowRight")).toBeNull();
  });
});

describe("class switching", () => {
  const classes = readClassEntries([
    { index: 4, label: "four wheeler", probability: 0.7, question: "Why four wheeler?" },
    { index: 3, label: "two wheeler", probability: 0.1, question: "Why not two wheeler?" },
  ]);

  it("finds the class shown by its index", () => {
    expect(classPosition(classes, 3)).toBe(1);
    expect(classPosition(classes, 4)).toBe(0);
    expect(classPosition(classes, 99)).toBe(0);
    expect(classes[1]).toEqual({ index: 3, label: "two wheeler", probability: 0.1, question: "Why not two wheeler?" });
  });

  it("keeps the selection when the new class has the id, else clears it", () => {
    const other = readGraph({ nodes: [node("n1", 1)], edges: [], extent: [4, 4] });
    expect(keepSelection(other, "n1")).toBe("n1");
    expect(keepSelection(other, "n2")).toBe("");
    expect(keepSelection(other, "e1")).toBe("");
    expect(keepSelection(null, "n1")).toBe("");
  });

  it("reads missing fields with defaults", () => {
    expect(readClassEntries([{ index: 2 }])).toEqual([{ index: 2, label: "class 0", probability: null, question: "class 0" }]);
    expect(readClassEntries("nope")).toEqual([]);
  });
});

describe("buffers: masks and saliency", () => {
  // mask 0: box x [1, 4), y [2, 4): rows 101 / 011 -> bits 101011 -> 0b10101100 = 0xac
  // mask 1: box x [0, 2), y [0, 1): row 11 -> 0b11000000 = 0xc0; at an odd offset in a larger buffer
  function maskPayload(): { data: DataView; items: number[][] } {
    const buffer = new Uint8Array(9);
    buffer.set([0xac, 0xc0], 3);
    return { data: new DataView(buffer.buffer, 3, 2), items: [[1, 2, 4, 4, 0], [0, 0, 2, 1, 1]] };
  }

  it("decodes bit-packed crops (MSB first, as numpy.packbits) honouring the byte offset", () => {
    const masks = readMasks(maskPayload());
    const on = (i: number): string[] => {
      const out: string[] = [];
      for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) if (maskHas(masks, i, x, y)) out.push(`${x},${y}`);
      return out;
    };
    expect(on(0)).toEqual(["1,2", "3,2", "2,3", "3,3"]);
    expect(on(1)).toEqual(["0,0", "1,0"]);
    expect(maskHas(masks, 5, 0, 0)).toBe(false);
  });

  it("rejects items that point past the data or are malformed", () => {
    const bad = maskPayload();
    bad.items[1][4] = 2;
    expect(() => readMasks(bad)).toThrow(/masks\.items\[1\]: needs bytes \[2, 3\) of 2/);
    expect(() => readMasks({ data: new Uint8Array(1), items: [[0, 0, 0, 1, 0]] })).toThrow(/x1 > x0/);
    expect(() => readMasks({ data: new Uint8Array(1), items: [[0, 0, 1]] })).toThrow(/\[x0, y0, x1, y1, offset\]/);
    expect(readMasks({}).items).toEqual([]);
  });

  it("the spotlight clears the lit masks and boxes and dims the rest", () => {
    const masks = readMasks(maskPayload());
    const alpha = spotlightAlpha(masks, [0, [4, 0, 5, 2]], 5, 5, 150);
    const clear: string[] = [];
    alpha.forEach((a, i) => {
      if (a === 0) clear.push(`${i % 5},${Math.floor(i / 5)}`);
      else expect(a).toBe(150);
    });
    expect(clear.sort()).toEqual(["1,2", "2,3", "3,2", "3,3", "4,0", "4,1"].sort());
    expect(spotlightAlpha(masks, [], 2, 2, 90)).toEqual(new Uint8Array([90, 90, 90, 90]));
  });

  it("maps saliency levels back onto [min, max]", () => {
    const buffer = new Uint8Array(7);
    buffer.set([0, 255, 51, 102], 1);
    const map = readSaliency({ data: new DataView(buffer.buffer, 1, 4), dtype: "uint8", shape: [2, 2], min: -1, max: 4 });
    expect(map).not.toBeNull();
    expect(map?.rows).toBe(2);
    expect(Array.from(map?.data ?? [])).toEqual([-1, 4, 0, 1].map(Math.fround));
    expect(map?.range).toEqual({ min: -1, max: 4 });
    expect(readSaliency({})).toBeNull();
    expect(() => readSaliency({ data: new Uint8Array(4), dtype: "uint8", shape: [4], min: 0, max: 1 })).toThrow(/shape \[h, w\]/);
    expect(() => readSaliency({ data: new Uint8Array(3), dtype: "uint8", shape: [2, 2], min: 0, max: 1 })).toThrow(/needs 4 bytes/);
  });
});

describe("drawing maths and tooltips", () => {
  it("colours contributions on the diverging map: blue negative, near white 0, red positive", () => {
    const rgb = (s: string) => s.match(/\d+/g)?.map(Number) ?? [];
    const [r1, , b1] = rgb(contributionColour(-1, 1));
    const [r2, , b2] = rgb(contributionColour(2, 1)); // clipped to +limit
    const mid = rgb(contributionColour(0, 1));
    expect(b1).toBeGreaterThan(r1 + 50);
    expect(r2).toBeGreaterThan(b2 + 50);
    expect(Math.min(...mid)).toBeGreaterThan(200);
    expect(contributionColour(0.3, 0)).toBe(contributionColour(0, 1));
  });

  it("numbers stay readable: white on the dark ends of the palette, dark on the light middle", () => {
    expect(inkOn(contributionColour(1, 1))).toBe("#fff");
    expect(inkOn(contributionColour(-1, 1))).toBe("#fff");
    expect(inkOn(contributionColour(0, 1))).toBe("#111");
    expect(inkOn(contributionColour(0.3, 1))).toBe("#111");
  });

  it("sizes nodes by importance and edges by |contribution|", () => {
    expect(nodeRadius(1, [100, 50])).toBeGreaterThan(nodeRadius(0, [100, 50]));
    expect(nodeRadius(2, [100, 50])).toBe(nodeRadius(1, [100, 50]));
    expect(edgeWidth(-0.8, 1, [100, 100])).toBe(edgeWidth(0.8, 1, [100, 100]));
    expect(edgeWidth(1, 1, [100, 100])).toBeGreaterThan(edgeWidth(0.1, 1, [100, 100]));
  });

  it("draws edges from rim to rim, none between overlapping nodes", () => {
    expect(rimToRim([0, 0], [10, 0], 2, 3)).toEqual([2, 0, 7, 0]);
    expect(rimToRim([0, 0], [4, 0], 2, 3)).toBeNull();
  });

  it("tooltips give the scores", () => {
    const g = graph();
    expect(nodeTooltip(g.nodes[0])).toEqual(["1 \u00b7 part n1", "contribution +0.9 \u00b7 importance 1", "found in the image"]);
    expect(nodeTooltip(g.nodes[2])[2]).toBe("not found in the image");
    expect(edgeTooltip(g.edges[0], g)).toEqual(["part n1 1 left of part n2 2", "contribution +0.4"]);
    expect(tooltipOf(g, "e2")[1]).toBe("contribution -0.1");
    expect(tooltipOf(g, "zz")).toEqual([]);
  });
});
