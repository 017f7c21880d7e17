/** `train()`: a run's settings checked against its data, then the training core (core.ts) with the hooks they ask for. */
import { batchAugmenter, checkMixup, imageAugments } from "../data/augment.js";
import { gatherBatch } from "../data/batches.js";
import { checkCompatible, checkDataset } from "../data/checks.js";
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../nn/model.js";
import { checkObjective, type ObjectiveSpec, objective as obj } from "../objectives/index.js";
import type { OptimizerConfig } from "../optim/optimizers.js";
import { KdError } from "../util/errors.js";
import {
  type BatchFill,
  type EpochLog,
  type Hook,
  type Progress,
  type TeacherProvider,
  trainEpochs,
} from "./core.js";
import { divergence } from "./divergence.js";
import { checkpointHook, logHook } from "./files.js";
import { callbacks, validation } from "./hooks.js";
import type { ClassMetrics } from "./metrics.js";
import { lrSchedule, momentumSchedule } from "./schedule.js";
import type { TrainSettings } from "./settings.js";
import { stepInputs, weightsOf } from "./step.js";

export type { EpochLog, Progress, TeacherProvider };

/**
 * train()'s input: a run's training settings as the run schema resolved them (train/settings.ts;
 * `earlyStop` needs `evalSet`), with its model, data, optimizer, objective and the hooks' files.
 */
export interface TrainConfig extends Readonly<TrainSettings> {
  readonly model: Model;
  readonly train: Dataset;
  /** Evaluated after every epoch (a validation split, or the test set when asked for). */
  readonly evalSet?: Dataset;
  readonly optimizer: OptimizerConfig;
  readonly objective: ObjectiveSpec;
  readonly teacher?: TeacherProvider;
  readonly threads?: number;
  /** Steps traced into one graph run (default 8). */
  readonly stepsPerRun?: number;
  /** Written atomically after every epoch; with `resume`, read first. */
  readonly checkpoint?: string;
  readonly resume?: boolean;
  /** The run's checkpoint identity (runner/identity.ts); without it the trainer keys the checkpoint itself. */
  readonly identity?: { readonly key: string; readonly fields: Record<string, unknown> };
  /** A JSON line per epoch is appended here. */
  readonly logFile?: string;
  readonly onProgress?: (p: Progress) => void;
  readonly onEpoch?: (e: EpochLog) => void;
  /** Lines for the user: a resumed checkpoint, a first epoch at chance, a diverged run. */
  readonly onNote?: (msg: string) => void;
}

export interface TrainResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochLog[];
  /** Epochs actually run now (0 when a checkpoint already had them all). */
  readonly epochsRun: number;
  /** With early stopping: the epoch whose weights are returned. */
  readonly bestEpoch?: number;
  /** The eval set's metrics for the returned weights, when an eval set was measured at the end. */
  readonly evalMetrics?: ClassMetrics;
}

/** Examples of `ds` copied into a batch, augmented (jitter, crops, flips) when the run asks for it. */
function datasetBatches(ds: Dataset, cfg: TrainConfig): BatchFill {
  const aug = batchAugmenter(ds.exampleShape, cfg, cfg.batchSize);
  return {
    scratchBytes: aug?.scratchBytes ?? 0,
    fill(order, start, size, x, rng) {
      if (!aug) return gatherBatch(ds, order, start, size, x);
      aug.apply((into) => gatherBatch(ds, order, start, size, into), x, size, rng);
    },
  };
}

/** Refuses, in one line, data and settings that cannot train together. */
function checkConfig(cfg: TrainConfig): void {
  const { model, train: ds } = cfg;
  checkDataset(ds);
  if (cfg.evalSet) checkCompatible(ds, cfg.evalSet);
  const c = model.numClasses;
  const f = ds.features;
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  if (f !== features)
    throw new KdError(`${ds.name} has ${f} features per example; ${model.arch} takes ${features}`);
  if (ds.numClasses > c) throw new KdError(`${ds.name} has ${ds.numClasses} classes; the model has ${c}`);
  checkObjective(cfg.objective);
  const labeled = ds.y !== undefined;
  const uses = stepInputs({ objective: cfg.objective, labeled });
  if (obj.needsLabels(cfg.objective) && !labeled)
    throw new KdError(`${ds.name} has no labels; the ${cfg.objective.kind} objective needs them`);
  // train() is also a library entry taking a TrainConfig directly: the run schema
  // (experiment/schema.ts) owns these rules, and these are their one internal guard here.
  if (uses.teacher && !cfg.teacher) throw new Error("a teacher provider is required");
  if (cfg.earlyStop !== undefined && !cfg.evalSet?.y)
    throw new KdError("early stopping needs a labelled validation set to watch (never the test set)");
  if (cfg.jitter > 0 && ds.exampleShape.length < 2) throw new KdError("jitter needs image-shaped examples");
  if (imageAugments(cfg) && ds.exampleShape.length < 2)
    throw new KdError("crops and flips need image-shaped examples");
  checkMixup(cfg, cfg.objective.kind, uses);
  // Every batch of an epoch, the last (n mod batch size) included, must be one the model can take.
  const min = model.minTrainingBatch ?? 1;
  const last = ds.n % cfg.batchSize || cfg.batchSize;
  if (Math.min(ds.n, cfg.batchSize, last) < min)
    throw new KdError(
      `${model.arch} has batch norm, which needs training batches of at least ${min} examples; ${ds.name}'s ${ds.n} examples in batches of ${cfg.batchSize} leave one of ${Math.min(ds.n, cfg.batchSize, last)} (change the batch size or the example count)`,
    );
}

export async function train(cfg: TrainConfig): Promise<TrainResult> {
  checkConfig(cfg);
  const { model, train: ds } = cfg;
  const log = cfg.logFile ? logHook(cfg.logFile) : undefined;
  const checkpoint = cfg.checkpoint ? checkpointHook({ ...cfg, checkpoint: cfg.checkpoint }) : undefined;
  const threads = cfg.threads ? { threads: cfg.threads } : {};
  const earlyStop = cfg.earlyStop !== undefined ? { earlyStop: cfg.earlyStop } : {};
  const val = cfg.evalSet ? validation(model, cfg.evalSet, { ...threads, ...earlyStop }) : undefined;
  const judgeTrain =
    ds.y !== undefined && stepInputs({ objective: cfg.objective, labeled: ds.y !== undefined }).labels;
  const div = divergence(ds, model, {
    judgeTrain,
    ...(cfg.evalSet ? { evalSet: cfg.evalSet } : {}),
    ...(cfg.onNote ? { onNote: cfg.onNote } : {}),
  });
  const hooks = [val, div.flag, checkpoint, log, callbacks(cfg), div.notes].filter((h): h is Hook => !!h);
  const { loop, ran } = await trainEpochs(
    {
      model,
      train: ds,
      batches: datasetBatches(ds, cfg),
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      optimizer: cfg.optimizer,
      lr: lrSchedule(cfg.lr, cfg.lrSchedule),
      momentum: momentumSchedule(cfg.momentum),
      seed: cfg.seed,
      objective: cfg.objective,
      ...(cfg.teacher ? { teacher: cfg.teacher } : {}),
      ...threads,
      ...(cfg.stepsPerRun !== undefined ? { stepsPerRun: cfg.stepsPerRun } : {}),
    },
    hooks,
  );
  return {
    params: weightsOf(loop.state),
    history: loop.history,
    epochsRun: ran,
    ...(loop.best ? { bestEpoch: loop.best.epoch } : {}),
    ...(val?.metrics ? { evalMetrics: val.metrics } : {}),
  };
}
