/** The training loop: shuffled batches, jitter, schedules, K-step graph runs, evaluation, logs, checkpoints. */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { jitterImages } from "../data/augment.js";
import { gatherBatch } from "../data/batches.js";
import { checkCompatible, checkDataset } from "../data/checks.js";
import type { Dataset } from "../data/dataset.js";
import { initParam } from "../nn/layers.js";
import type { Model } from "../nn/model.js";
import { checkObjective, type ObjectiveSpec, objective as obj } from "../objectives/index.js";
import type { OptimizerConfig } from "../optim/optimizers.js";
import { ensureWritableDir } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import { Rng } from "../util/rng.js";
import { checkCheckpointTensors, checkResumable, readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import {
  atChance,
  chanceOf,
  divergedNote,
  FIRST_JUDGED_EPOCH,
  firstEpochHint,
  remedy,
} from "./divergence.js";
import { Forward } from "./forward.js";
import { type ClassMetrics, classMetrics, meanCrossEntropy } from "./metrics.js";
import {
  type LrScheduleSpec,
  lrSchedule,
  lrScheduleUsesLength,
  type MomentumSpec,
  momentumSchedule,
} from "./schedule.js";
import { type Batch, type StepHyper, stepInputs, type TrainState, TrainStep } from "./step.js";

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
  readonly lrSchedule: LrScheduleSpec;
  readonly momentum: MomentumSpec;
  /** Random shifts of up to this many pixels in each direction (0: off). */
  readonly jitter: number;
  readonly seed: number;
  readonly objective: ObjectiveSpec;
  /**
   * Stop when the eval set's errors have not improved for this many epochs, and return the best
   * epoch's weights (Keras' EarlyStopping with restore_best_weights). Needs `evalSet`.
   */
  readonly earlyStop?: number;
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
  /** The objective's parts (e.g. soft and hard), averaged over the epoch's examples. */
  readonly parts: Readonly<Record<string, number>>;
  readonly trainAccuracy: number | null;
  readonly evalErrors: number | null;
  readonly evalAccuracy: number | null;
  /** Mean cross-entropy on the eval set (absent in logs written before kd measured it). */
  readonly evalLoss?: number | null;
  readonly lr: number;
  readonly momentum: number;
  readonly seconds: number;
  readonly examplesPerSec: number;
  /** Set when this epoch's accuracy is at chance (see divergence.ts); absent otherwise. */
  readonly diverged?: true;
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
    epochs: lrScheduleUsesLength(cfg.lrSchedule) ? cfg.epochs : null,
    optimizer,
    objective,
    lr: [cfg.lr, cfg.lrSchedule, cfg.momentum],
    earlyStop: cfg.earlyStop ?? null,
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
  if (uses.teacher && !cfg.teacher) throw new Error("a teacher provider is required");
  if (cfg.earlyStop !== undefined && !cfg.evalSet?.y)
    throw new KdError("early stopping needs a labelled validation set to watch");
  const warmup = obj.warmup(cfg.objective);
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
    labeled,
    ...(cfg.threads ? { threads: cfg.threads } : {}),
  };

  // Fresh start, or everything a finished epoch left behind.
  // Hashing the data costs a pass over it: only runs that checkpoint need the fingerprint.
  const print = cfg.checkpoint ? (cfg.identity?.key ?? fingerprint(cfg)) : "";
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
  let best: { epoch: number; errors: number; params: Map<string, Float32Array> } | undefined;
  if (cfg.resume && cfg.checkpoint && existsSync(cfg.checkpoint)) {
    const ck = readCheckpoint(cfg.checkpoint);
    checkResumable(cfg.checkpoint, ck.header, print, cfg.identity?.fields);
    const expected = new Map([...state.params, ...state.opt].map(([k, v]) => [k, v.length]));
    if (ck.header.best) for (const [k, v] of state.params) expected.set(`${BEST}${k}`, v.length);
    checkCheckpointTensors(cfg.checkpoint, ck, expected);
    if (ck.header.epoch > cfg.epochs)
      throw new KdError(
        `${cfg.checkpoint} has ${ck.header.epoch} epochs already, more than the ${cfg.epochs} asked for`,
      );
    const params = new Map<string, Float32Array>();
    const opt = new Map<string, Float32Array>();
    const bestParams = new Map<string, Float32Array>();
    for (const [k, v] of ck.tensors) {
      if (k.startsWith(BEST)) bestParams.set(k.slice(BEST.length), v);
      else (k.startsWith("state/") ? opt : params).set(k, v);
    }
    state = { params, opt };
    if (ck.header.best) best = { ...ck.header.best, params: bestParams };
    startEpoch = ck.header.epoch;
    globalStep = ck.header.step;
    rng = new Rng(ck.header.rng);
    history = ck.header.history as unknown as EpochLog[];
    cfg.onNote?.(`resumed from epoch ${startEpoch} of ${cfg.epochs} (checkpoint ${cfg.checkpoint})`);
  }
  // The log holds exactly the epochs behind the state we start from (a kill between a log line
  // and its checkpoint must not leave a duplicate line).
  if (cfg.logFile) writeFileSync(cfg.logFile, history.map((h) => `${JSON.stringify(h)}\n`).join(""));

  const forward = cfg.evalSet
    ? await Forward.compile(model, cfg.threads ? { threads: cfg.threads } : {})
    : undefined;
  checkAllocation(4 * K * B * (f + 2 * c) + (cfg.jitter > 0 ? 4 * B * f : 0), "the batch buffers");
  const xBuf = new Float32Array(K * B * f);
  const rawBuf = cfg.jitter > 0 ? new Float32Array(B * f) : undefined;
  const tBuf = new Float32Array(K * B * c);
  const teachBuf = new Float32Array(K * B * c);
  let lastEval: ClassMetrics | undefined;
  // Divergence is judged on the training accuracy, or the eval set's when training has no labelled accuracy.
  const judgeTrain = ds.y !== undefined && uses.labels;
  const judged = judgeTrain ? ds.y : cfg.evalSet?.y;
  const chance = judged ? chanceOf(judged) : undefined;
  const stopped = () =>
    best !== undefined && cfg.earlyStop !== undefined && history.length - best.epoch >= cfg.earlyStop;

  try {
    for (let epoch = startEpoch; epoch < cfg.epochs && !stopped(); epoch++) {
      const t0 = performance.now();
      const lr = lrOf(epoch, cfg.epochs);
      const momentum = momOf(epoch, cfg.epochs);
      const order = rng.permutation(ds.n);
      const scale = warmup?.(epoch);
      const terms = obj.terms(cfg.objective);
      const sums = { loss: 0, parts: terms.map(() => 0), correct: 0 };
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
            jitterImages(rawBuf, x, size, ds.exampleShape, cfg.jitter, rng);
          } else gatherBatch(ds, order, start, size, x);
          const targets = ds.y && uses.labels ? tBuf.subarray(j * B * c, (j * B + size) * c) : undefined;
          if (targets) oneHot(ds.y!, order, start, size, c, targets);
          let teacher: Float32Array | undefined;
          if (cfg.teacher && uses.teacher) {
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
            ...(scale !== undefined ? { scale } : {}),
          });
          start += size;
        }
        const metrics = await step.run(state, batches, hypers);
        metrics.forEach((m, j) => {
          if (!Number.isFinite(m.loss))
            throw new KdError(
              `loss became ${m.loss} at epoch ${epoch + 1}, step ${globalStep - metrics.length + j + 1}` +
                `${lastGood(cfg, epoch)}; ${remedy(ds, model)}`,
            );
          const size = batches[j]!.size;
          sums.loss += m.loss * size;
          m.parts.forEach((v, k) => {
            sums.parts[k]! += v * size;
          });
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
          accuracy: ds.y && uses.labels ? sums.correct / seen : undefined,
          examplesPerSec: seen / secs,
        });
      }
      const trainSecs = (performance.now() - t0) / 1000;
      let evalErrors: number | null = null;
      let evalAccuracy: number | null = null;
      let evalLoss: number | null = null;
      if (forward && cfg.evalSet?.y) {
        const logits = await forward.logits(state.params, cfg.evalSet.x, cfg.evalSet.n);
        lastEval = classMetrics(logits, cfg.evalSet.y, c);
        evalErrors = lastEval.errors;
        evalAccuracy = lastEval.accuracy;
        evalLoss = meanCrossEntropy(logits, cfg.evalSet.y, c);
      }
      const trainAccuracy = judgeTrain ? sums.correct / seen : null;
      const accuracy = judgeTrain ? trainAccuracy : evalAccuracy;
      const chanceLevel = chance !== undefined && accuracy !== null && atChance(accuracy, chance);
      const log: EpochLog = {
        epoch: epoch + 1,
        loss: sums.loss / seen,
        parts: Object.fromEntries(terms.map((t, k) => [t, sums.parts[k]! / seen])),
        trainAccuracy,
        evalErrors,
        evalAccuracy,
        evalLoss,
        lr,
        momentum,
        seconds: (performance.now() - t0) / 1000,
        examplesPerSec: ds.n / trainSecs,
        ...(chanceLevel && epoch + 1 >= FIRST_JUDGED_EPOCH ? { diverged: true as const } : {}),
      };
      // An update after the last checked loss may still have diverged: never checkpoint NaN weights.
      for (const [name, w] of state.params)
        if (!w.every(Number.isFinite))
          throw new KdError(
            `parameter ${name} became non-finite in epoch ${epoch + 1}${lastGood(cfg, epoch)}; ${remedy(ds, model)}`,
          );
      history.push(log);
      if (cfg.earlyStop !== undefined && evalErrors !== null && (!best || evalErrors < best.errors))
        best = { epoch: epoch + 1, errors: evalErrors, params: copyParams(state.params) };
      if (cfg.logFile) appendFileSync(cfg.logFile, `${JSON.stringify(log)}\n`);
      if (cfg.checkpoint) {
        const tensors = new Map([...state.params, ...state.opt]);
        if (best) for (const [k, v] of best.params) tensors.set(`${BEST}${k}`, v);
        writeCheckpoint(
          cfg.checkpoint,
          {
            fingerprint: print,
            ...(cfg.identity ? { identity: cfg.identity.fields } : {}),
            epoch: epoch + 1,
            step: globalStep,
            rng: rng.state(),
            history: history as unknown as Record<string, unknown>[],
            ...(best ? { best: { epoch: best.epoch, errors: best.errors } } : {}),
          },
          tensors,
        );
      }
      cfg.onEpoch?.(log);
      if (chanceLevel && epoch === 0) cfg.onNote?.(firstEpochHint(accuracy!, chance!, ds, model));
    }
    const returned = history[(best?.epoch ?? history.length) - 1];
    if (returned?.diverged && history.length > startEpoch) {
      const acc = judgeTrain ? returned.trainAccuracy : returned.evalAccuracy;
      cfg.onNote?.(divergedNote(returned.epoch, acc ?? 0, chance ?? 0, ds, model));
    }
    // Early stopping returns the best epoch's weights; its metrics are measured again below.
    if (best && best.epoch !== history.length) {
      state.params = best.params;
      lastEval = undefined;
    }
    if (forward && cfg.evalSet?.y && !lastEval)
      lastEval = classMetrics(
        await forward.logits(state.params, cfg.evalSet.x, cfg.evalSet.n),
        cfg.evalSet.y,
        c,
      );
  } finally {
    // Sessions hold native memory: free them on every exit, a diverged run's included.
    await Promise.all([single.release(), multi !== single ? multi.release() : undefined, forward?.release()]);
  }
  return {
    params: state.params,
    history,
    epochsRun: Math.max(0, history.length - startEpoch),
    ...(best ? { bestEpoch: best.epoch } : {}),
    ...(lastEval ? { evalMetrics: lastEval } : {}),
  };
}

/** Checkpoint tensors holding the best epoch's weights under early stopping. */
const BEST = "best/";

function copyParams(params: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
}
