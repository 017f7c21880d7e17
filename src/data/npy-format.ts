/**
 * NumPy's .npy format without a file system (kd's loaders in data/npy.ts and the page both parse
 * with it): a magic string, a Python-dict header and the raw C-order bytes.
 */
import { ensure } from "../util/errors.js";
import type { IdxArray } from "./idx.js";

export type NpyDtype =
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "int64"
  | "float32"
  | "float64";

type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** A decoded NPY array: row-major, native byte order. */
export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly dims: number[];
  readonly data: NpyData;
}

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly size: number;
  readonly make: (buf: ArrayBuffer) => NpyData;
  readonly get: (v: DataView, off: number, little: boolean) => number | bigint;
}

// NumPy's type characters (after the byte-order character) and how to decode them.
const DTYPES: Readonly<Record<string, DtypeInfo>> = {
  u1: { dtype: "uint8", size: 1, make: (b) => new Uint8Array(b), get: (v, o) => v.getUint8(o) },
  i1: { dtype: "int8", size: 1, make: (b) => new Int8Array(b), get: (v, o) => v.getInt8(o) },
  u2: { dtype: "uint16", size: 2, make: (b) => new Uint16Array(b), get: (v, o, l) => v.getUint16(o, l) },
  i2: { dtype: "int16", size: 2, make: (b) => new Int16Array(b), get: (v, o, l) => v.getInt16(o, l) },
  u4: { dtype: "uint32", size: 4, make: (b) => new Uint32Array(b), get: (v, o, l) => v.getUint32(o, l) },
  i4: { dtype: "int32", size: 4, make: (b) => new Int32Array(b), get: (v, o, l) => v.getInt32(o, l) },
  i8: { dtype: "int64", size: 8, make: (b) => new BigInt64Array(b), get: (v, o, l) => v.getBigInt64(o, l) },
  f4: { dtype: "float32", size: 4, make: (b) => new Float32Array(b), get: (v, o, l) => v.getFloat32(o, l) },
  f8: { dtype: "float64", size: 8, make: (b) => new Float64Array(b), get: (v, o, l) => v.getFloat64(o, l) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Whether `bytes` start like an NPY file. */
export function isNpy(bytes: Uint8Array): boolean {
  return MAGIC.every((b, i) => bytes[i] === b);
}

/** Whether `bytes` start like a zip archive (an NPZ file). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Header text quoted in a message, on one line whatever the file holds. */
const oneLine = (text: string): string => text.replace(/\s+/g, " ");

/** What an NPY header declares: the dtype, the shape and where the data starts. */
interface NpyHeader {
  readonly info: DtypeInfo;
  readonly dims: number[];
  readonly little: boolean;
  /** Offset of the data. */
  readonly start: number;
  /** Bytes of data the shape and dtype call for. */
  readonly need: number;
}

/** Parses the header of an .npy file (`bytes` may hold just its start). */
export function parseNpyHeader(bytes: Uint8Array, what: string): NpyHeader {
  ensure(isNpy(bytes), () => `${what}: not an NPY file (it does not start with \\x93NUMPY)`);
  ensure(bytes.length >= 10, () => `${what}: truncated NPY header`);
  const major = bytes[6]!;
  ensure(major >= 1 && major <= 3, () => `${what}: unknown NPY format version ${major}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  ensure(bytes.length >= 8 + lenBytes, () => `${what}: truncated NPY header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  ensure(
    bytes.length >= start,
    () => `${what}: truncated NPY header (needs ${start} bytes, file has ${bytes.length})`,
  );
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(8 + lenBytes, start),
  );
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  ensure(
    descr !== undefined && fortran !== undefined && shapeText !== undefined,
    () => `${what}: malformed NPY header ${JSON.stringify(header.trim())}`,
  );
  ensure(
    fortran === "False",
    () => `${what}: Fortran-order arrays are not supported (save np.ascontiguousarray(a))`,
  );
  const parts = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  // Digits only (Python 2 wrote a trailing L on longs): Number() would also take "784.0", "1e3" or "0x10".
  const dims = parts.map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : Number.NaN));
  ensure(
    dims.every((d) => Number.isSafeInteger(d)),
    () => `${what}: malformed shape (${oneLine(shapeText)}) in the NPY header`,
  );
  const order = descr[0]!;
  const info = /^[<>|=]/.test(descr) ? DTYPES[descr.slice(1)] : undefined;
  ensure(
    info !== undefined && (info.size === 1 || order !== "|"),
    () =>
      `${what}: unsupported NPY dtype '${oneLine(descr)}' (expected uint8, int8, uint16, int16, uint32, int32, int64, float32 or float64)`,
  );
  const count = dims.reduce((a, b) => a * b, 1);
  const need = count * info.size;
  return { info, dims, little: order !== ">", start, need };
}

/** Parses one .npy file. `what` names it in error messages. */
export function parseNpy(bytes: Uint8Array, what: string): NpyArray {
  const { info, dims, little, start, need } = parseNpyHeader(bytes, what);
  const count = need / info.size;
  const body = bytes.length - start;
  ensure(
    body >= need,
    () =>
      `${what}: truncated NPY data: shape [${dims.join(", ")}] of ${info.dtype} needs ${need} bytes, file has ${body}`,
  );
  ensure(body === need, () => `${what}: ${body - need} bytes after the NPY data (expected ${need})`);
  if (little) {
    // A copy into a fresh buffer, so the typed array is aligned whatever the header length was
    // (and never a view of Node's shared Buffer pool, as Buffer#slice would give).
    const copy = new Uint8Array(need);
    copy.set(bytes.subarray(start, start + need));
    return { dtype: info.dtype, dims, data: info.make(copy.buffer) };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = info.make(new ArrayBuffer(need));
  for (let i = 0; i < count; i++)
    (out as unknown as (number | bigint)[])[i] = info.get(view, start + i * info.size, false);
  return { dtype: info.dtype, dims, data: out };
}

/** Names an .npz archive's features and labels go by (the first present is taken). */
export const X_KEYS = ["x", "X", "images", "data", "features", "x_train"];
export const Y_KEYS = ["y", "labels", "targets", "label", "y_train"];

/** Features as the loaders want them: uint8 kept (scaled later), other types widened to float64. */
export function npyFeatures(a: NpyArray): IdxArray {
  if (a.dtype === "uint8" || a.dtype === "float32" || a.dtype === "float64")
    return { dtype: a.dtype, dims: a.dims, data: a.data as Uint8Array | Float32Array | Float64Array };
  const data = new Float64Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Number(a.data[i]!);
  return { dtype: "float64", dims: a.dims, data };
}

/** Labels of an NPY array: N values, or [N, 1] (a column vector, as pandas often leaves them). */
export function npyLabels(a: NpyArray, what: string): ArrayLike<number | bigint> {
  ensure(
    a.dims.length === 1 || (a.dims.length === 2 && a.dims[1] === 1),
    () => `${what}: labels must be 1-D, got shape [${a.dims.join(", ")}]`,
  );
  return a.data;
}
