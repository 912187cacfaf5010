import { describe, expect, it } from "vitest";
import { inflate, loadReportDocument, readReportDocument, reviveBinaryAsync, undelta } from "../lib/report_state";

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** What Python's delta_planes does: differences of LE k-byte ints, then byte planes. */
function deltaPlanes(bytes: Uint8Array, k: number): Uint8Array {
  const n = bytes.length / k;
  const out = new Uint8Array(bytes.length);
  let prev = 0n;
  const mod = 1n << BigInt(8 * k);
  for (let i = 0; i < n; i++) {
    let v = 0n;
    for (let b = k - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[i * k + b]);
    const d = (((v - prev) % mod) + mod) % mod;
    prev = v;
    for (let b = 0; b < k; b++) out[b * n + i] = Number((d >> BigInt(8 * b)) & 0xffn);
  }
  return out;
}

function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("inflate", () => {
  it("inflates a zlib stream with the built-in DecompressionStream", async () => {
    const bytes = new Uint8Array(1000).map((_, i) => i % 7);
    const packed = await deflate(bytes);
    expect(packed.length).toBeLessThan(100);
    expect(Array.from(await inflate(packed))).toEqual(Array.from(bytes));
  });

  it("rejects corrupt data", async () => {
    await expect(inflate(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow();
  });
});

describe("undelta", () => {
  it.each([2, 4])("inverts the %i-byte delta filter for any bytes", (k) => {
    const bytes = randomBytes(64 * k, k);
    expect(Array.from(undelta(deltaPlanes(bytes, k), k))).toEqual(Array.from(bytes));
  });

  it("inverts it for float16 data with wrap-around", () => {
    const halves = new Uint16Array([0x3c00, 0x0001, 0xffff, 0x0000, 0x8000, 0x7bff]);
    const bytes = new Uint8Array(halves.buffer);
    expect(Array.from(undelta(deltaPlanes(bytes, 2), 2))).toEqual(Array.from(bytes));
  });

  it("checks its arguments", () => {
    expect(() => undelta(new Uint8Array(3), 2)).toThrow(/multiple of 2/);
    expect(() => undelta(new Uint8Array(3), 3)).toThrow(/2 or 4/);
  });
});

describe("compressed report state", () => {
  it("revives $binary and $deflate markers (with and without $delta) at any depth", async () => {
    const plain = new Uint8Array(300).map((_, i) => (i * 3) % 11);
    const floats = new Uint8Array(new Uint16Array(200).map((_, i) => 0x3c00 + i).buffer);
    const state = {
      a: { $deflate: toBase64(await deflate(plain)), $size: 300 },
      maps: { data: { $deflate: toBase64(await deflate(deltaPlanes(floats, 2))), $size: 400, $delta: 2 }, dtype: "float16" },
      list: [{ $binary: "AQI=" }],
      n: 3,
    };
    const out = (await reviveBinaryAsync(state)) as {
      a: DataView;
      maps: { data: DataView; dtype: string };
      list: DataView[];
      n: number;
    };
    expect(out.a).toBeInstanceOf(DataView);
    expect(Array.from(new Uint8Array(out.a.buffer, out.a.byteOffset, out.a.byteLength))).toEqual(Array.from(plain));
    expect(out.maps.data.getUint16(0, true)).toBe(0x3c00);
    expect(out.maps.data.getUint16(398, true)).toBe(0x3c00 + 199);
    expect(out.maps.dtype).toBe("float16");
    expect(out.list[0].byteLength).toBe(2);
    expect(out.n).toBe(3);
  });

  it("checks the inflated size", async () => {
    const marker = { $deflate: toBase64(await deflate(new Uint8Array(10))), $size: 11 };
    await expect(reviveBinaryAsync(marker)).rejects.toThrow(/inflated to 10 bytes; expected 11/);
  });

  it("leaves look-alike objects alone", async () => {
    expect(await reviveBinaryAsync({ $deflate: "AA==", other: 1 })).toEqual({ $deflate: "AA==", other: 1 });
    expect(await reviveBinaryAsync({ $deflate: "AA==" })).toEqual({ $deflate: "AA==" });
  });

  it("loads a document, checking it first", async () => {
    const packed = toBase64(await deflate(new Uint8Array(100).fill(7)));
    const text = JSON.stringify({ version: 1, widgets: [{ module: "compare_grid", state: { b: { $deflate: packed, $size: 100 } } }] });
    const doc = await loadReportDocument(text);
    expect(doc.widgets[0].module).toBe("compare_grid");
    expect((doc.widgets[0].state.b as DataView).getUint8(99)).toBe(7);
    // reading alone leaves the markers for each widget to revive on its own
    expect(readReportDocument(text).widgets[0].state.b).toEqual({ $deflate: packed, $size: 100 });
    await expect(loadReportDocument('{"version": 2, "widgets": []}')).rejects.toThrow(/version 2/);
  });
});
