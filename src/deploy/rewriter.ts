/** The context of kd's graph rewrites before quantisation: a model's nodes, initializers and batch-1 shapes, and small readers of initializer values. */
import { DataType, rawTensor } from "../onnx/edit.js";
import type { NodeProto, TensorProto } from "../onnx/gen/onnx_pb.js";
import { floatValues, type ModelProto, OnnxDataType } from "../onnx/proto.js";
import { consumersOf } from "./graph.js";

/** Values of an int64 initializer (axes, shapes, indices). */
export function int64Values(t: TensorProto): number[] {
  if (t.dataType !== OnnxDataType.INT64) return [];
  if (t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return Array.from(new BigInt64Array(copy.buffer, 0, copy.byteLength / 8), Number);
  }
  return t.int64Data.map(Number);
}

/** Float values of a float initializer, or undefined. */
export function floats(t: TensorProto | undefined): Float32Array | undefined {
  return t !== undefined && t.dataType === OnnxDataType.FLOAT ? floatValues(t) : undefined;
}

export const sameNumbers = (a: readonly number[] | undefined, b: readonly number[]) =>
  a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

/** One rewriting context: the graph's nodes, initializers and (batch-1) shapes, kept up to date. */
export class Rewriter {
  readonly inits: Map<string, TensorProto>;
  private fresh = 0;
  constructor(
    readonly model: ModelProto,
    readonly shapes: ReadonlyMap<string, readonly number[]>,
  ) {
    this.inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  }
  get nodes(): NodeProto[] {
    return this.model.graph!.node;
  }
  isOutput(name: string): boolean {
    return this.model.graph!.output.some((o) => o.name === name);
  }
  /** Whether `t` is read only by `n` and is not a graph output. */
  onlyFeeds(t: string, n: NodeProto): boolean {
    const users = consumersOf(this.nodes).get(t) ?? [];
    return users.length === 1 && users[0] === n && !this.isOutput(t);
  }
  addFloat(base: string, dims: readonly number[], v: Float32Array): string {
    const name = `${base}_kd${this.fresh++}`;
    const t = rawTensor(name, DataType.FLOAT, dims, v);
    this.inits.set(name, t);
    this.model.graph!.initializer.push(t);
    return name;
  }
  /** Replaces the nodes `old` (in place of the first) by `fresh`. */
  replace(old: readonly NodeProto[], fresh: readonly NodeProto[]): void {
    const at = this.nodes.indexOf(old[0]!);
    const rest = this.nodes.filter((n) => !old.includes(n));
    const before = rest.filter((n) => this.nodes.indexOf(n) < at);
    const after = rest.filter((n) => this.nodes.indexOf(n) > at);
    this.model.graph!.node = [...before, ...fresh, ...after];
  }
}
