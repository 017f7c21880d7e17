/**
 * Reading an ONNX file kd did not write. ONNX Runtime is handed bytes, and would resolve external
 * data locations against the current folder: so kd reads external tensors itself, from the model's
 * own folder only (no absolute paths, no `..`, no symlinks out), bounded by the data file's size,
 * and inlines them before ORT sees the model.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type {
  AttributeProto,
  GraphProto,
  ModelProto,
  SparseTensorProto,
  TensorProto,
} from "../onnx/gen/onnx_pb.js";
import { decodeModel, encodeModel, OnnxDataType } from "../onnx/proto.js";
import { KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { fsReason } from "../util/fs-errors.js";
import { resolveInside } from "../util/paths.js";

/** Protobuf's limit: one serialized message (the model ORT is handed) holds at most 2 GiB. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;

/** TensorProto.data_location: the tensor's bytes live in another file. */
const EXTERNAL = 1;

/** Bytes per element of each fixed-size ONNX type (strings have none). */
const ELEM_BYTES: Readonly<Record<number, number>> = {
  [OnnxDataType.FLOAT]: 4,
  [OnnxDataType.UINT8]: 1,
  [OnnxDataType.INT8]: 1,
  [OnnxDataType.UINT16]: 2,
  [OnnxDataType.INT16]: 2,
  [OnnxDataType.INT32]: 4,
  [OnnxDataType.INT64]: 8,
  [OnnxDataType.BOOL]: 1,
  [OnnxDataType.FLOAT16]: 2,
  [OnnxDataType.DOUBLE]: 8,
  [OnnxDataType.UINT32]: 4,
  [OnnxDataType.UINT64]: 8,
  [OnnxDataType.COMPLEX64]: 8,
  [OnnxDataType.COMPLEX128]: 16,
  [OnnxDataType.BFLOAT16]: 2,
};

export interface LoadedModel {
  readonly model: ModelProto;
  /** The model as ONNX Runtime should get it: external data inlined (the file's bytes if none). */
  readonly bytes: Uint8Array;
  /** How many tensors were read from external files. */
  readonly externalTensors: number;
}

/** Every tensor a model holds, wherever it sits (graphs, subgraphs, attributes, functions). */
export function* allTensors(model: ModelProto): Generator<TensorProto> {
  function* sparse(s: SparseTensorProto | undefined): Generator<TensorProto> {
    if (s?.values) yield s.values;
    if (s?.indices) yield s.indices;
  }
  function* attrs(as: readonly AttributeProto[]): Generator<TensorProto> {
    for (const a of as) {
      if (a.t) yield a.t;
      yield* a.tensors;
      yield* sparse(a.sparseTensor);
      for (const s of a.sparseTensors) yield* sparse(s);
      if (a.g) yield* graph(a.g);
      for (const g of a.graphs) yield* graph(g);
    }
  }
  function* graph(g: GraphProto | undefined): Generator<TensorProto> {
    if (!g) return;
    yield* g.initializer;
    for (const s of g.sparseInitializer) yield* sparse(s);
    for (const n of g.node) yield* attrs(n.attribute);
  }
  yield* graph(model.graph);
  for (const t of model.trainingInfo) {
    yield* graph(t.initialization);
    yield* graph(t.algorithm);
  }
  for (const f of model.functions) {
    yield* attrs(f.attributeProto);
    for (const n of f.node) yield* attrs(n.attribute);
  }
}

/** A non-negative whole number written in decimal, as external_data offsets and lengths are. */
function byteCount(v: string, key: string, what: string): number {
  if (!/^\d{1,16}$/.test(v)) throw new KdError(`${what}: external data ${key} "${v}" is not a byte count`);
  return Number(v);
}

/** Reads `length` bytes at `offset` of an open file, checked against its size. */
function readRange(fd: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  if (got !== length) throw new Error(`short read (${got} of ${length} bytes)`);
  return out;
}

/**
 * Replaces `t`'s external data by the bytes it names, read from `dir`. Returns the bytes added.
 * `what` names the model in messages.
 */
function inlineExternal(t: TensorProto, dir: string, what: string, budget: number): number {
  const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entries.get("location");
  const name = `tensor "${t.name}"`;
  if (location === undefined) throw new KdError(`${what}: ${name} is external but names no location`);
  const real = resolveInside(dir, location, `${what}: ${name}`);
  const offset = entries.has("offset") ? byteCount(entries.get("offset")!, "offset", what) : 0;
  let fd: number;
  try {
    // A FIFO would block open() until someone writes to it: only regular files are opened, and
    // without waiting.
    if (!statSync(real).isFile())
      throw new KdError(`${what}: ${name}: external data ${JSON.stringify(location)} is not a regular file`);
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (e instanceof KdError) throw e;
    throw new KdError(`${what}: ${name}: external file ${JSON.stringify(location)}: ${fsReason(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new KdError(`${what}: ${name}: external data ${JSON.stringify(location)} is not a regular file`);
    const length = entries.has("length")
      ? byteCount(entries.get("length")!, "length", what)
      : Math.max(0, st.size - offset);
    if (offset + length > st.size)
      throw new KdError(
        `${what}: ${name} asks for bytes ${offset}..${offset + length} of ${JSON.stringify(location)}, which has ${st.size}`,
      );
    const elem = ELEM_BYTES[t.dataType];
    if (elem === undefined)
      throw new KdError(`${what}: ${name} has external data of a type kd cannot read (${t.dataType})`);
    const expected = t.dims.reduce((a, d) => a * Number(d), 1) * elem;
    if (length !== expected)
      throw new KdError(
        `${what}: ${name} has ${length} bytes of external data; its shape [${t.dims.join(", ")}] needs ${expected}`,
      );
    if (length > budget)
      throw new KdError(`${what}: its external data make the model larger than the 2 GiB ONNX allows`);
    try {
      t.rawData = readRange(fd, offset, length);
    } catch (e) {
      throw new KdError(`${what}: ${name}: cannot read ${JSON.stringify(location)} (${fsReason(e)})`);
    }
    t.externalData = [];
    t.dataLocation = 0;
    return length;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads, decodes and checks an ONNX file, inlining any external data from the model's own folder
 * (see the file comment). Every failure is a KdError naming `path`.
 */
export function loadModelFile(path: string): LoadedModel {
  const fileBytes = readInputFile(path, "model", MAX_MODEL_BYTES);
  let model: ModelProto;
  try {
    model = decodeModel(fileBytes);
  } catch (e) {
    throw new KdError(`${path}: not an ONNX model (${(e as Error).message.split("\n")[0]})`);
  }
  let budget = MAX_MODEL_BYTES - fileBytes.length;
  let externalTensors = 0;
  for (const t of allTensors(model)) {
    if (t.dataLocation === EXTERNAL || t.externalData.length > 0) {
      if (t.dataLocation !== EXTERNAL)
        throw new KdError(`${path}: tensor "${t.name}" has external data entries but is not marked external`);
      budget -= inlineExternal(t, dirname(path), path, budget);
      externalTensors++;
    } else if (t.dataLocation !== 0) {
      throw new KdError(`${path}: tensor "${t.name}" has an unknown data location ${t.dataLocation}`);
    }
  }
  return { model, bytes: externalTensors > 0 ? encodeModel(model) : fileBytes, externalTensors };
}
