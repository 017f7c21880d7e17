/** A run's objective as a weighted sum of registry entries: its loss is the weighted sum of theirs, and specs take it. */
import { describe, expect, it } from "vitest";
import { validateSpec } from "../../src/experiment/load.js";
import { initParam } from "../../src/nn/layers.js";
import { mlp } from "../../src/nn/model.js";
import { checkObjective, type ObjectiveSpec, objective } from "../../src/objectives/index.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { TrainStep } from "../../src/train/step.js";
import { Rng } from "../../src/util/rng.js";
import { tinySpec } from "../helpers/specs.js";

const B = 8;
const C = 10;

/** The loss and parts of one step of a 784-8-10 net under `spec`, on fixed random data and weights. */
async function lossOf(spec: ObjectiveSpec, scale = 1) {
  const model = mlp(784, [8], C);
  const step = await TrainStep.compile({
    model,
    optimizer: DEFAULT_OPTIMIZER,
    objective: spec,
    labeled: true,
  });
  const rng = new Rng(5);
  const x = Float32Array.from({ length: B * 784 }, () => rng.uniform());
  const targets = new Float32Array(B * C);
  for (let i = 0; i < B; i++) targets[i * C + ((3 * i) % C)] = 1;
  const teacher = Float32Array.from({ length: B * C }, () => 3 * rng.normal());
  const state = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, new Rng(2))])),
    opt: step.initialOptState(),
  };
  const hyper = { lr: 0.01, momentum: 0.9, c1: 1, c2: 1, seed: 1, scale };
  const [m] = await step.run(state, [{ x, size: B, targets, teacher }], [hyper]);
  await step.release();
  return m!;
}

describe("an objective plus weighted terms of others", () => {
  const kd = { kind: "kd" as const, temperature: 4, softWeight: 0.7 };
  const dkd = { kind: "dkd" as const, temperature: 4, alpha: 1, beta: 8, warmup: 4, ceWeight: 1 };

  it("is the entry's loss plus the weighted losses of its terms, each term's parts under its kind", async () => {
    const sum: ObjectiveSpec = { ...dkd, plus: [{ ...kd, weight: 0.3 }] };
    checkObjective(sum);
    expect(objective.terms(sum)).toEqual(["dkd.ce", "dkd.tckd", "dkd.nckd", "kd.soft", "kd.hard"]);
    expect(objective.teacher(sum) && objective.needsLabels(sum)).toBe(true);
    expect(objective.warmup(sum)?.(0)).toBe(0.25);
    // The warm-up scale is the entry's alone: kd's term is not scaled.
    const [a, b, s] = [await lossOf(dkd, 0.5), await lossOf(kd), await lossOf(sum, 0.5)];
    expect(s.loss).toBeCloseTo(a.loss + 0.3 * b.loss, 4);
    expect(s.parts).toHaveLength(5);
    for (const [i, v] of [...a.parts, ...b.parts].entries()) expect(s.parts[i]).toBeCloseTo(v, 5);
  });

  it("numbers a repeated kind, and refuses a warmed-up term and an empty list with one line", () => {
    const two: ObjectiveSpec = { ...kd, plus: [{ ...kd, temperature: 2, weight: 0.5 }] };
    expect(objective.terms(two)).toEqual(["kd1.soft", "kd1.hard", "kd2.soft", "kd2.hard"]);
    expect(objective.describe(two)).toBe("soft targets T=4 (w=0.7) + 0.5·(soft targets T=2 (w=0.7))");
    expect(() => checkObjective({ ...kd, plus: [{ ...dkd, weight: 1 }] })).toThrow(
      /^objective kd: plus: an added term may not have a warm-up$/,
    );
    expect(() => checkObjective({ ...kd, plus: [] })).toThrow(/^objective kd: plus: Too small/);
  });

  it("loads in a spec, its terms' parameters defaulted and checked like an objective's", () => {
    const objective = { kind: "kd", temperature: 4, plus: [{ kind: "ce", weight: 0.5 }, { kind: "dist" }] };
    const spec = tinySpec();
    (spec.runs as Record<string, Record<string, unknown>>).distilled!.objective = objective;
    const run = validateSpec(spec, "spec.yaml").spec.runs.distilled!;
    expect(run.objective).toEqual({
      kind: "kd",
      temperature: 4,
      softWeight: 0.5,
      plus: [
        { kind: "ce", weight: 0.5 },
        { kind: "dist", temperature: 1, beta: 1, gamma: 1, ceWeight: 1, weight: 1 },
      ],
    });
    objective.plus[1] = { kind: "dist", weight: -1 };
    expect(() => validateSpec(spec, "spec.yaml")).toThrow(/runs\.distilled\.objective\.plus\.1\.weight/);
  });
});
