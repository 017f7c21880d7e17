/**
 * `kd summary --tensors`: every intermediate tensor of a model (not an input, not an initializer)
 * with the op that makes it, its element type and its shape, found by running a copy of the graph
 * once on zeros with every intermediate as an extra output; and the one-line error for a tensor
 * name that is not there, naming the closest ones.
 */

import { withExtraOutputs } from "../onnx/edit.js";
import {
  encodeModel,
  type ModelProto,
  type NodeProto,
  OnnxDataType,
  type ValueInfoProto,
} from "../onnx/proto.js";
import { KdError } from "../util/errors.js";
import { parseModelFile } from "./classifier.js";
import { cleanOrtMessage } from "./ort-errors.js";
import { createSession, type SessionOptions } from "./session.js";

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

import { checkAllocation } from "../util/memory.js";

/** One intermediate tensor. `type` and `shape` are absent where ONNX Runtime cannot output it. */
export interface TensorInfo {
  readonly name: string;
  /** The op type of the node that produces it. */
  readonly op: string;
  readonly type?: string;
  /** Its dims for a batch of one, where "N" is a dim that is the batch's ("2N" twice it; "?" other). */
  readonly shape?: readonly (number | string)[];
}

export interface TensorList {
  readonly path: string;
  readonly input: { readonly name: string; readonly shape: readonly (number | string)[] };
  readonly tensors: readonly TensorInfo[];
}

/** Whether every node's inputs are given or made by a node before it. */
function inFileOrder(nodes: readonly NodeProto[], given: ReadonlySet<string>): boolean {
  const made = new Set(given);
  for (const nd of nodes) {
    if (!nd.input.every((x) => made.has(x))) return false;
    for (const o of nd.output) made.add(o);
  }
  return true;
}

/**
 * Nodes in topological order: the file's order when it already is one (ONNX requires it, ORT does
 * not), else Kahn's algorithm, linear in the graph's size. Nodes of a cycle or with an input from
 * nowhere (ORT refuses such a graph anyway) follow in the file's order.
 */
function topological(model: ModelProto): NodeProto[] {
  const g = model.graph!;
  const given = new Set([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ""]);
  const nodes = g.node;
  if (inFileOrder(nodes, given)) return [...nodes];
  const waiting = nodes.map((nd) => new Set(nd.input.filter((x) => !given.has(x))).size);
  const consumers = new Map<string, number[]>();
  nodes.forEach((nd, i) => {
    for (const x of new Set(nd.input)) {
      if (given.has(x)) continue;
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  const queue = nodes.flatMap((_, i) => (waiting[i] === 0 ? [i] : []));
  const placed = new Set<number>();
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]!;
    placed.add(i);
    for (const o of nodes[i]!.output)
      for (const c of consumers.get(o) ?? []) if (--waiting[c]! === 0) queue.push(c);
  }
  return [...queue.map((i) => nodes[i]!), ...nodes.filter((_, i) => !placed.has(i))];
}

interface Input {
  readonly name: string;
  /** The declared batch size, if not symbolic. */
  readonly batch?: number;
  readonly shape: readonly number[];
}

/** What a run shows of a tensor: its dims and the class of its array (the data is dropped at once). */
interface Seen {
  readonly dims: readonly number[];
  readonly array: string;
}

/** The only non-initializer input, float32, with every dim but the first known; the first may be symbolic. */
function theInput(model: ModelProto, path: string): Input {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new KdError(
      `${path}: ${inputs.length} inputs (${inputs.map((i) => i.name).join(", ")}); kd lists tensors of one-input models`,
    );
  const v: ValueInfoProto = inputs[0]!;
  const t = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  if (t?.elemType !== OnnxDataType.FLOAT) throw new KdError(`${path}: input "${v.name}" is not float32`);
  const dims = (t.shape?.dim ?? []).map((d) =>
    d.value.case === "dimValue" ? Number(d.value.value) : undefined,
  );
  const shape = dims.slice(1);
  if (dims.length === 0 || shape.some((d) => d === undefined || d < 1))
    throw new KdError(`${path}: input "${v.name}" needs a batch dim and known positive dims after it`);
  return { name: v.name, ...(dims[0] !== undefined ? { batch: dims[0] } : {}), shape: shape as number[] };
}

/** Runs `model` once on `batch` zero examples, reading `names` (extra outputs) or else its own outputs. */
async function runOnZeros(
  model: ModelProto,
  input: Input,
  batch: number,
  names: readonly string[],
  opts: SessionOptions,
): Promise<Map<string, Seen>> {
  // The batch and dims are the model's declarations (a fixed batch of 10⁷ is possible): checked
  // against memory before the zeros are made or a session is built.
  checkAllocation(4 * batch * count(input.shape), `${input.name}: a batch of ${batch} zero examples`);
  const session = await createSession(encodeModel(withExtraOutputs(model, names)), opts);
  try {
    const x = new Float32Array(batch * count(input.shape));
    const feed = { [input.name]: { data: x, dims: [batch, ...input.shape], dtype: "float32" as const } };
    const out = await session.run(feed, names.length > 0 ? names : session.outputNames);
    return new Map(
      Object.entries(out).map(([k, t]) => [k, { dims: t.dims, array: t.data.constructor.name }]),
    );
  } finally {
    await session.release();
  }
}

/**
 * `runOnZeros` with `names`. A name ORT cannot output (a sequence, an optional value) fails the
 * whole run: the halves are retried, so that only such names go without a shape.
 */
async function probe(
  model: ModelProto,
  input: Input,
  batch: number,
  names: readonly string[],
  opts: SessionOptions,
): Promise<Map<string, Seen>> {
  try {
    return await runOnZeros(model, input, batch, names, opts);
  } catch {
    if (names.length <= 1) return new Map();
    const half = names.length >> 1;
    const a = await probe(model, input, batch, names.slice(0, half), opts);
    return new Map([...a, ...(await probe(model, input, batch, names.slice(half), opts))]);
  }
}

/** onnxruntime-common's arrays per element type; Uint8Array is bool or uint8, Uint16Array float16 or uint16. */
const ARRAY_TYPE: Readonly<Record<string, string>> = {
  Float32Array: "float32",
  Float64Array: "float64",
  BigInt64Array: "int64",
  BigUint64Array: "uint64",
  Int32Array: "int32",
  Uint32Array: "uint32",
  Int16Array: "int16",
  Uint16Array: "uint16",
  Int8Array: "int8",
  Uint8Array: "uint8",
};
/** Ops whose outputs are bool (ORT hands bools over as Uint8Array). */
const BOOL_OPS = new Set([
  ...["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not"],
  ...["IsNaN", "IsInf"],
]);
const ONNX_TYPE: Readonly<Record<number, string>> = {
  [OnnxDataType.BOOL]: "bool",
  [OnnxDataType.FLOAT16]: "float16",
  [OnnxDataType.BFLOAT16]: "bfloat16",
  [OnnxDataType.UINT8]: "uint8",
  [OnnxDataType.UINT16]: "uint16",
};

/** The element type: the graph's declaration where the array cannot tell, else the array's own. */
function elementType(t: Seen, op: string, declared: number | undefined): string {
  const byArray = ARRAY_TYPE[t.array] ?? t.array;
  if (byArray !== "uint8" && byArray !== "uint16") return byArray;
  if (declared !== undefined && ONNX_TYPE[declared] !== undefined) return ONNX_TYPE[declared]!;
  return byArray === "uint8" && BOOL_OPS.has(op) ? "bool" : byArray;
}

/** Dims at batch 1 and 2 compared: a dim that doubles with the batch is "N" (or "kN"). */
function batchShape(one: readonly number[], two: readonly number[] | undefined): (number | string)[] {
  return one.map((d, i) => {
    const e = two?.[i];
    if (two === undefined || e === d || two.length !== one.length) return d;
    return e === 2 * d ? (d === 1 ? "N" : `${d}N`) : "?";
  });
}

/**
 * Lists the intermediate tensors of the model at `path` in topological order. The model runs on one
 * zero example (and on two, where its batch dim is symbolic, to tell which dims are the batch's).
 */
export async function listTensors(path: string, opts: SessionOptions = {}): Promise<TensorList> {
  return tensorsOf(parseModelFile(path).model, path, opts);
}

/** listTensors of a model already parsed (`path` names it in messages). */
export async function tensorsOf(
  model: ModelProto,
  path: string,
  opts: SessionOptions = {},
): Promise<TensorList> {
  const input = theInput(model, path);
  const g = model.graph!;
  const nodes = topological(model);
  const outer = new Set([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]);
  const made = nodes.flatMap((nd) =>
    nd.output.filter((o) => o !== "" && !outer.has(o)).map((o) => ({ name: o, op: nd.opType })),
  );
  const names = made.map((t) => t.name);
  // The model itself must run: else every extra output would fail and be bisected down to one.
  try {
    await runOnZeros(model, input, input.batch ?? 1, [], opts);
  } catch (e) {
    throw new KdError(
      `${path}: ONNX Runtime cannot run it on zeros (${cleanOrtMessage((e as Error).message)})`,
    );
  }
  const one = await probe(model, input, input.batch ?? 1, names, opts);
  const two = input.batch === undefined ? await probe(model, input, 2, names, opts) : undefined;
  const declared = new Map(
    [...g.valueInfo, ...g.output].map((v) => [
      v.name,
      v.type?.value.case === "tensorType" ? v.type.value.value.elemType : undefined,
    ]),
  );
  const tensors = made.map(({ name, op }): TensorInfo => {
    const t = one.get(name);
    if (t === undefined) return { name, op };
    return {
      name,
      op,
      type: elementType(t, op, declared.get(name)),
      shape: batchShape(t.dims, two?.get(name)?.dims),
    };
  });
  const batch = input.batch ?? "N";
  return { path, input: { name: input.name, shape: [batch, ...input.shape] }, tensors };
}

const shapeText = (s: readonly (number | string)[]): string => `[${s.join(", ")}]`;

/** A plain-text table: name, op, type, shape ("-" where ORT could not output the tensor). */
export function formatTensors(list: TensorList): string {
  const rows = list.tensors.map((t) => [t.name, t.op, t.type ?? "-", t.shape ? shapeText(t.shape) : "-"]);
  const header = ["tensor", "op", "type", "shape"];
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, j) => (j < 3 ? c.padEnd(w[j]!) : c))
      .join("  ")
      .trimEnd();
  return [
    `${list.path}: input ${list.input.name} ${shapeText(list.input.shape)}, ${list.tensors.length} intermediate tensors`,
    line(header),
    ...rows.map(line),
  ].join("\n");
}
