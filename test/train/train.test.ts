import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mlp } from "../../src/nn/model.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { Forward } from "../../src/train/forward.js";
import { classMetrics } from "../../src/train/metrics.js";
import { type TrainConfig, train } from "../../src/train/trainer.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-train-"));

describe("training on real MNIST", () => {
  it("a short run on a 20,000-image subset passes 95% test accuracy", async () => {
    const model = mlp(784, [500], 10);
    const test = mnistTest();
    const res = await train({
      model,
      train: mnistTrain(20000),
      evalSet: test,
      epochs: 5,
      batchSize: 64,
      optimizer: DEFAULT_OPTIMIZER,
      lr: 0.05,
      lrSchedule: "constant",
      momentum: "0.9",
      jitter: 0,
      seed: 3,
      objective: { kind: "labels" },
      logFile: join(tmp, "log.jsonl"),
    });
    const last = res.history.at(-1)!;
    expect(last.evalAccuracy).toBeGreaterThan(0.95);
    // The log has one JSON line per epoch, with the same numbers.
    const lines = readFileSync(join(tmp, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    expect(lines[4].evalErrors).toBe(last.evalErrors);
    // Losses fall.
    expect(res.history[4]!.loss).toBeLessThan(res.history[0]!.loss);
  });
});

describe("checkpoints", () => {
  const base = (ckpt: string, epochs: number): TrainConfig => ({
    // Dropout, jitter, max-norm and a momentum ramp: every source of randomness and state.
    model: mlp(784, [64, 64], 10, { inputDropout: 0.2, hiddenDropout: 0.5 }),
    train: mnistTrain(1500),
    epochs,
    batchSize: 50,
    optimizer: { ...DEFAULT_OPTIMIZER, maxNorm: 2 },
    lr: 0.1,
    lrSchedule: "exp:0.9",
    momentum: "0.5:0.9:2",
    jitter: 2,
    seed: 11,
    objective: { kind: "labels" },
    stepsPerRun: 4,
    checkpoint: ckpt,
    resume: true,
  });

  it("resuming gives the same weights as an uninterrupted run, even after a crash mid-epoch", async () => {
    const whole = await train(base(join(tmp, "whole.ckpt"), 3));
    const ck = join(tmp, "split.ckpt");
    // Killed in the middle of epoch 2: the checkpoint of epoch 1 must survive intact.
    await expect(
      train({
        ...base(ck, 3),
        onProgress: (p) => {
          if (p.epoch === 2 && p.seen > 700) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const resumed = await train(base(ck, 3));
    expect(resumed.epochsRun).toBe(2);
    for (const [name, w] of whole.params)
      expect(Array.from(resumed.params.get(name)!)).toEqual(Array.from(w));
    expect(resumed.history.map((h) => h.loss)).toEqual(whole.history.map((h) => h.loss));
  });

  it("refuses a checkpoint from a run with other settings", async () => {
    const ck = join(tmp, "other.ckpt");
    await train(base(ck, 1));
    await expect(train({ ...base(ck, 2), seed: 12 })).rejects.toThrow(/other settings/);
  });

  it("same seed and thread count give the same run", async () => {
    const a = await train({ ...base(join(tmp, "a.ckpt"), 1), resume: false });
    const b = await train({ ...base(join(tmp, "b.ckpt"), 1), resume: false });
    for (const [name, w] of a.params) expect(Array.from(b.params.get(name)!)).toEqual(Array.from(w));
  });
});

describe("multi-step graphs", () => {
  it("K steps per run compute the same training as one step per run", async () => {
    const cfg = (k: number): TrainConfig => ({
      model: mlp(784, [32], 10, { inputDropout: 0.1, hiddenDropout: 0.3 }),
      train: mnistTrain(700),
      epochs: 2,
      batchSize: 64,
      optimizer: { ...DEFAULT_OPTIMIZER, name: "adam" },
      lr: 0.001,
      lrSchedule: "constant",
      momentum: "0.9",
      jitter: 1,
      seed: 5,
      objective: { kind: "labels" },
      stepsPerRun: k,
    });
    const one = await train(cfg(1));
    const four = await train(cfg(4));
    const test = mnistTest(500);
    const fwd = await Forward.compile(mlp(784, [32], 10));
    const m1 = classMetrics(await fwd.logits(one.params, test.x, test.n), test.y!, 10);
    const m4 = classMetrics(await fwd.logits(four.params, test.x, test.n), test.y!, 10);
    for (const [name, w] of one.params) {
      const w4 = four.params.get(name)!;
      const maxDiff = w.reduce((m, v, i) => Math.max(m, Math.abs(v - w4[i]!)), 0);
      expect(maxDiff).toBeLessThan(1e-4);
    }
    expect(Math.abs(m1.errors - m4.errors)).toBeLessThanOrEqual(2);
  });
});

describe("divergence", () => {
  it("stops on a NaN or infinite loss, names epoch and step, keeps the last good checkpoint", async () => {
    const ck = join(tmp, "diverge.ckpt");
    const cfg: TrainConfig = {
      // Softmax regression: no ReLU can die and keep the loss finite.
      model: mlp(784, [], 10),
      train: mnistTrain(1000),
      epochs: 3,
      batchSize: 100,
      optimizer: DEFAULT_OPTIMIZER,
      lr: 0.01,
      // Epoch 2 multiplies the learning rate by 10^38: the logits overflow float32.
      lrSchedule: "step:1:1e38",
      momentum: "0.9",
      jitter: 0,
      seed: 1,
      objective: { kind: "labels" },
      checkpoint: ck,
    };
    await expect(train(cfg)).rejects.toThrow(
      /loss became (NaN|Infinity|-Infinity) at epoch 2, step \d+; the last good checkpoint \(epoch 1\) is kept/,
    );
    const { readCheckpoint } = await import("../../src/train/checkpoint.js");
    expect(readCheckpoint(ck).header.epoch).toBe(1);
    for (const [, t] of readCheckpoint(ck).tensors) expect(t.every(Number.isFinite)).toBe(true);
  });
});
