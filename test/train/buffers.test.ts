/**
 * Model state beyond parameters: a test-only model keeps a running mean of its hidden
 * activations as a buffer. The step updates it, checkpoints carry it and the export reads it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as o from "../../src/ir/ops.js";
import { dense, initParam } from "../../src/nn/layers.js";
import { type Model, mlp } from "../../src/nn/model.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { createSession } from "../../src/runtime/session.js";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { EXPORT_INPUT, EXPORT_OUTPUT, exportModel, Forward } from "../../src/train/inference.js";
import { type TrainingForward, TrainStep } from "../../src/train/step.js";
import { train } from "../../src/train/trainer.js";
import { Rng } from "../../src/util/rng.js";
import { labelsConfig } from "../helpers/config.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const HIDDEN = 6;
const MOMENTUM = 0.9;
const MEAN = "fc1.mean";

/**
 * 784-6-10 whose hidden activations are centred by a running mean of themselves over batches:
 * training updates the mean (momentum 0.9), and both modes subtract the stored one.
 */
function centred(): Model {
  const base = mlp(784, [HIDDEN], 10);
  return {
    ...base,
    arch: "test-centred",
    buffers: [{ name: MEAN, shape: [HIDDEN], init: 0 }],
    forward(x, p, opts) {
      const h = o.relu(dense(x, p, "fc1"));
      const mean = p.get(MEAN);
      if (opts.training)
        (opts as TrainingForward).updates.set(
          MEAN,
          o.add(o.mul(mean, MOMENTUM), o.mul(o.mean(h, [0]), 1 - MOMENTUM)),
        );
      return dense(o.sub(h, mean), p, "out");
    },
  };
}

const tmp = mkdtempSync(join(tmpdir(), "kd-buffers-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("model buffers", () => {
  it("the training step updates a buffer the forward produces", async () => {
    const model = centred();
    const step = await TrainStep.compile({
      model,
      optimizer: DEFAULT_OPTIMIZER,
      objective: { kind: "ce" },
      labeled: true,
    });
    const ds = mnistTrain(16);
    const targets = new Float32Array(16 * 10);
    ds.y!.forEach((l, i) => {
      targets[i * 10 + l] = 1;
    });
    const rng = new Rng(3);
    const params = new Map(model.params.map((p) => [p.name, initParam(p, rng)]));
    const w = Float32Array.from(params.get("fc1.weight")!);
    const b = Float32Array.from(params.get("fc1.bias")!);
    const state = { params, opt: step.initialOptState(), buffers: step.initialBuffers()! };
    expect(Array.from(state.buffers.get(MEAN)!)).toEqual(new Array(HIDDEN).fill(0));
    await step.run(
      state,
      [{ x: ds.x, size: 16, targets }],
      [{ lr: 0.1, momentum: 0.9, c1: 1, c2: 1, seed: 0 }],
    );
    await step.release();
    // 0.1 × the batch mean of relu(x·W + b), with the weights before the update.
    const expected = Array.from({ length: HIDDEN }, (_, j) => {
      let sum = 0;
      for (let i = 0; i < 16; i++) {
        let a = b[j]!;
        for (let k = 0; k < 784; k++) a += ds.x[i * 784 + k]! * w[k * HIDDEN + j]!;
        sum += Math.max(0, a);
      }
      return (1 - MOMENTUM) * (sum / 16);
    });
    const got = Array.from(state.buffers.get(MEAN)!);
    expect(got.some((v) => v > 0)).toBe(true);
    got.forEach((v, j) => {
      expect(v).toBeCloseTo(expected[j]!, 4);
    });
  });

  it("a checkpoint stores the buffers and a resume restores them", async () => {
    const ds = mnistTrain(300);
    const ck = join(tmp, "run.ckpt");
    const config = (epochs: number, resume: boolean) =>
      labelsConfig(centred(), ds, { epochs, checkpoint: ck, resume, stepsPerRun: 2, threads: 1 });
    const whole = await train(labelsConfig(centred(), ds, { epochs: 3, stepsPerRun: 2, threads: 1 }));
    await train(config(1, false));
    expect(readCheckpoint(ck).tensors.has(`buffer/${MEAN}`)).toBe(true);
    const resumed = await train(config(3, true));
    expect(resumed.epochsRun).toBe(2);
    expect(Array.from(resumed.params.get(MEAN)!).some((v) => v !== 0)).toBe(true);
    for (const [name, v] of whole.params)
      expect(Array.from(resumed.params.get(name)!)).toEqual(Array.from(v));
  });

  it("early stopping returns the best epoch's buffers with its parameters, through a resume", async () => {
    const ds = mnistTrain(300);
    const evalSet = mnistTest(100);
    const ck = join(tmp, "early.ckpt");
    const over = { evalSet, stepsPerRun: 2, threads: 1, lr: 0.3 };
    const stopped = await train(
      labelsConfig(centred(), ds, { ...over, epochs: 8, earlyStop: 1, checkpoint: ck, resume: true }),
    );
    const best = stopped.bestEpoch!;
    expect(best).toBeLessThan(stopped.history.length);
    const plain = await train(labelsConfig(centred(), ds, { ...over, epochs: best }));
    for (const [name, v] of plain.params)
      expect(Array.from(stopped.params.get(name)!)).toEqual(Array.from(v));
    // Resuming the finished run reads the best epoch's weights and buffers back from the checkpoint.
    const again = await train(
      labelsConfig(centred(), ds, { ...over, epochs: 8, earlyStop: 1, checkpoint: ck, resume: true }),
    );
    expect(again.epochsRun).toBe(0);
    for (const [name, v] of plain.params) expect(Array.from(again.params.get(name)!)).toEqual(Array.from(v));
  });

  it("the exported model and the forward pass read the trained buffer", async () => {
    const model = centred();
    const ds = mnistTrain(200);
    const res = await train(labelsConfig(model, ds, { epochs: 1 }));
    const x = ds.x.subarray(0, 5 * 784);
    const fwd = await Forward.compile(model);
    const expected = await fwd.logits(res.params, x, 5);
    const zeroed = new Map(res.params).set(MEAN, new Float32Array(HIDDEN));
    const withoutMean = await fwd.logits(zeroed, x, 5);
    await fwd.release();
    const session = await createSession(exportModel(model, res.params));
    const out = await session.run({ [EXPORT_INPUT]: { data: x, dims: [5, 784], dtype: "float32" } }, [
      EXPORT_OUTPUT,
    ]);
    await session.release();
    const exported = out[EXPORT_OUTPUT]!.data as Float32Array;
    const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    // The file's constant weights may be folded differently from the fed ones: equal to float32 rounding.
    expect(maxDiff(exported, expected)).toBeLessThan(1e-5);
    expect(maxDiff(withoutMean, expected)).toBeGreaterThan(1e-3);
  });
});
