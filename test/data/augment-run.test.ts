/** The `augment` run setting in a run: parsed by the run schema, refused on flat examples, and part of the checkpoint's key only when on. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Dataset } from "../../src/data/dataset.js";
import { runSchema } from "../../src/experiment/schema.js";
import { mlp } from "../../src/nn/model.js";
import { train } from "../../src/train/trainer.js";
import { KdError } from "../../src/util/errors.js";
import { labelsConfig } from "../helpers/config.js";

const base = { model: { kind: "mlp", hidden: [8] }, train: "train", test: "test", lr: 0.1, epochs: 1 };

/** Eight examples of `shape`, two classes. */
function data(shape: number[]): Dataset {
  const features = shape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: 8 * features }, (_, i) => (i % 7) / 7),
    y: Int32Array.from({ length: 8 }, (_, i) => i % 2),
    n: 8,
    exampleShape: shape,
    features,
    numClasses: 2,
    name: "toy",
  };
}

describe("the augment run setting", () => {
  it("is absent unless given, fills its defaults, and refuses unknown fields and out-of-range crops", () => {
    expect("augment" in runSchema.parse(base)).toBe(false);
    expect(runSchema.parse({ ...base, augment: { flip: true } }).augment).toEqual({ crop: 0, flip: true });
    expect(runSchema.parse({ ...base, augment: { crop: 4 } }).augment).toEqual({ crop: 4, flip: false });
    expect(runSchema.safeParse({ ...base, augment: { crop: 17 } }).success).toBe(false);
    expect(runSchema.safeParse({ ...base, augment: { crop: 1.5 } }).success).toBe(false);
    expect(runSchema.safeParse({ ...base, augment: { flips: true } }).success).toBe(false);
  });

  it("crops and flips are refused on flat examples, in one line", async () => {
    const cfg = labelsConfig(mlp(6, [], 2), data([6]), { batchSize: 4, augment: { crop: 1, flip: false } });
    await expect(train(cfg)).rejects.toThrow(KdError);
    await expect(train(cfg)).rejects.toThrow("crops and flips need image-shaped examples");
  });

  it("is part of the checkpoint's key when on: a checkpoint without it resumes only a run without it", async () => {
    const checkpoint = join(mkdtempSync(join(tmpdir(), "kd-augment-")), "run.ckpt");
    const cfg = labelsConfig(mlp(6, [], 2), data([2, 3]), { batchSize: 4, checkpoint });
    await train(cfg);
    expect((await train({ ...cfg, resume: true })).epochsRun).toBe(0);
    await expect(train({ ...cfg, resume: true, augment: { crop: 1, flip: false } })).rejects.toThrow(
      /other settings/,
    );
  });

  it("trains a convnet-shaped run with crops and flips, the same seed giving the same weights", async () => {
    const cfg = labelsConfig(mlp(12, [4], 2), data([1, 3, 4]), {
      batchSize: 4,
      epochs: 2,
      augment: { crop: 1, flip: true },
    });
    const a = await train(cfg);
    const b = await train(cfg);
    const plain = await train({ ...cfg, augment: undefined });
    for (const [k, w] of a.params) expect(Array.from(b.params.get(k)!)).toEqual(Array.from(w));
    expect([...a.params].some(([k, w]) => Array.from(w).some((v, i) => v !== plain.params.get(k)![i]))).toBe(
      true,
    );
  });
});
