/** `kd train`: train a classifier on labelled data and export it as ONNX — a one-run spec. */
import type { Command } from "commander";
import { formatMetrics } from "../../report/text.js";
import {
  addDataOptions,
  addTrainOptions,
  type DataFlags,
  oneRunSpec,
  outPath,
  runOneRunSpec,
  type TrainFlags,
} from "../options.js";

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a classifier on labelled data and export it as ONNX");
  addTrainOptions(cmd, { arch: "mlp:800,800", epochs: 20, lr: 0.05 });
  addDataOptions(cmd);
  cmd.action(async (f: TrainFlags & DataFlags) => {
    const rec = await runOneRunSpec(oneRunSpec(f, "train", { run: { objective: { kind: "ce" } } }), f);
    if (!rec) return;
    const out = outPath(f, "train");
    const summary = {
      out,
      arch: rec.arch,
      epochs: rec.epochs,
      ...(rec.bestEpoch !== undefined ? { bestEpoch: rec.bestEpoch } : {}),
      ...(rec.diverged ? { diverged: true } : {}),
      seconds: rec.seconds,
      testErrors: rec.test?.errors,
      testAccuracy: rec.test?.accuracy,
      valErrors: rec.val?.errors,
    };
    if (f.json) console.log(JSON.stringify(summary));
    else {
      const best = rec.bestEpoch !== undefined ? `, weights of epoch ${rec.bestEpoch}` : "";
      console.log(`wrote ${out} (${rec.arch}, ${rec.epochs} epochs${best}, ${rec.seconds.toFixed(1)} s)`);
      if (rec.val) console.log(`validation: ${rec.val.errors} errors in ${rec.val.n}`);
      if (rec.test) console.log(formatMetrics(rec.test, "test"));
    }
  });
}
