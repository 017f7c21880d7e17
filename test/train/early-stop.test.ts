import { describe, expect, it } from "vitest";
import { splitValidation } from "../../src/data/dataset.js";
import { mlp } from "../../src/nn/model.js";
import { argmaxRows, classMetrics } from "../../src/train/metrics.js";
import { runJob } from "../../src/train/run.js";
import type { TrainConfig } from "../../src/train/trainer.js";
import { Rng } from "../../src/util/rng.js";
import { labelsConfig } from "../helpers/config.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

/** A trainer config as job options (no teacher). */
const job = ({ teacher: _t, evalSet: _e, ...cfg }: TrainConfig) => cfg;

describe("early stopping", () => {
  it("stops after `patience` epochs without a better validation score and returns the best epoch's weights", async () => {
    const { train, val } = splitValidation(mnistTrain(1200), 400, new Rng(1));
    // A learning rate high enough that validation errors stop improving within a few epochs.
    const res = await runJob({
      ...job(labelsConfig(mlp(784, [32], 10), train, { epochs: 40, lr: 0.5, earlyStop: 2 })),
      val,
      test: mnistTest(500),
    });
    const errs = res.history.map((h) => h.evalErrors!);
    const best = Math.min(...errs);
    const bestEpoch = errs.indexOf(best) + 1;
    expect(res.bestEpoch).toBe(bestEpoch);
    // It stopped exactly `patience` epochs after the best one (or ran out of epochs).
    expect(res.history.length === 40 || res.history.length === bestEpoch + 2).toBe(true);
    expect(res.history.length).toBeLessThan(40);
    // The returned weights are the best epoch's: their validation errors are the best ones.
    expect(res.val!.errors).toBe(best);
  });

  it("needs a validation set", async () => {
    await expect(
      runJob({
        ...job(labelsConfig(mlp(784, [8], 10), mnistTrain(100), { earlyStop: 2 })),
        test: mnistTest(100),
      }),
    ).rejects.toThrow(/early stopping needs a labelled validation set/);
  });
});

describe("one rule for ties: a tied maximum predicts nothing and counts as wrong", () => {
  it("in evaluation as in the training step's accuracy", () => {
    const logits = Float32Array.from([1, 1, 0, 0, 2, 0]);
    expect(Array.from(argmaxRows(logits, 2, 3))).toEqual([-1, 1]);
    const m = classMetrics(logits, Int32Array.from([0, 1]), 3);
    expect(m.errors).toBe(1);
    expect(m.ties).toBe(1);
    expect(m.perClass[0]).toEqual({ total: 1, correct: 0, accuracy: 0 });
  });
});
