/**
 * `kd summary`: input, output, parameters, bytes, FLOPs and latency of a classifier; --compare for
 * ratios; --tensors for the intermediate tensors a feature objective can name.
 */
import type { Command } from "commander";
import { formatSummary, summarize } from "../../deploy/summary.js";
import { OnnxClassifier } from "../../runtime/classifier.js";
import { formatTensors, listTensors } from "../../runtime/tensors.js";
import { KdError } from "../../util/errors.js";
import { num } from "../options.js";
import { addLoadOptions, type LoadFlags, loadFlags } from "./load-options.js";
import { type TestFlags, testData } from "./test-data.js";

interface SummaryFlags extends LoadFlags, TestFlags {
  compare?: string;
  threads?: number;
  timing: number;
  json?: boolean;
  tensors?: boolean;
}

export function registerSummary(program: Command): void {
  const cmd = program
    .command("summary")
    .description(
      "parameters, size, FLOPs per example and latency of an ONNX classifier (and ratios to another)",
    )
    .argument("<model.onnx>", "any ONNX classifier")
    .option("--compare <other.onnx>", "a second model: show both and the ratios other / model")
    .option(
      "--test <path>",
      "test data in any format kd loads (default: MNIST's test set for 784-value models)",
    )
    .option("--test-labels <path>", "labels for --test (NPY, IDX)")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option(
      "--timing <ms>",
      "time spent measuring latency at each batch size",
      num({ int: true, min: 1 }),
      500,
    )
    .option(
      "--tensors",
      "list the model's intermediate tensors (name, op, type, shape for a batch of N) instead",
    )
    .option("--json", "print the summaries (or the tensors) as JSON");
  addLoadOptions(cmd);
  cmd.action(async (path: string, f: SummaryFlags) => {
    const opts = { ...(f.threads ? { threads: f.threads } : {}) };
    if (f.tensors) {
      if (f.compare) throw new KdError("--tensors lists one model's tensors; leave out --compare");
      const list = await listTensors(path, opts);
      console.log(f.json ? JSON.stringify(list) : formatTensors(list));
      return;
    }
    const probe = await OnnxClassifier.load(path, opts);
    await probe.release();
    // The accuracy line is optional here: a model trained on other data gets none, not MNIST's.
    const test = testData(f, probe, loadFlags(f), "skip");
    const base = await summarize(path, { ...opts, timingMs: f.timing, ...(test ? { test } : {}) });
    const other = f.compare
      ? await summarize(f.compare, { ...opts, timingMs: f.timing, ...(test ? { test } : {}) })
      : undefined;
    console.log(
      f.json ? JSON.stringify(other ? { model: base, compare: other } : base) : formatSummary(base, other),
    );
  });
}
