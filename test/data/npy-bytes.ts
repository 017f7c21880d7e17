/** Test helper: encodes arrays as NPY bytes (format 1.0, little-endian unless asked) for in-memory fixtures. */

const DESCR = { uint8: "|u1", int8: "|i1", int32: "<i4", int64: "<i8", float32: "<f4", float64: "<f8" };
const SIZE = { uint8: 1, int8: 1, int32: 4, int64: 8, float32: 4, float64: 8 };

export type NpyTestDtype = keyof typeof DESCR;

/** The .npy encoding of `values` with shape `dims`; `descr` overrides the dtype string in the header. */
export function npyBytes(
  dtype: NpyTestDtype,
  dims: number[],
  values: ArrayLike<number>,
  opts: { descr?: string; bigEndian?: boolean } = {},
): Uint8Array {
  const descr = opts.descr ?? (opts.bigEndian ? DESCR[dtype].replace("<", ">") : DESCR[dtype]);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary, ending the header with a newline.
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64);
  header += "\n";
  const size = SIZE[dtype];
  const out = new Uint8Array(10 + header.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const le = !opts.bigEndian;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const o = 10 + header.length + i * size;
    if (dtype === "uint8") view.setUint8(o, v);
    else if (dtype === "int8") view.setInt8(o, v);
    else if (dtype === "int32") view.setInt32(o, v, le);
    else if (dtype === "int64") view.setBigInt64(o, BigInt(v), le);
    else if (dtype === "float32") view.setFloat32(o, v, le);
    else view.setFloat64(o, v, le);
  }
  return out;
}
