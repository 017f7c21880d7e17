/** Tests for kd predict: the same examples as PNG, NPY, CSV and IDX give the same classes and probabilities. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPredictions, imageOptionsFor, predict, softmaxRows } from "../../src/deploy/predict.js";
import { bakePreprocessing, recordPreprocessing } from "../../src/deploy/preprocess.js";
import { initParam } from "../../src/nn/layers.js";
import { cnn, mlp } from "../../src/nn/model.js";
import { decodeModel, encodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { Rng } from "../../src/util/rng.js";
import { idxBytes } from "../data/idx-bytes.js";
import { npyBytes } from "../data/npy-bytes.js";
import { kd } from "../helpers/cli.js";
import { mnistTest } from "../helpers/mnist.js";

const dir = mkdtempSync(join(tmpdir(), "kd-predict-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const N = 6;
const test = mnistTest(N);
const bytes = Uint8Array.from(test.x, (v) => Math.round(v * 255));
const mlpPath = join(dir, "mlp.onnx");
const cnnPath = join(dir, "cnn.onnx");

beforeAll(() => {
  const rng = new Rng(11);
  for (const [path, model] of [
    [mlpPath, mlp(784, [32], 10)],
    [cnnPath, cnn(28, [4], 10)],
  ] as const)
    saveModel(path, model, new Map(model.params.map((p) => [p.name, initParam(p, rng)])));
  for (let i = 0; i < N; i++) {
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) {
      png.data.fill(bytes[i * 784 + p]!, 4 * p, 4 * p + 3);
      png.data[4 * p + 3] = 255;
    }
    mkdirSync(join(dir, "digits", String(test.y![i])), { recursive: true });
    writeFileSync(join(dir, "digits", String(test.y![i]), `${i}.png`), PNG.sync.write(png));
  }
  writeFileSync(join(dir, "x.npy"), npyBytes("uint8", [N, 28, 28], bytes));
  writeFileSync(join(dir, "y.npy"), npyBytes("int64", [N], Array.from(test.y!)));
  writeFileSync(join(dir, "x.idx"), idxBytes("uint8", [N, 28, 28], bytes));
  const header = Array.from({ length: 784 }, (_, j) => `p${j}`).join(",");
  const rows = Array.from({ length: N }, (_, i) =>
    Array.from(bytes.subarray(i * 784, (i + 1) * 784), (v) => v / 255),
  );
  writeFileSync(join(dir, "rows.csv"), [header, ...rows.map((r) => r.join(","))].join("\n"));
  writeFileSync(
    join(dir, "labeled.csv"),
    [`${header},label`, ...rows.map((r, i) => `${r.join(",")},${test.y![i]}`)].join("\n"),
  );
  writeFileSync(join(dir, "narrow.csv"), "a,b,c,label\n1,2,3,0\n");
});

describe("predict", () => {
  it("gives the model's softmax(z/T) for NPY, IDX, CSV and PNG inputs alike, with top-k sorted", async () => {
    const clf = await OnnxClassifier.load(mlpPath);
    const T = 3;
    const want = softmaxRows(await clf.logits(test.x, N), N, 10, T);
    await clf.release();
    for (const input of ["x.npy", "x.idx", "rows.csv", "labeled.csv", "digits"]) {
      const res = await predict(mlpPath, [join(dir, input)], { temperature: T, topK: 4 });
      // The image folder comes class by class: map each prediction back to its example.
      const order =
        input === "digits"
          ? res.predictions.map((p) => Number(/(\d+)\.png$/.exec(p.source)![1]))
          : [...Array(N).keys()];
      expect(res.predictions).toHaveLength(N);
      res.predictions.forEach((p, r) => {
        const i = order[r]!;
        expect(p.top).toHaveLength(4);
        for (const { class: c, prob } of p.top) expect(prob).toBeCloseTo(want[i * 10 + c]!, 5);
        expect(p.top.map((t) => t.prob)).toEqual([...p.top.map((t) => t.prob)].sort((a, b) => b - a));
        expect(p.class).toBe(p.top[0]!.class);
      });
      if (input === "labeled.csv" || input === "digits") {
        expect(res.accuracy?.total).toBe(N);
        res.predictions.forEach((p, r) => expect(p.label).toBe(test.y![order[r]!]));
      } else expect(res.accuracy).toBeUndefined();
    }
    const labeled = await predict(mlpPath, [join(dir, "x.npy")], { labels: join(dir, "y.npy") });
    expect(labeled.accuracy?.total).toBe(N);
    expect(formatPredictions(labeled)).toMatch(/accuracy \d+\.\d\d% \(\d\/6\)$/);
  });

  it("a convnet [1, 28, 28] takes the same files; images are sized from the model's input", async () => {
    const a = await predict(cnnPath, [join(dir, "x.npy")]);
    const b = await predict(cnnPath, [join(dir, "digits", String(test.y![0]), "0.png")]);
    expect(b.predictions[0]!.top[0]!.prob).toBeCloseTo(a.predictions[0]!.top[0]!.prob, 6);
    expect(imageOptionsFor([784])).toEqual({ resize: [28, 28], channels: 1 });
    expect(imageOptionsFor([3, 32, 32])).toEqual({ resize: [32, 32], channels: 3 });
    expect(imageOptionsFor([3 * 32 * 32])).toEqual({ resize: [32, 32], channels: 3 });
  });

  it("applies the preprocessing a model records to images: baked and record-only copies agree", async () => {
    const pre = { scale: 1 / 255, mean: [0.5], std: [2] };
    const baked = join(dir, "baked.onnx");
    const recorded = join(dir, "recorded.onnx");
    writeFileSync(baked, encodeModel(bakePreprocessing(decodeModel(readFileSync(mlpPath)), pre)));
    const m = decodeModel(readFileSync(mlpPath));
    recordPreprocessing(m, pre);
    writeFileSync(recorded, encodeModel(m));
    const a = await predict(baked, [join(dir, "digits")], { topK: 10 });
    const b = await predict(recorded, [join(dir, "digits")], { topK: 10 });
    const plain = await predict(mlpPath, [join(dir, "digits")], { topK: 10 });
    a.predictions.forEach((p, i) =>
      p.top.forEach((t, j) => expect(t.prob).toBeCloseTo(b.predictions[i]!.top[j]!.prob, 5)),
    );
    // The preprocessing changed what the network saw.
    expect(a.predictions[0]!.top[0]!.prob).not.toBeCloseTo(plain.predictions[0]!.top[0]!.prob, 3);
  });

  it("refuses data that does not fit the model, in one line, on the command line too", async () => {
    await expect(predict(mlpPath, [join(dir, "narrow.csv")])).rejects.toThrow(
      /mlp\.onnx takes \[784\] \(784 values\) per example; narrow\.csv has \[3\] \(3 values\)/,
    );
    const r = kd(["predict", mlpPath, join(dir, "narrow.csv")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^kd: .*takes \[784\] \(784 values\) per example/);
    const t = kd(["predict", mlpPath, join(dir, "x.npy"), "--temperature", "0"]);
    expect(t.code).not.toBe(0);
    expect(t.stderr).toMatch(/--temperature.*expected a number > 0/);
  });

  it("prints JSON on request", () => {
    const r = kd([
      "predict",
      mlpPath,
      join(dir, "x.npy"),
      "--labels",
      join(dir, "y.npy"),
      "--json",
      "-k",
      "2",
    ]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.predictions).toHaveLength(N);
    expect(res.predictions[0].top).toHaveLength(2);
    expect(res.predictions[0].source).toMatch(/x\.npy\[0\]$/);
    expect(res.accuracy.total).toBe(N);
  });
});
