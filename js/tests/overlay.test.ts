import { describe, expect, it } from "vitest";

import { DIVERGING_COLORMAP } from "../lib/colormaps";
import { StaticModel } from "../lib/model";
import { SCALES } from "../lib/normalise";
import { SCALE_LABELS, displayColormap, pixelRatio, readColormap, readScale } from "../lib/overlay";

describe("overlay helpers shared by the widgets", () => {
  it("reads the colormap and scale traits, falling back on unknown values", () => {
    expect(readColormap(new StaticModel({ colormap: "magma" }))).toBe("magma");
    expect(readColormap(new StaticModel({ colormap: "jet" }))).toBe("viridis");
    expect(readColormap(new StaticModel({ colormap: DIVERGING_COLORMAP }))).toBe("viridis");
    expect(readScale(new StaticModel({ scale: "signed" }))).toBe("signed");
    expect(readScale(new StaticModel({ scale: 3 }))).toBe("auto");
    expect(readScale(new StaticModel({}))).toBe("auto");
  });

  it("offers every scale once in the picker", () => {
    expect(SCALE_LABELS.map(([value]) => value)).toEqual([...SCALES]);
  });

  it("draws signed displays on the diverging map", () => {
    const range = { min: -1, max: 1 };
    expect(displayColormap({ range, signed: true }, "gray")).toBe(DIVERGING_COLORMAP);
    expect(displayColormap({ range, signed: false }, "gray")).toBe("gray");
  });

  it("keeps the pixel ratio in [1, 2]", () => {
    const ratio = pixelRatio();
    expect(ratio).toBeGreaterThanOrEqual(1);
    expect(ratio).toBeLessThanOrEqual(2);
  });
});
