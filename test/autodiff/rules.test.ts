import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import * as o from "../../src/ir/ops.js";
import { shapeRules } from "../../src/ir/primitives.js";
import type { Tensor } from "../../src/ir/tensor.js";
import { Graph } from "../../src/ir/tensor.js";
import type { Rng } from "../../src/util/rng.js";
import { checkVjp, type InputSpec } from "../helpers/gradcheck.js";

const positive = (r: Rng) => 0.5 + 2 * r.uniform();
/** Values kept away from 0 so ReLU's kink never sits inside the finite-difference step. */
const awayFromZero = (r: Rng) => (r.uniform() < 0.5 ? -1 : 1) * (0.1 + r.uniform());

interface Row {
  readonly name: string;
  readonly f: (xs: Tensor[]) => Tensor;
  readonly inputs: readonly InputSpec[];
  readonly float32?: boolean;
  readonly tol?: number;
  readonly eps?: number;
  /** The share of the true derivative autodiff should report (stopGradient blocks half of x·sg(x)). */
  readonly ratio?: number;
}

// One row per primitive (and per composite worth checking on its own), JAX's table style.
const rows: Row[] = [
  { name: "add (broadcast)", f: ([a, b]) => o.add(a!, b!), inputs: [{ shape: [3, 4] }, { shape: [4] }] },
  { name: "sub (broadcast)", f: ([a, b]) => o.sub(a!, b!), inputs: [{ shape: [3, 1] }, { shape: [1, 4] }] },
  {
    name: "mul (broadcast)",
    f: ([a, b]) => o.mul(a!, b!),
    inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }],
  },
  {
    name: "div",
    f: ([a, b]) => o.div(a!, b!),
    inputs: [{ shape: [3, 4] }, { shape: [3, 4], sample: positive }],
  },
  { name: "neg", f: ([a]) => o.neg(a!), inputs: [{ shape: [5] }] },
  { name: "exp", f: ([a]) => o.exp(a!), inputs: [{ shape: [2, 3] }] },
  { name: "log", f: ([a]) => o.log(a!), inputs: [{ shape: [2, 3], sample: positive }] },
  { name: "sqrt", f: ([a]) => o.sqrt(a!), inputs: [{ shape: [2, 3], sample: positive }] },
  { name: "relu", f: ([a]) => o.relu(a!), inputs: [{ shape: [4, 5], sample: awayFromZero }] },
  {
    name: "where/greater",
    f: ([a, b]) => o.where(o.greater(a!, 0), a!, o.mul(b!, 3)),
    inputs: [{ shape: [3, 4], sample: awayFromZero }, { shape: [4] }],
  },
  {
    name: "equal/cast",
    f: ([a]) =>
      o.mul(
        a!,
        o.cast(o.equal(o.cast(o.greater(a!, 0), "int64"), o.cast(o.greater(a!, -10), "int64")), "float64"),
      ),
    inputs: [{ shape: [6], sample: awayFromZero }],
  },
  {
    // A round trip through float32 is linear up to rounding: a large step keeps rounding small.
    name: "cast float→float",
    f: ([a]) => o.cast(o.cast(a!, "float32"), "float64"),
    inputs: [{ shape: [3] }],
    eps: 1e-2,
    tol: 1e-4,
  },
  { name: "matmul", f: ([a, b]) => o.matmul(a!, b!), inputs: [{ shape: [3, 4] }, { shape: [4, 5] }] },
  {
    name: "matmul transA",
    f: ([a, b]) => o.matmul(a!, b!, true),
    inputs: [{ shape: [4, 3] }, { shape: [4, 5] }],
  },
  {
    name: "matmul transB",
    f: ([a, b]) => o.matmul(a!, b!, false, true),
    inputs: [{ shape: [3, 4] }, { shape: [5, 4] }],
  },
  {
    name: "matmul both",
    f: ([a, b]) => o.matmul(a!, b!, true, true),
    inputs: [{ shape: [4, 3] }, { shape: [5, 4] }],
  },
  { name: "reduceSum", f: ([a]) => o.sum(a!, [0, 2]), inputs: [{ shape: [2, 3, 4] }] },
  { name: "reduceSum keepDims", f: ([a]) => o.sum(a!, [1], true), inputs: [{ shape: [2, 3, 4] }] },
  { name: "reduceMax", f: ([a]) => o.max(a!, [1]), inputs: [{ shape: [3, 5] }] },
  {
    name: "reshape",
    f: ([a]) => o.mul(o.reshape(a!, [6, 2]), o.reshape(a!, [6, 2])),
    inputs: [{ shape: [3, 4] }],
  },
  { name: "transpose", f: ([a]) => o.transpose(a!, [2, 0, 1]), inputs: [{ shape: [2, 3, 4] }] },
  {
    name: "expandLike",
    f: ([a, b]) => o.mul(o.expandLike(a!, b!), b!),
    inputs: [{ shape: [1, 4] }, { shape: [3, 4] }],
  },
  { name: "countOf/mean", f: ([a]) => o.mean(a!, [0]), inputs: [{ shape: [5, 3] }] },
  { name: "stopGradient", f: ([a]) => o.mul(a!, o.stopGradient(a!)), inputs: [{ shape: [4] }], ratio: 0.5 },
  { name: "logSoftmax", f: ([a]) => o.logSoftmax(a!), inputs: [{ shape: [3, 6] }] },
  { name: "softmax", f: ([a]) => o.softmax(a!), inputs: [{ shape: [3, 6] }] },
  {
    name: "dropoutMask (gradient flows through the mask, not into it)",
    f: ([a]) => o.mul(a!, o.dropoutMask(o.constant(a!.graph, 5, [], "int64"), a!, 0.5)),
    inputs: [{ shape: [4, 3] }],
  },
  {
    name: "conv2d stride 1 pad 1",
    f: ([x, w]) => o.conv2d(x!, w!, [1, 1], [1, 1]),
    inputs: [{ shape: [2, 2, 5, 5] }, { shape: [3, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d stride 2",
    f: ([x, w]) => o.conv2d(x!, w!, [2, 2], [1, 1]),
    inputs: [{ shape: [2, 2, 5, 5] }, { shape: [3, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "convTranspose2d",
    f: ([x, w]) =>
      o.apply(
        "convTranspose2d",
        { strides: [2, 2], pads: [1, 1], dilations: [1, 1], outputPadding: [0, 0] },
        [x!, w!],
      ),
    inputs: [{ shape: [2, 3, 3, 3] }, { shape: [3, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    // 8 + 2 - 3 = 7 is odd: the last padded row and column are never read (the 28-pixel case).
    name: "conv2d 3x3 stride 2 pad 1, size not a multiple of the stride",
    f: ([x, w]) => o.conv2d(x!, w!, [2, 2], [1, 1]),
    inputs: [{ shape: [2, 2, 8, 7] }, { shape: [3, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d 1x1 stride 2 shortcut on an even size",
    f: ([x, w]) => o.conv2d(x!, w!, [2, 2], [0, 0]),
    inputs: [{ shape: [2, 3, 6, 6] }, { shape: [4, 3, 1, 1] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d stride 3, remainder 2, different strides and pads per axis",
    f: ([x, w]) => o.conv2d(x!, w!, [3, 2], [0, 1]),
    inputs: [{ shape: [2, 2, 7, 6] }, { shape: [2, 2, 2, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d groups 2",
    f: ([x, w]) => o.conv2d(x!, w!, [1, 1], [1, 1], 2),
    inputs: [{ shape: [2, 4, 5, 5] }, { shape: [6, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d depthwise, stride 2, size not a multiple of the stride",
    f: ([x, w]) => o.conv2d(x!, w!, [2, 2], [1, 1], 3),
    inputs: [{ shape: [2, 3, 8, 8] }, { shape: [3, 1, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d depthwise with channel multiplier 2",
    f: ([x, w]) => o.conv2d(x!, w!, [1, 1], [0, 0], 2),
    inputs: [{ shape: [3, 2, 5, 4] }, { shape: [4, 1, 2, 2] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "conv2d groups 2 with one output channel per group",
    f: ([x, w]) => o.conv2d(x!, w!, [2, 2], [1, 1], 2),
    inputs: [{ shape: [2, 4, 5, 5] }, { shape: [2, 2, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  {
    name: "convTranspose2d groups 2 with output padding",
    f: ([x, w]) =>
      o.apply(
        "convTranspose2d",
        { strides: [2, 2], pads: [1, 1], dilations: [1, 1], outputPadding: [1, 1], groups: 2 },
        [x!, w!],
      ),
    inputs: [{ shape: [2, 4, 3, 3] }, { shape: [4, 3, 3, 3] }],
    float32: true,
    tol: 2e-3,
  },
  { name: "slice", f: ([a]) => o.slice(a!, [0, -1], [1, 0], [3, 2]), inputs: [{ shape: [4, 3] }] },
  { name: "pad", f: ([a]) => o.pad(a!, [1], [2], [1]), inputs: [{ shape: [2, 3, 2] }] },
  {
    name: "maxPool2d",
    f: ([x]) => o.maxPool2d(x!, 2),
    inputs: [{ shape: [2, 2, 4, 4] }],
  },
];

describe("gradient rules agree with central differences", () => {
  const covered = new Set<string>();
  for (const row of rows) {
    it(row.name, async () => {
      const r = await checkVjp(row.f, row.inputs, {
        ...(row.float32 ? { dtype: "float32" as const } : {}),
        ...(row.eps ? { eps: row.eps } : {}),
      });
      for (const p of r.prims) covered.add(p);
      expect(Math.abs(r.analytic)).toBeGreaterThan(1e-6);
      const expected = r.numeric * (row.ratio ?? 1);
      const relErr = Math.abs(r.analytic - expected) / (Math.abs(r.analytic) + Math.abs(expected));
      expect(relErr).toBeLessThan(row.tol ?? 1e-6);
    });
  }
  it("covers every primitive", () => {
    const missing = Object.keys(shapeRules).filter((p) => !covered.has(p));
    expect(missing).toEqual([]);
  });
});

describe("errors", () => {
  it("a primitive application without a gradient rule names itself", () => {
    const g = new Graph();
    const x = g.input("x", [1, 1, 5, 5]);
    const w = g.input("w", [1, 1, 3, 3]);
    const y = o.apply("conv2d", { strides: [1, 1], pads: [0, 0], dilations: [2, 2] }, [x, w]);
    expect(() => grad(o.sum(y), [w])).toThrow(/conv2d: no gradient rule for dilated kernels/);
  });

  it("grouped convolution, slice and pad shape errors name the primitive", () => {
    const g = new Graph();
    const x = g.input("x", [1, 4, 5, 5]);
    expect(() => o.conv2d(x, g.input("w", [6, 1, 3, 3]), [1, 1], [0, 0], 4)).toThrow(
      /conv2d: 6 channels are not divisible into 4 groups/,
    );
    expect(() => o.conv2d(x, g.input("v", [4, 1, 3, 3]), [1, 1], [0, 0], 2)).toThrow(
      /conv2d: 4 input channels, weight wants 1 per group x 2 groups/,
    );
    expect(() => o.slice(x, [2], [3], [6])).toThrow(/slice: range \[3, 6\) outside axis 2 of size 5/);
    expect(() => o.pad(x, [1, 1], [1, 1], [0, 0])).toThrow(/pad: repeated axis/);
    expect(() => o.pad(g.input("b", ["batch", 3]), [0], [1], [1])).toThrow(
      /pad: axis 0 must have a fixed size/,
    );
  });

  it("grad of a non-scalar is refused", () => {
    const g = new Graph();
    const x = g.input("x", [3]);
    expect(() => grad(o.exp(x), [x])).toThrow(/loss must be a scalar/);
  });

  it("shape errors name the primitive", () => {
    const g = new Graph();
    expect(() => o.matmul(g.input("a", [2, 3]), g.input("b", [4, 5]))).toThrow(
      /matmul: inner dims differ \(3 vs 4\)/,
    );
    expect(() => o.add(g.input("c", [2, 3]), g.input("d", [4, 3]))).toThrow(
      /cannot broadcast \[2, 3\] with \[4, 3\]/,
    );
  });
});
