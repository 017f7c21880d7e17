/** The training step: forward, loss, gradients and optimizer updates traced into one compiled graph. */
import { grad } from "../autodiff/grad.js";
import * as o from "../ir/ops.js";
import { Graph, type Tensor } from "../ir/tensor.js";
import { correctCount, crossEntropy, logitMatchingLoss, softTargetLoss } from "../losses/losses.js";
import { ParamMap } from "../nn/layers.js";
import type { Model } from "../nn/model.js";
import { type OptimizerConfig, stateSlots, update } from "../optim/optimizers.js";
import { Compiled, type HostTensor, scalarF32, scalarI64 } from "../runtime/session.js";

/** What the student learns from. */
export type Objective =
  | { readonly kind: "labels" }
  /** Soft targets at temperature T; total = w·T²·KL + (1−w)·CE(labels). Unlabeled data: soft term only. */
  | {
      readonly kind: "distill";
      readonly temperature: number;
      readonly softWeight: number;
      readonly labeled: boolean;
    }
  /** Squared error between zero-meaned logits instead of the soft term. */
  | { readonly kind: "match"; readonly softWeight: number; readonly labeled: boolean };

export interface StepConfig {
  readonly model: Model;
  readonly optimizer: OptimizerConfig;
  readonly objective: Objective;
  readonly threads?: number;
}

/** Parameters and optimizer state, as flat arrays by name. Replaced (not mutated) by each step. */
export interface TrainState {
  params: Map<string, Float32Array>;
  opt: Map<string, Float32Array>;
}

export interface Batch {
  readonly x: Float32Array;
  readonly size: number;
  /** One-hot (or soft) label rows, [size, classes]; absent for unlabeled transfer sets. */
  readonly targets?: Float32Array;
  /** Teacher logits, [size, classes]; required by the distill and match objectives. */
  readonly teacher?: Float32Array;
}

export interface StepHyper {
  readonly lr: number;
  readonly momentum: number;
  readonly c1: number;
  readonly c2: number;
  /** Seeds this step's dropout masks. */
  readonly seed: number;
}

export interface StepMetrics {
  readonly loss: number;
  readonly soft: number;
  readonly hard: number;
  readonly correct: number;
}

export const paramInput = (name: string) => `param/${name}`;
export const stateInput = (name: string, slot: string) => `state/${name}/${slot}`;
const updated = (input: string) => `new/${input}`;

export function usesLabels(obj: Objective): boolean {
  return obj.kind === "labels" || (obj.labeled && obj.softWeight < 1);
}
export function usesTeacher(obj: Objective): boolean {
  return obj.kind !== "labels";
}

/** Builds the objective's loss terms on a traced graph. */
export function objectiveTerms(
  obj: Objective,
  logits: Tensor,
  targets: Tensor | undefined,
  teacher: Tensor | undefined,
) {
  const g = logits.graph;
  const zero = o.constant(g, 0, [], logits.dtype);
  const hard = targets ? crossEntropy(logits, targets) : zero;
  if (obj.kind === "labels") return { total: hard, soft: zero, hard };
  const soft =
    obj.kind === "distill"
      ? softTargetLoss(logits, teacher!, obj.temperature)
      : logitMatchingLoss(logits, teacher!);
  const w = targets ? obj.softWeight : 1;
  const total = w === 1 ? soft : o.add(o.mul(soft, w), o.mul(hard, 1 - w));
  return { total, soft, hard };
}

export class TrainStep {
  private constructor(
    readonly cfg: StepConfig,
    private readonly compiled: Compiled,
    private readonly slots: readonly string[],
    private readonly hasDropout: boolean,
  ) {}

  static async compile(cfg: StepConfig): Promise<TrainStep> {
    const { model, optimizer, objective } = cfg;
    const g = new Graph();
    const x = g.input("x", ["batch", ...model.inputShape]);
    const labeled = usesLabels(objective);
    const targets = labeled ? g.input("targets", ["batch", model.numClasses]) : undefined;
    const teacher = usesTeacher(objective) ? g.input("teacher", ["batch", model.numClasses]) : undefined;
    const hasDropout = model.reg.inputDropout > 0 || model.reg.hiddenDropout > 0;
    const seed = hasDropout ? g.input("seed", [], "int64") : undefined;
    const hyper = {
      lr: g.input("lr", []),
      momentum: g.input("momentum", []),
      c1: g.input("adam_c1", []),
      c2: g.input("adam_c2", []),
    };
    const slots = stateSlots(optimizer);
    const params = model.params.map((p) => g.input(paramInput(p.name), p.shape));
    const state = model.params.map((p) => slots.map((s) => g.input(stateInput(p.name, s), p.shape)));
    const pmap = new ParamMap(new Map(model.params.map((p, i) => [p.name, params[i]!])));

    const logits = model.forward(x, pmap, seed ? { training: true, seed } : { training: true });
    const terms = objectiveTerms(objective, logits, targets, teacher);
    const grads = grad(terms.total, params);

    const outputs: Record<string, Tensor> = { loss: terms.total, soft: terms.soft, hard: terms.hard };
    if (targets) outputs.correct = correctCount(logits, targets);
    model.params.forEach((spec, i) => {
      const u = update(optimizer, spec, params[i]!, grads[i]!, state[i]!, hyper);
      outputs[updated(paramInput(spec.name))] = u.p;
      slots.forEach((s, j) => {
        outputs[updated(stateInput(spec.name, s))] = u.state[j]!;
      });
    });
    const inputs = [x, ...(targets ? [targets] : []), ...(teacher ? [teacher] : []), ...(seed ? [seed] : [])];
    inputs.push(hyper.lr, hyper.momentum, hyper.c1, hyper.c2, ...params, ...state.flat());
    const compiled = await Compiled.compile(
      { inputs, outputs, graphName: "train_step" },
      cfg.threads === undefined ? {} : { threads: cfg.threads },
    );
    return new TrainStep(cfg, compiled, slots, hasDropout);
  }

  /** Zero-initialised optimizer state for `params`. */
  initialOptState(): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (const p of this.cfg.model.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      for (const s of this.slots) m.set(stateInput(p.name, s), new Float32Array(n));
    }
    return m;
  }

  /** Runs one step; `state` is updated in place with the step's new arrays. */
  async run(state: TrainState, batch: Batch, h: StepHyper): Promise<StepMetrics> {
    const { model, objective } = this.cfg;
    const c = model.numClasses;
    const feeds: Record<string, HostTensor> = {
      x: { data: batch.x, dims: [batch.size, ...model.inputShape] },
      lr: scalarF32(h.lr),
      momentum: scalarF32(h.momentum),
      adam_c1: scalarF32(h.c1),
      adam_c2: scalarF32(h.c2),
    };
    if (usesLabels(objective)) {
      if (!batch.targets) throw new Error("this objective needs label targets");
      feeds.targets = { data: batch.targets, dims: [batch.size, c] };
    }
    if (usesTeacher(objective)) {
      if (!batch.teacher) throw new Error("this objective needs teacher logits");
      feeds.teacher = { data: batch.teacher, dims: [batch.size, c] };
    }
    if (this.hasDropout) feeds.seed = scalarI64(h.seed >>> 0);
    for (const p of model.params) {
      feeds[paramInput(p.name)] = { data: state.params.get(p.name)!, dims: p.shape };
      for (const s of this.slots) {
        const k = stateInput(p.name, s);
        feeds[k] = { data: state.opt.get(k)!, dims: p.shape };
      }
    }
    const out = await this.compiled.run(feeds);
    for (const p of model.params) {
      state.params.set(p.name, out[updated(paramInput(p.name))]!.data as Float32Array);
      for (const s of this.slots) {
        const k = stateInput(p.name, s);
        state.opt.set(k, out[updated(k)]!.data as Float32Array);
      }
    }
    const num = (k: string) => (out[k] ? Number((out[k].data as Float32Array)[0]) : 0);
    return { loss: num("loss"), soft: num("soft"), hard: num("hard"), correct: num("correct") };
  }

  async release(): Promise<void> {
    await this.compiled.release();
  }
}
