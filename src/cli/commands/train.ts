/** `kd train`: train a classifier on labels, export it as ONNX. */
import type { Command } from "commander";
import { holdOut } from "../../distill/transfer.js";
import { formatMetrics } from "../../report/text.js";
import { runJob } from "../../train/run.js";
import {
  addDataOptions,
  addTrainOptions,
  type DataFlags,
  jobFromFlags,
  loadData,
  modelFromFlags,
  type TrainFlags,
} from "../options.js";
import { progressBar } from "../progress.js";

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a classifier on labelled data and export it as ONNX");
  addTrainOptions(cmd, { arch: "mlp:800,800", epochs: 20, lr: 0.05 });
  addDataOptions(cmd, "both");
  cmd.action(async (f: TrainFlags & DataFlags) => {
    const { train: trainSet, val } = holdOut(loadData(f, "train"), f.val, f.seed);
    const test = loadData(f, "test");
    const model = modelFromFlags(f, trainSet, Math.max(trainSet.numClasses, test.numClasses));
    const bar = progressBar(f.progress);
    const res = await runJob({
      ...jobFromFlags(f, bar),
      model,
      train: trainSet,
      test,
      objective: { kind: "labels" },
      ...(val ? { val } : {}),
    }).finally(() => bar.stop());
    const summary = {
      out: f.out,
      arch: model.arch,
      epochs: f.epochs,
      seconds: res.seconds,
      testErrors: res.test?.errors,
      testAccuracy: res.test?.accuracy,
      valErrors: res.val?.errors,
    };
    if (f.json) console.log(JSON.stringify(summary));
    else {
      console.log(`wrote ${f.out} (${model.arch}, ${f.epochs} epochs, ${res.seconds.toFixed(1)} s)`);
      if (res.test) console.log(formatMetrics(res.test, "test"));
    }
  });
}
