import { describe, expect, it } from "vitest";
import { asBytes, decodeArray, decodeFloat16, decodeFloat32, halfToFloat } from "../lib/buffers";

/** Bytes placed `offset` bytes into a larger buffer, as a DataView (as Jupyter delivers them). */
function viewAt(bytes: number[] | Uint8Array, offset: number, padAfter = 3): DataView {
  const buffer = new ArrayBuffer(offset + bytes.length + padAfter);
  const all = new Uint8Array(buffer);
  all.fill(0xee);
  all.set(bytes, offset);
  return new DataView(buffer, offset, bytes.length);
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe("halfToFloat", () => {
  it.each([
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])("decodes 0x%s", (h, expected) => {
    expect(halfToFloat(h)).toBe(expected);
  });

  it("keeps the sign of zero and decodes NaN", () => {
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(halfToFloat(0xfe01)).toBeNaN();
  });

  it("round-trips every finite half through Math.fround", () => {
    for (let h = 0; h < 0x7c00; h += 7) expect(Math.fround(halfToFloat(h))).toBe(halfToFloat(h));
  });
});

describe("decodeFloat16", () => {
  it("reads little-endian values and honours byteOffset", () => {
    const dv = viewAt([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38], 5);
    expect(Array.from(decodeFloat16(dv))).toEqual([1, -2, 0.5]);
  });

  it("rejects an odd byte count", () => {
    expect(() => decodeFloat16(viewAt([1, 2, 3], 1))).toThrow(/even number of bytes/);
  });
});

describe("decodeFloat32", () => {
  it("returns a view when aligned (no copy)", () => {
    const dv = viewAt(f32Bytes([1.5, -3]), 8);
    const out = decodeFloat32(dv);
    expect(Array.from(out)).toEqual([1.5, -3]);
    expect(out.buffer).toBe(dv.buffer);
    expect(out.byteOffset).toBe(8);
  });

  it("copies when misaligned", () => {
    const dv = viewAt(f32Bytes([0.25, 7]), 3);
    const out = decodeFloat32(dv);
    expect(Array.from(out)).toEqual([0.25, 7]);
    expect(out.buffer).not.toBe(dv.buffer);
  });
});

describe("asBytes", () => {
  it("accepts DataView, ArrayBuffer and typed arrays", () => {
    const dv = viewAt([9, 8, 7], 2);
    expect(Array.from(asBytes(dv))).toEqual([9, 8, 7]);
    expect(Array.from(asBytes(new Uint8Array([1, 2]).buffer))).toEqual([1, 2]);
    expect(Array.from(asBytes(new Uint16Array([0x0102])))).toEqual([2, 1]);
  });

  it("names what came when it is not binary", () => {
    expect(() => asBytes([1, 2] as unknown as DataView)).toThrow(/got an array of length 2/);
  });
});

describe("decodeArray", () => {
  it("decodes uint8 as a view honouring byteOffset", () => {
    const dv = viewAt([1, 2, 3, 4, 5, 6], 7);
    const out = decodeArray({ data: dv, dtype: "uint8", shape: [2, 3] });
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.shape).toEqual([2, 3]);
  });

  it("decodes float16 and float32 to Float32Array", () => {
    const h = decodeArray({ data: viewAt([0x00, 0x3c, 0x00, 0x40], 1), dtype: "float16", shape: [1, 1, 2] });
    expect(h.data).toBeInstanceOf(Float32Array);
    expect(Array.from(h.data)).toEqual([1, 2]);
    const f = decodeArray({ data: viewAt(f32Bytes([0.1]), 4), dtype: "float32", shape: [1] });
    expect(f.data[0]).toBe(Math.fround(0.1));
  });

  it("checks the byte count against the shape", () => {
    expect(() => decodeArray({ data: viewAt([0, 0, 0], 0), dtype: "float16", shape: [2] })).toThrow(
      /shape \[2\] of float16 needs 4 bytes; got 3/,
    );
  });

  it("rejects unknown dtypes and bad shapes", () => {
    expect(() => decodeArray({ data: viewAt([0], 0), dtype: "int64", shape: [1] })).toThrow(/dtype/);
    expect(() => decodeArray({ data: viewAt([0], 0), dtype: "uint8", shape: [-1] })).toThrow(/non-negative/);
  });
});
