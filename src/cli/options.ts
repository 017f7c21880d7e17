/** Flag parsing shared by the commands: validated numbers and lists, data sources, training flags. */
import { type Command, InvalidArgumentError, Option } from "commander";
import { MAX_CLASSES } from "../data/checks.js";
import { type Dataset, loadIdxDataset, loadMnist } from "../data/dataset.js";
import { type Model, NO_REG, parseArch } from "../nn/model.js";
import { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerName } from "../optim/optimizers.js";
import type { JobOptions } from "../train/run.js";
import type { EpochLog } from "../train/trainer.js";
import { KdError } from "../util/errors.js";
import type { ProgressSink } from "./progress.js";

type Parser<T> = (value: string) => T;

/** Whole numbers as people write them: optional minus, decimal digits. */
const WHOLE = /^-?\d+$/;
/**
 * Real numbers in plain decimal, with an optional exponent (1e-4 is how learning rates are written).
 * Number() would also take "0x10", "0b11", "0o7", "Infinity" and " ", which no one means as a flag.
 */
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * A number parser with bounds; commander prints its message as one line and exits non-zero.
 * Whole-number flags take decimal digits only (no "0x10", "1e3" or "2.0"); others take plain decimal
 * with an optional exponent. Surrounding spaces are ignored.
 */
export function num(
  opts: { int?: boolean; min?: number; max?: number; minExclusive?: boolean } = {},
): Parser<number> {
  return (raw) => {
    const v = raw.trim();
    const n = Number(v);
    const ok =
      (opts.int ? WHOLE : DECIMAL).test(v) &&
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

/**
 * A list of class numbers such as "3" or "7,8": every item a whole number in 0..MAX_CLASSES-1,
 * none empty ("3," and "" are refused, not read as class 0), none repeated. Whether the classes
 * exist in the data is checked later, against it (data/checks.ts checkClasses).
 */
export const classList: Parser<number[]> = (v) => {
  const items = v.split(",").map((s) => s.trim());
  if (items.some((s) => s === ""))
    throw new InvalidArgumentError(`expected class numbers like 3 or 7,8, got an empty item in "${v}"`);
  const xs: number[] = [];
  for (const s of items) {
    if (!/^\d+$/.test(s) || Number(s) >= MAX_CLASSES)
      throw new InvalidArgumentError(
        `expected class numbers like 3 or 7,8 (each 0 to ${MAX_CLASSES - 1}), got "${s}"`,
      );
    const k = Number(s);
    if (xs.includes(k)) throw new InvalidArgumentError(`class ${k} is listed twice`);
    xs.push(k);
  }
  return xs;
};

/** A comma-separated list of whole numbers, each checked by num(opts), e.g. thread counts "1,2". */
export function intList(opts: { min?: number; max?: number } = {}): Parser<number[]> {
  const one = num({ ...opts, int: true });
  return (v) => {
    const items = v.split(",").map((s) => s.trim());
    if (items.some((s) => s === ""))
      throw new InvalidArgumentError(`expected whole numbers like 1,2, got an empty item in "${v}"`);
    return items.map((s) => {
      try {
        return one(s);
      } catch (e) {
        throw new InvalidArgumentError(`"${s}": ${(e as Error).message}`);
      }
    });
  };
}

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
