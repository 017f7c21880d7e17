/** Test helper: encodes arrays as IDX bytes so tests build their fixtures in memory. */

export const TYPE_CODE = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };

const SIZE = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

/** The IDX encoding (big-endian) of `values` with shape `dims`. */
export function idxBytes(
  dtype: keyof typeof TYPE_CODE,
  dims: number[],
  values: ArrayLike<number>,
): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + values.length * SIZE[dtype]);
  const view = new DataView(out.buffer);
  out[2] = TYPE_CODE[dtype];
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const o = header + i * SIZE[dtype];
    if (dtype === "uint8") view.setUint8(o, v);
    else if (dtype === "int8") view.setInt8(o, v);
    else if (dtype === "int16") view.setInt16(o, v, false);
    else if (dtype === "int32") view.setInt32(o, v, false);
    else if (dtype === "float32") view.setFloat32(o, v, false);
    else view.setFloat64(o, v, false);
  }
  return out;
}
