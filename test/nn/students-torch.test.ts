import { describe, expect, it } from "vitest";
import { buildModel, type ModelSpec } from "../../src/nn/registry.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { createSession } from "../../src/runtime/session.js";
import { EXPORT_INPUT, EXPORT_OUTPUT, exportModel, Forward } from "../../src/train/inference.js";
import { TrainStep, weightsOf } from "../../src/train/step.js";
import { expectClose, type Fixed, loadTorchFixture } from "../helpers/torch-fixtures.js";

interface Fixture {
  readonly torch: string;
  readonly config: {
    readonly arch: ModelSpec;
    readonly inputShape: number[];
    readonly classes: number;
    readonly lr: number;
    readonly momentum: number;
    readonly labels: number[][];
    readonly losses: number[];
  };
  readonly tensors: Record<string, Fixed>;
}

const load = (name: string) => loadTorchFixture<Fixture>(name);

/** The fixture's `prefix/<name>` tensor, checked against kd's shape for `name`. */
function named(f: Fixture, prefix: string, name: string, shape: readonly number[]): Float32Array {
  const t = f.tensors[`${prefix}/${name}`];
  expect(t, `${prefix}/${name} in the fixture`).toBeDefined();
  expect(t!.shape, `${name}'s shape`).toEqual([...shape]);
  return Float32Array.from(t!.data);
}

const oneHot = (labels: readonly number[], classes: number) => {
  const t = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => {
    t[i * classes + l] = 1;
  });
  return t;
};

async function trainsLikeTorch(name: string): Promise<void> {
  const f = load(name);
  const { arch, inputShape, classes, lr, momentum, labels } = f.config;
  const model = buildModel(arch, inputShape, classes);
  const buffers = model.buffers ?? [];
  // Every tensor PyTorch has, kd has under the same name (and no other).
  const torchNames = Object.keys(f.tensors)
    .filter((k) => k.startsWith("init/"))
    .map((k) => k.slice(5))
    .sort();
  expect([...model.params, ...buffers].map((p) => p.name).sort()).toEqual(torchNames);

  const step = await TrainStep.compile({
    model,
    optimizer: DEFAULT_OPTIMIZER,
    objective: { kind: "ce" },
    labeled: true,
    threads: 1,
    stepsPerRun: 1,
  });
  const state = {
    params: new Map(model.params.map((p) => [p.name, named(f, "init", p.name, p.shape)])),
    opt: step.initialOptState(),
    buffers: new Map(buffers.map((b) => [b.name, named(f, "init", b.name, b.shape)])),
  };
  const losses: number[] = [];
  for (const [j, l] of labels.entries()) {
    const x = f.tensors[`x/${j}`]!;
    const [m] = await step.run(
      state,
      [{ x: Float32Array.from(x.data), size: x.shape[0]!, targets: oneHot(l, classes) }],
      [{ lr, momentum, c1: 1, c2: 1, seed: 0 }],
    );
    losses.push(m!.loss);
  }
  await step.release();
  // The loss is taken before each step's update: a mismatch here is in the forward, not the optimizer.
  expectClose(losses, { shape: [labels.length], data: f.config.losses }, `${name} losses`);
  for (const p of model.params) expectClose(state.params.get(p.name)!, f.tensors[`final/${p.name}`]!, p.name);
  for (const b of buffers) expectClose(state.buffers.get(b.name)!, f.tensors[`final/${b.name}`]!, b.name);

  const fwd = await Forward.compile(model, { threads: 1 });
  const x = f.tensors["eval/x"]!;
  const logits = await fwd.logits(weightsOf(state), Float32Array.from(x.data), x.shape[0]!);
  await fwd.release();
  expectClose(logits, f.tensors["eval/logits"]!, `${name} model.eval() logits`);
  // The exported file, with the trained weights and running statistics as constants, too.
  const session = await createSession(exportModel(model, weightsOf(state)));
  const feed = { data: Float32Array.from(x.data), dims: x.shape, dtype: "float32" as const };
  const out = await session.run({ [EXPORT_INPUT]: feed }, [EXPORT_OUTPUT]);
  await session.release();
  expectClose(out[EXPORT_OUTPUT]!.data as Float32Array, f.tensors["eval/logits"]!, `${name} exported logits`);
}

describe("batch-norm students agree with PyTorch after three SGD-momentum steps (1e-5 abs + 1e-4 rel)", () => {
  it("resnet:8 (width 2, 3×8×8): parameters, running statistics and evaluation logits", () =>
    trainsLikeTorch("students_resnet"));
  it("mobilenet [4,8,8; strides 1,2,1] (3×8×8): parameters, running statistics and evaluation logits", () =>
    trainsLikeTorch("students_mobilenet"));
  it("layers [conv, bn, relu, bn, maxpool, flatten, dense, bn, relu, bn] (3×8×8): BatchNorm2d and BatchNorm1d, folded or not at export", () =>
    trainsLikeTorch("students_layers"));
});
