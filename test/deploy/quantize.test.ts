/** Tests for kd summary and kd quantize: counts from the graph, int8 models that check, run and agree with the float ones. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensorShapes } from "../../src/deploy/graph.js";
import { activationParams, quantizeModel, quantizeWeight } from "../../src/deploy/quantize.js";
import { countFlops, countParameters, summarize } from "../../src/deploy/summary.js";
import { cnn, type Model, mlp } from "../../src/nn/model.js";
import { checkModel } from "../../src/onnx/check.js";
import { decodeModel, encodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { train } from "../../src/train/trainer.js";
import { kd } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

const dir = mkdtempSync(join(tmpdir(), "kd-quantize-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mlpPath = join(dir, "mlp.onnx");
const cnnPath = join(dir, "cnn.onnx");
const gemmPath = join(dir, "gemm.onnx");
const calib = mnistTrain(1000);
const test = mnistTest(1000);

/** The official checker, when Debian's python3-onnx is installed (it is not a dependency). */
function officialCheck(path: string): string | undefined {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path],
    { encoding: "utf8" },
  );
  if (r.error || /No module named/.test(r.stderr)) return undefined;
  return r.status === 0 ? "ok" : r.stderr.trim().split("\n").at(-1);
}

async function accuracy(path: string, opts = {}): Promise<{ acc: number; logits: Float32Array }> {
  const clf = await OnnxClassifier.load(path, opts);
  const logits = await clf.logits(test.x, test.n);
  await clf.release();
  let right = 0;
  for (let i = 0; i < test.n; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    if (row.indexOf(Math.max(...row)) === test.y![i]) right++;
  }
  return { acc: right / test.n, logits };
}

async function trainAndSave(model: Model, path: string): Promise<void> {
  const res = await train(labelsConfig(model, mnistTrain(3000), { epochs: 2, batchSize: 64, lr: 0.05 }));
  saveModel(path, model, res.params);
}

/** Quantises the model at `path` and writes it beside it as `<name>.<mode>.onnx`. */
async function quantizeTo(
  path: string,
  name: string,
  mode: "static" | "dynamic",
  opts: { output?: string } = {},
) {
  const clf = await OnnxClassifier.load(path, opts);
  const input = { name: clf.inputName, shape: clf.exampleShape };
  await clf.release();
  const res = await quantizeModel(decodeModel(readFileSync(path)), {
    mode,
    input,
    calibration: { x: calib.x, n: calib.n },
  });
  const out = join(dir, `${name}.${mode}.onnx`);
  writeFileSync(out, encodeModel(res.model));
  return { out, res };
}

beforeAll(async () => {
  await trainAndSave(mlp(784, [128, 64], 10), mlpPath);
  await trainAndSave(cnn(28, [4, 8], 10), cnnPath);
  const m = mlp(784, [], 10);
  const res = await train(labelsConfig(m, mnistTrain(2000), { epochs: 2 }));
  writeForeignClassifier(gemmPath, res.params.get("out.weight")!, res.params.get("out.bias")!, 10);
});

describe("quantisation arithmetic", () => {
  it("per-channel symmetric int8 weights: scale = max|W_c| / 127, error at most half a step", () => {
    // W [3, 2], channels along axis 1.
    const w = Float32Array.of(0.5, -2, -1, 1, 0.25, 0);
    const { q, scales } = quantizeWeight(w, [3, 2], 1);
    expect(Array.from(scales)).toEqual([1 / 127, 2 / 127].map(Math.fround));
    expect(Array.from(q)).toEqual([64, -127, -127, 64, 32, 0]);
    w.forEach((v, i) =>
      expect(Math.abs(q[i]! * scales[i % 2]! - v)).toBeLessThanOrEqual(scales[i % 2]! / 2 + 1e-7),
    );
    // Conv-style [2, 1, 1, 2] along axis 0; an all-zero channel gets scale 1.
    const c = quantizeWeight(Float32Array.of(0, 0, 3, -1.5), [2, 1, 1, 2], 0);
    expect(Array.from(c.scales)).toEqual([1, Math.fround(3 / 127)]);
    expect(Array.from(c.q)).toEqual([0, 0, 127, -64]);
  });

  it("activation ranges always hold 0 exactly", () => {
    expect(activationParams(0, 2.55).scale).toBeCloseTo(0.01, 12);
    expect(activationParams(0, 2.55).zeroPoint).toBe(0);
    const { scale, zeroPoint } = activationParams(-1, 3);
    expect(scale).toBeCloseTo(4 / 255, 10);
    expect(zeroPoint).toBe(64);
    expect(activationParams(1, 2).zeroPoint).toBe(0); // [0, 2]
    expect(activationParams(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
  });
});

describe("summary", () => {
  it("parameters and FLOPs per example from the graph (MatMul and Conv)", async () => {
    const m = decodeModel(readFileSync(mlpPath));
    expect(countParameters(m)).toBe(784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
    expect(countFlops(m, await tensorShapes(m, "input", [784]))).toBe(2 * (784 * 128 + 128 * 64 + 64 * 10));
    const c = decodeModel(readFileSync(cnnPath));
    // conv1: 4 maps of 28×28, 1·3·3 each; conv2: 8 maps of 14×14, 4·3·3 each; dense 8·7·7 → 10.
    const want = 2 * (4 * 28 * 28 * 9 + 8 * 14 * 14 * 36 + 8 * 7 * 7 * 10);
    expect(countFlops(c, await tensorShapes(c, "input", [1, 28, 28]))).toBe(want);
    const g = decodeModel(readFileSync(gemmPath));
    expect(countFlops(g, await tensorShapes(g, "pixels", [1, 28, 28]))).toBe(2 * 784 * 10);
  });

  it("summarize: shapes, bytes, latency and accuracy", async () => {
    const s = await summarize(cnnPath, { test, timingMs: 50 });
    expect(s.input).toEqual({ name: "input", shape: [1, 28, 28] });
    expect(s.output).toEqual({ name: "logits", classes: 10 });
    expect(s.bytes).toBe(statSync(cnnPath).size);
    expect(s.latencyMs.batch1).toBeGreaterThan(0);
    expect(s.latencyMs.batch128).toBeGreaterThan(s.latencyMs.batch1);
    expect(s.test!.accuracy).toBeGreaterThan(0.5);
  });
});

describe("quantize", () => {
  const cases = [
    ["mlp", mlpPath, {}, 0.27],
    ["cnn", cnnPath, {}, 0.6], // small convnet: biases, shapes and scales weigh more
    ["gemm", gemmPath, { output: "scores" }, 0.3],
  ] as const;
  for (const mode of ["static", "dynamic"] as const) {
    for (const [name, path, opts, maxRatio] of cases) {
      if (mode === "dynamic" && name === "cnn") continue; // convolutions stay float in dynamic mode
      it(`${mode}: ${name} checks, runs, is smaller and agrees with the float model`, async () => {
        const { out, res } = await quantizeTo(path, name, mode, opts);
        expect(res.quantized.length).toBeGreaterThan(0);
        expect(checkModel(res.model)).toEqual([]);
        const official = officialCheck(out);
        if (official !== undefined) expect(official).toBe("ok");
        expect(statSync(out).size / statSync(path).size).toBeLessThan(maxRatio);
        const f = await accuracy(path, opts);
        const q = await accuracy(out, opts);
        expect(Math.abs(q.acc - f.acc)).toBeLessThanOrEqual(0.01);
        // The int8 logits stay near the float ones.
        let worst = 0;
        let scale = 0;
        f.logits.forEach((v, i) => {
          worst = Math.max(worst, Math.abs(v - q.logits[i]!));
          scale = Math.max(scale, Math.abs(v));
        });
        expect(worst / scale).toBeLessThan(0.1);
      });
    }
  }

  it("the int8 models run in onnxruntime-web's wasm backend too, with the same logits as in onnxruntime-node", async () => {
    let web: typeof import("onnxruntime-web");
    try {
      web = await import("onnxruntime-web");
    } catch {
      return; // onnxruntime-web is a dev dependency; without it there is nothing to compare
    }
    web.env.wasm.numThreads = 1;
    for (const mode of ["static", "dynamic"] as const) {
      const { out: path } = await quantizeTo(mlpPath, "mlp", mode);
      const session = await web.InferenceSession.create(readFileSync(path), { executionProviders: ["wasm"] });
      const n = 50;
      const res = await session.run({ input: new web.Tensor("float32", test.x.slice(0, n * 784), [n, 784]) });
      const wasm = res.logits!.data as Float32Array;
      const native = (await accuracy(path)).logits.subarray(0, n * 10);
      // Integer kernels differ a little between builds (rounding of requantised activations).
      let worst = 0;
      let scale = 0;
      wasm.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - native[i]!));
        scale = Math.max(scale, Math.abs(native[i]!));
      });
      expect(worst / scale).toBeLessThan(0.02);
      const argmax = (z: Float32Array, r: number) => {
        const row = Array.from(z.subarray(r * 10, r * 10 + 10));
        return row.indexOf(Math.max(...row));
      };
      let same = 0;
      for (let r = 0; r < n; r++) if (argmax(wasm, r) === argmax(native, r)) same++;
      expect(same).toBeGreaterThanOrEqual(n - 1);
      await session.release();
    }
  });

  it("refuses models with nothing to quantise and static runs without calibration data", async () => {
    const m = decodeModel(readFileSync(mlpPath));
    await expect(quantizeModel(m, { mode: "static" })).rejects.toThrow(/needs calibration data/);
    m.graph!.node = m.graph!.node.filter((n) => n.opType !== "MatMul");
    await expect(quantizeModel(m)).rejects.toThrow(/nothing to quantise/);
  });
});

describe("kd quantize and kd summary on the command line", () => {
  it("writes the int8 model and prints both summaries; refuses bad input in one line, writing nothing", () => {
    const out = join(dir, "cli.int8.onnx");
    const r = kd([
      "quantize",
      mlpPath,
      "--out",
      out,
      "--calibration-count",
      "500",
      "--threads",
      "1",
      "--timing",
      "20",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /quantised 3 node\(s\) \(static QDQ, per-channel weights\); no op left in float\n/,
    );
    expect(r.stdout).toMatch(
      /int8 speed-up \(float ms ÷ int8 ms\): \d+\.\d\d× at batch 1 \(\d+\.\d+ ÷ \d+\.\d+\), \d+\.\d\d× at batch 128/,
    );
    expect(r.stdout).toMatch(/file size .*×/);
    expect(r.stdout).toMatch(/accuracy .*on mnist-test \(10000\).* pp/);
    expect(existsSync(out)).toBe(true);
    const s = kd(["summary", out, "--compare", mlpPath, "--json", "--timing", "20"]);
    expect(s.code).toBe(0);
    const js = JSON.parse(s.stdout);
    expect(js.model.parameters).toBe(js.compare.parameters);
    expect(js.model.flops).toBe(js.compare.flops);

    // A convnet taking [1, 14, 14] has no default calibration data; CSV rows of 3 values do not fit.
    const small = join(dir, "small.onnx");
    const sm = cnn(14, [2], 10);
    saveModel(
      small,
      sm,
      new Map(sm.params.map((p) => [p.name, new Float32Array(p.shape.reduce((a, b) => a * b, 1))])),
    );
    const never = join(dir, "never.onnx");
    const bad = kd(["quantize", small, "--out", never]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual([
      `kd: ${small} takes 196 values per example: give --calibration data (or --dynamic)`,
    ]);
    const csv = join(dir, "narrow.csv");
    writeFileSync(csv, "a,b,c\n1,2,3\n");
    const misfit = kd(["quantize", mlpPath, "--out", never, "--calibration", csv]);
    expect(misfit.code).toBe(1);
    expect(misfit.stderr).toMatch(
      /^kd: .*mlp\.onnx takes \[784\] \(784 values\) per example; narrow\.csv has \[2\] \(2 values\)\n$/,
    );
    expect(existsSync(never)).toBe(false);
  });
});
