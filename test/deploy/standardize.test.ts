/** Tests for preprocessing recorded by training: standardisation with training-set statistics, baking at export, and every consumer applying it. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Dataset } from "../../src/data/dataset.js";
import { loadDataset } from "../../src/data/load.js";
import { modelInput, readPreprocessing } from "../../src/deploy/preprocess.js";
import { Teachers } from "../../src/distill/teacher.js";
import { initParam } from "../../src/nn/layers.js";
import { cnn, mlp } from "../../src/nn/model.js";
import { inputNormStats, withInputNorm } from "../../src/nn/normalize.js";
import { decodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { Rng } from "../../src/util/rng.js";
import { kd } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "kd-std-"));
const p = (f: string) => join(dir, f);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Raw logits of a model file on exactly these values (no preprocessing applied by kd). */
async function rawLogits(path: string, x: Float32Array, n: number): Promise<Float32Array> {
  const clf = await OnnxClassifier.load(path);
  const z = await clf.logits(x, n);
  await clf.release();
  return z;
}

/**
 * Two Gaussian classes in 3 features on wildly different scales (a price in the thousands, a
 * ratio near 0.001, a count near 50): unusable by SGD at lr 0.1 as they are.
 */
function writeTabular(path: string, n: number, seed: number): void {
  const rng = new Rng(seed);
  const rows = ["price,ratio,count,label"];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    rows.push(
      [
        (5000 + 800 * k + 400 * rng.normal()).toFixed(2),
        (0.001 + 0.0004 * k + 0.0002 * rng.normal()).toFixed(6),
        (50 - 6 * k + 3 * rng.normal()).toFixed(2),
        String(k),
      ].join(","),
    );
  }
  writeFileSync(path, `${rows.join("\n")}\n`);
}

describe("standardisation with training-set statistics", () => {
  it("per feature for flat inputs, per channel for images; a constant channel keeps std 1", () => {
    const ds: Dataset = {
      x: Float32Array.of(1, 10, 5, 3, 30, 5),
      y: undefined,
      n: 2,
      exampleShape: [3],
      features: 3,
      numClasses: 0,
      name: "t",
    };
    const flat = inputNormStats(ds, [3]);
    expect(Array.from(flat.mean)).toEqual([2, 20, 5]);
    expect(Array.from(flat.std)).toEqual([1, 10, 1]);
    // [C=1, H=1, W=3] images: one channel over every pixel of every example.
    const img = inputNormStats({ ...ds, exampleShape: [1, 1, 3] }, [1, 1, 3]);
    const all = [1, 10, 5, 3, 30, 5];
    const m = all.reduce((a, b) => a + b) / 6;
    expect(img.mean[0]).toBeCloseTo(m, 5);
    expect(img.std[0]).toBeCloseTo(Math.sqrt(all.reduce((a, v) => a + (v - m) ** 2, 0) / 6), 5);
  });

  it("kd train --standardize on raw tabular features: statistics recorded, applied by eval and by a distilling student's teacher, baked on request", async () => {
    writeTabular(p("train.csv"), 600, 1);
    writeTabular(p("test.csv"), 200, 2);
    const data = ["--train", p("train.csv"), "--test", p("test.csv")];
    const common = ["--arch", "mlp:16", "--epochs", "10", "--lr", "0.1", "--no-checkpoint", "--json"];
    const t = kd(["train", ...data, ...common, "--standardize", "--out", p("std.onnx")]);
    expect(t.code, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout);
    expect(trained.testAccuracy).toBeGreaterThan(0.9);

    // The recorded statistics are the training set's, computed here independently.
    const train = loadDataset(p("train.csv"));
    const pre = readPreprocessing(decodeModel(readFileSync(p("std.onnx"))));
    expect(pre?.scale).toBe(1);
    expect(pre?.baked).toBeUndefined();
    for (let j = 0; j < 3; j++) {
      const col = Array.from({ length: train.n }, (_, i) => train.x[i * 3 + j]!);
      const mean = col.reduce((a, b) => a + b) / col.length;
      const std = Math.sqrt(col.reduce((a, v) => a + (v - mean) ** 2, 0) / col.length);
      expect(pre!.mean![j]).toBeCloseTo(mean, Math.max(0, 3 - Math.round(Math.log10(mean))));
      expect(pre!.std![j]! / std).toBeCloseTo(1, 4);
    }

    // kd eval applies them: the same accuracy as the trainer measured.
    const e = kd(["eval", p("std.onnx"), "--test", p("test.csv"), "--json"]);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBe(trained.testAccuracy);

    // Baked: the model eats raw features and gives the unbaked model's logits on standardised ones.
    const b = kd([
      "train",
      ...data,
      ...common,
      "--standardize",
      "--bake-preprocessing",
      "--out",
      p("baked.onnx"),
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(readPreprocessing(decodeModel(readFileSync(p("baked.onnx"))))?.baked).toBe(true);
    const test = loadDataset(p("test.csv"));
    const standardised = modelInput(test.x, [3], pre, test.rawScale);
    const want = await rawLogits(p("std.onnx"), standardised, test.n);
    const got = await rawLogits(p("baked.onnx"), test.x, test.n);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 3));

    // A standardising teacher gets its own preprocessing when it teaches: a student distilled
    // from it (without standardising itself, on the same raw data) would learn noise otherwise.
    const teachers = await Teachers.load({ paths: [p("std.onnx")] });
    const z = await teachers.logits(test.x, test.n, 1, test.rawScale);
    await teachers.release();
    expect(Array.from(z)).toEqual(Array.from(want));
    const s = kd([
      "distill",
      "--teacher",
      p("baked.onnx"),
      ...data,
      ...common,
      "--standardize",
      "--temperature",
      "2",
      "--out",
      p("student.onnx"),
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).testAccuracy).toBeGreaterThan(0.9);
  });

  it("MNIST-style 8-bit data: the scale 1/255 is recorded; a baked model eats bytes and evaluates the same", async () => {
    for (const [name, model] of [
      ["mlp", mlp(784, [8], 10)],
      ["cnn", cnn([1, 28, 28], [2], 10)],
    ] as const) {
      const rng = new Rng(3);
      const params = new Map(model.params.map((q) => [q.name, initParam(q, rng)]));
      const bytes = Float32Array.from({ length: 5 * 784 }, () => rng.int(256));
      const ds: Dataset = {
        x: bytes.map((v) => v / 255),
        y: Int32Array.of(0, 1, 2, 3, 4),
        n: 5,
        exampleShape: [28, 28],
        features: 784,
        numClasses: 10,
        name: "pixels",
        rawScale: 1 / 255,
      };
      const norm = withInputNorm(model, inputNormStats(ds, model.inputShape));
      for (const m of [model, norm]) {
        const plain = p(`${name}-${m === norm}.onnx`);
        const baked = p(`${name}-${m === norm}.baked.onnx`);
        saveModel(plain, m, params, {}, { rawScale: ds.rawScale });
        saveModel(baked, m, params, {}, { rawScale: ds.rawScale, bake: true });
        const rec = readPreprocessing(decodeModel(readFileSync(plain)));
        expect(rec?.scale).toBe(1 / 255);
        expect(rec?.mean === undefined).toBe(m === model);
        // Through kd (each model's preprocessing applied to the values as loaded) both agree ...
        const a = await OnnxClassifier.load(plain);
        const c = await OnnxClassifier.load(baked);
        const za = await a.logitsOf(ds);
        const zc = await c.logitsOf(ds);
        await Promise.all([a.release(), c.release()]);
        zc.forEach((v, i) => expect(v).toBeCloseTo(za[i]!, 4));
        // ... and the baked one takes the bytes themselves.
        const zr = await rawLogits(baked, bytes, ds.n);
        expect(Array.from(zr)).toEqual(Array.from(zc));
      }
    }
  });

  it("kd train on IDX data records scale 1/255 without being asked", () => {
    const r = kd([
      "train",
      "--count",
      "300",
      "--epochs",
      "1",
      "--arch",
      "mlp:8",
      "--no-checkpoint",
      "--out",
      p("m.onnx"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readPreprocessing(decodeModel(readFileSync(p("m.onnx"))))).toEqual({ scale: 1 / 255 });
  });
});
