// Widget state embedded in a report: JSON where bytes are {"$binary": "<base64>"}.
// Python's xwidgets/report writes it; reviveBinary turns it back into what Jupyter would
// deliver: a DataView for every binary value.

export interface ReportWidget {
  module: string;
  state: Record<string, unknown>;
}

export interface ReportDocument {
  version: number;
  widgets: ReportWidget[];
}

/** Base64 -> bytes, without fetch or data: URLs. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function isBinaryMarker(value: object): value is { $binary: string } {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "$binary" && typeof (value as { $binary: unknown }).$binary === "string";
}

/** A copy of `value` in which every {"$binary": base64} object is a DataView. */
export function reviveBinary(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveBinary);
  if (value !== null && typeof value === "object") {
    if (isBinaryMarker(value)) {
      const bytes = base64ToBytes(value.$binary);
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = reviveBinary(v);
    return out;
  }
  return value;
}

/** Parse and check a report document (the text of its application/json script). */
export function parseReportDocument(text: string): ReportDocument {
  const doc = JSON.parse(text) as Partial<ReportDocument>;
  if (doc === null || typeof doc !== "object" || !Array.isArray(doc.widgets)) {
    throw new TypeError("xwidgets report: expected {version, widgets: [...]} in the state script");
  }
  if (doc.version !== 1) throw new TypeError(`xwidgets report: unsupported state version ${String(doc.version)}`);
  return {
    version: 1,
    widgets: doc.widgets.map((w, i) => {
      if (w === null || typeof w !== "object" || typeof w.module !== "string" || typeof w.state !== "object") {
        throw new TypeError(`xwidgets report: widget ${i} needs a module name and a state object`);
      }
      return { module: w.module, state: reviveBinary(w.state) as Record<string, unknown> };
    }),
  };
}
