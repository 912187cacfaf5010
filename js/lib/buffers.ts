// Binary trait payloads -> typed arrays.
//
// Jupyter delivers each `bytes` value of a trait as a DataView that usually points into a
// larger ArrayBuffer (the whole comm message), so every view must honour `byteOffset` and
// `byteLength`. Python sends little-endian data (numpy '<f2', '<f4').

/** What a binary trait value may arrive as, depending on the front end. */
export type BinaryLike = DataView | ArrayBuffer | ArrayBufferView;

export type DType = "uint8" | "float16" | "float32";

export const DTYPE_SIZE: Readonly<Record<DType, number>> = { uint8: 1, float16: 2, float32: 4 };

/** The `{data, dtype, shape}` dictionary that Python's `array_payload` produces. */
export interface ArrayPayload {
  data: BinaryLike;
  dtype: string;
  shape: number[];
}

/** A decoded array: uint8 stays uint8, float16 and float32 become Float32Array. */
export interface DecodedArray {
  data: Uint8Array | Float32Array;
  dtype: DType;
  shape: number[];
}

/** Bytes of a binary value as a Uint8Array view (no copy), honouring byteOffset. */
export function asBytes(value: BinaryLike): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected binary data (DataView, ArrayBuffer or typed array); got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}

// --- float16 ------------------------------------------------------------------------------

/** IEEE 754 binary16 -> number. Handles subnormals, infinities and NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x03ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | null = null;

/** All 65,536 half values, built once (256 KiB) so decoding is one lookup per element. */
function getHalfTable(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Little-endian float16 bytes -> Float32Array (a new array; any alignment). */
export function decodeFloat16(value: BinaryLike): Float32Array {
  const bytes = asBytes(value);
  if (bytes.byteLength % 2 !== 0) {
    throw new RangeError(`float16 data: expected an even number of bytes; got ${bytes.byteLength}`);
  }
  const table = getHalfTable();
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = table[bytes[j] | (bytes[j + 1] << 8)];
  return out;
}

/** Little-endian float32 bytes -> Float32Array: a view when aligned, else a copy. */
export function decodeFloat32(value: BinaryLike): Float32Array {
  const bytes = asBytes(value);
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`float32 data: expected a multiple of 4 bytes; got ${bytes.byteLength}`);
  }
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.slice().buffer);
}

/** Decode a `{data, dtype, shape}` payload, checking that the byte count matches the shape. */
export function decodeArray(payload: ArrayPayload): DecodedArray {
  if (payload === null || typeof payload !== "object") {
    throw new TypeError(`array payload: expected {data, dtype, shape}; got ${describe(payload)}`);
  }
  const dtype = payload.dtype as DType;
  if (!(dtype in DTYPE_SIZE)) {
    throw new TypeError(`array payload: expected dtype uint8, float16 or float32; got ${String(payload.dtype)}`);
  }
  const shape = Array.from(payload.shape ?? [], Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(`array payload: expected a shape of non-negative integers; got [${shape.join(", ")}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = asBytes(payload.data);
  const expected = count * DTYPE_SIZE[dtype];
  if (bytes.byteLength !== expected) {
    throw new RangeError(
      `array payload: shape [${shape.join(", ")}] of ${dtype} needs ${expected} bytes; got ${bytes.byteLength}`,
    );
  }
  const data = dtype === "uint8" ? bytes : dtype === "float16" ? decodeFloat16(bytes) : decodeFloat32(bytes);
  return { data, dtype, shape };
}

/**
 * decodeArray, requiring one dimension per name of `dims` (["N", "M", "H", "W"]); the
 * RangeError otherwise names the trait (`name`) and the expected shape.
 */
export function decodeShaped(value: unknown, name: string, dims: readonly string[]): DecodedArray {
  const decoded = decodeArray(value as ArrayPayload);
  if (decoded.shape.length !== dims.length) {
    throw new RangeError(`${name}: expected shape [${dims.join(", ")}]; got [${decoded.shape.join(", ")}]`);
  }
  return decoded;
}
