/** Mixup (function matching): exact mixed values for the drawn pairs, Beta(α, α) draws, seeding, the setting, and its one-line refusals. */
import { describe, expect, it } from "vitest";
import { batchAugmenter, betaSymmetric, mixup } from "../../src/data/augment.js";
import type { Dataset } from "../../src/data/dataset.js";
import { DataCatalog } from "../../src/data/sources.js";
import { validateSpec } from "../../src/experiment/load.js";
import { runSchema } from "../../src/experiment/schema.js";
import { mlp } from "../../src/nn/model.js";
import { planSpec } from "../../src/runner/plan.js";
import { type TeacherProvider, train } from "../../src/train/trainer.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { labelsConfig } from "../helpers/config.js";
import { tinySpec } from "../helpers/specs.js";

const random = (n: number, seed: number) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform());
};

describe("mixup", () => {
  it("mixes each example with the one before it in the batch (the first with the last): λ·a + (1 − λ)·b, λ ≥ 1/2", () => {
    const count = 7;
    const features = 5;
    const a = random(count * features, 3);
    const x = a.slice();
    const lambda = mixup(x, count, features, 0.4, new Rng(11), new Float32Array(count * features));
    // λ is the larger share of the batch's one Beta draw from the rng it was given.
    const b = betaSymmetric(0.4, new Rng(11));
    expect(lambda).toBe(Math.max(b, 1 - b));
    expect(lambda).toBeGreaterThanOrEqual(0.5);
    expect(lambda).toBeLessThan(1);
    for (let i = 0; i < count; i++) {
      const b = (i + count - 1) % count;
      for (let j = 0; j < features; j++)
        expect(x[i * features + j]).toBe(
          Math.fround(lambda * a[i * features + j]! + (1 - lambda) * a[b * features + j]!),
        );
    }
  });

  it("leaves a batch of one as it was, and refuses a scratch too small for the batch", () => {
    const x = Float32Array.of(0.25, 0.5);
    mixup(x, 1, 2, 1, new Rng(1), new Float32Array(2));
    expect(Array.from(x)).toEqual([0.25, 0.5]);
    expect(() => mixup(new Float32Array(6), 3, 2, 1, new Rng(1), new Float32Array(4))).toThrow(RangeError);
  });

  it("draws λ from Beta(α, α): mean 1/2 and variance 1/(4(2α + 1)), for α below and above 1", () => {
    for (const alpha of [0.2, 1, 4]) {
      const rng = new Rng(5);
      const n = 20000;
      const draws = Array.from({ length: n }, () => betaSymmetric(alpha, rng));
      expect(draws.every((d) => d >= 0 && d <= 1)).toBe(true);
      const mean = draws.reduce((s, d) => s + d, 0) / n;
      const variance = draws.reduce((s, d) => s + (d - mean) ** 2, 0) / n;
      const want = 1 / (4 * (2 * alpha + 1));
      // Standard errors: mean ≤ 0.5/√n ≈ 0.0035; the variance's within a few percent at n = 20,000.
      expect(Math.abs(mean - 0.5), `alpha ${alpha}`).toBeLessThan(0.012);
      expect(Math.abs(variance / want - 1), `alpha ${alpha}`).toBeLessThan(0.06);
    }
    expect(() => betaSymmetric(0, new Rng(1))).toThrow(RangeError);
  });

  it("runs last in the batch pipeline, after flips, on flat examples too; the same rng gives the same batch", () => {
    const shape = [2, 3];
    const raw = random(4 * 6, 8);
    const fill = (o: Parameters<typeof batchAugmenter>[1], seed: number) => {
      const x = new Float32Array(4 * 6);
      batchAugmenter(shape, o, 4)!.apply((into) => into.set(raw), x, 4, new Rng(seed));
      return x;
    };
    const mixOnly = { jitter: 0, augment: { crop: 0, flip: false, mixup: 1 } };
    expect(fill(mixOnly, 2)).toEqual(fill(mixOnly, 2));
    expect(fill(mixOnly, 2)).not.toEqual(fill(mixOnly, 3));
    const expected = raw.slice();
    mixup(expected, 4, 6, 1, new Rng(2), new Float32Array(24));
    expect(fill(mixOnly, 2)).toEqual(expected);
    // Flips draw first, then mixup, from the same rng.
    const both = fill({ jitter: 0, augment: { crop: 0, flip: true, mixup: 1 } }, 2);
    const flipped = fill({ jitter: 0, augment: { crop: 0, flip: true } }, 2);
    const rng = new Rng(2);
    for (let i = 0; i < 4; i++) rng.uniform();
    mixup(flipped, 4, 6, 1, rng, new Float32Array(24));
    expect(both).toEqual(flipped);
    expect(batchAugmenter([6], mixOnly, 4)!.scratchBytes).toBe(4 * 4 * 6);
  });
});

/** Sixteen flat examples, two classes. */
const flat: Dataset = {
  x: random(16 * 6, 4),
  y: Int32Array.from({ length: 16 }, (_, i) => i % 2),
  n: 16,
  exampleShape: [6],
  features: 6,
  numClasses: 2,
  name: "toy",
};

/** A teacher whose logits are the first two features of exactly the batch it is given. */
function echoTeacher(seen: Float32Array[]): TeacherProvider {
  return {
    id: "echo",
    async logits(_indices, x, size, out) {
      seen.push(x.slice(0, size * 6));
      for (let i = 0; i < size; i++) out.set(x.subarray(i * 6, i * 6 + 2), i * 2);
    },
  };
}

describe("the mixup setting", () => {
  const base = { model: { kind: "mlp", hidden: [8] }, train: "train", test: "test", lr: 0.1, epochs: 1 };

  it("is part of augment only when given, and refuses a negative or huge alpha", () => {
    expect(runSchema.parse({ ...base, augment: { crop: 4 } }).augment).toEqual({ crop: 4, flip: false });
    const kd = { ...base, teachers: ["t"], objective: { kind: "kd", softWeight: 1 } };
    expect(runSchema.parse({ ...kd, augment: { mixup: 0.2 } }).augment).toEqual({
      crop: 0,
      flip: false,
      mixup: 0.2,
    });
    expect(runSchema.safeParse({ ...base, augment: { mixup: -0.1 } }).success).toBe(false);
    // Objectives no data can make fit: refused when the spec loads, not when the run starts.
    const issue = (run: Record<string, unknown>) => runSchema.safeParse(run).error?.issues[0]?.message;
    expect(issue({ ...base, augment: { mixup: 1 } })).toBe(
      "mixup is function matching: the ce objective takes no teacher",
    );
    const dkd = { ...base, teachers: ["t"], objective: { kind: "dkd" }, augment: { mixup: 1 } };
    expect(issue(dkd)).toBe(
      "mixup is function matching: the dkd objective needs labels, which mixed images do not have",
    );
    expect(issue({ ...dkd, objective: { kind: "kd" } })).toBeUndefined();
    expect(runSchema.safeParse({ ...base, augment: { mixup: 101 } }).success).toBe(false);
  });

  it("is part of a run's fingerprint (what the store and the queue's jobs key by), each alpha its own", () => {
    const prints = (set: string[]) => {
      const { spec } = validateSpec(tinySpec(), "spec", { set });
      const runs = planSpec(spec, new DataCatalog(spec.data, process.cwd()), process.cwd());
      return runs.find((r) => r.id === "distilled")!.fingerprint;
    };
    const off = prints([]);
    const on = prints(["runs.distilled.augment.mixup=1"]);
    expect(on).not.toBe(off);
    expect(prints(["runs.distilled.augment.mixup=0.5"])).not.toBe(on);
  });

  it("refuses, in one line, an objective without a teacher or one that uses the labels", async () => {
    const augment = { crop: 0, flip: false, mixup: 1 };
    const ce = labelsConfig(mlp(6, [], 2), flat, { batchSize: 4, augment });
    await expect(train(ce)).rejects.toThrow(KdError);
    await expect(train(ce)).rejects.toThrow(
      /^mixup is function matching: it needs a teacher, and the ce objective takes none$/,
    );
    const kd = {
      ...ce,
      teacher: echoTeacher([]),
      objective: { kind: "kd" as const, temperature: 2, softWeight: 0.7 },
    };
    await expect(train(kd)).rejects.toThrow(
      /mixed images have no label, and the kd objective here uses labels/,
    );
  });

  it("trains on flat examples with the teacher's soft targets alone, the teacher given exactly the mixed batches, seeded", async () => {
    const run = async (seed: number, mix: number) => {
      const seen: Float32Array[] = [];
      const res = await train(
        labelsConfig(mlp(6, [4], 2), flat, {
          batchSize: 4,
          epochs: 2,
          seed,
          augment: { crop: 0, flip: false, mixup: mix },
          objective: { kind: "kd", temperature: 2, softWeight: 1 },
          teacher: echoTeacher(seen),
        }),
      );
      return { seen, res };
    };
    const a = await run(1, 1);
    const b = await run(1, 1);
    const plain = await run(1, 0);
    expect(a.seen).toHaveLength(8);
    expect(a.seen).toEqual(b.seen);
    for (const [k, w] of a.res.params) expect(Array.from(b.res.params.get(k)!)).toEqual(Array.from(w));
    // Every mixed example lies on the segment between two of the data's examples.
    const rows = Array.from({ length: 16 }, (_, i) => flat.x.subarray(i * 6, i * 6 + 6));
    for (const batch of a.seen)
      for (let i = 0; i < 4; i++) {
        const m = batch.subarray(i * 6, i * 6 + 6);
        const onSegment = rows.some((p) =>
          rows.some((q) => {
            const d = p.reduce((s, v, j) => s + (v - q[j]!) ** 2, 0);
            const l = d === 0 ? 1 : p.reduce((s, v, j) => s + (m[j]! - q[j]!) * (v - q[j]!), 0) / d;
            return l >= 0 && l <= 1 && m.every((v, j) => Math.abs(v - (l * p[j]! + (1 - l) * q[j]!)) < 1e-6);
          }),
        );
        expect(onSegment).toBe(true);
      }
    expect(a.seen).not.toEqual(plain.seen);
  });
});
