/** The shape of an objective's registry entry, and the small pieces the entries share. */
// zod/mini, not zod: the training step (and so the browser page) imports these schemas, and
// zod/mini tree-shakes to a few KiB where the classic API brings ~440 KiB.
import * as z from "zod/mini";
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import type { ParamSpec } from "../nn/layers.js";
import type { ObjectiveKind, ObjectiveParams } from "./index.js";

/** One network's side of the step graph: its logits and named intermediate tensors. */
export interface NetTensors {
  readonly logits: Tensor;
  /**
   * Intermediate tensors by name (e.g. a hidden layer's activations), for objectives that match
   * features rather than logits (FitNets hints, attention transfer). Empty until an entry asks for one.
   */
  readonly tensors: ReadonlyMap<string, Tensor>;
}

/** What an objective's loss is built from, on the step graph. */
export interface ObjectiveInputs {
  readonly student: NetTensors;
  /** One-hot labels, when the objective uses them and the data has them. */
  readonly targets: Tensor | undefined;
  /** The teacher's side, when the objective needs a teacher. */
  readonly teacher: NetTensors | undefined;
  /** A per-step scalar multiplying the distillation part (see `warmup`); present when declared. */
  readonly scale: Tensor | undefined;
  /** The objectives' own trainable parameters by name (see FeatureDef.params), where any are declared. */
  readonly params?: { get(name: string): Tensor };
}

/**
 * What a feature objective adds to an entry: the teacher tensor and student layer it matches, the
 * shapes it accepts and the parameters it trains with the student (a regressor), which are
 * optimised, checkpointed and resumed with the student's and never exported.
 */
export interface FeatureDef<P> {
  /** The teacher's ONNX tensor and the student's layer (Block.name) it reads. */
  names(p: P): { readonly teacherTensor: string; readonly studentLayer: string };
  /** Refuses, in one line naming both shapes, per-example shapes it cannot match. */
  check(p: P, student: readonly number[], teacher: readonly number[]): void;
  /** Its parameters for these per-example shapes (none: []); their names are unique to its names. */
  params(p: P, student: readonly number[], teacher: readonly number[]): ParamSpec[];
}

export interface ObjectiveTerms {
  /** The loss that is differentiated. */
  readonly total: Tensor;
  /** Named parts reported every epoch (declared in `terms`, same order). */
  readonly parts: Readonly<Record<string, Tensor>>;
}

export interface ObjectiveDef<K extends ObjectiveKind> {
  readonly params: z.ZodMiniType<ObjectiveParams[K]> & z.ZodMiniObject;
  readonly summary: string;
  /** Whether teacher logits are an input. */
  readonly teacher: boolean;
  /** Whether the loss uses labels when the data has them (and the data must have them if `needsLabels`). */
  usesLabels(p: ObjectiveParams[K], labeled: boolean): boolean;
  readonly needsLabels: boolean;
  /** Names of the reported parts. */
  readonly terms: readonly string[];
  /** One line per parameter for `kd distill --help` (its flag is the kebab-cased name). */
  readonly help: { readonly [P in keyof ObjectiveParams[K]]-?: string };
  /** The temperature at which a "prob" ensemble of teachers averages its members (1 if none). */
  temperature(p: ObjectiveParams[K]): number;
  /** Per-epoch (0-based) multiplier of the distillation part, a warm-up; absent: always 1, no extra input. */
  readonly warmup?: (p: ObjectiveParams[K], epoch: number) => number;
  build(p: ObjectiveParams[K], x: ObjectiveInputs): ObjectiveTerms;
  describe(p: ObjectiveParams[K]): string;
  /** Present for objectives on intermediate tensors (they also need a teacher). */
  readonly feature?: FeatureDef<ObjectiveParams[K]>;
}

/** total = w·soft + (1 − w)·hard, or the soft term alone when there are no labels (or w = 1). */
export function mix(soft: Tensor, hard: Tensor | undefined, w: number): Tensor {
  return !hard || w === 1 ? soft : o.add(o.mul(soft, w), o.mul(hard, 1 - w));
}

/**
 * ceWeight·CE + scale·distillation: the additive form DKD, LSKD and DIST are published with.
 * Without labels (or a zero CE weight) the distillation part alone.
 */
export function addCe(dist: Tensor, hard: Tensor | undefined, ceWeight: number, scale?: Tensor): Tensor {
  const d = scale ? o.mul(dist, scale) : dist;
  return hard && ceWeight > 0 ? o.add(o.mul(hard, ceWeight), d) : d;
}

export function zero(like: Tensor): Tensor {
  return o.constant(like.graph, 0, [], like.dtype);
}

/** A weight in [0, 1], default `d`. */
export const weight = (d: number) => z._default(z.number().check(z.minimum(0), z.maximum(1)), d);
/** A temperature in (0, 1000], default `d`. */
export const temperature = (d: number) => z._default(z.number().check(z.positive(), z.maximum(1000)), d);
/** A non-negative loss weight, default `d`. */
export const lossWeight = (d: number) => z._default(z.number().check(z.minimum(0), z.maximum(1000)), d);

/** A tensor name: a teacher's ONNX tensor or a student's layer. */
export const tensorName = z.string().check(z.minLength(1), z.maxLength(1000));

/** "[64, 8, 8]". */
export const shapeText = (s: readonly number[]): string => `[${s.join(", ")}]`;
