/** ONNX lowering: one entry per primitive, turning a node into ONNX opset-18 nodes. */
import type { Node, Prim, PrimParams } from "../ir/primitives.js";
import { normAxes } from "../ir/primitives.js";
import type { DType, Tensor } from "../ir/tensor.js";
import { type AttrValue, dtypeToOnnx } from "./proto.js";

/** Opset of training graphs (bitwise ops need 18). */
export const OPSET = 18;
/** Opset of exported inference models: the widest reach that has everything they use. */
export const EXPORT_OPSET = 17;

export interface LowerCtx {
  /** Opset being written: 18 for training graphs, 17 for exported inference models. */
  readonly opset: number;
  /** ONNX name of an input tensor of the node. */
  readonly in: readonly string[];
  /** ONNX name the node's result must be written to. */
  readonly out: string;
  emit(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs?: Record<string, AttrValue>,
  ): void;
  /** A fresh intermediate name. */
  fresh(): string;
  /** A constant initializer (int64 or float scalar/1-D), deduplicated. */
  constant(values: readonly number[], dtype: DType, dims: readonly number[]): string;
}

type Lower<P extends Prim> = (ctx: LowerCtx, params: PrimParams[P], node: Node<P>, out: Tensor) => void;
type LowerOf<T> = (ctx: LowerCtx, params: T, node: Node, out: Tensor) => void;

const direct =
  (opType: string): LowerOf<unknown> =>
  (c) =>
    c.emit(opType, c.in, [c.out]);

function axesConst(c: LowerCtx, axes: readonly number[], rank: number): string {
  const ax = normAxes(axes, rank);
  return c.constant(ax, "int64", [ax.length]);
}

/** Reductions take their axes as an input from opset 13 (ReduceSum) or 18 (the others). */
/** Reductions take their axes as an input from opset 13 (ReduceSum) or 18 (the others). */
export const AXES_INPUT_SINCE: Readonly<Record<string, number>> = {
  ReduceSum: 13,
  ReduceMax: 18,
  ReduceSumSquare: 18,
};

/** Emits `opType(input)` over `axes`, in the form the opset being written wants. */
export function emitReduce(
  c: LowerCtx,
  opType: string,
  input: string,
  axes: readonly number[],
  rank: number,
  keepDims: boolean,
  out: string,
): void {
  if (axes.length === 0) {
    c.emit("Identity", [input], [out]);
    return;
  }
  const keepdims = keepDims ? 1 : 0;
  if (c.opset >= (AXES_INPUT_SINCE[opType] ?? 18))
    c.emit(opType, [input, axesConst(c, axes, rank)], [out], { keepdims });
  else c.emit(opType, [input], [out], { keepdims, axes: normAxes(axes, rank) });
}

const reduce =
  (opType: string): LowerOf<PrimParams["reduceSum"]> =>
  (c, { axes, keepDims }, node) =>
    emitReduce(c, opType, c.in[0]!, axes, node.inputs[0]!.rank, keepDims, c.out);

/** Emits `h ^= h >> s` on uint32 values. */
function xorShift(c: LowerCtx, h: string, s: number): string {
  const [q, r] = [c.fresh(), c.fresh()];
  c.emit("BitShift", [h, c.constant([s], "uint32", [])], [q], { direction: "RIGHT" });
  c.emit("BitwiseXor", [h, q], [r]);
  return r;
}

/** Emits `h * k` on uint32 values (wrapping mod 2^32, which unsigned arithmetic guarantees). */
function mulU32(c: LowerCtx, h: string, k: number): string {
  const r = c.fresh();
  c.emit("Mul", [h, c.constant([k], "uint32", [])], [r]);
  return r;
}

/**
 * The dropout hash of element i under seed s, in wrapping uint32 arithmetic:
 *   k = fmix32(s)   (murmur3's finaliser, computed once on the scalar seed)
 *   x = ((i·G) ^ k)·M1;   x ^= x >> 15;   h = x·M2
 * G is the golden-ratio Weyl constant, M1 and M2 lowbias32's multipliers. One round per element (9
 * passes over the mask, 14 with the full finaliser per element): over lags 1 to 3000 of four
 * 128x1200 masks, the keep decisions show no correlation beyond chance, as with two rounds, where a
 * Weyl sequence in (s + i) with one round showed some (|z| up to 21 at lag 1575).
 */
const WEYL = 0x9e3779b9;
const FMIX = [0x85ebca6b, 0xc2b2ae35] as const;
const MIX = [0x7feb352d, 0x846ca68b] as const;

/** murmur3's 32-bit finaliser, for the scalar seed. */
function fmix32(c: LowerCtx, h: string): string {
  return xorShift(c, mulU32(c, xorShift(c, mulU32(c, xorShift(c, h, 16), FMIX[0]), 13), FMIX[1]), 16);
}

/** ONNX's `group` attribute, written only for grouped convolutions (ungrouped ones stay as before). */
const groupAttr = (groups: number | undefined): Record<string, AttrValue> =>
  groups !== undefined && groups !== 1 ? { group: groups } : {};

export const lowerings: { readonly [P in Prim]: Lower<P> } = {
  add: direct("Add"),
  sub: direct("Sub"),
  mul: direct("Mul"),
  div: direct("Div"),
  neg: direct("Neg"),
  exp: direct("Exp"),
  log: direct("Log"),
  sqrt: direct("Sqrt"),
  relu: direct("Relu"),
  greater: direct("Greater"),
  equal: direct("Equal"),
  where: direct("Where"),
  cast: (c, { to }) => c.emit("Cast", c.in, [c.out], { to: dtypeToOnnx[to] }),
  // Plain products stay MatMul so ONNX Runtime can fuse a following bias Add into Gemm.
  matmul: (c, { transA, transB }) =>
    transA || transB
      ? c.emit("Gemm", c.in, [c.out], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 })
      : c.emit("MatMul", c.in, [c.out]),
  reduceSum: reduce("ReduceSum"),
  reduceMax: reduce("ReduceMax"),
  reshape: (c, { shape }) =>
    c.emit(
      "Reshape",
      [
        c.in[0]!,
        c.constant(
          shape.map((d) => (typeof d === "number" ? d : -1)),
          "int64",
          [shape.length],
        ),
      ],
      [c.out],
    ),
  transpose: (c, { perm }) => c.emit("Transpose", c.in, [c.out], { perm }),
  expandLike: (c) => {
    const s = c.fresh();
    c.emit("Shape", [c.in[1]!], [s]);
    c.emit("Expand", [c.in[0]!, s], [c.out]);
  },
  countOf: (c, { axes }, node, out) => {
    const [s, sf, picked] = [c.fresh(), c.fresh(), c.fresh()];
    c.emit("Shape", [c.in[0]!], [s]);
    c.emit("Cast", [s], [sf], { to: dtypeToOnnx[out.dtype] });
    c.emit("Gather", [sf, axesConst(c, axes, node.inputs[0]!.rank)], [picked]);
    c.emit("ReduceProd", [picked], [c.out], { keepdims: 0 }); // all axes: no axes needed
  },
  stopGradient: direct("Identity"),
  dropoutMask: (c, { rate }, _n, out) => {
    // Counter-based randomness (the hash above WEYL): every element is a pure function of the
    // step's seed input and its flat index, so resumed runs repeat each mask.
    const [shape, n, span, weyl64, weyl] = [c.fresh(), c.fresh(), c.fresh(), c.fresh(), c.fresh()];
    c.emit("Shape", [c.in[1]!], [shape]);
    c.emit("ReduceProd", [shape], [n], { keepdims: 0 });
    // i·G for i < n as one int64 Range (no overflow below 2^31 elements), wrapped to uint32 by Cast.
    const golden = c.constant([WEYL], "int64", []);
    c.emit("Mul", [n, golden], [span]);
    c.emit("Range", [c.constant([0], "int64", []), span, golden], [weyl64]);
    c.emit("Cast", [weyl64], [weyl], { to: dtypeToOnnx.uint32 });
    const seed32 = c.fresh();
    c.emit("Cast", [c.in[0]!], [seed32], { to: dtypeToOnnx.uint32 });
    const key = fmix32(c, seed32);
    const keyed = c.fresh();
    c.emit("BitwiseXor", [weyl, key], [keyed]);
    const h = mulU32(c, xorShift(c, mulU32(c, keyed, MIX[0]), 15), MIX[1]);
    // Dropped iff h < rate·2^32, so P(keep) = 1 − rate to within 2^-32.
    const [drop, flat] = [c.fresh(), c.fresh()];
    c.emit("Less", [h, c.constant([Math.min(0xffffffff, Math.round(rate * 2 ** 32))], "uint32", [])], [drop]);
    c.emit(
      "Where",
      [drop, c.constant([0], out.dtype, []), c.constant([1 / (1 - rate)], out.dtype, [])],
      [flat],
    );
    c.emit("Reshape", [flat, shape], [c.out]);
  },
  conv2d: (c, { strides, pads, dilations, groups }) =>
    c.emit("Conv", c.in, [c.out], {
      strides,
      pads: [pads[0], pads[1], pads[0], pads[1]],
      dilations,
      ...groupAttr(groups),
    }),
  convTranspose2d: (c, { strides, pads, outputPadding, groups }) =>
    c.emit("ConvTranspose", c.in, [c.out], {
      strides,
      pads: [pads[0], pads[1], pads[0], pads[1]],
      output_padding: outputPadding,
      ...groupAttr(groups),
    }),
  slice: (c, { axes, starts, ends }, node) => {
    const ax = axes.map((a) => (a < 0 ? a + node.inputs[0]!.rank : a));
    const n = [ax.length];
    const ranges = [c.constant(starts, "int64", n), c.constant(ends, "int64", n), c.constant(ax, "int64", n)];
    c.emit("Slice", [c.in[0]!, ...ranges], [c.out]);
  },
  pad: (c, { axes, before, after }, node) => {
    // Full-rank pads: Pad's axes input needs opset 18, and exports are written at 17.
    const rank = node.inputs[0]!.rank;
    const pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => {
      const axis = a < 0 ? a + rank : a;
      pads[axis] = before[i]!;
      pads[rank + axis] = after[i]!;
    });
    c.emit("Pad", [c.in[0]!, c.constant(pads, "int64", [2 * rank])], [c.out], { mode: "constant" });
  },
};
