/**
 * The epoch loop, free of I/O: shuffled batches, schedules, K-step graph runs and the epoch's
 * metrics. Evaluation, early stopping, divergence notes, logs and checkpoints are hooks on it
 * (hooks.ts, files.ts), so the CLI, the spec runner, the queue and the page train alike.
 */
import { initParam } from "../nn/layers.js";
import type { Model } from "../nn/model.js";
import { type ObjectiveSpec, objective as obj } from "../objectives/index.js";
import { type OptimizerConfig, stepScalars } from "../optim/optimizers.js";
import { KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import { Rng } from "../util/rng.js";
import type { Schedule } from "./schedule.js";
import {
  type Batch,
  type StepHyper,
  type StepMetrics,
  stepInputs,
  type TrainState,
  TrainStep,
} from "./step.js";

/** Where the teacher's logits for a batch come from (see distill/teacher.ts). */
export interface TeacherProvider {
  /** Identifies the teacher (file hashes, ensemble mode): part of the resume fingerprint. */
  readonly id: string;
  /**
   * Logits of the batch's examples: `indices` are rows of the transfer set, `x` holds them as
   * the student sees them (after jitter). Written into `out` ([size, classes]), and the tensors
   * of `features` into `features` ([size, ...shape] each by name) when asked for.
   */
  logits(
    indices: Int32Array,
    x: Float32Array,
    size: number,
    out: Float32Array,
    features?: ReadonlyMap<string, Float32Array>,
  ): Promise<void>;
  /** The intermediate tensors it provides for feature objectives, by name, with their shapes per example. */
  readonly features?: ReadonlyMap<string, readonly number[]>;
}

/** A labelled or unlabelled set of examples, as the core reads it (data/dataset.ts's Dataset is one). */
export interface Examples {
  /** n × features, row-major. */
  readonly x: Float32Array;
  readonly y: Int32Array | undefined;
  readonly n: number;
  readonly features: number;
}

/** Copies the examples order[start..start+size) into `x` as the student sees them (jittered with `rng`, or not). */
export interface BatchFill {
  fill(order: Int32Array, start: number, size: number, x: Float32Array, rng: Rng): void;
  /** Bytes of scratch the fill keeps (a jitter source buffer), counted with the batch buffers. */
  readonly scratchBytes: number;
}

export interface CoreConfig {
  readonly model: Model;
  /** The training set; its examples reach the step through `batches`. */
  readonly train: Examples;
  readonly batches: BatchFill;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  /** Learning rate and momentum of each epoch (see schedule.ts). */
  readonly lr: Schedule;
  readonly momentum: Schedule;
  readonly seed: number;
  readonly objective: ObjectiveSpec;
  readonly teacher?: TeacherProvider;
  readonly threads?: number;
  /** Steps traced into one graph run (default 8). */
  readonly stepsPerRun?: number;
}

export interface Progress {
  readonly epoch: number;
  readonly epochs: number;
  readonly seen: number;
  readonly total: number;
  readonly loss: number;
  readonly accuracy: number | undefined;
  readonly examplesPerSec: number;
  /** Steps done since the run began (a resumed run counts from its checkpoint). */
  readonly step: number;
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

/** An epoch log while the epoch's hooks still fill it in. */
export type OpenEpochLog = { -readonly [K in keyof EpochLog]: EpochLog[K] };

/** What a finished epoch leaves behind: everything a resume needs. */
export interface Loop {
  state: TrainState;
  /** Epochs done. */
  epoch: number;
  /** Steps done. */
  step: number;
  rng: Rng;
  history: EpochLog[];
  /** Early stopping's best epoch so far and its weights (see hooks.ts). */
  best?: {
    epoch: number;
    errors: number;
    params: Map<string, Float32Array>;
    buffers?: Map<string, Float32Array>;
  };
}

/** Keras-style callbacks; every method is optional and hooks run in the order given. */
export interface Hook {
  /** Before the first epoch; may return the loop to start from instead (a resumed checkpoint). */
  onStart?(loop: Loop): Loop | undefined | Promise<Loop | undefined>;
  /** After every graph run of K steps. */
  onBatchEnd?(p: Progress): void | Promise<void>;
  /** After an epoch whose log is already in loop.history: fill in or flag the log, save the loop. */
  onEpochEnd?(log: OpenEpochLog, loop: Loop): void | Promise<void>;
  /** Whether to run no more epochs. */
  stop?(loop: Loop): boolean;
  /** After the last epoch; `ran` epochs ran now (0 when a checkpoint had them all). */
  onEnd?(loop: Loop, ran: number): void | Promise<void>;
  /** Words added to the message that stops a diverged run in `epoch` (where the last good weights are, what to try). */
  explain?(epoch: number): string;
  /** Frees what the hook holds (compiled sessions), on every exit. */
  release?(): Promise<void>;
}

/** One compiled epoch runner: the step graphs and the batch buffers. */
interface Runner {
  readonly cfg: CoreConfig;
  readonly hooks: readonly Hook[];
  readonly single: TrainStep;
  readonly multi: TrainStep;
  readonly uses: ReturnType<typeof stepInputs>;
  readonly buf: {
    x: Float32Array;
    targets: Float32Array;
    teacher: Float32Array;
    /** Per teacher tensor: its values for K batches, and its size per example. */
    features: Map<string, { data: Float32Array; per: number }>;
  };
}

/**
 * Trains `cfg.model` for the epochs its loop has not done yet (all of them, unless a hook resumes
 * one); returns the loop after the last, and how many epochs ran now.
 */
export async function trainEpochs(
  cfg: CoreConfig,
  hooks: readonly Hook[],
): Promise<{ loop: Loop; ran: number }> {
  const { model, train: ds, batchSize: B } = cfg;
  const labeled = ds.y !== undefined;
  const K = Math.max(1, cfg.stepsPerRun ?? 8);
  const teacherFeatures = cfg.teacher?.features;
  const stepOpts = {
    model,
    optimizer: cfg.optimizer,
    objective: cfg.objective,
    labeled,
    ...(teacherFeatures?.size ? { teacherFeatures } : {}),
  };
  const opts = { ...stepOpts, ...(cfg.threads ? { threads: cfg.threads } : {}) };
  const rng = new Rng(cfg.seed);
  const initRng = rng.fork(1);
  const single = await TrainStep.compile({ ...opts, stepsPerRun: 1 });
  const multi = K > 1 ? await TrainStep.compile({ ...opts, stepsPerRun: K }) : single;
  const buffers = single.initialBuffers();
  const state: TrainState = {
    // The model's parameters first, then a feature objective's (see trainedParams): the model's
    // initial values do not depend on the objective.
    params: new Map(single.params.map((p) => [p.name, initParam(p, initRng)])),
    opt: single.initialOptState(),
    ...(buffers ? { buffers } : {}),
  };
  let loop: Loop = { state, epoch: 0, step: 0, rng, history: [] };
  try {
    for (const h of hooks) loop = (await h.onStart?.(loop)) ?? loop;
    const from = loop.history.length;
    const f = ds.features;
    const c = model.numClasses;
    const per = [...(teacherFeatures ?? [])].map(([name, dims]) => [name, volume(dims)] as const);
    const featureValues = per.reduce((a, [, n]) => a + n, 0);
    checkAllocation(4 * K * B * (f + 2 * c + featureValues) + cfg.batches.scratchBytes, "the batch buffers");
    const buf = {
      x: new Float32Array(K * B * f),
      targets: new Float32Array(K * B * c),
      teacher: new Float32Array(K * B * c),
      features: new Map(per.map(([name, n]) => [name, { data: new Float32Array(K * B * n), per: n }])),
    };
    const runner: Runner = { cfg, hooks, single, multi, uses: stepInputs(stepOpts), buf };
    while (loop.epoch < cfg.epochs && !hooks.some((h) => h.stop?.(loop))) await runEpoch(runner, loop);
    const ran = Math.max(0, loop.history.length - from);
    for (const h of hooks) await h.onEnd?.(loop, ran);
    return { loop, ran };
  } finally {
    // Sessions hold native memory: free them on every exit, a diverged run's included.
    await Promise.all([
      single.release(),
      multi !== single ? multi.release() : undefined,
      ...hooks.map((h) => h.release?.()),
    ]);
  }
}

/** Running sums of an epoch's step metrics. */
interface Sums {
  loss: number;
  parts: number[];
  correct: number;
  seen: number;
}

async function runEpoch(r: Runner, loop: Loop): Promise<void> {
  const { cfg } = r;
  const epoch = loop.epoch;
  const t0 = performance.now();
  const lr = cfg.lr(epoch, cfg.epochs);
  const momentum = cfg.momentum(epoch, cfg.epochs);
  const order = loop.rng.permutation(cfg.train.n);
  const scale = obj.warmup(cfg.objective)?.(epoch);
  const sums: Sums = { loss: 0, parts: obj.terms(cfg.objective).map(() => 0), correct: 0, seen: 0 };
  const hyper = { lr, momentum, ...(scale !== undefined ? { scale } : {}) };
  let start = 0;
  while (start < cfg.train.n) {
    const fullLeft = Math.floor((cfg.train.n - start) / cfg.batchSize);
    const step = fullLeft >= r.multi.steps ? r.multi : r.single;
    const { batches, hypers } = await nextBatches(r, loop, step.steps, order, start, hyper);
    start += batches.reduce((a, b) => a + b.size, 0);
    const metrics = await step.run(loop.state, batches, hypers);
    metrics.forEach((m, j) => {
      if (!Number.isFinite(m.loss))
        fail(
          r,
          epoch,
          `loss became ${m.loss} at epoch ${epoch + 1}, step ${loop.step - metrics.length + j + 1}`,
        );
      add(sums, m, batches[j]!.size);
    });
    const progress = epochProgress(r, loop, sums, t0);
    for (const h of r.hooks) await h.onBatchEnd?.(progress);
  }
  const trainSecs = (performance.now() - t0) / 1000;
  // An update after the last checked loss may still have diverged: never keep NaN weights.
  for (const [name, w] of loop.state.params)
    if (!w.every(Number.isFinite))
      fail(r, epoch, `parameter ${name} became non-finite in epoch ${epoch + 1}`);
  const log = epochLog(r, epoch, sums, { lr, momentum, trainSecs });
  loop.history.push(log);
  loop.epoch = epoch + 1;
  for (const h of r.hooks) await h.onEpochEnd?.(log, loop);
}

/** Adds a step's metrics, weighted by its batch size. */
function add(sums: Sums, m: StepMetrics, size: number): void {
  sums.loss += m.loss * size;
  m.parts.forEach((v, k) => {
    sums.parts[k]! += v * size;
  });
  sums.correct += m.correct;
  sums.seen += size;
}

/** The epoch's log from its sums; the hooks fill in the eval set's fields. */
function epochLog(
  r: Runner,
  epoch: number,
  sums: Sums,
  o: { lr: number; momentum: number; trainSecs: number },
): OpenEpochLog {
  const { cfg } = r;
  const terms = obj.terms(cfg.objective);
  const judgeTrain = cfg.train.y !== undefined && r.uses.labels;
  return {
    epoch: epoch + 1,
    loss: sums.loss / sums.seen,
    parts: Object.fromEntries(terms.map((t, k) => [t, sums.parts[k]! / sums.seen])),
    trainAccuracy: judgeTrain ? sums.correct / sums.seen : null,
    evalErrors: null,
    evalAccuracy: null,
    evalLoss: null,
    lr: o.lr,
    momentum: o.momentum,
    // The validation hook adds its evaluation's time.
    seconds: o.trainSecs,
    examplesPerSec: cfg.train.n / o.trainSecs,
  };
}

/** Fills the next `steps` batches from `order[start..]`, with their per-step scalars. */
async function nextBatches(
  r: Runner,
  loop: Loop,
  steps: number,
  order: Int32Array,
  start: number,
  hyper: Pick<StepHyper, "lr" | "momentum" | "scale">,
): Promise<{ batches: Batch[]; hypers: StepHyper[] }> {
  const { cfg, uses, buf } = r;
  const { batchSize: B, train: ds } = cfg;
  const f = ds.features;
  const c = cfg.model.numClasses;
  const batches: Batch[] = [];
  const hypers: StepHyper[] = [];
  for (let j = 0; j < steps; j++) {
    const size = Math.min(B, ds.n - start);
    const x = buf.x.subarray(j * B * f, (j * B + size) * f);
    cfg.batches.fill(order, start, size, x, loop.rng);
    const targets = ds.y && uses.labels ? buf.targets.subarray(j * B * c, (j * B + size) * c) : undefined;
    if (targets) oneHot(ds.y!, order, start, size, c, targets);
    let teacher: Float32Array | undefined;
    let teacherFeatures: Map<string, Float32Array> | undefined;
    if (cfg.teacher && uses.teacher) {
      teacher = buf.teacher.subarray(j * B * c, (j * B + size) * c);
      if (buf.features.size > 0)
        teacherFeatures = new Map(
          [...buf.features].map(([name, b]) => [
            name,
            b.data.subarray(j * B * b.per, (j * B + size) * b.per),
          ]),
        );
      await cfg.teacher.logits(order.subarray(start, start + size), x, size, teacher, teacherFeatures);
    }
    batches.push({
      x,
      size,
      ...(targets ? { targets } : {}),
      ...(teacher ? { teacher } : {}),
      ...(teacherFeatures ? { teacherFeatures } : {}),
    });
    loop.step++;
    const scalars = stepScalars(cfg.optimizer, loop.step);
    hypers.push({ ...hyper, ...scalars, seed: loop.rng.nextU32() });
    start += size;
  }
  return { batches, hypers };
}

function epochProgress(r: Runner, loop: Loop, sums: Sums, t0: number): Progress {
  const { cfg } = r;
  const secs = (performance.now() - t0) / 1000;
  return {
    epoch: loop.epoch + 1,
    epochs: cfg.epochs,
    seen: sums.seen,
    total: cfg.train.n,
    loss: sums.loss / sums.seen,
    accuracy: cfg.train.y && r.uses.labels ? sums.correct / sums.seen : undefined,
    examplesPerSec: sums.seen / secs,
    step: loop.step,
  };
}

/** Stops a diverged run with one line: what, then what the hooks add (where the last good weights are, what to try). */
function fail(r: Runner, epoch: number, what: string): never {
  throw new KdError(`${what}${r.hooks.map((h) => h.explain?.(epoch) ?? "").join("")}`);
}

const volume = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

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
