/** The training loop: shuffled batches, jitter, schedules, K-step graph runs, evaluation, logs, checkpoints. */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { jitter } from "../data/augment.js";
import { gatherBatch } from "../data/batches.js";
import type { Dataset } from "../data/dataset.js";
import { initParam } from "../nn/layers.js";
import type { Model } from "../nn/model.js";
import type { OptimizerConfig } from "../optim/optimizers.js";
import { ensureWritableDir } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import { Forward } from "./forward.js";
import { classMetrics } from "./metrics.js";
import { lrSchedule, momentumSchedule } from "./schedule.js";
import {
  type Batch,
  type Objective,
  type StepHyper,
  type TrainState,
  TrainStep,
  usesLabels,
  usesTeacher,
} from "./step.js";

/** Where the teacher's logits for a batch come from (see distill/teacher.ts). */
export interface TeacherProvider {
  /** Identifies the teacher (file hashes, ensemble mode): part of the resume fingerprint. */
  readonly id: string;
  /**
   * Logits of the batch's examples: `indices` are rows of the transfer set, `x` holds them as
   * the student sees them (after jitter). Written into `out` ([size, classes]).
   */
  logits(indices: Int32Array, x: Float32Array, size: number, out: Float32Array): Promise<void>;
}

export interface TrainConfig {
  readonly model: Model;
  readonly train: Dataset;
  /** Evaluated after every epoch (a validation split, or the test set when asked for). */
  readonly evalSet?: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  readonly lr: number;
  /** See schedule.ts: "constant", "exp:0.98", "step:10:0.5", "cosine", "linear". */
  readonly lrSchedule: string;
  /** "0.9" or a ramp "0.5:0.99:10". */
  readonly momentum: string;
  /** Random shifts of up to this many pixels in each direction (0: off). */
  readonly jitter: number;
  readonly seed: number;
  readonly objective: Objective;
  readonly teacher?: TeacherProvider;
  readonly threads?: number;
  /** Steps traced into one graph run (default 8). */
  readonly stepsPerRun?: number;
  /** Written atomically after every epoch; with `resume`, read first. */
  readonly checkpoint?: string;
  readonly resume?: boolean;
  /** A JSON line per epoch is appended here. */
  readonly logFile?: string;
  readonly onProgress?: (p: Progress) => void;
  readonly onEpoch?: (e: EpochLog) => void;
}

export interface Progress {
  readonly epoch: number;
  readonly epochs: number;
  readonly seen: number;
  readonly total: number;
  readonly loss: number;
  readonly accuracy: number | undefined;
  readonly examplesPerSec: number;
}

export interface EpochLog {
  readonly epoch: number;
  readonly loss: number;
  readonly soft: number;
  readonly hard: number;
  readonly trainAccuracy: number | null;
  readonly evalErrors: number | null;
  readonly evalAccuracy: number | null;
  readonly lr: number;
  readonly momentum: number;
  readonly seconds: number;
  readonly examplesPerSec: number;
}

export interface TrainResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochLog[];
  /** Epochs actually run now (0 when a checkpoint already had them all). */
  readonly epochsRun: number;
}

/** What must match for a checkpoint to be resumed (the epoch count may grow). */
function fingerprint(cfg: TrainConfig): string {
  const { model, train, optimizer, objective } = cfg;
  const data = createHash("sha256").update(
    new Uint8Array(train.x.buffer, train.x.byteOffset, train.x.byteLength),
  );
  if (train.y) data.update(new Uint8Array(train.y.buffer, train.y.byteOffset, train.y.byteLength));
  const key = {
    arch: model.arch,
    reg: model.reg,
    classes: model.numClasses,
    data: [train.n, train.features, data.digest("hex")],
    teacher: cfg.teacher?.id ?? null,
    // These schedules stretch over the run, so its length is part of what it is.
    epochs: /^(cosine|linear)/.test(cfg.lrSchedule) ? cfg.epochs : null,
    optimizer,
    objective,
    lr: [cfg.lr, cfg.lrSchedule, cfg.momentum],
    batch: cfg.batchSize,
    jitter: cfg.jitter,
    seed: cfg.seed,
  };
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
}

function lastGood(cfg: TrainConfig, epoch: number): string {
  return cfg.checkpoint && epoch > 0
    ? `; the last good checkpoint (epoch ${epoch}) is kept at ${cfg.checkpoint}`
    : "";
}

function oneHot(
  labels: Int32Array,
  order: Int32Array,
  start: number,
  size: number,
  c: number,
  out: Float32Array,
): void {
  out.fill(0, 0, size * c);
  for (let i = 0; i < size; i++) out[i * c + labels[order[start + i]!]!] = 1;
}

export async function train(cfg: TrainConfig): Promise<TrainResult> {
  const { model, train: ds, batchSize: B } = cfg;
  const c = model.numClasses;
  const f = ds.features;
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  if (f !== features)
    throw new KdError(`${ds.name} has ${f} features per example; ${model.arch} takes ${features}`);
  if (ds.numClasses > c) throw new KdError(`${ds.name} has ${ds.numClasses} classes; the model has ${c}`);
  if (usesLabels(cfg.objective) && !ds.y)
    throw new KdError(`${ds.name} has no labels; this objective needs them`);
  if (usesTeacher(cfg.objective) && !cfg.teacher) throw new Error("a teacher provider is required");
  if (cfg.jitter > 0 && ds.exampleShape.length < 2) throw new KdError("jitter needs image-shaped examples");
  if (cfg.logFile) ensureWritableDir(cfg.logFile, "log file");
  if (cfg.checkpoint) ensureWritableDir(cfg.checkpoint, "checkpoint");
  const lrOf = lrSchedule(cfg.lr, cfg.lrSchedule);
  const momOf = momentumSchedule(cfg.momentum);
  const K = Math.max(1, cfg.stepsPerRun ?? 8);
  const stepOpts = {
    model,
    optimizer: cfg.optimizer,
    objective: cfg.objective,
    ...(cfg.threads ? { threads: cfg.threads } : {}),
  };

  // Fresh start, or everything a finished epoch left behind.
  // Hashing the data costs a pass over it: only runs that checkpoint need the fingerprint.
  const print = cfg.checkpoint ? fingerprint(cfg) : "";
  let rng = new Rng(cfg.seed);
  const initRng = rng.fork(1);
  const single = await TrainStep.compile({ ...stepOpts, stepsPerRun: 1 });
  const multi = K > 1 ? await TrainStep.compile({ ...stepOpts, stepsPerRun: K }) : single;
  let state: TrainState = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, initRng)])),
    opt: single.initialOptState(),
  };
  let startEpoch = 0;
  let globalStep = 0;
  let history: EpochLog[] = [];
  if (cfg.resume && cfg.checkpoint && existsSync(cfg.checkpoint)) {
    const ck = readCheckpoint(cfg.checkpoint);
    if (ck.header.fingerprint !== print)
      throw new KdError(
        `${cfg.checkpoint} belongs to a run with other settings; remove it or change --checkpoint`,
      );
    if (ck.header.epoch > cfg.epochs)
      throw new KdError(
        `${cfg.checkpoint} has ${ck.header.epoch} epochs already, more than the ${cfg.epochs} asked for`,
      );
    const params = new Map<string, Float32Array>();
    const opt = new Map<string, Float32Array>();
    for (const [k, v] of ck.tensors) (k.startsWith("state/") ? opt : params).set(k, v);
    state = { params, opt };
    startEpoch = ck.header.epoch;
    globalStep = ck.header.step;
    rng = new Rng(ck.header.rng);
    history = ck.header.history as unknown as EpochLog[];
  }
  // The log holds exactly the epochs behind the state we start from (a kill between a log line
  // and its checkpoint must not leave a duplicate line).
  if (cfg.logFile) writeFileSync(cfg.logFile, history.map((h) => `${JSON.stringify(h)}\n`).join(""));

  const forward = cfg.evalSet
    ? await Forward.compile(model, cfg.threads ? { threads: cfg.threads } : {})
    : undefined;
  const xBuf = new Float32Array(K * B * f);
  const rawBuf = cfg.jitter > 0 ? new Float32Array(B * f) : undefined;
  const tBuf = new Float32Array(K * B * c);
  const teachBuf = new Float32Array(K * B * c);
  const [rows, cols] = ds.exampleShape.slice(-2) as [number, number];

  try {
    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      const t0 = performance.now();
      const lr = lrOf(epoch, cfg.epochs);
      const momentum = momOf(epoch, cfg.epochs);
      const order = rng.permutation(ds.n);
      const sums = { loss: 0, soft: 0, hard: 0, correct: 0 };
      let seen = 0;
      let start = 0;
      while (start < ds.n) {
        const fullLeft = Math.floor((ds.n - start) / B);
        const step = fullLeft >= K ? multi : single;
        const batches: Batch[] = [];
        const hypers: StepHyper[] = [];
        for (let j = 0; j < step.steps; j++) {
          const size = Math.min(B, ds.n - start);
          const x = xBuf.subarray(j * B * f, (j * B + size) * f);
          if (rawBuf) {
            gatherBatch(ds, order, start, size, rawBuf);
            jitter(rawBuf, x, size, rows, cols, cfg.jitter, rng);
          } else gatherBatch(ds, order, start, size, x);
          const targets =
            ds.y && usesLabels(cfg.objective) ? tBuf.subarray(j * B * c, (j * B + size) * c) : undefined;
          if (targets) oneHot(ds.y!, order, start, size, c, targets);
          let teacher: Float32Array | undefined;
          if (cfg.teacher && usesTeacher(cfg.objective)) {
            teacher = teachBuf.subarray(j * B * c, (j * B + size) * c);
            await cfg.teacher.logits(order.subarray(start, start + size), x, size, teacher);
          }
          batches.push({ x, size, ...(targets ? { targets } : {}), ...(teacher ? { teacher } : {}) });
          globalStep++;
          const b1 = cfg.optimizer.beta1;
          const b2 = cfg.optimizer.beta2;
          hypers.push({
            lr,
            momentum,
            c1: 1 / (1 - b1 ** globalStep),
            c2: 1 / (1 - b2 ** globalStep),
            seed: rng.nextU32(),
          });
          start += size;
        }
        const metrics = await step.run(state, batches, hypers);
        metrics.forEach((m, j) => {
          if (!Number.isFinite(m.loss))
            throw new KdError(
              `loss became ${m.loss} at epoch ${epoch + 1}, step ${globalStep - metrics.length + j + 1}` +
                lastGood(cfg, epoch),
            );
          const size = batches[j]!.size;
          sums.loss += m.loss * size;
          sums.soft += m.soft * size;
          sums.hard += m.hard * size;
          sums.correct += m.correct;
          seen += size;
        });
        const secs = (performance.now() - t0) / 1000;
        cfg.onProgress?.({
          epoch: epoch + 1,
          epochs: cfg.epochs,
          seen,
          total: ds.n,
          loss: sums.loss / seen,
          accuracy: ds.y && usesLabels(cfg.objective) ? sums.correct / seen : undefined,
          examplesPerSec: seen / secs,
        });
      }
      const trainSecs = (performance.now() - t0) / 1000;
      let evalErrors: number | null = null;
      let evalAccuracy: number | null = null;
      if (forward && cfg.evalSet?.y) {
        const logits = await forward.logits(state.params, cfg.evalSet.x, cfg.evalSet.n);
        const m = classMetrics(logits, cfg.evalSet.y, c);
        evalErrors = m.errors;
        evalAccuracy = m.accuracy;
      }
      const log: EpochLog = {
        epoch: epoch + 1,
        loss: sums.loss / seen,
        soft: sums.soft / seen,
        hard: sums.hard / seen,
        trainAccuracy: ds.y && usesLabels(cfg.objective) ? sums.correct / seen : null,
        evalErrors,
        evalAccuracy,
        lr,
        momentum,
        seconds: (performance.now() - t0) / 1000,
        examplesPerSec: ds.n / trainSecs,
      };
      // An update after the last checked loss may still have diverged: never checkpoint NaN weights.
      for (const [name, w] of state.params)
        if (!w.every(Number.isFinite))
          throw new KdError(
            `parameter ${name} became non-finite in epoch ${epoch + 1}${lastGood(cfg, epoch)}`,
          );
      history.push(log);
      if (cfg.logFile) appendFileSync(cfg.logFile, `${JSON.stringify(log)}\n`);
      if (cfg.checkpoint) {
        const tensors = new Map([...state.params, ...state.opt]);
        writeCheckpoint(
          cfg.checkpoint,
          {
            fingerprint: print,
            epoch: epoch + 1,
            step: globalStep,
            rng: rng.state(),
            history: history as unknown as Record<string, unknown>[],
          },
          tensors,
        );
      }
      cfg.onEpoch?.(log);
    }
  } finally {
    // Sessions hold native memory: free them on every exit, a diverged run's included.
    await Promise.all([single.release(), multi !== single ? multi.release() : undefined, forward?.release()]);
  }
  return { params: state.params, history, epochsRun: Math.max(0, cfg.epochs - startEpoch) };
}
