import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mlp } from "../../src/nn/model.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { Forward } from "../../src/train/forward.js";
import { classMetrics } from "../../src/train/metrics.js";
import { type TrainConfig, train } from "../../src/train/trainer.js";
import { labelsConfig } from "../helpers/config.js";
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
      lrSchedule: { kind: "constant" as const },
      momentum: 0.9,
      jitter: 0,
      seed: 3,
      objective: { kind: "ce" },
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
    lrSchedule: { kind: "exp" as const, factor: 0.9 },
    momentum: { kind: "ramp" as const, from: 0.5, to: 0.9, epochs: 2 },
    jitter: 2,
    seed: 11,
    objective: { kind: "ce" },
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
      lrSchedule: { kind: "constant" as const },
      momentum: 0.9,
      jitter: 1,
      seed: 5,
      objective: { kind: "ce" },
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
      lrSchedule: { kind: "step" as const, every: 1, factor: 1e38 },
      momentum: 0.9,
      jitter: 0,
      seed: 1,
      objective: { kind: "ce" },
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

describe("guards", () => {
  it("refuses to resume a checkpoint that already has more epochs than asked for", async () => {
    const ck = join(tmp, "longer.ckpt");
    const cfg = labelsConfig(mlp(784, [16], 10), mnistTrain(300), {
      epochs: 2,
      checkpoint: ck,
      resume: true,
    });
    await train(cfg);
    await expect(train({ ...cfg, epochs: 1 })).rejects.toThrow(
      /has 2 epochs already, more than the 1 asked for/,
    );
  });

  it("training accuracy counts a tie for the maximum as wrong", async () => {
    const { Graph } = await import("../../src/ir/tensor.js");
    const { correctCount } = await import("../../src/losses/losses.js");
    const { Compiled } = await import("../../src/runtime/session.js");
    const g = new Graph();
    const z = g.input("z", [3, 3]);
    const y = g.input("y", [3, 3]);
    const c = await Compiled.compile({ inputs: [z, y], outputs: { n: correctCount(z, y) } });
    // Row 0: right; row 1: a tie between the target and another class; row 2: constant logits.
    const r = await c.run({
      z: { data: Float32Array.of(3, 1, 0, 2, 2, 0, 1, 1, 1), dims: [3, 3] },
      y: { data: Float32Array.of(1, 0, 0, 1, 0, 0, 0, 0, 1), dims: [3, 3] },
    });
    expect((r.n!.data as Float32Array)[0]).toBe(1);
    await c.release();
  });

  it("a step never writes into an array it reads, even when the caller puts old arrays back", async () => {
    const { TrainStep } = await import("../../src/train/step.js");
    const { initParam } = await import("../../src/nn/layers.js");
    const { Rng } = await import("../../src/util/rng.js");
    const model = mlp(784, [8], 10);
    const step = await TrainStep.compile({
      model,
      optimizer: DEFAULT_OPTIMIZER,
      objective: { kind: "ce" },
      labeled: true,
    });
    const rng = new Rng(2);
    const ds = mnistTrain(20);
    const targets = new Float32Array(20 * 10);
    ds.y!.forEach((l, i) => {
      targets[i * 10 + l] = 1;
    });
    const batch = { x: ds.x, size: 20, targets };
    const h = { lr: 0.1, momentum: 0.9, c1: 1, c2: 1, seed: 0 };
    const state = {
      params: new Map(model.params.map((p) => [p.name, initParam(p, rng)])),
      opt: step.initialOptState(),
    };
    const saved = { params: new Map(state.params), opt: new Map(state.opt) };
    const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
    const pristine = { params: copy(state.params), opt: copy(state.opt) };
    await step.run(state, [batch], [h]);
    // Roll back to the very arrays that run read (which it kept as its spare output buffers).
    state.params = saved.params;
    state.opt = saved.opt;
    for (const [k, v] of pristine.params) state.params.get(k)!.set(v);
    for (const [k, v] of pristine.opt) state.opt.get(k)!.set(v);
    const [m1] = await step.run(state, [batch], [h]);
    const fresh = { params: copy(pristine.params), opt: copy(pristine.opt) };
    const [m2] = await step.run(fresh, [batch], [h]);
    expect(m1!.loss).toBe(m2!.loss);
    for (const [k, v] of fresh.params) expect(Array.from(state.params.get(k)!)).toEqual(Array.from(v));
    await step.release();
  });
});
