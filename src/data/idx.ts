/** IDX file format (MNIST's container): a pure parser plus a reader that transparently gunzips. */

import { gunzipSync } from "node:zlib";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { formatBytes } from "../util/memory.js";

/** Element types an IDX file may hold, named after the typed arrays they decode into. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** A decoded IDX tensor: `data` is row-major in native byte order, `dims` outermost first. */
export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly dims: number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

interface DtypeInfo {
  dtype: IdxDtype;
  size: number;
}

const TYPE_CODES: ReadonlyMap<number, DtypeInfo> = new Map([
  [0x08, { dtype: "uint8", size: 1 }],
  [0x09, { dtype: "int8", size: 1 }],
  [0x0b, { dtype: "int16", size: 2 }],
  [0x0c, { dtype: "int32", size: 4 }],
  [0x0d, { dtype: "float32", size: 4 }],
  [0x0e, { dtype: "float64", size: 8 }],
]);

const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, "0")}`;

/**
 * Parses the IDX bytes of one file. `what` names the file in error messages.
 * Byte-sized data is returned as a view on `bytes` (MNIST images are 47 MB; no need to copy them);
 * wider types are decoded from big-endian into fresh native arrays.
 */
export function parseIdx(bytes: Uint8Array, what: string): IdxArray {
  ensure(
    bytes.length >= 4,
    () => `${what}: truncated header (need at least 4 bytes, got ${bytes.length}); is this an IDX file?`,
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  ensure(
    bytes[0] === 0 && bytes[1] === 0,
    () => `${what}: wrong magic number ${hex(magic, 8)} (an IDX file starts with two zero bytes)`,
  );
  const info = TYPE_CODES.get(bytes[2]!);
  ensure(
    info !== undefined,
    () =>
      `${what}: unknown IDX type code ${hex(bytes[2]!, 2)} ` +
      "(expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)",
  );
  const ndims = bytes[3]!;
  const headerBytes = 4 + 4 * ndims;
  ensure(
    bytes.length >= headerBytes,
    () =>
      `${what}: truncated header (${ndims} dimensions need ${headerBytes} header bytes, got ${bytes.length})`,
  );
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = count * info.size;
  const got = bytes.length - headerBytes;
  ensure(
    got >= expected,
    () => `${what}: truncated data (dims [${dims.join(", ")}] need ${expected} bytes, got ${got})`,
  );
  ensure(
    got === expected,
    () => `${what}: trailing garbage (${got - expected} bytes after the ${expected} data bytes)`,
  );
  return { dtype: info.dtype, dims, data: decode(info.dtype, view, headerBytes, count) };
}

function decode(dtype: IdxDtype, view: DataView, offset: number, count: number): IdxArray["data"] {
  const start = view.byteOffset + offset;
  switch (dtype) {
    case "uint8":
      return new Uint8Array(view.buffer, start, count);
    case "int8":
      return new Int8Array(view.buffer, start, count);
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * The most bytes an IDX file may hold once decompressed: 2 GiB, 45 times MNIST's training images,
 * and the most a Node Buffer holds on every platform. A small gzip file that inflates past it (a
 * "zip bomb") is refused instead of exhausting memory.
 */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

/**
 * Reads and parses an IDX file, gunzipping it first when it starts with the gzip magic 1f 8b.
 * Neither the file nor its decompressed content may exceed `maxBytes`.
 */
export function readIdxFile(path: string, maxBytes = MAX_IDX_BYTES): IdxArray {
  let bytes: Uint8Array = readInputFile(path, "IDX file", maxBytes);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
        throw new KdError(`${path}: decompresses to more than ${formatBytes(maxBytes)}`);
      throw new KdError(`${path}: corrupt gzip data (${(err as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}
