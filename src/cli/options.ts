/** Flag parsing shared by the commands: validated numbers and lists, data sources, training flags. */
import { dirname, join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { stringify } from "yaml";
import type { RunRecord } from "../analyses/results.js";
import { MAX_CLASSES } from "../data/checks.js";
import type { Dataset } from "../data/dataset.js";
import { DataCatalog, type DatasetSpec } from "../data/sources.js";
import { validateSpec } from "../experiment/load.js";
import { ARCH_USAGE, parseArchSpec } from "../nn/registry.js";
import type { OptimizerName } from "../optim/optimizers.js";
import { OPTIMIZERS } from "../optim/registry.js";
import { executeSpec } from "../runner/execute.js";
import { fileName } from "../runner/plan.js";
import { parseLrSchedule, parseMomentum } from "../train/schedule.js";
import type { JobSettings, TrainSettings } from "../train/settings.js";
import { KdError } from "../util/errors.js";
import { checkOutputPaths, safeMkdir } from "../util/paths.js";
import { addLoadOptions, type LoadFlags, loadFlags } from "./commands/load-options.js";
import { interruptHandler } from "./interrupt.js";
import { progressPrinter } from "./progress.js";

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

export interface DataFlags extends LoadFlags {
  train?: string;
  trainImages?: string;
  trainLabels?: string;
  test?: string;
  testImages?: string;
  testLabels?: string;
}

/** The data flags of train and distill: files of any format, and the loader flags of predict/summary/quantize. */
export function addDataOptions(cmd: Command): Command {
  cmd
    .option(
      "--train <path>",
      "training data: a class-folder of images, CSV, NPY, NPZ or IDX (default: MNIST)",
    )
    .option("--train-labels <path>", "labels for --train (NPY or IDX)")
    .option("--test <path>", "test data, in any of those formats (default: MNIST's test set)")
    .option("--test-labels <path>", "labels for --test")
    .option("--train-images <path>", "the same as --train (kept for IDX users)")
    .option("--test-images <path>", "the same as --test");
  return addLoadOptions(cmd);
}

/** The data file a split names (`--train` or its alias `--train-images`). */
export function dataPath(flags: DataFlags, split: "train" | "test"): string | undefined {
  return split === "train" ? (flags.train ?? flags.trainImages) : (flags.test ?? flags.testImages);
}

/** A dataset spec for `--<split>` (any format, told from the path), or MNIST's split. */
export function dataSource(flags: DataFlags, split: "train" | "test"): DatasetSpec {
  const path = dataPath(flags, split);
  const labels = split === "train" ? flags.trainLabels : flags.testLabels;
  if (!path) {
    if (labels) throw new KdError(`--${split}-labels given without --${split}`);
    return { source: { kind: "mnist", split } };
  }
  return { source: { kind: "file", path, ...(labels ? { labels } : {}), ...loadFlags(flags) } };
}

/** The flags of `kd train`/`kd distill`: those of the run's settings keep their types (train/settings.ts). */
export interface TrainFlags
  extends Pick<TrainSettings, "epochs" | "batchSize" | "lr" | "jitter" | "seed" | "earlyStop">,
    Pick<JobSettings, "bakePreprocessing"> {
  arch: string;
  optimizer: OptimizerName;
  /** Short forms, parsed into the spec's schedules (train/schedule.ts). */
  lrSchedule: string;
  momentum: string;
  weightDecay: number;
  maxNorm: number;
  dropoutInput: number;
  dropoutHidden: number;
  /** The run's `augment` setting, written only when one is on. */
  crop: number;
  flip?: boolean;
  /** `kd distill --mixup` only (function matching). */
  mixup?: number;
  standardize?: boolean;
  threads?: number;
  stepsPerRun: number;
  out?: string;
  checkpoint?: string | false;
  keepCheckpoints?: boolean;
  resume?: boolean;
  log?: string;
  eval?: JobSettings["evalEach"];
  val: number;
  count?: number;
  fraction?: number;
  printSpec?: boolean;
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
    .option("--arch <arch>", `architecture: ${ARCH_USAGE}`, defaults.arch)
    .option("--epochs <n>", "training epochs", num({ int: true, min: 1, max: 100000 }), defaults.epochs)
    .option("--batch-size <n>", "examples per step", num({ int: true, min: 1, max: 65536 }), 128)
    .addOption(new Option("--optimizer <name>", "optimizer").choices(Object.keys(OPTIMIZERS)).default("sgd"))
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
    .option(
      "--crop <pixels>",
      "random crops of the image's size from it padded with this many zeros a side",
      num({ int: true, min: 0, max: 16 }),
      0,
    )
    .option("--flip", "random horizontal flips (wrong for digits)")
    .option(
      "--standardize",
      "standardise inputs with the training set's mean and std (per feature; per channel for images), as the model's first step",
    )
    .option(
      "--bake-preprocessing",
      "bake the preprocessing into the exported model, so it takes raw values (8-bit pixels, raw features)",
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
    .option(
      "--count <n>",
      "train on this many examples, drawn at random (stratified)",
      num({ int: true, min: 1 }),
    )
    .option(
      "--fraction <f>",
      "train on this fraction of the examples (stratified)",
      num({ min: 0, minExclusive: true, max: 1 }),
    )
    .option(
      "--out <file.onnx>",
      "where to write the trained model (ONNX; default runs/<command>-<arch>.onnx)",
    )
    .option("--checkpoint <file>", "checkpoint written after every epoch (default: <out>.ckpt)")
    .option("--no-checkpoint", "write no checkpoint")
    .option("--keep-checkpoints", "keep the checkpoint after the run finishes")
    .option(
      "--resume",
      "continue from the checkpoint if it exists (one from other settings is refused); without --resume it is discarded",
    )
    .option("--log <file>", "JSON line per epoch (default: <out>.log.jsonl)")
    .addOption(
      new Option("--eval <set>", "evaluated after each epoch (default: val with --val, else test)").choices([
        "test",
        "val",
        "none",
      ]),
    )
    .option("--val <n>", "examples held out of training for validation", num({ int: true, min: 0 }), 0)
    .option(
      "--early-stop <n>",
      "stop when validation errors have not improved for n epochs; keep the best weights (needs --val)",
      num({ int: true, min: 1 }),
    )
    .option("--print-spec", "print the run as a spec file (YAML) and exit")
    .option("--json", "print the final summary as JSON")
    .option("--no-progress", "no progress bar");
}

/** `--out`, or runs/<command>-<arch>.onnx ("runs/train-mlp-800-800.onnx"), its folder made when training starts. */
export function outPath(f: Pick<TrainFlags, "out" | "arch">, command: string): string {
  if (f.out !== undefined) return f.out;
  const arch = f.arch.trim().replace(/[:,]+/g, "-").replace(/-$/, "");
  return join("runs", `${fileName(`${command}-${arch}`)}.onnx`);
}

/**
 * The one-run spec a `kd train`/`kd distill` command line stands for: the same path as a spec
 * file. `extra` adds the objective, teachers and transfer-set steps.
 */
export function oneRunSpec(
  f: TrainFlags & DataFlags,
  name: string,
  extra: { train?: DatasetSpec; run?: Record<string, unknown>; metadata?: Record<string, string> } = {},
) {
  if (f.count !== undefined && f.fraction !== undefined)
    throw new KdError("give --count or --fraction, not both");
  const base = extra.train ?? dataSource(f, "train");
  const data: Record<string, DatasetSpec> = { all: base, test: dataSource(f, "test") };
  const holdout = f.val > 0 ? { holdout: { count: f.val, seed: f.seed } } : {};
  const take =
    f.count !== undefined || f.fraction !== undefined
      ? {
          take: { ...(f.count !== undefined ? { count: f.count } : { fraction: f.fraction! }), seed: f.seed },
        }
      : {};
  const { transfer, ...runExtra } = (extra.run ?? {}) as { transfer?: Record<string, unknown> };
  data.train = {
    from: "all",
    ...(f.val > 0 ? { holdout: { ...holdout.holdout, part: "train" } } : {}),
    ...transfer,
    ...take,
  } as DatasetSpec;
  if (f.val > 0) data.val = { from: "all", holdout: { count: f.val, seed: f.seed, part: "val" } };
  const out = outPath(f, name);
  const checkpoint = f.checkpoint === false ? undefined : (f.checkpoint ?? `${out}.ckpt`);
  return {
    name,
    data,
    runs: {
      [name]: {
        model: parseArchSpec(f.arch, { input: f.dropoutInput, hidden: f.dropoutHidden }),
        train: "train",
        test: "test",
        ...(f.val > 0 ? { val: "val" } : {}),
        ...(f.eval ? { evalEach: f.eval } : {}),
        optimizer: { kind: f.optimizer, weightDecay: f.weightDecay, maxNorm: f.maxNorm },
        lr: f.lr,
        lrSchedule: parseLrSchedule(f.lrSchedule, "--lr-schedule"),
        momentum: parseMomentum(f.momentum, "--momentum"),
        epochs: f.epochs,
        batchSize: f.batchSize,
        jitter: f.jitter,
        ...(f.crop > 0 || f.flip || f.mixup
          ? {
              augment: { crop: f.crop, flip: f.flip === true, ...(f.mixup ? { mixup: f.mixup } : {}) },
            }
          : {}),
        ...(f.standardize ? { standardize: true } : {}),
        ...(f.bakePreprocessing ? { bakePreprocessing: true } : {}),
        seed: f.seed,
        ...(f.earlyStop !== undefined ? { earlyStop: f.earlyStop } : {}),
        out,
        checkpoint: checkpoint ?? false,
        log: f.log ?? `${out}.log.jsonl`,
        ...(extra.metadata ? { metadata: extra.metadata } : {}),
        ...runExtra,
      },
    },
  };
}

/** Runs a one-run spec the way `kd run` would, minus the results folder; prints the spec instead with --print-spec. */
export async function runOneRunSpec(
  raw: ReturnType<typeof oneRunSpec>,
  f: TrainFlags & DataFlags,
  cacheDir?: string,
  inputs: readonly (string | undefined)[] = [],
): Promise<RunRecord | undefined> {
  const { spec } = validateSpec(raw, "command line");
  const r = Object.values(spec.runs)[0]!;
  const outputs = { "--out": r.out, "--checkpoint": r.checkpoint || undefined, "--log": r.log };
  // Their folders are made as `kd run` makes its output folder (not for --print-spec, which writes nothing).
  if (!f.printSpec)
    for (const path of Object.values(outputs)) if (path) safeMkdir(dirname(path), "output folder");
  // Every output is checked before any training: not a folder, not an input file, not each other.
  checkOutputPaths(outputs, [
    dataPath(f, "train"),
    f.trainLabels,
    dataPath(f, "test"),
    f.testLabels,
    ...inputs,
  ]);
  if (f.printSpec) {
    process.stdout.write(stringify(raw));
    return undefined;
  }
  const run = Object.values(spec.runs)[0]!;
  // Without a checkpoint to resume there is nothing to reuse; without --resume a stale one is discarded.
  if (!f.resume && typeof run.checkpoint === "string") {
    const { rmSync } = await import("node:fs");
    rmSync(run.checkpoint, { force: true });
  }
  const printer = progressPrinter({ bar: f.progress, quiet: f.json === true });
  const interrupt = interruptHandler({
    checkpoint: typeof run.checkpoint === "string" ? run.checkpoint : undefined,
    epochs: run.epochs,
    before: printer.stop,
  });
  try {
    const results = await executeSpec(
      { spec, baseDir: process.cwd(), profile: null, paper: {}, file: "command line" },
      {
        outDir: process.cwd(),
        persist: false,
        force: true,
        ...(f.keepCheckpoints ? { keepCheckpoints: true } : {}),
        ...(f.threads ? { threads: f.threads } : {}),
        stepsPerRun: f.stepsPerRun,
        ...(cacheDir ? { cacheDir } : {}),
        onEvent: (e) => {
          interrupt.track(e);
          printer.event(e);
        },
      },
    );
    const failed = Object.values(results.failed)[0];
    if (failed) throw new KdError(failed);
    return Object.values(results.runs)[0];
  } finally {
    interrupt.dispose();
    printer.stop();
  }
}

/** Loads `--<split>-images/labels` (or MNIST's split) for commands that only read data. */
export function loadData(flags: DataFlags, split: "train" | "test"): Dataset {
  return new DataCatalog({ [split]: dataSource(flags, split) }, process.cwd()).get(split);
}
