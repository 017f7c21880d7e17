/** Turns a traced graph into an ONNX model: walks the tensors the outputs need, lowers each node. */

import { constData } from "../ir/ops.js";
import type { Node } from "../ir/primitives.js";
import { type DType, reachable, type Tensor } from "../ir/tensor.js";
import { emitReduce, type LowerCtx, lowerings, OPSET } from "./lower.js";
import {
  type AttrValue,
  createModel,
  encodeModel,
  type ModelProto,
  makeNode,
  makeTensor,
  type NodeProto,
  type TensorProto,
  valueInfo,
} from "./proto.js";

export const PRODUCER = "kd-toolkit";
export const IR_VERSION = 8n;

export interface ModelSpec {
  /** Runtime inputs, in order. Every input the outputs depend on must be listed. */
  readonly inputs: readonly Tensor[];
  /** Output name → tensor. */
  readonly outputs: Readonly<Record<string, Tensor>>;
  /** Tensors to store as initializers in the file (an exported model's weights), by name. */
  readonly initializers?: ReadonlyMap<Tensor, Float32Array>;
  readonly graphName?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly docString?: string;
  /** Default OPSET (training graphs). */
  readonly opset?: number;
  /**
   * Names for intermediate results (an exported model's layer outputs, so `kd summary --tensors`
   * lists them by name); a name an input, an initializer or an output has is not given again.
   */
  readonly names?: ReadonlyMap<Tensor, string>;
}

/**
 * A fusion: reduceSum(x·x) lowers to one ReduceSumSquare, and the square itself is skipped when
 * nothing else reads it. (Max-norm sums squares with a ones-vector product instead where it can,
 * which measured faster than an axis-0 ReduceSumSquare: see optim/optimizers.ts.)
 */
function squaresFusedIntoSums(tensors: readonly Tensor[], outputs: ReadonlySet<number>) {
  const uses = new Map<number, number>();
  for (const t of tensors)
    if (t.source.kind === "op")
      for (const i of t.source.node.inputs) uses.set(i.id, (uses.get(i.id) ?? 0) + 1);
  const sumOfSquares = new Map<number, Tensor>();
  const fusedUses = new Map<number, number>();
  for (const t of tensors) {
    if (t.source.kind !== "op" || t.source.node.prim !== "reduceSum") continue;
    const sq = t.source.node.inputs[0]!;
    if (sq.source.kind !== "op" || sq.source.node.prim !== "mul") continue;
    const [a, b] = sq.source.node.inputs;
    if (a !== b || (t.source.node.params as { axes: number[] }).axes.length === 0) continue;
    sumOfSquares.set(t.id, a!);
    fusedUses.set(sq.id, (fusedUses.get(sq.id) ?? 0) + 1);
  }
  const skip = new Set<number>();
  for (const [id, n] of fusedUses) if (n === uses.get(id) && !outputs.has(id)) skip.add(id);
  return { sumOfSquares, skip };
}

export function buildModel(spec: ModelSpec): ModelProto {
  const outEntries = Object.entries(spec.outputs);
  const tensors = reachable(outEntries.map(([, t]) => t));
  const inits = spec.initializers ?? new Map<Tensor, Float32Array>();
  const declared = new Set(spec.inputs.map((t) => t.id));
  for (const t of tensors) {
    if (t.source.kind === "input" && !declared.has(t.id) && !inits.has(t))
      throw new Error(`output depends on input "${t.name}", which is not listed`);
  }

  // An op result that is a graph output is written straight to the output's name (no copy).
  const names = new Map<number, string>();
  const outNames = new Set<string>();
  const aliases: [string, string][] = [];
  for (const [name, t] of outEntries) {
    if (outNames.has(name)) throw new Error(`duplicate output name ${name}`);
    outNames.add(name);
    if (t.source.kind === "op" && !names.has(t.id)) names.set(t.id, name);
    else aliases.push([name, t.id.toString()]);
  }
  const taken = new Set([
    ...outNames,
    ...spec.inputs.map((t) => t.name),
    ...[...inits.keys()].map((t) => t.name),
  ]);
  for (const [t, name] of spec.names ?? [])
    if (t.source.kind === "op" && !names.has(t.id) && !taken.has(name)) {
      names.set(t.id, name);
      taken.add(name);
    }
  const nameOf = (t: Tensor) => names.get(t.id) ?? t.name;

  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const constCache = new Map<string, string>();
  let fresh = 0;
  const opset = spec.opset ?? OPSET;
  const ctxBase = {
    opset,
    emit(
      opType: string,
      inputs: readonly string[],
      outputs: readonly string[],
      attrs?: Record<string, AttrValue>,
    ) {
      nodes.push(makeNode(opType, [...inputs], [...outputs], attrs, `n${nodes.length}_${opType}`));
    },
    fresh: () => `_k${fresh++}`,
    constant(values: readonly number[], dtype: DType, dims: readonly number[]): string {
      const key = `${dtype}|${dims.join(",")}|${values.join(",")}`;
      let name = constCache.get(key);
      if (name === undefined) {
        name = `_c${constCache.size}`;
        constCache.set(key, name);
        initializers.push(makeTensor(name, dtype, dims, constData(values, dtype)));
      }
      return name;
    },
  };

  const fused = squaresFusedIntoSums(tensors, new Set(outEntries.map(([, t]) => t.id)));
  for (const t of tensors) {
    if (fused.skip.has(t.id)) continue;
    const sq = fused.sumOfSquares.get(t.id);
    if (sq !== undefined && t.source.kind === "op") {
      const { axes, keepDims } = t.source.node.params as { axes: number[]; keepDims: boolean };
      const ctx: LowerCtx = { ...ctxBase, in: [], out: nameOf(t) };
      emitReduce(ctx, "ReduceSumSquare", nameOf(sq), axes, sq.rank, keepDims, nameOf(t));
      continue;
    }
    if (t.source.kind === "const") {
      initializers.push(makeTensor(nameOf(t), t.dtype, t.shape as number[], t.source.data));
    } else if (t.source.kind === "input" && inits.has(t)) {
      initializers.push(makeTensor(t.name, t.dtype, t.shape as number[], inits.get(t)!));
    } else if (t.source.kind === "op") {
      const node: Node = t.source.node;
      const ctx: LowerCtx = { ...ctxBase, in: node.inputs.map(nameOf), out: nameOf(t) };
      const lower = lowerings[node.prim] as (c: LowerCtx, p: unknown, n: Node, o: Tensor) => void;
      lower(ctx, node.params, node, t);
    }
  }
  const byId = new Map(tensors.map((t) => [t.id.toString(), t]));
  for (const [name, id] of aliases) ctxBase.emit("Identity", [nameOf(byId.get(id)!)], [name]);

  return createModel({
    irVersion: IR_VERSION,
    producerName: PRODUCER,
    producerVersion: "0.1.0",
    opsetImport: [{ domain: "", version: BigInt(opset) }],
    docString: spec.docString ?? "",
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName ?? "kd",
      node: nodes,
      initializer: initializers,
      input: spec.inputs.filter((t) => !inits.has(t)).map((t) => valueInfo(t.name, t.dtype, t.shape)),
      output: outEntries.map(([name, t]) => valueInfo(name, t.dtype, t.shape)),
    },
  });
}

export function buildModelBytes(spec: ModelSpec): Uint8Array {
  return encodeModel(buildModel(spec));
}
