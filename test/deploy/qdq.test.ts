/** Static int8 that ONNX Runtime runs as integer kernels: kd's students and a PyTorch export fuse into QLinearConv, QLinearAdd and QGemm, agree with the float model and with the QDQ reference semantics. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { quantizeModel } from "../../src/deploy/quantize.js";
import { initParam } from "../../src/nn/layers.js";
import type { Model } from "../../src/nn/model.js";
import { buildModel } from "../../src/nn/registry.js";
import { checkModel } from "../../src/onnx/check.js";
import { decodeModel, encodeModel, type NodeProto } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { Rng } from "../../src/util/rng.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";
import { randomLinearClassifier } from "../helpers/onnx-files.js";

const dir = mkdtempSync(join(tmpdir(), "kd-qdq-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const calib = mnistTrain(300);
const FOREIGN = join(import.meta.dirname, "..", "fixtures", "onnx", "foreign-resnet.onnx");

/** A student with its initial weights (parameters drawn, buffers at their initial values), saved. */
function saveInitial(model: Model, name: string): string {
  const rng = new Rng(7);
  const weights = new Map<string, Float32Array>(model.params.map((p) => [p.name, initParam(p, rng)]));
  for (const b of model.buffers ?? []) weights.set(b.name, new Float32Array(b.shape[0]!).fill(b.init));
  const path = join(dir, `${name}.onnx`);
  saveModel(path, model, weights);
  return path;
}

/** Quantises the float model at `path` (static, calibrated on 300 MNIST images); returns the int8 file. */
async function quantize(path: string, opts: { output?: string } = {}) {
  const clf = await OnnxClassifier.load(path, opts);
  const input = { name: clf.inputName, shape: clf.exampleShape };
  await clf.release();
  const res = await quantizeModel(decodeModel(readFileSync(path)), { input, calibration: calib });
  expect(checkModel(res.model)).toEqual([]);
  const out = path.replace(/\.onnx$/, ".int8.onnx");
  writeFileSync(out, encodeModel(res.model));
  return { out, res };
}

/** The graph ONNX Runtime runs after its optimisations ("all"), as it writes it out. */
async function optimisedNodes(path: string): Promise<NodeProto[]> {
  const opt = path.replace(/\.onnx$/, ".optimised.onnx");
  const s = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: "all",
    optimizedModelFilePath: opt,
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  await s.release();
  return decodeModel(readFileSync(opt)).graph!.node;
}

/** Logits of `n` MNIST test images from the file at `path`, with ONNX Runtime's optimisations at `level`. */
async function logits(path: string, n: number, level: "disabled" | "all"): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
  const x = mnistTest(n).x;
  const name = s.inputNames[0]!;
  const res = await s.run({ [name]: new ort.Tensor("float32", x, [n, 1, 28, 28]) });
  await s.release();
  return res[s.outputNames[0]!]!.data as Float32Array;
}

const argmaxes = (z: Float32Array) =>
  Array.from({ length: z.length / 10 }, (_, r) => {
    const row = Array.from(z.subarray(r * 10, r * 10 + 10));
    return row.indexOf(Math.max(...row));
  });

/** Every Conv, MatMul and Gemm became an integer kernel; no DequantizeLinear feeds a float one. */
function expectInteger(nodes: NodeProto[], kernels: readonly string[]): void {
  const ops = new Set(nodes.map((n) => n.opType));
  for (const op of [
    "Conv",
    "MatMul",
    "Gemm",
    "FusedConv",
    "FusedGemm",
    "Add",
    "Relu",
    "Clip",
    "DequantizeLinear",
  ])
    expect(ops.has(op), `${op} left in the optimised graph: ${[...ops].join(", ")}`).toBe(false);
  for (const k of kernels) expect(ops.has(k), `${k} in ${[...ops].join(", ")}`).toBe(true);
  // One QuantizeLinear, of the float input; nothing dequantised before the logits.
  expect(nodes.filter((n) => n.opType === "QuantizeLinear").length).toBe(1);
}

describe("static int8 runs as integer kernels", () => {
  it("resnet:8, mobilenet and layers students: every Conv a QLinearConv, residual Adds QLinearAdd, the pool and head integer", async () => {
    const students = [
      [
        "resnet",
        buildModel({ kind: "resnet", depth: 8, width: 8 }, [1, 28, 28], 10),
        ["QLinearConv", "QLinearAdd"],
      ],
      [
        "mobilenet",
        buildModel(
          { kind: "mobilenet", multiplier: 0.25, channels: [32, 64, 128, 128], strides: [1, 2, 2, 1] },
          [1, 28, 28],
          10,
        ),
        ["QLinearConv"],
      ],
      [
        // Its conv + bn pairs fold at export, as resnet's do; the residual adds through QLinearAdd.
        "layers",
        buildModel(
          {
            kind: "layers",
            layers: [
              { conv: { out: 8, kernel: 3 } },
              "bn",
              "relu",
              { residual: [{ conv: { out: 8, kernel: 3 } }, "bn", "relu6"] },
              { maxpool: 2 },
              "gap",
            ],
          },
          [1, 28, 28],
          10,
        ),
        ["QLinearConv", "QLinearAdd", "NhwcMaxPool"],
      ],
    ] as const;
    for (const [name, model, kernels] of students) {
      const path = saveInitial(model, name);
      const { out, res } = await quantize(path);
      expect(res.skipped, name).toEqual([]);
      expectInteger(await optimisedNodes(out), [...kernels, "QLinearGlobalAveragePool", "QGemm"]);
      // The integer kernels compute what the QDQ graph says (ONNX Runtime unoptimised runs it literally).
      const [ref, int] = [await logits(out, 100, "disabled"), await logits(out, 100, "all")];
      let worst = 0;
      let scale = 0;
      ref.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - int[i]!));
        scale = Math.max(scale, Math.abs(v));
      });
      expect(worst / scale, name).toBeLessThan(0.02);
    }
  }, 60_000);

  it("a PyTorch export (Conv + unfolded BatchNormalization + Relu, residual Adds, GlobalAveragePool, Flatten, Gemm): integer, and its predictions agree with the float model's", async () => {
    const path = join(dir, "foreign.onnx");
    writeFileSync(path, readFileSync(FOREIGN));
    const { out, res } = await quantize(path);
    expect(res.quantized.length).toBe(7); // six convolutions and the Linear
    expect(res.skipped).toEqual([]);
    const ops = decodeModel(readFileSync(out)).graph!.node.map((n) => n.opType);
    expect(ops).not.toContain("BatchNormalization");
    expectInteger(await optimisedNodes(out), [
      "QLinearConv",
      "QLinearAdd",
      "QLinearGlobalAveragePool",
      "QGemm",
    ]);
    const n = 1000;
    const [f, q] = [argmaxes(await logits(path, n, "all")), argmaxes(await logits(out, n, "all"))];
    const y = mnistTest(n).y!;
    const agree = f.filter((c, i) => c === q[i]).length;
    expect(agree / n).toBeGreaterThanOrEqual(0.99);
    const right = (p: number[]) => p.filter((c, i) => c === y[i]).length;
    expect(right(f) / n).toBeGreaterThan(0.8); // it was trained: the comparison means something
    expect(Math.abs(right(q) - right(f))).toBeLessThanOrEqual(0.005 * n); // within 0.5 pp
  }, 60_000);

  it("names the nodes left in float, with the reason", async () => {
    const path = randomLinearClassifier(join(dir, "linear.onnx"), 3); // Flatten, Gemm, Softmax
    const { res } = await quantize(path, { output: "scores" });
    expect(res.quantized).toHaveLength(1);
    expect(res.skipped).toEqual(["Softmax(probs) (no integer kernel for Softmax here)"]);
  });

  it("an MLP: MatMul + bias become one Gemm, run as QGemm with the Relus folded", async () => {
    const path = saveInitial(buildModel({ kind: "mlp", hidden: [64, 32] }, [784], 10), "mlp");
    const { out, res } = await quantize(path);
    expect(res.quantized.length).toBe(3);
    const nodes = await optimisedNodes(out);
    expect(nodes.filter((n) => n.opType === "QGemm").length).toBe(3);
    expect(nodes.map((n) => n.opType)).not.toContain("MatMul");
    expect(nodes.map((n) => n.opType)).not.toContain("DequantizeLinear");
  });
});
