/** One reverse-mode rule per primitive: given the output's cotangent, each input's (or null). */
import * as o from "../ir/ops.js";
import { type ConvParams, dimTimes, normAxes, type Prim, type PrimParams } from "../ir/primitives.js";
import type { Dim, Tensor } from "../ir/tensor.js";

export interface RuleArgs<P extends Prim> {
  readonly inputs: readonly Tensor[];
  readonly params: PrimParams[P];
  /** The node's output (its primal value). */
  readonly out: Tensor;
  /** Cotangent of the output, already of the output's shape. */
  readonly g: Tensor;
}
/**
 * Returns one cotangent per input, or null where the input gets no gradient. A returned
 * cotangent may have the output's (broadcast) shape: the engine sums it back to the input's.
 */
export type GradRule<P extends Prim> = (args: RuleArgs<P>) => readonly (Tensor | null)[];

/** The shape of `x` reduced over `axes` with the reduced dims kept as 1. */
function keptShape(x: Tensor, axes: readonly number[]): Dim[] {
  const ax = normAxes(axes, x.rank);
  return x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

/** The (fixed) sizes of `axes` of `x`, as slice and pad require. */
function axisSizes(x: Tensor, axes: readonly number[]): number[] {
  return axes.map((a) => x.shape[a < 0 ? a + x.rank : a] as number);
}

/** x [N, G·Cig, H, W] as [Cig, G·N, H, W]: batch and channels swapped, channels still group-major. */
function groupMajor(x: Tensor, groups: number): Tensor {
  const [n, c, h, w] = x.shape as [Dim, number, Dim, Dim];
  const perGroup = o.transpose(o.reshape(x, [n, groups, c / groups, h, w]), [2, 1, 0, 3, 4]);
  return o.reshape(perGroup, [c / groups, dimTimes(n, groups), h, w]);
}

/**
 * The operands of a weight-gradient convolution, with batch and channels swapped; with groups,
 * a convolution of G groups then pairs each group's inputs only with that group's cotangents.
 * x goes first: creation order names the tensors, and ungrouped graphs must not change.
 */
function swapBatchAndChannels(x: Tensor, gy: Tensor, groups: number): [Tensor, Tensor] {
  const xt = groups === 1 ? o.transpose(x, [1, 0, 2, 3]) : groupMajor(x, groups);
  return [xt, o.transpose(gy, [1, 0, 2, 3])];
}

/**
 * For each kernel tap (i, j), the input values it met in the forward pass: t[..., i + s·y, j + s·x]
 * over the output's Ho×Wo positions, from `t` [..., H, W] (any leading axes), padded as the
 * forward padded. A stride s > 1 reads one phase of the padded input reshaped [..., H/s, s, W/s, s],
 * so only static slices are needed; a stride that does not divide leaves the last rows unread.
 */
function tapSlices(
  t: Tensor,
  [kh, kw]: readonly number[],
  [ho, wo]: readonly number[],
  { strides: [sh, sw], pads: [ph, pw] }: ConvParams,
): Tensor[][] {
  const lead = t.shape.slice(0, -2);
  const [h, w] = t.shape.slice(-2) as number[];
  const [hp, wp] = [sh * Math.ceil((h! + 2 * ph) / sh), sw * Math.ceil((w! + 2 * pw) / sw)];
  const r = lead.length;
  const after = [hp - h! - ph, wp - w! - pw];
  const padded = ph || pw || after[0] || after[1] ? o.pad(t, [r, r + 1], [ph, pw], after) : t;
  // A 1×1 kernel at stride 1 and no padding met the input itself.
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && padded === t)
    return [[o.reshape(t, [...lead, ho! * wo!])]];
  const phased = o.reshape(padded, [...lead, hp / sh, sh, wp / sw, sw]);
  return Array.from({ length: kh! }, (_, i) =>
    Array.from({ length: kw! }, (_, j) => {
      const [a, b] = [Math.floor(i / sh), Math.floor(j / sw)];
      const cut = o.slice(
        phased,
        [r, r + 1, r + 2, r + 3],
        [a, i % sh, b, j % sw],
        [a + ho!, (i % sh) + 1, b + wo!, (j % sw) + 1],
      );
      return o.reshape(cut, [...lead, ho! * wo!]);
    }),
  );
}

/** [Cout, Cin/g, 1, 1] tap gradients placed at their kernel positions and summed: [Cout, Cin/g, kh, kw]. */
function assembleTaps(taps: readonly (readonly Tensor[])[]): Tensor {
  const [kh, kw] = [taps.length, taps[0]!.length];
  const place = (t: Tensor, i: number, j: number) =>
    kh === 1 && kw === 1 ? t : o.pad(t, [2, 3], [i, j], [kh - 1 - i, kw - 1 - j]);
  return taps.flatMap((row, i) => row.map((t, j) => place(t, i, j))).reduce((acc, t) => o.add(acc, t));
}

/**
 * Weight gradient of a convolution. Ungrouped, tap by tap: dW[·, ·, i, j] is one matrix product
 * over N·Ho·Wo of dY and the inputs tap (i, j) met. Grouped (depthwise): the grouped convolution
 * of x with dY (dilated by the stride), batch and channels swapped, cropped where the stride does
 * not divide; faster than tap by tap there (MobileNet on 28×28, 2 threads, kernel time of a step measured
 * alternately: 420 and 448 ms tap by tap, 353 and 363 ms as a grouped convolution).
 */
function convWeightGrad(x: Tensor, gy: Tensor, kernel: readonly Dim[], params: ConvParams): Tensor {
  const g = params.groups ?? 1;
  const [n, cin] = [x.shape[0]!, x.shape[1] as number];
  const [cout, ho, wo] = gy.shape.slice(1) as number[];
  const [kh, kw] = kernel as number[];
  const hw = ho! * wo!;
  if (g === 1) {
    const dy = o.reshape(o.transpose(gy, [1, 0, 2, 3]), [cout!, dimTimes(n, hw)]);
    const taps = tapSlices(o.transpose(x, [1, 0, 2, 3]), [kh!, kw!], [ho!, wo!], params);
    return assembleTaps(
      taps.map((row) =>
        row.map((t) =>
          o.reshape(o.matmul(dy, o.reshape(t, [cin, dimTimes(n, hw)]), false, true), [cout!, cin, 1, 1]),
        ),
      ),
    );
  }
  const [xt, gt] = swapBatchAndChannels(x, gy, g);
  const { strides, pads } = params;
  const conv = { strides: [1, 1] as [number, number], pads, dilations: strides, groups: g };
  const dw = o.transpose(o.apply("conv2d", conv, [xt, gt]), [1, 0, 2, 3]);
  if (dw.shape[2] === kh && dw.shape[3] === kw) return dw;
  return o.slice(dw, [2, 3], [0, 0], [kh!, kw!]);
}

export const gradRules: { readonly [P in Prim]: GradRule<P> } = {
  add: ({ g }) => [g, g],
  sub: ({ g }) => [g, o.neg(g)],
  mul: ({ inputs: [a, b], g }) => [o.mul(g, b!), o.mul(g, a!)],
  div: ({ inputs: [, b], out, g }) => [o.div(g, b!), o.neg(o.div(o.mul(g, out), b!))],
  neg: ({ g }) => [o.neg(g)],
  exp: ({ out, g }) => [o.mul(g, out)],
  log: ({ inputs: [x], g }) => [o.div(g, x!)],
  sqrt: ({ out, g }) => [o.div(g, o.mul(out, 2))],
  relu: ({ inputs: [x], g }) => [o.where(o.greater(x!, 0), g, 0)],
  greater: () => [null, null],
  equal: () => [null, null],
  where: ({ inputs: [c], g }) => [null, o.where(c!, g, 0), o.where(c!, 0, g)],
  cast: ({ inputs: [x], g }) => [
    x!.dtype === "float32" || x!.dtype === "float64" ? o.cast(g, x!.dtype) : null,
  ],
  matmul: ({ inputs: [a, b], params: { transA, transB }, g }) => {
    if (!transA && !transB) return [o.matmul(g, b!, false, true), o.matmul(a!, g, true, false)];
    if (transA && !transB) return [o.matmul(b!, g, false, true), o.matmul(a!, g, false, false)];
    if (!transA && transB) return [o.matmul(g, b!, false, false), o.matmul(g, a!, true, false)];
    return [o.matmul(b!, g, true, true), o.matmul(g, a!, true, true)];
  },
  reduceSum: ({ inputs: [x], params: { axes }, g }) => [o.expandLike(o.reshape(g, keptShape(x!, axes)), x!)],
  reduceMax: ({ inputs: [x], params: { axes }, out, g }) => {
    // Ties share the gradient equally, so the rule stays a true (sub)gradient.
    const kept = keptShape(x!, axes);
    const mask = o.cast(o.equal(x!, o.expandLike(o.reshape(out, kept), x!)), x!.dtype);
    const count = o.sum(mask, axes, true);
    return [o.mul(mask, o.div(o.reshape(g, kept), count))];
  },
  reshape: ({ inputs: [x], g }) => [o.reshape(g, x!.shape)],
  transpose: ({ params: { perm }, g }) => [o.transpose(g, inversePerm(perm))],
  expandLike: ({ g }) => [g, null],
  countOf: () => [null],
  stopGradient: () => [null],
  dropoutMask: () => [null, null],
  conv2d: ({ inputs: [x, w], params, g }) => {
    const { strides, pads, dilations } = params;
    if (dilations[0] !== 1 || dilations[1] !== 1)
      throw new Error("conv2d: no gradient rule for dilated kernels");
    const h = x!.shape[2] as number;
    const wd = x!.shape[3] as number;
    const kh = w!.shape[2] as number;
    const kw = w!.shape[3] as number;
    const gh = g.shape[2] as number;
    const gw = g.shape[3] as number;
    const outputPadding: [number, number] = [
      h - (strides[0] * (gh - 1) + kh - 2 * pads[0]),
      wd - (strides[1] * (gw - 1) + kw - 2 * pads[1]),
    ];
    // outputPadding restores the rows/columns a stride that does not divide left unread.
    const grouped = params.groups !== undefined && params.groups !== 1 ? { groups: params.groups } : {};
    const dx = o.apply("convTranspose2d", { strides, pads, dilations, outputPadding, ...grouped }, [g, w!]);
    return [dx, convWeightGrad(x!, g, [kh, kw], params)];
  },
  convTranspose2d: ({ inputs: [x, w], params, g }) => {
    // y = convT(x, w) is the input-gradient of conv(·, w): its own gradients swap roles.
    const { strides, pads, groups } = params;
    const dx = o.conv2d(g, w!, [strides[0], strides[1]], [pads[0], pads[1]], groups ?? 1);
    return [dx, convWeightGrad(g, x!, [w!.shape[2]!, w!.shape[3]!], params)];
  },
  slice: ({ inputs: [x], params: { axes, starts, ends }, g }) => {
    const after = axisSizes(x!, axes).map((d, i) => d - ends[i]!);
    return [o.pad(g, axes, starts, after)];
  },
  pad: ({ inputs: [x], params: { axes, before }, g }) => {
    const ends = axisSizes(x!, axes).map((d, i) => before[i]! + d);
    return [o.slice(g, axes, before, ends)];
  },
};
