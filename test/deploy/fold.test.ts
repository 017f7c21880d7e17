/** Batch norm folded at export: resnet, mobilenet and layers files hold convolutions (and dense layers) with biases in its place, check, equal Forward, quantise and run in wasm. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { foldBatchNorm } from "../../src/nn/blocks.js";
import type { LayerEntry } from "../../src/nn/kinds/layers.js";
import type { Model } from "../../src/nn/model.js";
import { buildModel } from "../../src/nn/registry.js";
import { checkModel } from "../../src/onnx/check.js";
import { decodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { exportModel } from "../../src/train/inference.js";
import { train } from "../../src/train/trainer.js";
import { npyBytes } from "../data/npy-bytes.js";
import { kd } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { exportMatchesForward } from "../helpers/conv-kinds.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const dir = mkdtempSync(join(tmpdir(), "kd-fold-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const resnet = () => buildModel({ kind: "resnet", depth: 8, width: 8 }, [1, 28, 28], 10);
const mobilenet = () =>
  buildModel(
    { kind: "mobilenet", multiplier: 0.25, channels: [32, 64, 128, 128], strides: [1, 2, 2, 1] },
    [1, 28, 28],
    10,
  );

/**
 * A layers list with a batch norm folded after a conv, a strided conv in a residual branch (and its
 * projection shortcut) and a dense layer, and three that cannot fold: first, after relu, and on flat features.
 */
const LAYERS: LayerEntry[] = [
  "bn",
  { conv: { out: 4, kernel: 3 } },
  "bn",
  "relu",
  "bn",
  { maxpool: 2 },
  { residual: [{ conv: { out: 8, kernel: 3, stride: 2 } }, "bn", "relu"] },
  "flatten",
  { dense: 16 },
  "bn",
  "relu",
  "bn",
];
const layers = () => buildModel({ kind: "layers", layers: LAYERS }, [1, 28, 28], 10);

/** Node types of an exported model, counted. */
function opCounts(bytes: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of decodeModel(bytes).graph!.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

const trained = new Map<string, { model: Model; weights: Map<string, Float32Array> }>();

beforeAll(async () => {
  for (const [name, model] of [
    ["resnet", resnet()],
    ["mobilenet", mobilenet()],
    ["layers", layers()],
  ] as const) {
    const res = await train(
      labelsConfig(model, mnistTrain(name === "resnet" ? 4000 : 400), {
        epochs: name === "resnet" ? 4 : 1,
        // A falling rate lets the running statistics catch up with the weights: evaluation mode
        // then classifies as well as training mode, with margins that int8 rounding leaves alone.
        lrSchedule: { kind: "exp", factor: 0.3 },
        batchSize: 64,
        lr: 0.05,
        threads: 1,
      }),
    );
    trained.set(name, { model, weights: res.params });
  }
}, 300_000);

describe("foldBatchNorm", () => {
  it("scales each output channel's weights by γ/√(var + 1e-5) and shifts its bias by β − mean·γ/√(var + 1e-5)", () => {
    // W [2, 1, 1, 2]: channel 0 then channel 1.
    const w = Float32Array.of(1, 2, 3, -4);
    const f = foldBatchNorm(w, {
      gamma: Float32Array.of(2, 0.5),
      beta: Float32Array.of(0.25, -1),
      mean: Float32Array.of(1, -2),
      variance: Float32Array.of(3 - 1e-5, 0.25 - 1e-5),
    });
    const [s0, s1] = [2 / Math.sqrt(3), 0.5 / 0.5];
    expect(Array.from(f.weight)).toEqual([1 * s0, 2 * s0, 3 * s1, -4 * s1].map(Math.fround));
    expect(Array.from(f.bias)).toEqual([0.25 - s0, -1 + 2 * s1].map(Math.fround));
    // The same numbers as a dense weight [in 2, out 2], output channels along the last axis.
    const d = foldBatchNorm(
      Float32Array.of(1, 3, 2, -4),
      {
        gamma: Float32Array.of(2, 0.5),
        beta: Float32Array.of(0.25, -1),
        mean: Float32Array.of(1, -2),
        variance: Float32Array.of(3 - 1e-5, 0.25 - 1e-5),
      },
      "last",
    );
    expect(Array.from(d.weight)).toEqual([1 * s0, 3 * s1, 2 * s0, -4 * s1].map(Math.fround));
    expect(Array.from(d.bias)).toEqual(Array.from(f.bias));
  });
});

describe("exported batch-norm students", () => {
  for (const name of ["resnet", "mobilenet"] as const) {
    it(`${name}: no batch-norm arithmetic left, one biased Conv per conv+BN pair, the checker passes, outputs equal Forward's to 1e-5`, async () => {
      const { model, weights } = trained.get(name)!;
      const bytes = exportModel(model, weights);
      const ops = opCounts(bytes);
      const bnPairs = (model.buffers ?? []).length / 2;
      expect(bnPairs).toBeGreaterThan(0);
      for (const op of ["BatchNormalization", "Sub", "Sqrt"]) expect(ops.get(op) ?? 0, op).toBe(0);
      expect(ops.get("Div"), "Div: only the global average pool's mean").toBe(1);
      expect(ops.get("Conv")).toBe(bnPairs);
      // Each convolution's bias is one Add of an initializer (ONNX Runtime fuses it into the Conv).
      const initializers = new Set(decodeModel(bytes).graph!.initializer.map((t) => t.name));
      expect([...initializers].filter((i) => i.endsWith(".conv.bias")).length).toBe(bnPairs);
      expect([...initializers].some((i) => /running_|\.bn\./.test(i))).toBe(false);
      expect(checkModel(decodeModel(bytes))).toEqual([]);
      await exportMatchesForward(model, weights);
    });
  }

  it("layers: each bn after a conv or dense folds into it; one first, after relu or on flat features stays, in evaluation mode; the checker passes, outputs equal Forward's to 1e-5", async () => {
    const { model, weights } = trained.get("layers")!;
    const shapes = new Map(model.params.map((p) => [p.name, p.shape]));
    for (const l of ["l2", "l7.1", "l7.shortcut.conv", "l9"]) expect(shapes.has(`${l}.bias`), l).toBe(false);
    const bytes = exportModel(model, weights);
    const ops = opCounts(bytes);
    // Each unfolded batch norm: one Sqrt of its running variance (its scale γ/√(var + ε)).
    expect(ops.get("Sqrt")).toBe(3);
    expect(ops.get("BatchNormalization") ?? 0).toBe(0);
    expect(ops.get("Conv")).toBe(3);
    const initializers = new Set(decodeModel(bytes).graph!.initializer.map((t) => t.name));
    const named = (suffix: string) =>
      [...initializers].filter((i) => i.endsWith(suffix)).map((i) => i.slice(0, -suffix.length));
    expect(named(".running_mean").sort()).toEqual(["l1", "l12", "l5"].map((l) => `param/${l}`));
    expect(named(".running_var").sort()).toEqual(["l1", "l12", "l5"].map((l) => `param/${l}`));
    for (const l of ["l2", "l7.1", "l7.shortcut.conv", "l9"])
      expect(named(".bias"), l).toContain(`param/${l}`);
    expect(named(".bias").some((l) => /l3|l7\.2|shortcut\.bn|l10/.test(l))).toBe(false);
    expect(checkModel(decodeModel(bytes))).toEqual([]);
    await exportMatchesForward(model, weights);
  });

  it("mlp and cnn have nothing to fold", () => {
    expect(buildModel({ kind: "mlp", hidden: [8] }, [784], 10).foldWeights).toBeUndefined();
    expect(buildModel({ kind: "cnn", channels: [4] }, [1, 28, 28], 10).foldWeights).toBeUndefined();
  });
});

describe("the folded resnet quantised", () => {
  // The whole test set: on 1,000 images one image is 0.1 pp, so sampling alone moves the difference
  // by several tenths (this model: 0.6 pp on the first 1,000, 0.1 pp on all 10,000).
  it("kd quantize: per-channel int8 within 0.5 pp of float on the 10,000 test images, and it runs in onnxruntime-web", async () => {
    const { model, weights } = trained.get("resnet")!;
    const path = join(dir, "resnet.onnx");
    saveModel(path, model, weights);
    const test = mnistTest();
    writeFileSync(join(dir, "test.x.npy"), npyBytes("float32", [test.n, 1, 28, 28], test.x));
    writeFileSync(join(dir, "test.y.npy"), npyBytes("int32", [test.n], test.y!));
    const out = join(dir, "resnet.int8.onnx");
    const r = kd([
      "quantize",
      path,
      "--out",
      out,
      "--test",
      join(dir, "test.x.npy"),
      "--test-labels",
      join(dir, "test.y.npy"),
      "--threads",
      "1",
      "--timing",
      "20",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const js = JSON.parse(r.stdout);
    expect(js.quantized.length).toBe(opCounts(readFileSync(path)).get("Conv")! + 1);
    expect(js.model.test.accuracy).toBeGreaterThan(0.8);
    expect(Math.abs(js.int8.test.accuracy - js.model.test.accuracy)).toBeLessThanOrEqual(0.005);

    let web: typeof import("onnxruntime-web");
    try {
      web = await import("onnxruntime-web");
    } catch {
      return; // onnxruntime-web is a dev dependency; without it there is nothing to compare
    }
    web.env.wasm.numThreads = 1;
    const n = 20;
    for (const file of [path, out]) {
      const session = await web.InferenceSession.create(readFileSync(file), { executionProviders: ["wasm"] });
      const res = await session.run({
        input: new web.Tensor("float32", test.x.slice(0, n * 784), [n, 1, 28, 28]),
      });
      const wasm = res.logits!.data as Float32Array;
      await session.release();
      const clf = await OnnxClassifier.load(file);
      const native = await clf.logits(test.x.subarray(0, n * 784), n);
      await clf.release();
      let worst = 0;
      let scale = 0;
      wasm.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - native[i]!));
        scale = Math.max(scale, Math.abs(native[i]!));
      });
      // Float: the same arithmetic up to summation order; int8: requantisation rounding differs a little.
      expect(worst / scale, file).toBeLessThan(file === path ? 1e-5 : 0.02);
    }
  }, 180_000);
});
