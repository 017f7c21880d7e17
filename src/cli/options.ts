/** Flag parsing shared by the commands: validated numbers and lists, data sources, training flags. */
import { type Command, InvalidArgumentError, Option } from "commander";
import { type Dataset, loadIdxDataset, loadMnist } from "../data/dataset.js";
import { type Model, NO_REG, parseArch } from "../nn/model.js";
import { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerName } from "../optim/optimizers.js";
import type { JobOptions } from "../train/run.js";
import type { EpochLog } from "../train/trainer.js";
import { KdError } from "../util/errors.js";
import type { ProgressSink } from "./progress.js";

type Parser<T> = (value: string) => T;

/** A number parser with bounds; commander prints its message as one line and exits non-zero. */
export function num(
  opts: { int?: boolean; min?: number; max?: number; minExclusive?: boolean } = {},
): Parser<number> {
  return (v) => {
    const n = Number(v);
    const ok =
      v.trim() !== "" &&
      Number.isFinite(n) &&
      (!opts.int || Number.isInteger(n)) &&
      (opts.min === undefined || (opts.minExclusive ? n > opts.min : n >= opts.min)) &&
      (opts.max === undefined || n <= opts.max);
    if (!ok) {
      const range = [
        opts.min !== undefined ? `${opts.minExclusive ? ">" : "≥"} ${opts.min}` : "",
        opts.max !== undefined ? `≤ ${opts.max}` : "",
      ]
        .filter(Boolean)
        .join(" and ");
      throw new InvalidArgumentError(
        `expected ${opts.int ? "a whole number" : "a number"}${range ? ` ${range}` : ""}`,
      );
    }
    return n;
  };
}

export const classList: Parser<number[]> = (v) => {
  const xs = v.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 0))
    throw new InvalidArgumentError("expected class numbers like 3 or 7,8");
  return xs;
};

export interface DataFlags {
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
}

export function addDataOptions(cmd: Command, which: "train" | "test" | "both"): Command {
  if (which !== "test")
    cmd
      .option("--train-images <path>", "IDX images (plain or .gz) to train on instead of the embedded MNIST")
      .option("--train-labels <path>", "IDX labels for --train-images");
  if (which !== "train")
    cmd
      .option("--test-images <path>", "IDX images (plain or .gz) to evaluate on instead of MNIST's test set")
      .option("--test-labels <path>", "IDX labels for --test-images");
  return cmd;
}

export function loadData(flags: DataFlags, split: "train" | "test"): Dataset {
  const images = split === "train" ? flags.trainImages : flags.testImages;
  const labels = split === "train" ? flags.trainLabels : flags.testLabels;
  if (!images) {
    if (labels) throw new KdError(`--${split}-labels given without --${split}-images`);
    return loadMnist(split);
  }
  return loadIdxDataset(images, labels);
}

export interface TrainFlags {
  arch: string;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  lrSchedule: string;
  momentum: string;
  weightDecay: number;
  maxNorm: number;
  dropoutInput: number;
  dropoutHidden: number;
  jitter: number;
  seed: number;
  threads?: number;
  stepsPerRun: number;
  out: string;
  checkpoint?: string;
  resume?: boolean;
  log?: string;
  eval: "test" | "val" | "none";
  val: number;
  json?: boolean;
  progress: boolean;
}

/** The engine's training flags, shared by `kd train` and `kd distill`. */
export function addTrainOptions(
  cmd: Command,
  defaults: { arch: string; epochs: number; lr: number },
): Command {
  const rate = num({ min: 0, max: 0.95 });
  return cmd
    .option("--arch <arch>", "architecture: mlp:H1,H2,... or cnn:C1,C2,...", defaults.arch)
    .option("--epochs <n>", "training epochs", num({ int: true, min: 1 }), defaults.epochs)
    .option("--batch-size <n>", "examples per step", num({ int: true, min: 1, max: 65536 }), 128)
    .addOption(
      new Option("--optimizer <name>", "optimizer")
        .choices(["sgd", "nesterov", "adam", "adamw"])
        .default("sgd"),
    )
    .option("--lr <rate>", "learning rate", num({ min: 0, minExclusive: true, max: 100 }), defaults.lr)
    .option("--lr-schedule <spec>", "constant | exp:F | step:N:F | cosine | linear", "constant")
    .option("--momentum <spec>", "momentum, or a ramp start:end:epochs", "0.9")
    .option("--weight-decay <w>", "L2 weight decay on weights (decoupled for adamw)", num({ min: 0 }), 0)
    .option(
      "--max-norm <c>",
      "max-norm radius for each hidden unit's incoming weights (0: off)",
      num({ min: 0 }),
      0,
    )
    .option("--dropout-input <p>", "dropout rate on the inputs", rate, 0)
    .option("--dropout-hidden <p>", "dropout rate on hidden units", rate, 0)
    .option(
      "--jitter <pixels>",
      "random shifts of up to this many pixels",
      num({ int: true, min: 0, max: 8 }),
      0,
    )
    .option("--seed <n>", "random seed", num({ int: true, min: 0 }), 1)
    .option(
      "--threads <n>",
      "ONNX Runtime threads (default: all cores)",
      num({ int: true, min: 1, max: 256 }),
    )
    .option(
      "--steps-per-run <k>",
      "training steps traced into one graph run",
      num({ int: true, min: 1, max: 64 }),
      8,
    )
    .requiredOption("--out <file.onnx>", "where to write the trained model (ONNX)")
    .option("--checkpoint <file>", "checkpoint written after every epoch (default: <out>.ckpt)")
    .option("--resume", "continue from the checkpoint if it exists")
    .option("--log <file>", "JSON line per epoch (default: <out>.log.jsonl)")
    .addOption(
      new Option("--eval <set>", "evaluated after each epoch")
        .choices(["test", "val", "none"])
        .default("test"),
    )
    .option("--val <n>", "examples held out of training for validation", num({ int: true, min: 0 }), 0)
    .option("--json", "print the final summary as JSON")
    .option("--no-progress", "no progress bar");
}

export function modelFromFlags(f: TrainFlags, ds: Dataset, numClasses: number): Model {
  return parseArch(f.arch, ds.features, ds.exampleShape, numClasses, {
    ...NO_REG,
    inputDropout: f.dropoutInput,
    hiddenDropout: f.dropoutHidden,
  });
}

export function optimizerFromFlags(f: TrainFlags): OptimizerConfig {
  return { ...DEFAULT_OPTIMIZER, name: f.optimizer, weightDecay: f.weightDecay, maxNorm: f.maxNorm };
}

/** The engine flags as job options (everything but the model, data and objective). */
export function jobFromFlags(f: TrainFlags, bar: ProgressSink) {
  const quiet = f.json || (f.progress && process.stderr.isTTY);
  return {
    epochs: f.epochs,
    batchSize: f.batchSize,
    optimizer: optimizerFromFlags(f),
    lr: f.lr,
    lrSchedule: f.lrSchedule,
    momentum: f.momentum,
    jitter: f.jitter,
    seed: f.seed,
    ...(f.threads ? { threads: f.threads } : {}),
    stepsPerRun: f.stepsPerRun,
    evalEach: f.eval,
    out: f.out,
    checkpoint: f.checkpoint ?? `${f.out}.ckpt`,
    ...(f.resume ? { resume: true } : {}),
    logFile: f.log ?? `${f.out}.log.jsonl`,
    onProgress: bar.update,
    onEpoch: (e: EpochLog) => {
      if (!quiet) {
        const errors = e.evalErrors !== null ? `, ${f.eval} errors ${e.evalErrors}` : "";
        process.stderr.write(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${errors}\n`);
      }
    },
  } satisfies Partial<JobOptions>;
}
