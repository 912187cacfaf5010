// Widget state embedded in a report: JSON where bytes are {"$binary": "<base64>"}, or,
// when deflate makes them smaller, {"$deflate": "<base64 of a zlib stream>", "$size": n}
// with an optional "$delta": k (k = 2 or 4): before deflating, the bytes were read as
// little-endian unsigned k-byte integers, each replaced by its difference from the one
// before (mod 2^(8k), the first from 0), and the bytes regrouped into k planes (every
// first byte, then every second byte...). Smooth float16 maps shrink about 4x that way.
// Python's xwidgets/report writes it; loadReportDocument turns it back into what Jupyter
// would deliver: a DataView for every binary value. Inflating uses the browser's own
// DecompressionStream("deflate"): no library, no network.

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

/** Check a parsed report document's shape; the widgets' states are returned as they are. */
function checkDocument(parsed: unknown): ReportDocument {
  const doc = parsed as Partial<ReportDocument> | null;
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
      return { module: w.module, state: w.state };
    }),
  };
}

/**
 * Parse and check a report document (the text of its application/json script), reviving
 * {$binary} markers. {$deflate} markers stay as they are: see loadReportDocument.
 */
export function parseReportDocument(text: string): ReportDocument {
  const doc = checkDocument(JSON.parse(text));
  return { version: doc.version, widgets: doc.widgets.map((w) => ({ module: w.module, state: reviveBinary(w.state) as Record<string, unknown> })) };
}

// --- deflate --------------------------------------------------------------------------------

interface DeflateMarker {
  $deflate: string;
  $size: number;
  $delta?: number;
}

function isDeflateMarker(value: object): value is DeflateMarker {
  const keys = Object.keys(value).sort();
  const v = value as Partial<DeflateMarker>;
  const shape = keys.join(",") === "$deflate,$size" || keys.join(",") === "$deflate,$delta,$size";
  return shape && typeof v.$deflate === "string" && typeof v.$size === "number";
}

/** Inflate a zlib ("deflate") stream with the browser's DecompressionStream. */
export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream !== "function") {
    throw new Error("this browser has no DecompressionStream, which the report needs to unpack its data");
  }
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Undo the "$delta" filter: regroup k byte planes, then sum the differences (mod 2^(8k)). */
export function undelta(bytes: Uint8Array, width: number): Uint8Array {
  if (width !== 2 && width !== 4) throw new RangeError(`$delta: expected 2 or 4; got ${width}`);
  if (bytes.length % width !== 0) {
    throw new RangeError(`$delta ${width}: expected a multiple of ${width} bytes; got ${bytes.length}`);
  }
  const n = bytes.length / width;
  const out = new Uint8Array(bytes.length);
  if (width === 2) {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc = (acc + (bytes[i] | (bytes[n + i] << 8))) & 0xffff;
      out[2 * i] = acc & 0xff;
      out[2 * i + 1] = acc >>> 8;
    }
  } else {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const d = (bytes[i] | (bytes[n + i] << 8) | (bytes[2 * n + i] << 16) | (bytes[3 * n + i] << 24)) >>> 0;
      acc = (acc + d) >>> 0;
      out[4 * i] = acc & 0xff;
      out[4 * i + 1] = (acc >>> 8) & 0xff;
      out[4 * i + 2] = (acc >>> 16) & 0xff;
      out[4 * i + 3] = acc >>> 24;
    }
  }
  return out;
}

async function inflateMarker(marker: DeflateMarker): Promise<DataView> {
  let bytes = await inflate(base64ToBytes(marker.$deflate));
  if (bytes.length !== marker.$size) {
    throw new RangeError(`xwidgets report: a compressed buffer inflated to ${bytes.length} bytes; expected ${marker.$size}`);
  }
  if (marker.$delta !== undefined) bytes = undelta(bytes, marker.$delta);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A copy of `value` in which every {$binary} and {$deflate} marker is a DataView. */
export async function reviveBinaryAsync(value: unknown): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map(reviveBinaryAsync));
  if (value !== null && typeof value === "object") {
    if (ArrayBuffer.isView(value)) return value;
    if (isDeflateMarker(value)) return inflateMarker(value);
    if (isBinaryMarker(value)) return reviveBinary(value);
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await reviveBinaryAsync(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * Parse and check a report document without reviving its states: revive each widget's state
 * with reviveBinaryAsync, so that one bad buffer only fails its own widget.
 */
export function readReportDocument(text: string): ReportDocument {
  return checkDocument(JSON.parse(text));
}

/** Parse, check and revive a report document, inflating compressed buffers. */
export async function loadReportDocument(text: string): Promise<ReportDocument> {
  const doc = readReportDocument(text);
  const widgets = await Promise.all(
    doc.widgets.map(async (w) => ({ module: w.module, state: (await reviveBinaryAsync(w.state)) as Record<string, unknown> })),
  );
  return { version: doc.version, widgets };
}
