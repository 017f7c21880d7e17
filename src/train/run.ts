/** A whole training job as the CLI runs it: split, train, export, evaluate; the library's one-call API. */
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../nn/model.js";
import type { OptimizerConfig } from "../optim/optimizers.js";
import { ensureWritableDir } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { Forward, saveModel } from "./forward.js";
import { type ClassMetrics, classMetrics } from "./metrics.js";
import type { Objective } from "./step.js";
import { type EpochLog, type Progress, type TeacherProvider, train } from "./trainer.js";

export interface JobOptions {
  readonly model: Model;
  /** Training (or transfer) set. */
  readonly train: Dataset;
  readonly test?: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  readonly lr: number;
  readonly lrSchedule: string;
  readonly momentum: string;
  readonly jitter: number;
  readonly seed: number;
  readonly objective: Objective;
  /** Builds the teacher provider for the final training set (after the validation split). */
  readonly teacher?: (train: Dataset) => Promise<TeacherProvider>;
  readonly threads?: number;
  readonly stepsPerRun?: number;
  /** Held-out validation set (see distill/transfer.ts holdOut), measured at the end. */
  readonly val?: Dataset;
  /** Which set is evaluated after each epoch. */
  readonly evalEach?: "test" | "val" | "none";
  /** Output ONNX file; written atomically at the end. */
  readonly out?: string;
  readonly checkpoint?: string;
  readonly resume?: boolean;
  readonly logFile?: string;
  readonly metadata?: Record<string, string>;
  readonly onProgress?: (p: Progress) => void;
  readonly onEpoch?: (e: EpochLog) => void;
}

export interface JobResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochLog[];
  readonly test?: ClassMetrics;
  readonly val?: ClassMetrics;
  readonly valSet?: Dataset;
  readonly seconds: number;
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  const t0 = performance.now();
  if (o.out) ensureWritableDir(o.out, "output");
  const trainSet = o.train;
  const valSet = o.val;
  if (o.evalEach === "val" && !valSet) throw new KdError("--eval val needs --val N");
  const evalSet = o.evalEach === "val" ? valSet : o.evalEach === "none" ? undefined : o.test;
  const teacher = o.teacher ? await o.teacher(trainSet) : undefined;
  const res = await train({
    model: o.model,
    train: trainSet,
    ...(evalSet ? { evalSet } : {}),
    epochs: o.epochs,
    batchSize: o.batchSize,
    optimizer: o.optimizer,
    lr: o.lr,
    lrSchedule: o.lrSchedule,
    momentum: o.momentum,
    jitter: o.jitter,
    seed: o.seed,
    objective: o.objective,
    ...(teacher ? { teacher } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.stepsPerRun ? { stepsPerRun: o.stepsPerRun } : {}),
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.resume ? { resume: o.resume } : {}),
    ...(o.logFile ? { logFile: o.logFile } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
  });
  if (o.out) saveModel(o.out, o.model, res.params, o.metadata);
  const fwd = await Forward.compile(o.model, o.threads ? { threads: o.threads } : {});
  const measure = async (ds: Dataset | undefined) =>
    ds?.y ? classMetrics(await fwd.logits(res.params, ds.x, ds.n), ds.y, o.model.numClasses) : undefined;
  const test = await measure(o.test);
  const val = await measure(valSet);
  await fwd.release();
  return {
    params: res.params,
    history: res.history,
    ...(test ? { test } : {}),
    ...(val ? { val } : {}),
    ...(valSet ? { valSet } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}
