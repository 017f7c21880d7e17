/** The training core's I/O-free hooks: validation with early stopping, divergence flags and notes, progress callbacks. */
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../nn/model.js";
import type { EpochLog, Hook, Progress } from "./core.js";
import { atChance, chanceOf, divergedNote, FIRST_JUDGED_EPOCH, firstEpochHint } from "./divergence.js";
import { Forward } from "./inference.js";
import { type ClassMetrics, classMetrics, meanCrossEntropy } from "./metrics.js";

/** Evaluation of `evalSet` after every epoch, and the metrics of the weights a run returns. */
export interface Validation extends Hook {
  /** The eval set's metrics for the returned weights (after the run; undefined without labels). */
  readonly metrics: ClassMetrics | undefined;
}

/**
 * Measures `evalSet` after every epoch. With `earlyStop`, stops when its errors have not improved
 * for that many epochs and returns the best epoch's weights (Keras' EarlyStopping with
 * restore_best_weights); the best is kept in loop.best, so checkpoints carry it.
 */
export function validation(
  model: Model,
  evalSet: Dataset,
  o: { threads?: number; earlyStop?: number } = {},
): Validation {
  let forward: Forward | undefined;
  let last: { metrics: ClassMetrics; params: Map<string, Float32Array> } | undefined;
  const measure = async (params: Map<string, Float32Array>) => {
    const logits = await forward!.logits(params, evalSet.x, evalSet.n);
    last = { metrics: classMetrics(logits, evalSet.y!, model.numClasses), params };
    return logits;
  };
  return {
    get metrics() {
      return last?.metrics;
    },
    async onStart() {
      forward = await Forward.compile(model, o.threads ? { threads: o.threads } : {});
      return undefined;
    },
    async onEpochEnd(log, loop) {
      if (!evalSet.y) return;
      const t0 = performance.now();
      const logits = await measure(loop.state.params);
      log.evalErrors = last!.metrics.errors;
      log.evalAccuracy = last!.metrics.accuracy;
      log.evalLoss = meanCrossEntropy(logits, evalSet.y, model.numClasses);
      log.seconds += (performance.now() - t0) / 1000;
      if (o.earlyStop !== undefined && (!loop.best || log.evalErrors < loop.best.errors))
        loop.best = { epoch: log.epoch, errors: log.evalErrors, params: copyParams(loop.state.params) };
    },
    stop: (loop) =>
      loop.best !== undefined &&
      o.earlyStop !== undefined &&
      loop.history.length - loop.best.epoch >= o.earlyStop,
    async onEnd(loop) {
      // Early stopping returns the best epoch's weights; its metrics are measured again.
      if (loop.best && loop.best.epoch !== loop.history.length) loop.state.params = loop.best.params;
      if (evalSet.y && last?.params !== loop.state.params) await measure(loop.state.params);
    },
    async release() {
      await forward?.release();
    },
  };
}

function copyParams(params: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
}

/**
 * Divergence (see divergence.ts), judged on the training accuracy, or the eval set's when training
 * has no labelled accuracy: `flag` marks epochs at chance in their logs (run it after validation,
 * before the logs are saved); `notes` says so after the epoch's callbacks and at the end.
 */
export function divergence(
  train: Dataset,
  model: Model,
  o: { judgeTrain: boolean; evalSet?: Dataset; onNote?: (msg: string) => void },
): { flag: Hook; notes: Hook } {
  const judged = o.judgeTrain ? train.y : o.evalSet?.y;
  const chance = judged ? chanceOf(judged) : undefined;
  const accuracy = (log: EpochLog) => (o.judgeTrain ? log.trainAccuracy : log.evalAccuracy);
  const atChanceIn = (log: EpochLog) => {
    const acc = accuracy(log);
    return chance !== undefined && acc !== null && atChance(acc, chance);
  };
  const flag: Hook = {
    onEpochEnd(log) {
      if (atChanceIn(log) && log.epoch >= FIRST_JUDGED_EPOCH) log.diverged = true;
    },
  };
  const notes: Hook = {
    onEpochEnd(log) {
      if (atChanceIn(log) && log.epoch === 1)
        o.onNote?.(firstEpochHint(accuracy(log)!, chance!, train, model));
    },
    onEnd(loop, ran) {
      const returned = loop.history[(loop.best?.epoch ?? loop.history.length) - 1];
      if (returned?.diverged && ran > 0)
        o.onNote?.(divergedNote(returned.epoch, accuracy(returned) ?? 0, chance ?? 0, train, model));
    },
  };
  return { flag, notes };
}

/** The caller's callbacks: progress after every graph run, the log after every epoch. */
export function callbacks(o: { onProgress?: (p: Progress) => void; onEpoch?: (e: EpochLog) => void }): Hook {
  return {
    onBatchEnd: (p) => o.onProgress?.(p),
    onEpochEnd: (log) => o.onEpoch?.(log),
  };
}
