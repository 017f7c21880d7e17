/** Op builders over the primitives, plus the composites (softmax, log-softmax, mean) built from them. */
import { type Node, type Prim, type PrimParams, shapeRules } from "./primitives.js";
import type { ConstData, Dim, DType, Graph, Shape, Tensor } from "./tensor.js";

export type Operand = Tensor | number;

/** Applies a primitive: checks shapes through its rule and records the node. */
export function apply<P extends Prim>(prim: P, params: PrimParams[P], inputs: readonly Tensor[]): Tensor {
  const graph = inputs[0]!.graph;
  for (const t of inputs) if (t.graph !== graph) throw new Error(`${prim}: operands from different graphs`);
  const out = shapeRules[prim](inputs, params);
  const node: Node<P> = { prim, params, inputs };
  return graph.add(out.shape, out.dtype, { kind: "op", node: node as unknown as Node });
}

export function constData(values: ArrayLike<number>, dtype: DType): ConstData {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    case "int32":
      return Int32Array.from(values);
    case "uint32":
      return Uint32Array.from(values);
    case "bool":
      return Uint8Array.from(values);
  }
}

/** A constant tensor in `graph` (a scalar when `shape` is []). */
export function constant(
  graph: Graph,
  values: ArrayLike<number> | number,
  shape: Shape = [],
  dtype: DType = "float32",
): Tensor {
  const arr = typeof values === "number" ? [values] : values;
  return graph.constant(constData(arr, dtype), shape, dtype);
}

function lift(a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === "number" && typeof b === "number")
    throw new Error("at least one operand must be a tensor");
  const ta = typeof a === "number" ? constant((b as Tensor).graph, a, [], (b as Tensor).dtype) : a;
  const tb = typeof b === "number" ? constant(ta.graph, b, [], ta.dtype) : b;
  return [ta, tb];
}

const none = {} as Record<string, never>;
export const add = (a: Operand, b: Operand): Tensor => apply("add", none, lift(a, b));
export const sub = (a: Operand, b: Operand): Tensor => apply("sub", none, lift(a, b));
export const mul = (a: Operand, b: Operand): Tensor => apply("mul", none, lift(a, b));
export const div = (a: Operand, b: Operand): Tensor => apply("div", none, lift(a, b));
export const greater = (a: Operand, b: Operand): Tensor => apply("greater", none, lift(a, b));
export const equal = (a: Operand, b: Operand): Tensor => apply("equal", none, lift(a, b));
export const neg = (x: Tensor): Tensor => apply("neg", none, [x]);
export const exp = (x: Tensor): Tensor => apply("exp", none, [x]);
export const log = (x: Tensor): Tensor => apply("log", none, [x]);
export const sqrt = (x: Tensor): Tensor => apply("sqrt", none, [x]);
export const relu = (x: Tensor): Tensor => apply("relu", none, [x]);
export const stopGradient = (x: Tensor): Tensor => apply("stopGradient", none, [x]);
export const square = (x: Tensor): Tensor => mul(x, x);

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [ta, tb] = lift(a, b);
  return apply("where", none, [cond, ta, tb]);
}
export const cast = (x: Tensor, to: DType): Tensor => (x.dtype === to ? x : apply("cast", { to }, [x]));
export const matmul = (a: Tensor, b: Tensor, transA = false, transB = false): Tensor =>
  apply("matmul", { transA, transB }, [a, b]);
export const sum = (x: Tensor, axes?: readonly number[], keepDims = false): Tensor =>
  apply("reduceSum", { axes: axes ?? x.shape.map((_, i) => i), keepDims }, [x]);
export const max = (x: Tensor, axes?: readonly number[], keepDims = false): Tensor =>
  apply("reduceMax", { axes: axes ?? x.shape.map((_, i) => i), keepDims }, [x]);
export const reshape = (x: Tensor, shape: Shape): Tensor => apply("reshape", { shape }, [x]);
export const transpose = (x: Tensor, perm: readonly number[]): Tensor => apply("transpose", { perm }, [x]);
export const expandLike = (x: Tensor, like: Tensor): Tensor => apply("expandLike", none, [x, like]);
export const countOf = (x: Tensor, axes: readonly number[]): Tensor => apply("countOf", { axes }, [x]);
export const dropoutMask = (seed: Tensor, like: Tensor, rate: number): Tensor =>
  apply("dropoutMask", { rate }, [seed, like]);
/** NCHW convolution; `groups` > 1 splits channels into blocks (groups = channels: depthwise). */
export const conv2d = (
  x: Tensor,
  w: Tensor,
  strides: [number, number] = [1, 1],
  pads: [number, number] = [0, 0],
  groups = 1,
) => apply("conv2d", { strides, pads, dilations: [1, 1], ...(groups !== 1 ? { groups } : {}) }, [x, w]);
/** `x` restricted to [starts[i], ends[i]) along each of `axes` (fixed-size axes only). */
export const slice = (
  x: Tensor,
  axes: readonly number[],
  starts: readonly number[],
  ends: readonly number[],
) => apply("slice", { axes, starts, ends }, [x]);
/** `x` with before[i] zeros ahead of and after[i] zeros behind it along each of `axes`. */
export const pad = (
  x: Tensor,
  axes: readonly number[],
  before: readonly number[],
  after: readonly number[],
) => apply("pad", { axes, before, after }, [x]);

/** Mean over `axes` (all by default); works when a reduced dim is symbolic. */
export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const ax = axes ?? x.shape.map((_, i) => i);
  return div(sum(x, ax, keepDims), countOf(x, ax));
}

/** log(softmax(x)) along `axis`, with the max subtracted (under stopGradient) for stability. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const shifted = sub(x, stopGradient(max(x, [axis], true)));
  return sub(shifted, log(sum(exp(shifted), [axis], true)));
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const shifted = exp(sub(x, stopGradient(max(x, [axis], true))));
  return div(shifted, sum(shifted, [axis], true));
}

/** Zero-mean along `axis` (used by logit matching). */
export function center(x: Tensor, axis = -1): Tensor {
  return sub(x, mean(x, [axis], true));
}

/** 2-D max pooling with kernel = stride = k, composed as reshape + reduceMax (H, W divisible by k). */
export function maxPool2d(x: Tensor, k: number): Tensor {
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  if (typeof h !== "number" || typeof w !== "number" || h % k !== 0 || w % k !== 0)
    throw new Error(`maxPool2d: spatial size ${h}x${w} is not divisible by ${k}`);
  const r = reshape(x, [n, c, h / k, k, w / k, k]);
  return max(r, [3, 5]);
}
