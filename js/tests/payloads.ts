// Binary trait payloads for the tests, laid out as Jupyter delivers them: a DataView some
// bytes into a larger buffer, little-endian.

// float16 bit patterns of the exactly representable values the tests use
const HALF: Record<string, number> = {
  "0": 0x0000, "0.25": 0x3400, "0.5": 0x3800, "0.75": 0x3a00, "1": 0x3c00, "2": 0x4000, "3": 0x4200, NaN: 0x7e00,
};

/** Little-endian float16 bytes of `values`, `offset` bytes into a larger buffer. */
export function half(values: number[], offset = 3): DataView {
  const buffer = new ArrayBuffer(offset + values.length * 2 + 5);
  const view = new DataView(buffer, offset, values.length * 2);
  values.forEach((v, i) => {
    const bits = HALF[String(v)];
    if (bits === undefined) throw new RangeError(`half: no float16 pattern for ${v} in the table`);
    view.setUint16(i * 2, bits, true);
  });
  return view;
}

/** Little-endian float32 bytes of `values`, `offset` bytes into a larger buffer. */
export function f32(values: number[], offset = 1): DataView {
  const buffer = new ArrayBuffer(offset + values.length * 4);
  const view = new DataView(buffer, offset, values.length * 4);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return view;
}
