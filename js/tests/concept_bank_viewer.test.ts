import { describe, expect, it } from "vitest";
import { conceptStats, readClasses, readConcept } from "../concept_bank_viewer";

const png = new Uint8Array([137, 80, 78, 71]);

describe("readClasses", () => {
  it("decodes the classes trait", () => {
    const classes = readClasses([
      { name: "ladder_truck", index: 0, images: 20, concepts: [
        { id: "ladder_truck/0", importance: 0.93, popularity: 0.45, examples: [{ png, width: 48, height: 48 }] },
        { id: "ladder_truck/1", importance: "bad", popularity: 0.2 },
      ] },
    ]);
    expect(classes).toHaveLength(1);
    expect(classes[0].name).toBe("ladder_truck");
    expect(classes[0].images).toBe(20);
    expect(classes[0].concepts[0].examples).toHaveLength(1);
    expect(classes[0].concepts[1].examples).toEqual([]);
    expect(Number.isNaN(classes[0].concepts[1].importance)).toBe(true);
  });

  it("rejects malformed payloads with what was wrong", () => {
    expect(() => readClasses({})).toThrow("classes: expected a list");
    expect(() => readClasses([{ name: "a" }])).toThrow("classes[0]: expected");
    expect(() => readClasses([{ name: "a", concepts: [{ id: "a/0", examples: [{ width: 1 }] }] }])).toThrow(
      "classes[0].concepts[0].examples[0]: expected {png, width, height}",
    );
  });
});

describe("conceptStats and readConcept", () => {
  it("formats importance and popularity", () => {
    const text = conceptStats({ id: "x/0", importance: 0.5, popularity: 0.456, examples: [] });
    expect(text).toContain("importance 0.5");
    expect(text).toContain("in 46% of images");
    expect(conceptStats({ id: "x/0", importance: 1, popularity: Number.NaN, examples: [] })).not.toContain("%");
  });

  it("keeps a selected concept only when it exists", () => {
    expect(readConcept(2, 4)).toBe(2);
    expect(readConcept(4, 4)).toBe(-1);
    expect(readConcept(-1, 4)).toBe(-1);
    expect(readConcept("1", 4)).toBe(1);
    expect(readConcept(1.5, 4)).toBe(-1);
  });
});
