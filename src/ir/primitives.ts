/** The primitive set: parameters of each primitive and its shape/dtype rule, one table entry each. */
import { type Dim, type DType, isFloat, type Shape, type Tensor } from "./tensor.js";

type None = Record<string, never>;
export interface ReduceParams {
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}
export interface ConvParams {
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number];
  /** Kernel dilation; 1 except in the weight gradient, where it equals the forward stride. */
  readonly dilations: readonly [number, number];
  /** Channel groups (1 when absent): input and output channels split into this many blocks. */
  readonly groups?: number;
}
/** Static per-axis ranges: `axes[i]` runs over [starts[i], ends[i]) (slice) or gains zeros (pad). */
export interface SliceParams {
  readonly axes: readonly number[];
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}
export interface PadParams {
  readonly axes: readonly number[];
  readonly before: readonly number[];
  readonly after: readonly number[];
}

/**
 * Every primitive and its parameters. Adding a key here makes the compiler demand a shape rule
 * (below), a gradient rule (autodiff/rules.ts) and an ONNX lowering (onnx/lower.ts).
 */
export interface PrimParams {
  add: None;
  sub: None;
  mul: None;
  div: None;
  neg: None;
  exp: None;
  log: None;
  sqrt: None;
  relu: None;
  greater: None;
  equal: None;
  where: None;
  cast: { readonly to: DType };
  matmul: { readonly transA: boolean; readonly transB: boolean };
  reduceSum: ReduceParams;
  reduceMax: ReduceParams;
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  /** Broadcasts input 0 to the (runtime) shape of input 1. */
  expandLike: None;
  /** Float scalar: the number of elements of input 0 along `axes` (symbolic dims included). */
  countOf: { readonly axes: readonly number[] };
  /** Identity forward, zero gradient. */
  stopGradient: None;
  /**
   * Inverted-dropout mask shaped like input 1: each entry 1/(1 − rate) with probability 1 − rate,
   * else 0; a pure function of the int64 scalar seed (input 0) and the element's position.
   */
  dropoutMask: { readonly rate: number };
  /** NCHW convolution; weight [Cout, Cin / groups, kh, kw]. */
  conv2d: ConvParams;
  /** Transposed convolution; weight [Cin, Cout / groups, kh, kw]; output size fixed by outputPadding. */
  convTranspose2d: ConvParams & { readonly outputPadding: readonly [number, number] };
  /** The sub-tensor over static ranges of some (fixed-size) axes. */
  slice: SliceParams;
  /** Zeros added before and after some axes. */
  pad: PadParams;
}

export type Prim = keyof PrimParams;

/** One application of a primitive. Every node has exactly one output tensor. */
export interface Node<P extends Prim = Prim> {
  readonly prim: P;
  readonly params: PrimParams[P];
  readonly inputs: readonly Tensor[];
}

export interface OutType {
  readonly shape: Shape;
  readonly dtype: DType;
}
type RuleOf<T> = (inputs: readonly Tensor[], params: T) => OutType;
type ShapeRule<P extends Prim> = RuleOf<PrimParams[P]>;

function fail(msg: string): never {
  throw new Error(msg);
}

/** NumPy broadcasting of two shapes; symbolic dims match only themselves (or 1). */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else fail(`cannot broadcast [${a.join(", ")}] with [${b.join(", ")}]`);
  }
  return out;
}

function sameDtype(inputs: readonly Tensor[], what: string): DType {
  const d = inputs[0]!.dtype;
  for (const t of inputs) if (t.dtype !== d) fail(`${what}: dtype mismatch (${d} vs ${t.dtype})`);
  return d;
}

const binary: RuleOf<None> = ([a, b]) => ({
  shape: broadcastShapes(a!.shape, b!.shape),
  dtype: sameDtype([a!, b!], "binary op"),
});
const floatUnary: RuleOf<None> = ([x]) => {
  if (!isFloat(x!.dtype)) fail(`unary float op on ${x!.dtype}`);
  return { shape: x!.shape, dtype: x!.dtype };
};
const compare: RuleOf<None> = ([a, b]) => {
  sameDtype([a!, b!], "compare");
  return { shape: broadcastShapes(a!.shape, b!.shape), dtype: "bool" };
};

export function normAxes(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (a < 0 || a >= rank) fail(`axis ${a} out of range for rank ${rank}`);
  return [...new Set(out)].sort((x, y) => x - y);
}

const reduce: RuleOf<ReduceParams> = ([x], { axes, keepDims }) => {
  const ax = normAxes(axes, x!.rank);
  const shape: Dim[] = [];
  x!.shape.forEach((d, i) => {
    if (!ax.includes(i)) shape.push(d);
    else if (keepDims) shape.push(1);
  });
  return { shape, dtype: x!.dtype };
};

function convOut(size: Dim, k: Dim, stride: number, pad: number, dilation: number, what: string): number {
  if (typeof size !== "number" || typeof k !== "number") fail(`${what}: spatial dims must be fixed`);
  return Math.floor((size + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
}

/** `d · k` as a dim: a number, or for a symbolic `d` the symbol "d*k" (what grouped gradients reshape to). */
export function dimTimes(d: Dim, k: number): Dim {
  if (k === 1) return d;
  return typeof d === "number" ? d * k : `${d}*${k}`;
}

function checkGroups(groups: number | undefined, channels: Dim, what: string): number {
  const g = groups ?? 1;
  if (!Number.isInteger(g) || g < 1) fail(`${what}: groups must be a positive integer, got ${g}`);
  if (typeof channels === "number" && channels % g !== 0)
    fail(`${what}: ${channels} channels are not divisible into ${g} groups`);
  return g;
}

/** Checks axes and ranges of slice/pad, returning the normalised axes and each one's fixed size. */
function rangeAxes(
  x: Tensor,
  axes: readonly number[],
  a: readonly number[],
  b: readonly number[],
  what: string,
) {
  const ax = axes.map((v) => (v < 0 ? v + x.rank : v));
  if (a.length !== ax.length || b.length !== ax.length) fail(`${what}: one range per axis`);
  if (new Set(normAxes(ax, x.rank)).size !== ax.length) fail(`${what}: repeated axis`);
  return ax.map((axis) => {
    const d = x.shape[axis]!;
    if (typeof d !== "number") fail(`${what}: axis ${axis} must have a fixed size`);
    return { axis, d };
  });
}

/** The shape and dtype rule of each primitive. */
export const shapeRules: { readonly [P in Prim]: ShapeRule<P> } = {
  add: binary,
  sub: binary,
  mul: binary,
  div: binary,
  neg: ([x]) => ({ shape: x!.shape, dtype: x!.dtype }),
  exp: floatUnary,
  log: floatUnary,
  sqrt: floatUnary,
  relu: floatUnary,
  greater: compare,
  equal: compare,
  where: ([c, a, b]) => {
    if (c!.dtype !== "bool") fail("where: condition must be bool");
    return {
      shape: broadcastShapes(c!.shape, broadcastShapes(a!.shape, b!.shape)),
      dtype: sameDtype([a!, b!], "where"),
    };
  },
  cast: ([x], { to }) => ({ shape: x!.shape, dtype: to }),
  matmul: ([a, b], { transA, transB }) => {
    if (a!.rank !== 2 || b!.rank !== 2) fail("matmul: both operands must be 2-D");
    const [m, ka] = transA ? [a!.shape[1]!, a!.shape[0]!] : [a!.shape[0]!, a!.shape[1]!];
    const [kb, n] = transB ? [b!.shape[1]!, b!.shape[0]!] : [b!.shape[0]!, b!.shape[1]!];
    if (ka !== kb) fail(`matmul: inner dims differ (${ka} vs ${kb})`);
    return { shape: [m, n], dtype: sameDtype([a!, b!], "matmul") };
  },
  reduceSum: reduce,
  reduceMax: reduce,
  reshape: ([x], { shape }) => {
    const symbols = shape.filter((d) => typeof d === "string");
    if (symbols.length > 1) fail("reshape: at most one symbolic dim in the target shape");
    return { shape, dtype: x!.dtype };
  },
  transpose: ([x], { perm }) => {
    if (perm.length !== x!.rank || [...perm].sort().some((p, i) => p !== i)) fail("transpose: bad perm");
    return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
  expandLike: ([x, like]) => {
    broadcastShapes(x!.shape, like!.shape);
    return { shape: like!.shape, dtype: x!.dtype };
  },
  countOf: ([x], { axes }) => {
    normAxes(axes, x!.rank);
    return { shape: [], dtype: x!.dtype };
  },
  stopGradient: ([x]) => ({ shape: x!.shape, dtype: x!.dtype }),
  dropoutMask: ([seed, like], { rate }) => {
    if (seed!.dtype !== "int64" || seed!.rank !== 0) fail("dropoutMask: seed must be an int64 scalar");
    if (!(rate >= 0 && rate < 1)) fail(`dropoutMask: rate ${rate} outside [0, 1)`);
    if (!isFloat(like!.dtype)) fail("dropoutMask: shape source must be floating point");
    return { shape: like!.shape, dtype: like!.dtype };
  },
  conv2d: ([x, w], { strides, pads, dilations, groups: g }) => {
    if (x!.rank !== 4 || w!.rank !== 4) fail("conv2d: input and weight must be 4-D (NCHW, OIHW)");
    const groups = checkGroups(g, w!.shape[0]!, "conv2d");
    if (x!.shape[1] !== dimTimes(w!.shape[1]!, groups)) {
      const per = groups === 1 ? "" : ` per group x ${groups} groups`;
      fail(`conv2d: ${x!.shape[1]} input channels, weight wants ${w!.shape[1]}${per}`);
    }
    const h = convOut(x!.shape[2]!, w!.shape[2]!, strides[0], pads[0], dilations[0], "conv2d");
    const wd = convOut(x!.shape[3]!, w!.shape[3]!, strides[1], pads[1], dilations[1], "conv2d");
    return { shape: [x!.shape[0]!, w!.shape[0]!, h, wd], dtype: sameDtype([x!, w!], "conv2d") };
  },
  convTranspose2d: ([x, w], { strides, pads, dilations, outputPadding, groups: g }) => {
    if (dilations[0] !== 1 || dilations[1] !== 1) fail("convTranspose2d: dilation must be 1");
    if (x!.rank !== 4 || w!.rank !== 4) fail("convTranspose2d: input and weight must be 4-D");
    const groups = checkGroups(g, x!.shape[1]!, "convTranspose2d");
    if (x!.shape[1] !== w!.shape[0]) fail("convTranspose2d: channel mismatch");
    const size = (i: 0 | 1) => {
      const n = x!.shape[2 + i]!;
      const k = w!.shape[2 + i]!;
      if (typeof n !== "number" || typeof k !== "number") fail("convTranspose2d: spatial dims must be fixed");
      return strides[i] * (n - 1) + outputPadding[i] + k - 2 * pads[i];
    };
    const channels = dimTimes(w!.shape[1]!, groups);
    return { shape: [x!.shape[0]!, channels, size(0), size(1)], dtype: sameDtype([x!, w!], "convT") };
  },
  slice: ([x], { axes, starts, ends }) => {
    const shape = [...x!.shape];
    rangeAxes(x!, axes, starts, ends, "slice").forEach(({ axis, d }, i) => {
      if (!(0 <= starts[i]! && starts[i]! < ends[i]! && ends[i]! <= d))
        fail(`slice: range [${starts[i]}, ${ends[i]}) outside axis ${axis} of size ${d}`);
      shape[axis] = ends[i]! - starts[i]!;
    });
    return { shape, dtype: x!.dtype };
  },
  pad: ([x], { axes, before, after }) => {
    const shape = [...x!.shape];
    rangeAxes(x!, axes, before, after, "pad").forEach(({ axis, d }, i) => {
      if (!(before[i]! >= 0 && after[i]! >= 0)) fail("pad: negative padding");
      shape[axis] = before[i]! + d + after[i]!;
    });
    return { shape, dtype: x!.dtype };
  },
};
