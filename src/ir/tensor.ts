/** Symbolic tensors and the graph that records them: the IR every later stage reads. */
import type { Node } from "./primitives.js";

/** Element types the IR knows. float64 exists so gradient checks can run in double precision. */
export type DType = "float32" | "float64" | "int64" | "int32" | "uint32" | "bool";

/** A dimension: a fixed size, or a symbol (such as "batch") bound when the graph runs. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type ConstData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint32Array | Uint8Array;

/** Where a tensor's value comes from. */
export type Source =
  | { readonly kind: "input"; readonly name: string }
  | { readonly kind: "const"; readonly data: ConstData }
  | { readonly kind: "op"; readonly node: Node };

/**
 * A value in a graph. Tensors are immutable; every op returns a new one. Ids grow in creation
 * order, so creation order is a topological order and generated names are reproducible.
 */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly source: Source,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** The name this tensor has in the lowered ONNX graph. */
  get name(): string {
    return this.source.kind === "input" ? this.source.name : `t${this.id}`;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.join(", ")}]`;
  }
}

/** Records tensors in creation order. One graph per compiled function (a step, an inference). */
export class Graph {
  private nextId = 0;
  readonly tensors: Tensor[] = [];
  private readonly inputNames = new Set<string>();

  /** A named runtime input (data, a parameter, a learning rate). */
  input(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
    if (this.inputNames.has(name)) throw new Error(`graph input "${name}" declared twice`);
    if (/^t\d+$/.test(name)) throw new Error(`graph input name "${name}" is reserved`);
    this.inputNames.add(name);
    return this.add(shape, dtype, { kind: "input", name });
  }

  /** A constant baked into the graph. */
  constant(data: ConstData, shape: Shape, dtype: DType): Tensor {
    return this.add(shape, dtype, { kind: "const", data });
  }

  /** @internal Used by op builders; prefer the functions in ops.ts. */
  add(shape: Shape, dtype: DType, source: Source): Tensor {
    const t = new Tensor(this, this.nextId++, shape, dtype, source);
    this.tensors.push(t);
    return t;
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** Tensors the outputs depend on, in creation (topological) order. */
export function reachable(outputs: readonly Tensor[]): Tensor[] {
  const seen = new Set<number>();
  const stack = [...outputs];
  const all: Tensor[] = [];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    all.push(t);
    if (t.source.kind === "op") stack.push(...t.source.node.inputs);
  }
  return all.sort((a, b) => a.id - b.id);
}
