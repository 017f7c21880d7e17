/** `kd eval`: test errors, per-class accuracy and the confusion matrix of any ONNX classifier. */
import type { Command } from "commander";
import { alignClasses } from "../../data/classes.js";
import { formatMetrics } from "../../report/text.js";
import { OnnxClassifier } from "../../runtime/classifier.js";
import { checkMnistDefault } from "../../runtime/data-record.js";
import { classMetrics } from "../../train/metrics.js";
import { KdError } from "../../util/errors.js";
import { addDataOptions, type DataFlags, dataPath, loadData, num } from "../options.js";
import { MNIST_DEFAULT, MNIST_FLAG } from "./test-data.js";

interface EvalFlags extends DataFlags {
  mnist?: boolean;
  input?: string;
  output?: string;
  probs?: boolean;
  threads?: number;
  json?: boolean;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command("eval")
    .description("evaluate an ONNX classifier on the test set")
    .argument("<model.onnx>", "any ONNX classifier (from kd or another framework)")
    .option("--input <name>", "input to feed (default: the only one)")
    .option("--output <name>", "output holding the class scores (default: the only float one)")
    .option("--probs", "the output holds probabilities, not logits")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option("--json", "print the metrics as JSON");
  addDataOptions(cmd);
  cmd.option(...MNIST_FLAG);
  cmd.action(async (path: string, f: EvalFlags) => {
    const clf = await OnnxClassifier.load(path, {
      ...(f.input ? { input: f.input } : {}),
      ...(f.output ? { output: f.output } : {}),
      outputs: f.probs ? "probs" : "logits",
      ...(f.threads ? { threads: f.threads } : {}),
      flags: { input: "--input", output: "--output" },
    });
    try {
      await evaluate(path, clf, f);
    } finally {
      await clf.release();
    }
  });
}

/** Scores `clf` on the test data the flags name (or the default, said on the first line). */
async function evaluate(path: string, clf: OnnxClassifier, f: EvalFlags): Promise<void> {
  const picked = dataPath(f, "test") === undefined;
  if (picked) checkMnistDefault(clf.data, path, "--test", f.mnist === true);
  // Class names number the test set's classes as the model numbers them.
  const test = alignClasses(loadData(f, "test"), clf.classNames, path);
  if (!test.y) throw new KdError("the test set has no labels");
  const data = picked ? MNIST_DEFAULT.test : undefined;
  if (clf.features !== test.features)
    throw new KdError(`${path} takes ${clf.features} values per example; ${test.name} has ${test.features}`);
  if (clf.numClasses < test.numClasses)
    throw new KdError(`${path} outputs ${clf.numClasses} classes; ${test.name} has ${test.numClasses}`);
  if (data && !f.json) console.log(`data: ${data}`);
  const m = classMetrics(await clf.logitsOf(test), test.y, clf.numClasses);
  console.log(
    f.json
      ? JSON.stringify({ model: path, ...(data ? { data } : {}), ...m })
      : formatMetrics(m, `${path} on ${test.name}`),
  );
}
