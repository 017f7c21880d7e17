/** Tests for model shapes: convnets on [C, H, W] with any channels, MLPs on any flat vector, clear refusals. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { datasetFromArrays } from "../../src/data/arrays.js";
import { cnn, parseArch } from "../../src/nn/model.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { train } from "../../src/train/trainer.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { labelsConfig } from "../helpers/config.js";

const dir = mkdtempSync(join(tmpdir(), "kd-model-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RGB 8×12 images whose class is the brightest channel: a convnet learns it in a few steps. */
function colourData(n: number, seed: number) {
  const rng = new Rng(seed);
  const [c, h, w] = [3, 8, 12];
  const x = new Float32Array(n * c * h * w);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(3);
    for (let k = 0; k < c; k++)
      for (let p = 0; p < h * w; p++)
        x[(i * c + k) * h * w + p] = 0.5 * rng.uniform() + (k === y[i] ? 0.5 : 0);
  }
  return datasetFromArrays({ dtype: "float32", dims: [n, c, h, w], data: x }, y, `colour-${seed}`);
}

describe("models on any input shape", () => {
  it("a cnn on [3, 8, 12] trains, exports [N, 3, 8, 12] and classifies", async () => {
    const ds = colourData(600, 1);
    const model = parseArch("cnn:4,8", ds.features, ds.exampleShape, ds.numClasses);
    expect(model.inputShape).toEqual([3, 8, 12]);
    expect(model.params.find((p) => p.name === "conv1.weight")!.shape).toEqual([4, 3, 3, 3]);
    expect(model.params.find((p) => p.name === "out.weight")!.shape).toEqual([8 * 2 * 3, 3]);
    const res = await train(labelsConfig(model, ds, { epochs: 3, batchSize: 50, lr: 0.05 }));
    const path = join(dir, "rgb.onnx");
    saveModel(path, model, res.params);
    const clf = await OnnxClassifier.load(path);
    expect(clf.exampleShape).toEqual([3, 8, 12]);
    const test = colourData(200, 2);
    const logits = await clf.logits(test.x, test.n);
    let right = 0;
    for (let i = 0; i < test.n; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      if (row.indexOf(Math.max(...row)) === test.y![i]) right++;
    }
    expect(right / test.n).toBeGreaterThan(0.9);
    await clf.release();
  });

  it("cnn accepts a side, [H, W] or [C, H, W]; an MLP takes any example flattened", () => {
    expect(cnn(28, [4], 10).inputShape).toEqual([1, 28, 28]);
    expect(cnn([6, 10], [4], 10).inputShape).toEqual([1, 6, 10]);
    expect(cnn([5, 4, 4], [2, 2], 10).inputShape).toEqual([5, 4, 4]);
    expect(parseArch("mlp:16", 3 * 8 * 12, [3, 8, 12], 3).inputShape).toEqual([288]);
    expect(parseArch("mlp:", 7, [7], 2).inputShape).toEqual([7]);
  });

  it("refuses data a cnn cannot take, in one line", () => {
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(KdError);
        return (e as Error).message;
      }
      throw new Error("expected a KdError");
    };
    expect(msg(() => parseArch("cnn:8", 784, [784], 10))).toBe(
      'architecture "cnn:8" needs image-shaped examples [C, H, W] or [H, W]; the data\'s are [784]',
    );
    expect(msg(() => parseArch("cnn:8,8", 3 * 30 * 30, [3, 30, 30], 10))).toMatch(
      /cnn:8,8 pools 2 times, so the image height and width must be multiples of 4; the data is 30x30 \(resize it, e\.g\. to 32x32\)/,
    );
    expect(msg(() => parseArch("cnn:8", 16, [1, 1, 4, 4], 10))).toMatch(/needs image-shaped examples/);
  });
});
