/**
 * The demo's logic without the DOM: classifiers on the registered backend, softmax at a
 * temperature, and distillation of a small student on a shipped MNIST slice with the CLI's own
 * TrainStep graphs. Runs in the page (onnxruntime-web) and in Node (the speed comparison).
 */
import { initParam } from "../nn/layers.js";
import { mlp } from "../nn/model.js";
import { META } from "../onnx/metadata.js";
import { DEFAULT_OPTIMIZER } from "../optim/optimizers.js";
import type { BackendSession } from "../runtime/backend.js";
import { createSession } from "../runtime/session.js";
import { exportModel, Forward } from "../train/inference.js";
import { type Batch, type StepHyper, type TrainState, TrainStep } from "../train/step.js";
import { Rng } from "../util/rng.js";
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
export function accuracy(logits: Float32Array, y: Uint8Array, n: number): number {
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c]! > logits[i * CLASSES + best]!) best = c;
    if (best === y[i]) right++;
  }
  return right / n;
}

/** A loaded ONNX classifier: one input of MNIST images ([N, 784] or [N, 1, 28, 28]) and an [N, 10] logits output. */
export class Classifier {
  private constructor(
    private readonly session: BackendSession,
    private readonly input: string,
    private readonly output: string,
    private readonly exampleShape: readonly number[],
  ) {}

  static async load(
    bytes: Uint8Array,
    input: string,
    output: string,
    exampleShape: readonly number[] = [PIXELS],
  ): Promise<Classifier> {
    return new Classifier(await createSession(bytes), input, output, exampleShape);
  }

  async logits(x: Float32Array, n: number, batch = 1000): Promise<Float32Array> {
    const out = new Float32Array(n * CLASSES);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      const feed = {
        data: x.subarray(s * PIXELS, (s + m) * PIXELS),
        dims: [m, ...this.exampleShape],
        dtype: "float32" as const,
      };
      const res = await this.session.run({ [this.input]: feed }, [this.output]);
      out.set(res[this.output]!.data as Float32Array, s * CLASSES);
    }
    return out;
  }

  /** Median milliseconds of `runs` single-image runs. */
  async latency(x: Float32Array, runs = 15): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.logits(x.subarray(0, PIXELS), 1);
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
  /** Mean loss of the run's steps. */
  readonly loss: number;
  /** Set at the end of an epoch. */
  readonly epochMetrics?: EpochMetrics;
}

export interface Distilled {
  readonly result: DistilResult;
  /** The student as a standalone ONNX file (input "input", output "logits"). */
  readonly onnx: Uint8Array;
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
  const stepsPerEpoch = Math.floor(n / B);
  if (stepsPerEpoch < 1) throw new Error(`${n} training images make no batch of ${B}`);
  const K = Math.min(o.stepsPerRun, stepsPerEpoch);
  const runsPerEpoch = Math.floor(stepsPerEpoch / K);
  const model = mlp(PIXELS, [o.hidden], CLASSES);
  const rng = new Rng(o.seed);
  const state: TrainState = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, rng)])),
    opt: new Map(),
  };
  const step = await TrainStep.compile({
    model,
    optimizer: DEFAULT_OPTIMIZER,
    objective: { kind: "kd", temperature: o.temperature, softWeight: o.softWeight },
    labeled: true,
    stepsPerRun: K,
  });
  const forward = await Forward.compile(model);
  state.opt = step.initialOptState();
  const batches: Batch[] = Array.from({ length: K }, () => ({
    x: new Float32Array(B * PIXELS),
    size: B,
    targets: new Float32Array(B * CLASSES),
    teacher: new Float32Array(B * CLASSES),
  }));
  const hyper: StepHyper = { lr: o.lr, momentum: o.momentum, c1: 1, c2: 1, seed: 0 };
  const hypers = Array.from({ length: K }, () => hyper);
  const history: EpochMetrics[] = [];
  const totalSteps = o.epochs * runsPerEpoch * K;
  let done = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = rng.permutation(n);
      let loss = 0;
      let soft = 0;
      let hard = 0;
      let seconds = 0;
      for (let r = 0; r < runsPerEpoch; r++) {
        const t0 = performance.now();
        for (let j = 0; j < K; j++) fill(batches[j]!, order, (r * K + j) * B, train, teacherLogits);
        const metrics = await step.run(state, batches, hypers);
        seconds += (performance.now() - t0) / 1000;
        let runLoss = 0;
        for (const m of metrics) {
          // The kd objective reports its parts as [soft, hard].
          runLoss += m.loss;
          soft += m.parts[0]!;
          hard += m.parts[1]!;
        }
        loss += runLoss;
        done += K;
        await onProgress?.({ epoch, step: done, totalSteps, loss: runLoss / K });
      }
      const steps = runsPerEpoch * K;
      const acc = accuracy(await forward.logits(state.params, test.x, test.n), test.y, test.n);
      const m: EpochMetrics = {
        epoch,
        loss: loss / steps,
        soft: soft / steps,
        hard: hard / steps,
        testAccuracy: acc,
        steps,
        stepSeconds: seconds,
      };
      history.push(m);
      await onProgress?.({ epoch, step: done, totalSteps, loss: m.loss, epochMetrics: m });
    }
  } finally {
    await step.release();
    await forward.release();
  }
  const onnx = exportModel(model, state.params, { [META.demo]: "distilled in the browser" });
  const seconds = history.reduce((a, m) => a + m.stepSeconds, 0);
  return {
    onnx,
    result: {
      arch: `784-${o.hidden}-10`,
      params: model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
      history,
      testAccuracy: history.at(-1)?.testAccuracy ?? 0,
      steps: done,
      stepsPerSecond: done / seconds,
      onnxBytes: onnx.length,
    },
  };
}

/** Copies rows order[start..start+B) of the transfer set into a batch: pixels, one-hot labels, teacher logits. */
function fill(b: Batch, order: Int32Array, start: number, train: Images, teacher: Float32Array): void {
  const targets = b.targets!;
  const t = b.teacher!;
  targets.fill(0);
  for (let i = 0; i < b.size; i++) {
    const j = order[start + i]!;
    b.x.set(train.x.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    targets[i * CLASSES + train.y[j]!] = 1;
    t.set(teacher.subarray(j * CLASSES, (j + 1) * CLASSES), i * CLASSES);
  }
}
