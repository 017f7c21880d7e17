/**
 * The demo's logic without the DOM: classifiers on the registered backend, softmax at a
 * temperature, and distillation of a student (on a shipped MNIST slice, or a user's own images: own.ts) with the CLI's own
 * training core (train/core.ts) and hooks of its own. Runs in the page (onnxruntime-web) and in Node (the speed comparison).
 */
import type { Model } from "../nn/model.js";
import { buildModel } from "../nn/registry.js";
import { paramCount } from "../nn/size.js";
import type { ObjectiveSpec } from "../objectives/index.js";
import { META } from "../onnx/metadata.js";
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from "../optim/optimizers.js";
import type { BackendSession } from "../runtime/backend.js";
import { createSession } from "../runtime/session.js";
import {
  type EpochLog,
  type Examples,
  type Hook,
  type Progress,
  type TeacherProvider,
  trainEpochs,
} from "../train/core.js";
import { validation } from "../train/hooks.js";
import { exportModel } from "../train/inference.js";
import { weightsOf } from "../train/step.js";
import type { DistilOptions, DistilResult, EpochMetrics } from "./api.js";

export const PIXELS = 784;
export const CLASSES = 10;

/** MNIST rows as the CLI sees them: pixels scaled by 1/255 (as float32, like src/data/dataset.ts). */
export interface Images {
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly n: number;
}

export function fromBytes(pixels: Uint8Array, labels: Uint8Array): Images {
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i]! / 255;
  return { x, y: labels, n: labels.length };
}

/** softmax(z / T) with the max subtracted first, so no exponent overflows. */
export function softmaxT(z: ArrayLike<number>, T: number): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]!);
  const e = Array.from({ length: z.length }, (_, i) => Math.exp((z[i]! - max) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Share of rows whose arg-max logit is the label. */
export function accuracy(logits: Float32Array, y: ArrayLike<number>, n: number, classes = CLASSES): number {
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === y[i]) right++;
  }
  return right / n;
}

/**
 * A loaded ONNX classifier: one float input of examples `exampleShape` (MNIST's [784] or
 * [1, 28, 28] by default) and an [N, classes] logits output.
 */
export class Classifier {
  readonly features: number;

  private constructor(
    private readonly session: BackendSession,
    private readonly input: string,
    private readonly output: string,
    readonly exampleShape: readonly number[],
    readonly classes: number,
  ) {
    this.features = exampleShape.reduce((a, b) => a * b, 1);
  }

  static async load(
    bytes: Uint8Array,
    input: string,
    output: string,
    exampleShape: readonly number[] = [PIXELS],
    classes = CLASSES,
  ): Promise<Classifier> {
    return new Classifier(await createSession(bytes), input, output, exampleShape, classes);
  }

  /** Logits of `n` examples, `batch` a run; `progress(done)` is awaited after each run. */
  async logits(
    x: Float32Array,
    n: number,
    batch = 1000,
    progress?: (done: number) => void | Promise<void>,
  ): Promise<Float32Array> {
    const f = this.features;
    const out = new Float32Array(n * this.classes);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      const feed = {
        data: x.subarray(s * f, (s + m) * f),
        dims: [m, ...this.exampleShape],
        dtype: "float32" as const,
      };
      const res = await this.session.run({ [this.input]: feed }, [this.output]);
      out.set(res[this.output]!.data as Float32Array, s * this.classes);
      await progress?.(s + m);
    }
    return out;
  }

  /** Median milliseconds of `runs` single-example runs. */
  async latency(x: Float32Array, runs = 15): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.logits(x.subarray(0, this.features), 1);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(runs / 2)]!;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export const DISTIL_DEFAULTS: Required<Omit<DistilOptions, "trainImages">> = {
  hidden: 100,
  epochs: 5,
  temperature: 4,
  softWeight: 0.7,
  lr: 0.1,
  momentum: 0.9,
  batchSize: 100,
  stepsPerRun: 10,
  seed: 1,
};

export interface DistilProgress {
  readonly epoch: number;
  /** Steps done so far, over all epochs. */
  readonly step: number;
  readonly totalSteps: number;
  /** Mean loss of the epoch's examples so far. */
  readonly loss: number;
  /** Set at the end of an epoch. */
  readonly epochMetrics?: EpochMetrics;
}

export interface Distilled {
  readonly result: DistilResult;
  /** The student as a standalone ONNX file (input "input", output "logits"). */
  readonly onnx: Uint8Array;
}

/** What the page trains with: the CLI's settings, as the training core takes them. */
export interface PageTraining {
  readonly model: Model;
  readonly objective: ObjectiveSpec;
  readonly optimizer?: OptimizerConfig;
  readonly epochs: number;
  readonly batchSize: number;
  /** A constant learning rate and momentum. */
  readonly lr: number;
  readonly momentum: number;
  readonly stepsPerRun: number;
  readonly seed: number;
  readonly threads?: number;
  /** Asked after every graph run: true stops the run, keeping the last finished epoch's weights. */
  readonly stop?: () => boolean;
}

/** A labelled set the page trains on: rows of the model's input, row-major. */
export interface Rows {
  readonly x: Float32Array;
  readonly y: ArrayLike<number>;
  readonly n: number;
}

/** Thrown by trainInPage when asked to stop before any epoch ended. */
export class Stopped extends Error {
  constructor() {
    super("stopped before the first epoch ended: no student to keep");
  }
}

/** A run of the training core: progress after every graph run, the epoch's log at its end. */
export interface PageProgress {
  readonly progress?: Progress;
  readonly epoch?: EpochLog;
}

/**
 * Trains `s.model` on `train` with the CLI's training core (train/core.ts), evaluating on `test`
 * after every epoch; `teacherLogits` (rows of `train`) feed objectives that need a teacher.
 * `onProgress` is awaited after every graph run and epoch, so a page can repaint there.
 */
export async function trainInPage(
  s: PageTraining,
  train: Rows,
  test: Rows,
  teacherLogits?: Float32Array,
  onProgress?: (p: PageProgress) => void | Promise<void>,
): Promise<{ params: Map<string, Float32Array>; history: EpochLog[]; stopped: boolean }> {
  const features = s.model.inputShape.reduce((a, b) => a * b, 1);
  const ds = asDataset(train, features);
  // The last finished epoch's weights, copied: a stop mid-epoch keeps them.
  let kept: { params: Map<string, Float32Array>; history: EpochLog[] } | undefined;
  const stopNow = () => s.stop?.() ?? false;
  const hooks: Hook[] = [
    validation(s.model, asDataset(test, features), s.threads ? { threads: s.threads } : {}),
    {
      onBatchEnd: async (progress) => {
        await onProgress?.({ progress });
        if (stopNow()) throw new Stopped();
      },
      onEpochEnd: async (epoch, loop) => {
        kept = {
          params: new Map([...weightsOf(loop.state)].map(([k, v]) => [k, v.slice()])),
          history: [...loop.history],
        };
        await onProgress?.({ epoch });
      },
      stop: stopNow,
    },
  ];
  try {
    const { loop } = await trainEpochs(
      {
        model: s.model,
        train: ds,
        batches: {
          fill: (order, start, size, x) => copyRows(train.x, features, order, start, size, x),
          scratchBytes: 0,
        },
        epochs: s.epochs,
        batchSize: s.batchSize,
        optimizer: s.optimizer ?? DEFAULT_OPTIMIZER,
        lr: () => s.lr,
        momentum: () => s.momentum,
        seed: s.seed,
        objective: s.objective,
        ...(teacherLogits ? { teacher: pageTeacher(teacherLogits, s.model.numClasses) } : {}),
        ...(s.threads ? { threads: s.threads } : {}),
        stepsPerRun: s.stepsPerRun,
      },
      hooks,
    );
    return { params: weightsOf(loop.state), history: loop.history, stopped: loop.epoch < s.epochs };
  } catch (e) {
    if (!(e instanceof Stopped) || !kept) throw e;
    return { ...kept, stopped: true };
  }
}

/**
 * Distils a 784-h-10 student from precomputed teacher logits on `train` (labels too, with weight
 * 1 − softWeight), evaluating on `test` after every epoch. `onProgress` is awaited after every
 * graph run, so a page can repaint there.
 */
export async function distil(
  teacherLogits: Float32Array,
  train: Images,
  test: Images,
  options: DistilOptions = {},
  onProgress?: (p: DistilProgress) => void | Promise<void>,
): Promise<Distilled> {
  const o = { ...DISTIL_DEFAULTS, ...options };
  const n = Math.min(options.trainImages ?? train.n, train.n);
  const B = o.batchSize;
  if (n < B) throw new Error(`${n} training images make no batch of ${B}`);
  // Through the registry, as every other path: the kind's size check runs on the page's choice too.
  const model = buildModel({ kind: "mlp", hidden: [o.hidden] }, [PIXELS], CLASSES);
  const steps = Math.ceil(n / B);
  const totalSteps = o.epochs * steps;
  const history: EpochMetrics[] = [];
  const { params } = await trainInPage(
    { ...o, model, objective: { kind: "kd", temperature: o.temperature, softWeight: o.softWeight } },
    { x: train.x.subarray(0, n * PIXELS), y: train.y.subarray(0, n), n },
    test,
    teacherLogits,
    async ({ progress: p, epoch: log }) => {
      if (p) return onProgress?.({ epoch: p.epoch, step: p.step, totalSteps, loss: p.loss });
      const m: EpochMetrics = {
        epoch: log!.epoch,
        loss: log!.loss,
        soft: log!.parts.soft!,
        hard: log!.parts.hard!,
        testAccuracy: log!.evalAccuracy!,
        steps,
        stepSeconds: n / log!.examplesPerSec,
      };
      history.push(m);
      await onProgress?.({
        epoch: m.epoch,
        step: m.epoch * steps,
        totalSteps,
        loss: m.loss,
        epochMetrics: m,
      });
    },
  );
  const onnx = exportModel(model, params, { [META.demo]: "distilled in the browser" });
  const seconds = history.reduce((a, m) => a + m.stepSeconds, 0);
  return {
    onnx,
    result: {
      arch: `784-${o.hidden}-10`,
      params: paramCount(model),
      history,
      testAccuracy: history.at(-1)?.testAccuracy ?? 0,
      steps: totalSteps,
      stepsPerSecond: totalSteps / seconds,
      onnxBytes: onnx.length,
    },
  };
}

/** The page's rows as the training core's dataset (labels as int32, as the CLI loads them). */
function asDataset(rows: Rows, features: number): Examples {
  const { x, n } = rows;
  const y = rows.y instanceof Int32Array ? rows.y : Int32Array.from(rows.y);
  return { x, y, n, features };
}

/** Teacher logits precomputed for every row of the transfer set. */
function pageTeacher(logits: Float32Array, classes: number): TeacherProvider {
  return {
    id: "page",
    async logits(indices, _x, size, out) {
      copyRows(logits, classes, indices, 0, size, out);
    },
  };
}

/** Copies rows order[start..start+size) of a row-major array of `width` columns into `out`. */
function copyRows(
  from: Float32Array,
  width: number,
  order: Int32Array,
  start: number,
  size: number,
  out: Float32Array,
): void {
  for (let i = 0; i < size; i++) {
    const j = order[start + i]!;
    out.set(from.subarray(j * width, (j + 1) * width), i * width);
  }
}
