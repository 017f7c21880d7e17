/** The training core's I/O-free hooks that the page uses too: validation with early stopping, progress callbacks. */
import type { Model } from "../nn/model.js";
import type { EpochLog, Examples, Hook, Progress } from "./core.js";
import { Forward } from "./inference.js";
import { type ClassMetrics, classMetrics, meanCrossEntropy } from "./metrics.js";
import { type TrainState, weightsOf } from "./step.js";

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
  evalSet: Examples,
  o: { threads?: number; earlyStop?: number } = {},
): Validation {
  let forward: Forward | undefined;
  let last: { metrics: ClassMetrics; params: Map<string, Float32Array> } | undefined;
  const measure = async (state: TrainState) => {
    const logits = await forward!.logits(weightsOf(state), evalSet.x, evalSet.n);
    last = { metrics: classMetrics(logits, evalSet.y!, model.numClasses), params: state.params };
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
      const logits = await measure(loop.state);
      log.evalErrors = last!.metrics.errors;
      log.evalAccuracy = last!.metrics.accuracy;
      log.evalLoss = meanCrossEntropy(logits, evalSet.y, model.numClasses);
      log.seconds += (performance.now() - t0) / 1000;
      if (o.earlyStop !== undefined && (!loop.best || log.evalErrors < loop.best.errors))
        loop.best = {
          epoch: log.epoch,
          errors: log.evalErrors,
          params: copyParams(loop.state.params),
          ...(loop.state.buffers ? { buffers: copyParams(loop.state.buffers) } : {}),
        };
    },
    stop: (loop) =>
      loop.best !== undefined &&
      o.earlyStop !== undefined &&
      loop.history.length - loop.best.epoch >= o.earlyStop,
    async onEnd(loop) {
      // Early stopping returns the best epoch's weights; its metrics are measured again.
      const { best } = loop;
      if (best && best.epoch !== loop.history.length) {
        loop.state.params = best.params;
        if (best.buffers) loop.state.buffers = best.buffers;
      }
      if (evalSet.y && last?.params !== loop.state.params) await measure(loop.state);
    },
    async release() {
      await forward?.release();
    },
  };
}

function copyParams(params: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
}

/** The caller's callbacks: progress after every graph run, the log after every epoch. */
export function callbacks(o: { onProgress?: (p: Progress) => void; onEpoch?: (e: EpochLog) => void }): Hook {
  return {
    onBatchEnd: (p) => o.onProgress?.(p),
    onEpochEnd: (log) => o.onEpoch?.(log),
  };
}
