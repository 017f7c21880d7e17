/** The training step: forward, loss, gradients and optimizer updates traced into one compiled graph. */
import { grad } from "../autodiff/grad.js";
import * as o from "../ir/ops.js";
import { Graph, type Tensor } from "../ir/tensor.js";
import { correctCount } from "../losses/losses.js";
import { ParamMap, type ParamSpec } from "../nn/layers.js";
import type { ForwardOptions, Model } from "../nn/model.js";
import { namedLayers } from "../nn/named-layers.js";
import {
  featureParams,
  featureUses,
  type ObjectiveSpec,
  objective as obj,
  teacherTensors,
} from "../objectives/index.js";
import { type OptimizerConfig, stateSlots, update, wantsLrScaledGradients } from "../optim/optimizers.js";
import { Compiled, type HostTensor, scalarF32, scalarI64 } from "../runtime/session.js";

export interface StepConfig {
  readonly model: Model;
  readonly optimizer: OptimizerConfig;
  readonly objective: ObjectiveSpec;
  /** Whether the training data has labels (objectives that can use them then do). */
  readonly labeled: boolean;
  readonly threads?: number;
  /** Steps traced into one graph run (default 1). */
  readonly stepsPerRun?: number;
  /**
   * The teacher tensors the objective's feature terms read, by name, with their shapes per
   * example; required when it has any (see objectives/hints.ts, attention.ts).
   */
  readonly teacherFeatures?: ReadonlyMap<string, readonly number[]>;
}

/**
 * Parameters, optimizer state and the model's buffers, as flat arrays by name. A run swaps new
 * arrays into these maps and keeps the old ones in `spare` for the next run to write into: copy
 * an array you want to keep.
 */
export interface TrainState {
  params: Map<string, Float32Array>;
  opt: Map<string, Float32Array>;
  /** The model's buffers by name (absent for models without any). */
  buffers?: Map<string, Float32Array>;
  /** Arrays the next run may write into (the previous run's inputs), by graph input name. */
  spare?: Map<string, Float32Array>;
}

/** What inference reads: the parameters, and the buffers beside them by name (the same map when there are none). */
export function weightsOf(state: Pick<TrainState, "params" | "buffers">): Map<string, Float32Array> {
  return state.buffers?.size ? new Map([...state.params, ...state.buffers]) : state.params;
}

export interface Batch {
  readonly x: Float32Array;
  readonly size: number;
  /** One-hot (or soft) label rows, [size, classes]; absent for unlabeled transfer sets. */
  readonly targets?: Float32Array;
  /** Teacher logits, [size, classes]; required by objectives that need a teacher. */
  readonly teacher?: Float32Array;
  /** The teacher tensors feature objectives read, by name, [size, ...shape]. */
  readonly teacherFeatures?: ReadonlyMap<string, Float32Array>;
}

export interface StepHyper {
  readonly lr: number;
  readonly momentum: number;
  readonly c1: number;
  readonly c2: number;
  /** Seeds this step's dropout masks. */
  readonly seed: number;
  /** Multiplier of the distillation part for objectives with a warm-up (else ignored). */
  readonly scale?: number;
}

export interface StepMetrics {
  readonly loss: number;
  /** The objective's reported parts, in the order of its `terms`. */
  readonly parts: readonly number[];
  readonly correct: number;
}

export const paramInput = (name: string) => `param/${name}`;
export const bufferInput = (name: string) => `buffer/${name}`;

/**
 * The options a training forward gets: `updates` is always there, so a model with buffers sets
 * their new values in it (by buffer name); a buffer it leaves alone is an input only.
 */
export type TrainingForward = ForwardOptions & { readonly updates: Map<string, Tensor> };
export const stateInput = (name: string, slot: string) => `state/${name}/${slot}`;
const updated = (input: string) => `new/${input}`;
/** Name of the j-th step's copy of a per-step input or output. */
const sub = (name: string, j: number) => `${name}/${j}`;

const NO_TENSORS: ReadonlyMap<string, Tensor> = new Map();
const teacherFeatureInput = (name: string) => `teacher_feature/${name}`;

/**
 * What the step trains: the model's parameters, then those of its objective's feature terms (a
 * hint's regressor), which the optimizer, checkpoints and resumes treat alike; export reads the
 * model's alone. Feature shapes that cannot match are refused here, in one line.
 */
export function trainedParams(cfg: Pick<StepConfig, "model" | "objective" | "teacherFeatures">): ParamSpec[] {
  if (featureUses(cfg.objective).length === 0) return [...cfg.model.params];
  const extra = featureParams(cfg.objective, namedLayers(cfg.model), cfg.teacherFeatures ?? new Map());
  return [...cfg.model.params, ...extra];
}

/** Whether a step of `cfg` is fed labels and teacher logits. */
export function stepInputs(cfg: Pick<StepConfig, "objective" | "labeled">) {
  return {
    labels: obj.usesLabels(cfg.objective, cfg.labeled),
    teacher: obj.teacher(cfg.objective),
    scale: obj.warmup(cfg.objective) !== undefined,
  };
}

export class TrainStep {
  private constructor(
    readonly cfg: StepConfig,
    /** The parameters it trains (see trainedParams), in the order they are initialised. */
    readonly params: readonly ParamSpec[],
    private readonly compiled: Compiled,
    private readonly slots: readonly string[],
    private readonly hasDropout: boolean,
    /** Steps traced into one run. */
    readonly steps: number,
    /** Buffers the training forward updates (the others are fed only). */
    private readonly updatedBuffers: ReadonlySet<string>,
  ) {}

  /**
   * Traces `cfg.stepsPerRun` consecutive steps into one graph (Keras' steps_per_execution): the
   * parameters and optimizer state cross the JS/native boundary once per K steps, not every step.
   */
  static async compile(cfg: StepConfig): Promise<TrainStep> {
    const { model, optimizer, objective } = cfg;
    const k = cfg.stepsPerRun ?? 1;
    const g = new Graph();
    const uses = stepInputs(cfg);
    const trained = trainedParams(cfg);
    const features = teacherTensors(objective).map((name) => {
      const dims = cfg.teacherFeatures?.get(name);
      if (!dims) throw new Error(`no shape given for the teacher tensor "${name}"`);
      return { name, dims };
    });
    const hasDropout = model.reg.inputDropout > 0 || model.reg.hiddenDropout > 0;
    const slots = stateSlots(optimizer);
    const params0 = trained.map((p) => g.input(paramInput(p.name), p.shape));
    const state0 = trained.map((p) => slots.map((s) => g.input(stateInput(p.name, s), p.shape)));
    const buffers = new Map(
      (model.buffers ?? []).map((b) => [b.name, g.input(bufferInput(b.name), b.shape)]),
    );
    const inputs: Tensor[] = [...params0, ...state0.flat(), ...buffers.values()];
    const outputs: Record<string, Tensor> = {};
    const updatedBuffers = new Set<string>();
    let params = params0;
    let state = state0;
    for (let j = 0; j < k; j++) {
      const x = g.input(sub("x", j), ["batch", ...model.inputShape]);
      const targets = uses.labels ? g.input(sub("targets", j), ["batch", model.numClasses]) : undefined;
      const teacher = uses.teacher ? g.input(sub("teacher", j), ["batch", model.numClasses]) : undefined;
      const seed = hasDropout ? g.input(sub("seed", j), [], "int64") : undefined;
      const scale = uses.scale ? g.input(sub("scale", j), []) : undefined;
      const teacherTaps = new Map(
        features.map((f) => [f.name, g.input(sub(teacherFeatureInput(f.name), j), ["batch", ...f.dims])]),
      );
      const hyper = {
        lr: g.input(sub("lr", j), []),
        momentum: g.input(sub("momentum", j), []),
        c1: g.input(sub("adam_c1", j), []),
        c2: g.input(sub("adam_c2", j), []),
      };
      inputs.push(x, ...[targets, teacher, seed, scale].filter((t): t is Tensor => t !== undefined));
      inputs.push(...teacherTaps.values());
      inputs.push(hyper.lr, hyper.momentum, hyper.c1, hyper.c2);

      const pmap = new ParamMap(
        new Map([...trained.map((p, i) => [p.name, params[i]!] as const), ...buffers]),
      );
      const taps = features.length > 0 ? new Map<string, Tensor>() : undefined;
      const opts: TrainingForward = {
        training: true,
        updates: new Map(),
        ...(seed ? { seed } : {}),
        ...(taps ? { taps } : {}),
      };
      const logits = model.forward(x, pmap, opts);
      for (const [name, t] of opts.updates) {
        buffers.set(name, t);
        updatedBuffers.add(name);
      }
      const terms = obj.build(objective, {
        student: { logits, tensors: taps ?? NO_TENSORS },
        targets,
        teacher: teacher ? { logits: teacher, tensors: teacherTaps } : undefined,
        scale,
        params: pmap,
      });
      const lossForGrad = wantsLrScaledGradients(optimizer) ? o.mul(terms.total, hyper.lr) : terms.total;
      const grads = grad(lossForGrad, params);
      outputs[sub("loss", j)] = terms.total;
      for (const name of obj.terms(objective)) outputs[sub(`part/${name}`, j)] = terms.parts[name]!;
      if (targets) outputs[sub("correct", j)] = correctCount(logits, targets);
      const updates = trained.map((spec, i) =>
        update(optimizer, spec, params[i]!, grads[i]!, state[i]!, hyper),
      );
      params = updates.map((u) => u.p);
      state = updates.map((u) => u.state);
    }
    trained.forEach((spec, i) => {
      outputs[updated(paramInput(spec.name))] = params[i]!;
      slots.forEach((s, j) => {
        outputs[updated(stateInput(spec.name, s))] = state[i]![j]!;
      });
    });
    for (const name of updatedBuffers) outputs[updated(bufferInput(name))] = buffers.get(name)!;
    const compiled = await Compiled.compile(
      { inputs, outputs, graphName: `train_${k}_steps` },
      cfg.threads === undefined ? {} : { threads: cfg.threads },
    );
    return new TrainStep(cfg, trained, compiled, slots, hasDropout, k, updatedBuffers);
  }

  /** Every array of the state the step updates, with its graph input name. */
  private stateArrays(state: TrainState) {
    const buffers = (this.cfg.model.buffers ?? []).filter((b) => this.updatedBuffers.has(b.name));
    return this.params
      .flatMap((p) => [
        { input: paramInput(p.name), map: state.params, key: p.name, dims: p.shape },
        ...this.slots.map((s) => ({
          input: stateInput(p.name, s),
          map: state.opt,
          key: stateInput(p.name, s),
          dims: p.shape,
        })),
      ])
      .concat(
        buffers.map((b) => ({ input: bufferInput(b.name), map: state.buffers!, key: b.name, dims: b.shape })),
      );
  }

  /** The model's buffers at their initial values (undefined for a model without buffers). */
  initialBuffers(): Map<string, Float32Array> | undefined {
    const { buffers } = this.cfg.model;
    if (!buffers?.length) return undefined;
    return new Map(
      buffers.map((b) => [b.name, new Float32Array(b.shape.reduce((a, d) => a * d, 1)).fill(b.init)]),
    );
  }

  /** Zero-initialised optimizer state for `params`. */
  initialOptState(): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (const p of this.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      for (const s of this.slots) m.set(stateInput(p.name, s), new Float32Array(n));
    }
    return m;
  }

  /** Runs `stepsPerRun` steps on as many batches; `state` then holds the new arrays. */
  async run(
    state: TrainState,
    batches: readonly Batch[],
    hypers: readonly StepHyper[],
  ): Promise<StepMetrics[]> {
    const { model, objective } = this.cfg;
    const uses = stepInputs(this.cfg);
    if (batches.length !== this.steps || hypers.length !== this.steps)
      throw new Error(`this step runs ${this.steps} batches at a time, got ${batches.length}`);
    const c = model.numClasses;
    const feeds: Record<string, HostTensor> = {};
    batches.forEach((batch, j) => {
      const h = hypers[j]!;
      feeds[sub("x", j)] = { data: batch.x, dims: [batch.size, ...model.inputShape] };
      feeds[sub("lr", j)] = scalarF32(h.lr);
      feeds[sub("momentum", j)] = scalarF32(h.momentum);
      feeds[sub("adam_c1", j)] = scalarF32(h.c1);
      feeds[sub("adam_c2", j)] = scalarF32(h.c2);
      if (uses.labels) {
        if (!batch.targets) throw new Error("this objective needs label targets");
        feeds[sub("targets", j)] = { data: batch.targets, dims: [batch.size, c] };
      }
      if (uses.teacher) {
        if (!batch.teacher) throw new Error("this objective needs teacher logits");
        feeds[sub("teacher", j)] = { data: batch.teacher, dims: [batch.size, c] };
      }
      for (const name of teacherTensors(objective)) {
        const data = batch.teacherFeatures?.get(name);
        if (!data) throw new Error(`this objective needs the teacher tensor "${name}"`);
        const dims = this.cfg.teacherFeatures!.get(name)!;
        feeds[sub(teacherFeatureInput(name), j)] = { data, dims: [batch.size, ...dims] };
      }
      if (this.hasDropout) feeds[sub("seed", j)] = scalarI64(h.seed >>> 0);
      if (uses.scale) feeds[sub("scale", j)] = scalarF32(h.scale ?? 1);
    });
    // Ping-pong: outputs land in the arrays the previous run read (state.spare), so a run
    // allocates nothing and never writes over its own inputs.
    const into: Record<string, HostTensor> = {};
    const spare = state.spare ?? new Map<string, Float32Array>();
    const arrays = this.stateArrays(state);
    const inputs = new Set(arrays.map(({ map, key }) => map.get(key)!));
    for (const { input, map, key, dims } of arrays) {
      const cur = map.get(key)!;
      feeds[input] = { data: cur, dims };
      // Never hand ONNX Runtime an output buffer that is also an input of this run.
      const free = spare.get(input);
      into[updated(input)] = { data: free && !inputs.has(free) ? free : new Float32Array(cur.length), dims };
    }
    for (const b of model.buffers ?? [])
      if (!this.updatedBuffers.has(b.name))
        feeds[bufferInput(b.name)] = { data: state.buffers!.get(b.name)!, dims: b.shape };
    const out = await this.compiled.run(feeds, undefined, into);
    state.spare = new Map();
    for (const { input, map, key } of arrays) {
      state.spare.set(input, map.get(key)!);
      map.set(key, into[updated(input)]!.data as Float32Array);
    }
    const num = (k: string) => (out[k] ? Number((out[k].data as Float32Array)[0]) : 0);
    const terms = obj.terms(objective);
    return batches.map((_, j) => ({
      loss: num(sub("loss", j)),
      parts: terms.map((t) => num(sub(`part/${t}`, j))),
      correct: num(sub("correct", j)),
    }));
  }

  async release(): Promise<void> {
    await this.compiled.release();
  }
}
