import { describe, expect, it, vi } from "vitest";
import { StaticModel } from "../lib/model";
import { base64ToBytes, parseReportDocument, reviveBinary } from "../lib/report_state";

describe("StaticModel", () => {
  it("gets and sets, firing change:<name> then change", () => {
    const m = new StaticModel({ selected: 0 });
    const order: string[] = [];
    m.on("change:selected", (_model, value) => order.push(`selected=${String(value)}`));
    m.on("change", () => order.push("change"));
    m.set("selected", 2);
    expect(m.get("selected")).toBe(2);
    expect(order).toEqual(["selected=2", "change"]);
  });

  it("does not fire when the value is unchanged", () => {
    const m = new StaticModel({ opacity: 0.5 });
    const cb = vi.fn();
    m.on("change:opacity", cb);
    m.set("opacity", 0.5);
    expect(cb).not.toHaveBeenCalled();
  });

  it("off removes one callback, one event or everything", () => {
    const m = new StaticModel({});
    const a = vi.fn();
    const b = vi.fn();
    m.on("change:x", a);
    m.on("change:x", b);
    m.on("change:y", a);
    m.off("change:x", a);
    m.set("x", 1);
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
    m.off("change:x");
    expect(m.listenerCount()).toBe(1);
    m.off();
    expect(m.listenerCount()).toBe(0);
  });

  it("counts save_changes and records send without a kernel", () => {
    const m = new StaticModel({});
    m.save_changes();
    m.send({ action: "recompute" });
    expect(m.saves).toBe(1);
    expect(m.sent).toEqual([{ action: "recompute" }]);
  });
});

describe("report state", () => {
  it("decodes base64", () => {
    expect(Array.from(base64ToBytes("AAEC/w=="))).toEqual([0, 1, 2, 255]);
  });

  it("revives {$binary} objects into DataViews at any depth", () => {
    const out = reviveBinary({ maps: { data: { $binary: "ADw=" }, dtype: "float16" }, list: [{ $binary: "" }], n: 3 }) as {
      maps: { data: DataView; dtype: string };
      list: DataView[];
      n: number;
    };
    expect(out.maps.data).toBeInstanceOf(DataView);
    expect(out.maps.data.getUint16(0, true)).toBe(0x3c00);
    expect(out.maps.dtype).toBe("float16");
    expect(out.list[0].byteLength).toBe(0);
    expect(out.n).toBe(3);
  });

  it("leaves objects with other keys alone", () => {
    expect(reviveBinary({ $binary: "AA==", other: 1 })).toEqual({ $binary: "AA==", other: 1 });
  });

  it("parses and checks a report document", () => {
    const doc = parseReportDocument('{"version": 1, "widgets": [{"module": "saliency_viewer", "state": {"png": {"$binary": "AQI="}}}]}');
    expect(doc.widgets[0].module).toBe("saliency_viewer");
    expect((doc.widgets[0].state.png as DataView).byteLength).toBe(2);
    expect(() => parseReportDocument('{"version": 2, "widgets": []}')).toThrow(/version 2/);
    expect(() => parseReportDocument('{"version": 1}')).toThrow(/widgets/);
    expect(() => parseReportDocument('{"version": 1, "widgets": [{"state": {}}]}')).toThrow(/widget 0/);
  });
});
