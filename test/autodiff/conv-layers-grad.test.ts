import { describe, expect, it } from "vitest";
import type { Tensor } from "../../src/ir/tensor.js";
import * as L from "../../src/nn/conv-layers.js";
import type { Rng } from "../../src/util/rng.js";
import { checkVjp, type InputSpec } from "../helpers/gradcheck.js";

const positive = (r: Rng) => 0.5 + 2 * r.uniform();
/** Uniform on [lo, hi] minus 0.1 around each kink, so no kink sits inside the difference step. */
const awayFrom =
  (kinks: readonly number[], lo: number, hi: number) =>
  (r: Rng): number => {
    for (;;) {
      const v = lo + (hi - lo) * r.uniform();
      if (kinks.every((k) => Math.abs(v - k) > 0.1)) return v;
    }
  };

interface Row {
  readonly name: string;
  readonly f: (xs: Tensor[]) => Tensor;
  readonly inputs: readonly InputSpec[];
  /** Convolutions run in float32 only (ONNX Runtime has no float64 Conv on CPU). */
  readonly float32?: boolean;
}

// One row per layer function, in test/autodiff/rules.test.ts's table style.
const rows: Row[] = [
  {
    name: "batchNorm2d training mode (batch statistics)",
    f: ([x, g, b]) => L.batchNorm2dTrain(x!, { name: "bn", weight: g!, bias: b! }).y,
    inputs: [{ shape: [3, 2, 3, 4] }, { shape: [2], sample: positive }, { shape: [2] }],
  },
  {
    name: "batchNorm2d training mode: unbiased batch variance",
    f: ([x, g, b]) => L.batchNorm2dTrain(x!, { name: "bn", weight: g!, bias: b! }).variance,
    inputs: [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }],
  },
  {
    name: "batchNorm2d evaluation mode (running statistics)",
    f: ([x, g, b, m, v]) =>
      L.batchNorm2dEval(x!, { name: "bn", weight: g!, bias: b!, runningMean: m!, runningVar: v! }),
    inputs: [
      { shape: [2, 3, 2, 2] },
      { shape: [3] },
      { shape: [3] },
      { shape: [3] },
      { shape: [3], sample: positive },
    ],
  },
  { name: "globalAvgPool", f: ([x]) => L.globalAvgPool(x!, "gap"), inputs: [{ shape: [2, 3, 5, 4] }] },
  { name: "relu6", f: ([x]) => L.relu6(x!), inputs: [{ shape: [4, 6], sample: awayFrom([0, 6], -3, 9) }] },
  {
    name: "hardSwish",
    f: ([x]) => L.hardSwish(x!),
    inputs: [{ shape: [4, 6], sample: awayFrom([-3, 3], -6, 6) }],
  },
  {
    name: "residualAdd",
    f: ([a, b]) => L.residualAdd(L.relu6(a!), b!, "block"),
    inputs: [{ shape: [2, 2, 3, 3], sample: awayFrom([0, 6], -3, 9) }, { shape: [2, 2, 3, 3] }],
  },
  {
    name: "avgPool2d 3x3 stride 2 pad 1 (depthwise constant weights), size not a multiple of the stride",
    f: ([x]) => L.avgPool2d(x!, { name: "pool", kernel: 3, stride: 2, padding: 1 }),
    inputs: [{ shape: [2, 3, 7, 8] }],
    float32: true,
  },
  {
    name: "conv2d layer: grouped, strided, with bias",
    f: ([x, w, b]) => L.conv2d(x!, w!, { name: "conv", stride: 2, padding: 1, groups: 2, bias: b! }),
    inputs: [{ shape: [2, 4, 6, 5] }, { shape: [6, 2, 3, 3] }, { shape: [6] }],
    float32: true,
  },
];

describe("convnet layers' gradients agree with central differences", () => {
  for (const row of rows)
    it(row.name, async () => {
      const r = await checkVjp(row.f, row.inputs, row.float32 ? { dtype: "float32" } : {});
      expect(Math.abs(r.analytic)).toBeGreaterThan(1e-6);
      expect(r.relErr).toBeLessThan(row.float32 ? 2e-3 : 1e-6);
    });
});
