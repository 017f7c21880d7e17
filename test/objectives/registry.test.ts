import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initParam } from "../../src/nn/layers.js";
import { mlp } from "../../src/nn/model.js";
import {
  OBJECTIVE_KINDS,
  OBJECTIVES,
  type ObjectiveSpec,
  objective,
  withDefaults,
} from "../../src/objectives/index.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { saveModel } from "../../src/train/forward.js";
import { type StepHyper, TrainStep } from "../../src/train/step.js";
import { train } from "../../src/train/trainer.js";
import { Rng } from "../../src/util/rng.js";
import { kd } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { mnistTrain } from "../helpers/mnist.js";

const B = 16;
const C = 10;

/** One training step of a 784-8-10 net under `spec` on random data; the step's metrics. */
async function oneStep(spec: ObjectiveSpec, labeled: boolean, scale?: number) {
  const model = mlp(784, [8], C);
  const step = await TrainStep.compile({ model, optimizer: DEFAULT_OPTIMIZER, objective: spec, labeled });
  const rng = new Rng(3);
  const x = Float32Array.from({ length: B * 784 }, () => rng.uniform());
  const targets = new Float32Array(B * C);
  for (let i = 0; i < B; i++) targets[i * C + (i % C)] = 1;
  const teacher = Float32Array.from({ length: B * C }, () => 3 * rng.normal());
  const state = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, new Rng(1))])),
    opt: step.initialOptState(),
  };
  const hyper: StepHyper = {
    lr: 0.01,
    momentum: 0.9,
    c1: 1,
    c2: 1,
    seed: 1,
    ...(scale !== undefined ? { scale } : {}),
  };
  const [m] = await step.run(state, [{ x, size: B, ...(labeled ? { targets } : {}), teacher }], [hyper]);
  await step.release();
  return m!;
}

describe("every objective in the registry", () => {
  // Feature objectives name tensors of a convnet and a teacher: test/objectives/features.test.ts.
  for (const kind of OBJECTIVE_KINDS.filter((k) => !OBJECTIVES[k].feature)) {
    it(`${kind}: defaults validate, the step reports its declared parts, the loss is finite`, async () => {
      const spec = withDefaults(kind);
      const m = await oneStep(spec, true);
      expect(m.parts).toHaveLength(OBJECTIVES[kind].terms.length);
      expect(Number.isFinite(m.loss) && m.parts.every(Number.isFinite)).toBe(true);
      expect(m.loss).toBeGreaterThan(0);
    });
  }

  it("DKD's warm-up scales only the distillation part: at scale 0 the loss is the cross-entropy", async () => {
    const spec = withDefaults("dkd", { warmup: 4 });
    const w = objective.warmup(spec)!;
    expect([0, 1, 3, 9].map(w)).toEqual([0.25, 0.5, 1, 1]);
    const off = await oneStep(spec, true, 0);
    expect(off.loss).toBeCloseTo(off.parts[0]!, 6);
    const on = await oneStep(spec, true, 1);
    const [ce, tckd, nckd] = on.parts as [number, number, number];
    expect(on.loss).toBeCloseTo(ce + 16 * (tckd + 8 * nckd), 4); // T = 4: T² = 16, α = 1, β = 8
  });

  it("objectives that can do without labels train on soft targets alone", async () => {
    for (const kind of ["kd", "lskd", "dist"] as const) {
      const m = await oneStep(withDefaults(kind), false);
      expect(m.parts[OBJECTIVES[kind].terms.indexOf(kind === "kd" ? "hard" : "ce")]).toBe(0);
    }
  });

  it("unknown parameters and bad values are one line naming them", () => {
    expect(() => withDefaults("dkd", { softWeight: 0.5 })).toThrow(
      /objective dkd: parameters: Unrecognized key: "softWeight"/,
    );
    expect(() => withDefaults("dist", { temperature: -1 })).toThrow(/objective dist: temperature: Too small/);
  });
});

describe("kd distill --loss dkd|lskd|dist, end to end", () => {
  const tmp = mkdtempSync(join(tmpdir(), "kd-objectives-"));
  const teacher = join(tmp, "teacher.onnx");
  beforeAll(async () => {
    const m = mlp(784, [64], 10);
    const t = await train(labelsConfig(m, mnistTrain(1000), { epochs: 3 }));
    saveModel(teacher, m, t.params);
  });
  const args = (loss: string, out: string, extra: string[] = []) => [
    "distill",
    "--teacher",
    teacher,
    "--loss",
    loss,
    "--arch",
    "mlp:32",
    "--epochs",
    "4",
    "--count",
    "1000",
    "--out",
    join(tmp, out),
    "--json",
    ...extra,
  ];

  it("each trains a student, reports its own loss parts, and beats chance by far", () => {
    for (const [loss, parts, extra] of [
      ["dkd", ["ce", "tckd", "nckd"], ["--alpha", "1", "--warmup", "10"]],
      ["lskd", ["ce", "kl"], []],
      ["dist", ["ce", "inter", "intra"], ["--beta", "2", "--gamma", "2"]],
    ] as const) {
      const r = kd(args(loss, `${loss}.onnx`, [...extra]));
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(Object.keys(s.loss).sort()).toEqual(["total", ...parts].sort());
      expect(s.testAccuracy, loss).toBeGreaterThan(0.7);
    }
  });

  it("DKD refuses an unlabeled transfer set, and a flag of another objective, with one line", () => {
    const r = kd(args("dkd", "u.onnx", ["--unlabeled"]));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/has no labels; the dkd objective needs them/);
    const f = kd(args("dkd", "f.onnx", ["--soft-weight", "0.9"]));
    expect(f.code).toBe(1);
    expect(f.stderr.trim()).toBe("kd: --soft-weight does not apply to --loss dkd");
  });
});
