/** One reverse-mode rule per primitive: given the output's cotangent, each input's (or null). */
import * as o from "../ir/ops.js";
import { type ConvParams, normAxes, type Prim, type PrimParams } from "../ir/primitives.js";
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

/**
 * Weight gradient of a convolution written as another convolution: with batch and channels
 * swapped, the data convolved with the output cotangent (dilated by the stride) is dW.
 */
function convWeightGrad(
  x: Tensor,
  gy: Tensor,
  kernel: readonly Dim[],
  { strides, pads }: ConvParams,
): Tensor {
  for (const i of [0, 1] as const) {
    const size = x.shape[2 + i] as number;
    const k = kernel[i] as number;
    if ((size + 2 * pads[i] - k) % strides[i] !== 0)
      throw new Error("conv2d gradient: (size + 2*pad - kernel) must be divisible by the stride");
  }
  const xt = o.transpose(x, [1, 0, 2, 3]);
  const gt = o.transpose(gy, [1, 0, 2, 3]);
  const dw = o.apply("conv2d", { strides: [1, 1], pads, dilations: strides }, [xt, gt]);
  return o.transpose(dw, [1, 0, 2, 3]);
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
    const dx = o.apply("convTranspose2d", { strides, pads, dilations, outputPadding }, [g, w!]);
    return [dx, convWeightGrad(x!, g, [kh, kw], params)];
  },
  convTranspose2d: ({ inputs: [x, w], params, g }) => {
    // y = convT(x, w) is the input-gradient of conv(·, w): its own gradients swap roles.
    const dx = o.apply("conv2d", { strides: params.strides, pads: params.pads, dilations: [1, 1] }, [g, w!]);
    return [dx, convWeightGrad(g, x!, [w!.shape[2]!, w!.shape[3]!], params)];
  },
};
