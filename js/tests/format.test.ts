import { describe, expect, it } from "vitest";
import { classText, formatProbability, formatValue } from "../lib/format";

describe("format", () => {
  it("formats probabilities as percentages", () => {
    expect(formatProbability(0.9512)).toBe("95.1%");
    expect(formatProbability(1)).toBe("100.0%");
    expect(formatProbability(0)).toBe("0.0%");
    expect(formatProbability(0.0004)).toBe("<0.1%");
    expect(formatProbability(null)).toBe("n/a");
    expect(formatProbability(NaN)).toBe("n/a");
  });

  it("formats map values with 4 significant digits", () => {
    expect(formatValue(0.734375)).toBe("0.7344");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(-12.5)).toBe("-12.5");
    expect(formatValue(2.5e-6)).toBe("2.500e-6");
    expect(formatValue(123456)).toBe("1.235e+5");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(-Infinity)).toBe("-inf");
  });

  it("builds the class picker's text", () => {
    expect(classText("espresso", 0.95)).toBe("espresso (95.0%)");
    expect(classText("custom target", null)).toBe("custom target (n/a)");
  });
});
