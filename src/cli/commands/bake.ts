/** `kd bake-preprocessing`: a copy of a model that takes raw values, (x · scale − mean) / std computed in the graph. */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import {
  bakePreprocessing,
  parseScale,
  readPreprocessing,
  recordPreprocessing,
} from "../../deploy/preprocess.js";
import { checkModel } from "../../onnx/check.js";
import { decodeModel, encodeModel } from "../../onnx/proto.js";
import { parseModelFile } from "../../runtime/classifier.js";
import { ensureWritableDir, writeFileAtomic } from "../../util/atomic.js";

interface BakeFlags {
  out: string;
  scale?: number;
  mean?: number[];
  std?: number[];
  recordOnly?: boolean;
}

const numbers = (v: string): number[] => {
  const xs = v.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x)))
    throw new InvalidArgumentError("expected numbers like 0.5 or 0.485,0.456,0.406");
  return xs;
};

export function registerBake(program: Command): void {
  program
    .command("bake-preprocessing")
    .description(
      "record preprocessing in a model and (by default) bake it into the graph, so it takes raw values",
    )
    .argument("<model.onnx>", "an ONNX classifier with one float input")
    .requiredOption("--out <path>", "where to write the new model")
    .option(
      "--scale <s>",
      "raw values are multiplied by s first (default: the recorded scale, else 1/255)",
      (v: string) => {
        try {
          return parseScale(v);
        } catch (e) {
          throw new InvalidArgumentError((e as Error).message);
        }
      },
    )
    .option("--mean <m>", "then minus the mean: one value or one per channel", numbers)
    .option("--std <s>", "then divided by the standard deviation: one value or one per channel", numbers)
    .option("--record-only", "only record the preprocessing in the metadata; the graph is unchanged")
    .action((path: string, f: BakeFlags) => {
      ensureWritableDir(f.out, "output");
      const { model } = parseModelFile(path);
      const recorded = readPreprocessing(model, path);
      const pre = {
        scale: f.scale ?? recorded?.scale ?? 1 / 255,
        ...((f.mean ?? recorded?.mean) ? { mean: f.mean ?? recorded?.mean } : {}),
        ...((f.std ?? recorded?.std) ? { std: f.std ?? recorded?.std } : {}),
      };
      let out = model;
      if (f.recordOnly) {
        out = decodeModel(encodeModel(model));
        recordPreprocessing(out, pre);
      } else out = bakePreprocessing(model, pre, path);
      const problems = checkModel(out);
      if (problems.length > 0) throw new Error(`baked model is malformed: ${problems[0]}`);
      writeFileAtomic(f.out, encodeModel(out));
      const steps = [
        `× ${pre.scale}`,
        pre.mean ? `− [${pre.mean.join(", ")}]` : "",
        pre.std ? `÷ [${pre.std.join(", ")}]` : "",
      ];
      console.log(
        `${f.out}: ${f.recordOnly ? "records" : "takes raw values and computes"} x ${steps.filter(Boolean).join(" ")}`,
      );
    });
}
