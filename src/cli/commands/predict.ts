/** `kd predict`: the class and top-k probabilities of each image, array row or table row. */
import type { Command } from "commander";
import { formatPredictions, predict } from "../../deploy/predict.js";
import { num } from "../options.js";
import { addLoadOptions, type LoadFlags, loadFlags } from "./load-options.js";

interface PredictFlags extends LoadFlags {
  topK: number;
  temperature: number;
  labels?: string;
  input?: string;
  output?: string;
  probs?: boolean;
  threads?: number;
  json?: boolean;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command("predict")
    .description("classify images, a folder of them, NPY/NPZ arrays or CSV rows with an ONNX classifier")
    .argument("<model.onnx>", "any ONNX classifier")
    .argument("<input...>", "image files (PNG, JPEG), folders, .npy/.npz, .csv or IDX files")
    .option("-k, --top-k <k>", "how many of the most probable classes to show", num({ int: true, min: 1 }), 3)
    .option("-T, --temperature <T>", "show softmax(z/T)", num({ min: 0, minExclusive: true }), 1)
    .option("--labels <path>", "true labels of an NPY or IDX input (accuracy is reported)")
    .option("--input <name>", "input to feed (default: the only one)")
    .option("--output <name>", "output holding the class scores (default: the only float one)")
    .option("--probs", "the output holds probabilities, not logits")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option("--json", "print the predictions as JSON");
  addLoadOptions(cmd);
  cmd.action(async (model: string, inputs: string[], f: PredictFlags) => {
    const res = await predict(model, inputs, {
      topK: f.topK,
      temperature: f.temperature,
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.input ? { input: f.input } : {}),
      ...(f.output ? { output: f.output } : {}),
      outputs: f.probs ? "probs" : "logits",
      ...(f.threads ? { threads: f.threads } : {}),
      flags: { input: "--input", output: "--output" },
      load: loadFlags(f),
    });
    console.log(f.json ? JSON.stringify(res) : formatPredictions(res));
  });
}
