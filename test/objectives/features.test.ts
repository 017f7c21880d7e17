/** FitNets hints and attention transfer: values and gradients on tiny tensors worked by hand, shape refusals, and specs. */
import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import { validateSpec } from "../../src/experiment/load.js";
import { Graph, type Tensor } from "../../src/ir/tensor.js";
import { attention } from "../../src/objectives/attention.js";
import { hints, regressorName } from "../../src/objectives/hints.js";
import { featureParams, featureUses, OBJECTIVES, type ObjectiveSpec } from "../../src/objectives/index.js";
import type { ObjectiveDef } from "../../src/objectives/types.js";
import { Compiled } from "../../src/runtime/session.js";
import { checkVjp } from "../helpers/gradcheck.js";
import { tinySpec } from "../helpers/specs.js";

type Val = { data: number[]; dims: number[] };
const PAIR = { teacherTensor: "t", studentLayer: "s" };

/** The objective's total on a graph in float64 from student tensor, teacher tensor and its parameters. */
function built<K extends "hints" | "attention">(
  def: ObjectiveDef<K>,
  p: Parameters<ObjectiveDef<K>["build"]>[0],
  s: Tensor,
  t: Tensor,
  params: ReadonlyMap<string, Tensor> = new Map(),
): Tensor {
  const logits = s; // unused by feature objectives
  return def.build(p, {
    student: { logits, tensors: new Map([[p.studentLayer, s]]) },
    teacher: { logits, tensors: new Map([[p.teacherTensor, t]]) },
    targets: undefined,
    scale: undefined,
    params: { get: (n) => params.get(n)! },
  }).total;
}

/** Runs the objective on values: its loss and its gradients with respect to the named inputs. */
async function evaluate(
  f: (inputs: Map<string, Tensor>) => Tensor,
  values: Record<string, Val>,
  wrt: readonly string[],
  dtype: "float32" | "float64" = "float64",
): Promise<{ loss: number; grads: Record<string, number[]> }> {
  const Arr = dtype === "float64" ? Float64Array : Float32Array;
  const g = new Graph();
  const inputs = new Map(Object.entries(values).map(([k, v]) => [k, g.input(k, v.dims, dtype)]));
  const loss = f(inputs);
  const gs = grad(
    loss,
    wrt.map((k) => inputs.get(k)!),
  );
  const outputs: Record<string, Tensor> = { loss };
  wrt.forEach((k, i) => {
    outputs[`g/${k}`] = gs[i]!;
  });
  const c = await Compiled.compile({ inputs: [...inputs.values()], outputs });
  const feeds = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, { data: Arr.from(v.data), dims: v.dims }]),
  );
  const r = await c.run(feeds);
  await c.release();
  return {
    loss: Number(r.loss!.data[0]),
    grads: Object.fromEntries(wrt.map((k) => [k, Array.from(r[`g/${k}`]!.data as Float64Array, Number)])),
  };
}

const close = (a: readonly number[], b: readonly number[], digits = 10) => {
  expect(a).toHaveLength(b.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, digits));
};

describe("FitNets hints", () => {
  const w = `${regressorName(PAIR)}.weight`;
  const b = `${regressorName(PAIR)}.bias`;
  /** The hint from graph inputs named s, t, and the regressor's weight and bias. */
  const hinted = (x: Map<string, Tensor>) =>
    built(hints, PAIR, x.get("s")!, x.get("t")!, new Map([w, b].map((k) => [k, x.get(k)!])));

  it("[N, D] → [N, D']: the mean squared error of s·W + b against t, and its gradients, worked by hand", async () => {
    // r = s·W + b = [[1.5, 2, 0], [0.5, −1, 1]]; r − t = [[0.5, 0, −1], [0.5, −1, 1]]: 3.5 / 6.
    // dL/dr = 2(r − t)/6; dL/dW = sᵀ·dL/dr; dL/db = Σ over rows of dL/dr.
    const r = await evaluate(
      hinted,
      {
        s: { data: [1, 2, 0, -1], dims: [2, 2] },
        t: { data: [1, 2, 1, 0, 0, 0], dims: [2, 3] },
        [w]: { data: [1, 0, 2, 0, 1, -1], dims: [2, 3] },
        [b]: { data: [0.5, 0, 0], dims: [3] },
      },
      [w, b, "s"],
    );
    expect(r.loss).toBeCloseTo(3.5 / 6, 12);
    close(r.grads[w]!, [1 / 6, 0, -1 / 3, 1 / 6, 1 / 3, -1]);
    close(r.grads[b]!, [1 / 3, -1 / 3, 0]);
    // dL/ds = dL/dr·Wᵀ: [[1/6 − 2/3, 0 + 1/3], [1/6 + 2/3, −1/3 − 1/3]].
    close(r.grads.s!, [-1 / 2, 1 / 3, 5 / 6, -2 / 3]);
  });

  it("[N, C, H, W] → [N, C', H, W]: a 1×1 convolution, worked by hand; gradients equal finite differences (float32: ONNX Runtime has no float64 Conv)", async () => {
    // Channels [1, 2] and [3, −1], W = [0.5, 1], b = 0.25: r = [3.75, 0.25]; t = [4, 0]: (0.0625 + 0.0625)/2.
    const r = await evaluate(
      hinted,
      {
        s: { data: [1, 2, 3, -1], dims: [1, 2, 1, 2] },
        t: { data: [4, 0], dims: [1, 1, 1, 2] },
        [w]: { data: [0.5, 1], dims: [1, 2, 1, 1] },
        [b]: { data: [0.25], dims: [1, 1, 1] },
      },
      [w, b],
      "float32",
    );
    expect(r.loss).toBeCloseTo(0.0625, 6);
    // dL/dr = 2(r − t)/2 = [−0.25, 0.25]: dL/dW = [Σ c0·dr, Σ c1·dr] = [0.25, −1]; dL/db = 0.
    close(r.grads[w]!, [0.25, -1], 6);
    close(r.grads[b]!, [0], 6);
    const check = await checkVjp(
      ([s, t, wt, bt]) =>
        built(
          hints,
          PAIR,
          s!,
          t!,
          new Map([
            [w, wt!],
            [b, bt!],
          ]),
        ),
      [{ shape: [2, 3, 2, 2] }, { shape: [2, 4, 2, 2] }, { shape: [4, 3, 1, 1] }, { shape: [4, 1, 1] }],
      { dtype: "float32" },
    );
    expect(check.relErr).toBeLessThan(2e-3);
  });

  it("its regressor goes from the student's width to the teacher's; spatial sizes that differ are one line with both shapes", () => {
    const spec: ObjectiveSpec = {
      kind: "kd",
      temperature: 4,
      softWeight: 0.5,
      plus: [{ kind: "hints", ...PAIR, weight: 1 }],
    };
    const params = featureParams(spec, new Map([["s", [32, 14, 14]]]), new Map([["t", [16, 14, 14]]]));
    expect(params.map((p) => [p.name, p.shape])).toEqual([
      [w, [16, 32, 1, 1]],
      [b, [16, 1, 1]],
    ]);
    expect(featureParams(spec, new Map([["s", [64]]]), new Map([["t", [10]]])).map((p) => p.shape)).toEqual([
      [64, 10],
      [10],
    ]);
    expect(() => featureParams(spec, new Map([["s", [64, 7, 7]]]), new Map([["t", [16, 14, 14]]]))).toThrow(
      /^hints: student layer "s" is \[64, 7, 7\] and teacher tensor "t" is \[16, 14, 14\]; their spatial sizes must be equal/,
    );
    expect(() => featureParams(spec, new Map([["s", [64]]]), new Map([["t", [16, 14, 14]]]))).toThrow(
      /^hints: student layer "s" is \[64\] and teacher tensor "t" is \[16, 14, 14\]; a hint matches/,
    );
  });
});

describe("attention transfer", () => {
  const p = { ...PAIR, beta: 1000 };

  it("β/2 · mean of (Qs − Qt)² over N·H·W, Q the L2-normalised mean over channels of f², worked by hand", async () => {
    // Student channels [1, 2] and [3, 0]: mean of squares [5, 2], Qs = [5, 2]/√29.
    // Teacher one channel [2, 2]: Qt = [1, 1]/√2. 500 · ((5/√29 − 1/√2)² + (2/√29 − 1/√2)²)/2.
    const qs = [5 / Math.sqrt(29), 2 / Math.sqrt(29)];
    const hand = (500 * ((qs[0]! - Math.SQRT1_2) ** 2 + (qs[1]! - Math.SQRT1_2) ** 2)) / 2;
    expect(hand).toBeCloseTo(40.427485, 5);
    const one = await evaluate(
      (x) => built(attention, p, x.get("s")!, x.get("t")!),
      {
        s: { data: [1, 2, 3, 0], dims: [1, 2, 1, 2] },
        t: { data: [2, 2], dims: [1, 1, 1, 2] },
      },
      [],
    );
    expect(one.loss).toBeCloseTo(hand, 9);
    // Maps are normalised per example (twice the features, the same map) and pairs averaged over the batch.
    const two = await evaluate(
      (x) => built(attention, p, x.get("s")!, x.get("t")!),
      {
        s: { data: [1, 2, 3, 0, 2, 4, 6, 0], dims: [2, 2, 1, 2] },
        t: { data: [2, 2, 5, 5], dims: [2, 1, 1, 2] },
      },
      [],
    );
    expect(two.loss).toBeCloseTo(hand, 9);
  });

  it("its gradients equal float64 finite differences, an all-zero student map included", async () => {
    const f = ([s, t]: Tensor[]) => built(attention, p, s!, t!);
    const check = await checkVjp(f, [{ shape: [2, 3, 3, 2] }, { shape: [2, 5, 3, 2] }]);
    expect(check.relErr).toBeLessThan(1e-7);
    const zero = await evaluate(
      (x) => built(attention, p, x.get("s")!, x.get("t")!),
      {
        s: { data: [0, 0, 0, 0], dims: [1, 2, 1, 2] },
        t: { data: [1, 2], dims: [1, 1, 1, 2] },
      },
      ["s"],
    );
    expect(zero.grads.s!.every(Number.isFinite)).toBe(true);
  });

  it("needs feature maps of equal spatial size (channels may differ): else one line with both shapes", () => {
    const spec: ObjectiveSpec = {
      kind: "kd",
      temperature: 4,
      softWeight: 0.5,
      plus: [{ kind: "attention", ...p, weight: 1 }],
    };
    expect(featureParams(spec, new Map([["s", [16, 7, 7]]]), new Map([["t", [64, 7, 7]]]))).toEqual([]);
    expect(() => featureParams(spec, new Map([["s", [16, 14, 14]]]), new Map([["t", [64, 7, 7]]]))).toThrow(
      /^attention: student layer "s" is \[16, 14, 14\] and teacher tensor "t" is \[64, 7, 7\]; attention transfer needs feature maps/,
    );
  });
});

describe("feature terms in a spec", () => {
  it("add to a logit objective with plus: names required, beta defaulted, the feature terms listed", () => {
    const spec = tinySpec();
    const objective = {
      kind: "kd",
      temperature: 4,
      plus: [
        { kind: "hints", teacherTensor: "/layer2/Relu_output_0", studentLayer: "stage2.block1", weight: 100 },
        { kind: "attention", teacherTensor: "t9", studentLayer: "stem" },
      ],
    };
    (spec.runs as Record<string, Record<string, unknown>>).distilled!.objective = objective;
    const run = validateSpec(spec, "spec.yaml").spec.runs.distilled!;
    expect(run.objective.plus).toEqual([
      { kind: "hints", teacherTensor: "/layer2/Relu_output_0", studentLayer: "stage2.block1", weight: 100 },
      { kind: "attention", teacherTensor: "t9", studentLayer: "stem", beta: 1000, weight: 1 },
    ]);
    expect(featureUses(run.objective).map((u) => u.kind)).toEqual(["hints", "attention"]);
    expect(OBJECTIVES.hints.teacher && OBJECTIVES.attention.teacher).toBe(true);
    objective.plus[0] = { kind: "hints", studentLayer: "stem" } as never;
    expect(() => validateSpec(spec, "spec.yaml")).toThrow(/teacherTensor/);
  });
});
