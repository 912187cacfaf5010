import { describe, expect, it } from "vitest";
import { clampOpacity, clampSelection, navigate } from "../lib/selection";

describe("clampSelection", () => {
  it("clamps into [0, count)", () => {
    expect(clampSelection(2, 5)).toBe(2);
    expect(clampSelection(7, 5)).toBe(4);
    expect(clampSelection(-3, 5)).toBe(0);
    expect(clampSelection(2.9, 5)).toBe(2);
  });

  it("copes with junk and with nothing to select", () => {
    expect(clampSelection(NaN, 5)).toBe(0);
    expect(clampSelection(undefined, 5)).toBe(0);
    expect(clampSelection("3", 5)).toBe(3);
    expect(clampSelection(3, 0)).toBe(0);
  });
});

describe("navigate", () => {
  it("moves with arrows, wrapping, and jumps with Home/End", () => {
    expect(navigate(0, "ArrowDown", 3)).toBe(1);
    expect(navigate(2, "ArrowRight", 3)).toBe(0);
    expect(navigate(0, "ArrowUp", 3)).toBe(2);
    expect(navigate(1, "ArrowLeft", 3)).toBe(0);
    expect(navigate(1, "Home", 3)).toBe(0);
    expect(navigate(1, "End", 3)).toBe(2);
  });

  it("ignores other keys and empty lists", () => {
    expect(navigate(1, "a", 3)).toBeNull();
    expect(navigate(0, "Enter", 3)).toBeNull();
    expect(navigate(0, "ArrowDown", 0)).toBeNull();
  });

  it("starts from a clamped position", () => {
    expect(navigate(9, "ArrowDown", 3)).toBe(0);
  });
});

describe("clampOpacity", () => {
  it("clamps to [0, 1] and falls back for junk", () => {
    expect(clampOpacity(0.3)).toBe(0.3);
    expect(clampOpacity(1.5)).toBe(1);
    expect(clampOpacity(-1)).toBe(0);
    expect(clampOpacity("0.25")).toBe(0.25);
    expect(clampOpacity(NaN)).toBe(0.5);
    expect(clampOpacity(undefined, 0.7)).toBe(0.7);
  });
});
