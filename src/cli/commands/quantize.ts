/** `kd quantize`: an int8 copy of a classifier (static QDQ, or dynamic), with its size, accuracy and latency beside the original's. */
import type { Command } from "commander";
import { subset } from "../../data/dataset.js";
import { loadDataset } from "../../data/load.js";
import { quantizeModel } from "../../deploy/quantize.js";
import { formatSummary, type ModelSummary, summarize } from "../../deploy/summary.js";
import { checkModel } from "../../onnx/check.js";
import { encodeModel } from "../../onnx/proto.js";
import { OnnxClassifier, parseModelFile } from "../../runtime/classifier.js";
import { ensureWritableDir, writeFileAtomic } from "../../util/atomic.js";
import { KdError } from "../../util/errors.js";
import { num } from "../options.js";
import { addLoadOptions, type LoadFlags, loadFlags } from "./load-options.js";
import { defaultMnist, MNIST_DEFAULT, MNIST_FLAG, type TestFlags, testData } from "./test-data.js";

interface QuantizeFlags extends LoadFlags, TestFlags {
  out: string;
  calibration?: string;
  calibrationCount: number;
  dynamic?: boolean;
  input?: string;
  output?: string;
  threads?: number;
  timing: number;
  json?: boolean;
}

export function registerQuantize(program: Command): void {
  const cmd = program
    .command("quantize")
    .description("write an int8 copy of an ONNX classifier (static QDQ with per-channel weights, or dynamic)")
    .argument("<model.onnx>", "a float32 ONNX classifier")
    .requiredOption("--out <path>", "where to write the int8 model")
    .option(
      "--calibration <path>",
      "data for activation ranges (default: MNIST training images for 784-value models)",
    )
    .option(
      "--calibration-count <n>",
      "how many calibration examples to use (the first n)",
      num({ int: true, min: 1 }),
      2000,
    )
    .option("--dynamic", "dynamic quantisation: activation ranges found at run time, no calibration")
    .option(
      "--test <path>",
      "test data for the accuracy change (default: MNIST's test set for 784-value models)",
    )
    .option("--test-labels <path>", "labels for --test (NPY, IDX)")
    .option("--input <name>", "input to feed (default: the only one)")
    .option("--output <name>", "output holding the class scores (default: the only float one)")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option(
      "--timing <ms>",
      "time spent measuring latency at each batch size (twice per model, float and int8 alternating)",
      num({ int: true, min: 1 }),
      500,
    )
    .option("--json", "print the two summaries as JSON")
    .option(...MNIST_FLAG);
  addLoadOptions(cmd);
  cmd.action(async (path: string, f: QuantizeFlags) => {
    const opts = {
      ...(f.threads ? { threads: f.threads } : {}),
      ...(f.input ? { input: f.input } : {}),
      ...(f.output ? { output: f.output } : {}),
    };
    ensureWritableDir(f.out, "output");
    const clf = await OnnxClassifier.load(path, opts);
    const input = { name: clf.inputName, shape: clf.exampleShape };
    await clf.release();
    // Everything is read and checked before anything is written.
    const test = testData(f, clf, loadFlags(f));
    if (test) clf.checkFits(test);
    const defaults = [
      ...(!f.dynamic && !f.calibration && clf.features === 784
        ? [`calibration: ${MNIST_DEFAULT.train}`]
        : []),
      ...(test && f.test === undefined ? [`test: ${MNIST_DEFAULT.test}`] : []),
    ];
    let calibration: { x: Float32Array; n: number } | undefined;
    if (!f.dynamic) {
      let ds = f.calibration
        ? loadDataset(f.calibration, undefined, loadFlags(f))
        : defaultMnist("train", clf, f, "--calibration");
      if (ds === undefined)
        throw new KdError(
          `${path} takes ${clf.features} values per example: give --calibration data (or --dynamic)`,
        );
      clf.checkFits({ ...ds, numClasses: 0 });
      if (ds.n > f.calibrationCount)
        ds = subset(
          ds,
          Int32Array.from({ length: f.calibrationCount }, (_, i) => i),
        );
      // The calibration data as the model takes it: its recorded preprocessing applied.
      calibration = { x: clf.prepare(ds.x, ds.rawScale), n: ds.n };
    }
    // Which data a default picked comes first, before anything is measured on it (with --json, in
    // the JSON, keeping stderr for errors).
    if (defaults.length > 0 && !f.json) console.log(`data: ${defaults.join("; ")}`);
    const { model } = parseModelFile(path);
    const res = await quantizeModel(model, {
      mode: f.dynamic ? "dynamic" : "static",
      input,
      ...(calibration ? { calibration } : {}),
      ...(f.threads ? { threads: f.threads } : {}),
    });
    const problems = checkModel(res.model);
    if (problems.length > 0) throw new Error(`quantised model is malformed: ${problems[0]}`);
    writeFileAtomic(f.out, encodeModel(res.model));
    const sOpts = { ...opts, timingMs: f.timing, ...(test ? { test } : {}) };
    // Latency twice, float and int8 alternating, each the faster of its two: on shared cores a
    // burst of load during one measurement would otherwise decide the ratio.
    const again = { ...opts, timingMs: f.timing };
    const faster = (a: ModelSummary, b: ModelSummary): ModelSummary => ({
      ...a,
      latencyMs: {
        batch1: Math.min(a.latencyMs.batch1, b.latencyMs.batch1),
        batch128: Math.min(a.latencyMs.batch128, b.latencyMs.batch128),
      },
    });
    const before1 = await summarize(path, sOpts);
    const after1 = await summarize(f.out, sOpts);
    const before = faster(before1, await summarize(path, again));
    const after = faster(after1, await summarize(f.out, again));
    // How many times faster the int8 copy ran (float latency ÷ int8 latency).
    const speedup = {
      batch1: before.latencyMs.batch1 / after.latencyMs.batch1,
      batch128: before.latencyMs.batch128 / after.latencyMs.batch128,
    };
    if (f.json)
      console.log(
        JSON.stringify({
          ...(defaults.length > 0 ? { data: defaults } : {}),
          quantized: res.quantized,
          skipped: res.skipped,
          model: before,
          int8: after,
          speedup,
        }),
      );
    else {
      console.log(
        `quantised ${res.quantized.length} node(s) (${f.dynamic ? "dynamic" : "static QDQ, per-channel weights"})${res.skipped.length ? `; left in float: ${res.skipped.join(", ")}` : f.dynamic ? "" : "; no op left in float"}`,
      );
      console.log(formatSummary(before, after));
      console.log(
        `int8 speed-up (float ms ÷ int8 ms): ${speedup.batch1.toFixed(2)}× at batch 1 (${before.latencyMs.batch1.toFixed(3)} ÷ ${after.latencyMs.batch1.toFixed(3)}), ${speedup.batch128.toFixed(2)}× at batch 128 (${before.latencyMs.batch128.toFixed(2)} ÷ ${after.latencyMs.batch128.toFixed(2)})`,
      );
    }
  });
}
