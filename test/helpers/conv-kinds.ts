/** Checks the batch-norm model kinds (resnet, mobilenet) share: training on MNIST moves the running statistics, and export equals Forward. */
import { expect } from "vitest";
import type { Model } from "../../src/nn/model.js";
import { createSession } from "../../src/runtime/session.js";
import { EXPORT_INPUT, EXPORT_OUTPUT, exportModel, Forward } from "../../src/train/inference.js";
import { train } from "../../src/train/trainer.js";
import { labelsConfig } from "./config.js";
import { mnistTrain } from "./mnist.js";

/**
 * Three epochs on 200 MNIST images: the epoch loss falls, and every running mean and variance
 * has left its initial 0 and 1. Returns the trained weights (parameters and buffers).
 */
export async function trainsOnMnist(model: Model): Promise<Map<string, Float32Array>> {
  const ds = mnistTrain(200);
  const res = await train(labelsConfig(model, ds, { epochs: 3, lr: 0.05, threads: 1 }));
  const losses = res.history.map((h) => h.loss);
  expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  const buffers = model.buffers ?? [];
  expect(buffers.length).toBeGreaterThan(0);
  for (const b of buffers) {
    const v = res.params.get(b.name)!;
    expect(v.length).toBe(b.shape[0]);
    expect(v.every(Number.isFinite)).toBe(true);
    expect(
      v.some((x) => x !== b.init),
      b.name,
    ).toBe(true);
  }
  return res.params;
}

/** The exported file's outputs on a batch equal the Forward's evaluation-mode logits to 1e-5. */
export async function exportMatchesForward(model: Model, weights: Map<string, Float32Array>): Promise<void> {
  const n = 8;
  const x = mnistTrain(n).x;
  const fwd = await Forward.compile(model);
  const expected = await fwd.logits(weights, x, n);
  await fwd.release();
  const session = await createSession(exportModel(model, weights));
  const out = await session.run(
    { [EXPORT_INPUT]: { data: x, dims: [n, ...model.inputShape], dtype: "float32" } },
    [EXPORT_OUTPUT],
  );
  await session.release();
  const got = out[EXPORT_OUTPUT]!.data as Float32Array;
  expect(got.length).toBe(n * model.numClasses);
  const diff = Math.max(...got.map((v, i) => Math.abs(v - expected[i]!)));
  expect(diff).toBeLessThan(1e-5);
}
