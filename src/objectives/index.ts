/**
 * The objective registry: what a student learns from, one entry per kind. Each entry declares its
 * parameters (a zod schema, so specs are checked at parse time), what it needs (labels, a
 * teacher) and builds its loss terms on a traced graph; the training step dispatches here only.
 */
import { z } from "zod";
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { crossEntropy, logitMatchingLoss, softTargetLoss } from "../losses/losses.js";

/** Each objective's parameters. */
export interface ObjectiveParams {
  /** Cross-entropy with the labels alone. */
  ce: object;
  /** Hinton et al. (2015): w·T²·KL(p‖q) + (1 − w)·CE(labels). */
  kd: { temperature: number; softWeight: number };
  /** Squared error of zero-meaned logits (the high-temperature limit), mixed with CE like kd. */
  match: { softWeight: number };
}
export type ObjectiveKind = keyof ObjectiveParams;
export type ObjectiveSpec = {
  [K in ObjectiveKind]: { readonly kind: K } & ObjectiveParams[K];
}[ObjectiveKind];

/** What an objective's loss is built from, on the step graph. */
export interface ObjectiveInputs {
  readonly logits: Tensor;
  /** One-hot labels, when the objective uses them and the data has them. */
  readonly targets: Tensor | undefined;
  /** Teacher logits, when the objective needs a teacher. */
  readonly teacher: Tensor | undefined;
  /** A per-step scalar multiplying the distillation part (see `warmup`); present when declared. */
  readonly scale: Tensor | undefined;
}

export interface ObjectiveTerms {
  /** The loss that is differentiated. */
  readonly total: Tensor;
  /** Named parts reported every epoch (declared in `terms`, same order). */
  readonly parts: Readonly<Record<string, Tensor>>;
}

export interface ObjectiveDef<K extends ObjectiveKind> {
  readonly params: z.ZodType<ObjectiveParams[K]> & z.ZodObject;
  readonly summary: string;
  /** Whether teacher logits are an input. */
  readonly teacher: boolean;
  /** Whether the loss uses labels when the data has them (and the data must have them if `needsLabels`). */
  usesLabels(p: ObjectiveParams[K], labeled: boolean): boolean;
  readonly needsLabels: boolean;
  /** Names of the reported parts. */
  readonly terms: readonly string[];
  /** The temperature at which a "prob" ensemble of teachers averages its members (1 if none). */
  temperature(p: ObjectiveParams[K]): number;
  /** Per-epoch multiplier of the distillation part (a warm-up); absent: always 1, no extra input. */
  readonly warmup?: (p: ObjectiveParams[K], epoch: number) => number;
  build(p: ObjectiveParams[K], x: ObjectiveInputs): ObjectiveTerms;
  describe(p: ObjectiveParams[K]): string;
}

const weight = z.number().min(0).max(1);
const temperature = z.number().positive().max(1000);

/** total = w·soft + (1 − w)·hard, or the soft term alone when there are no labels (or w = 1). */
function mix(soft: Tensor, hard: Tensor | undefined, w: number): Tensor {
  return !hard || w === 1 ? soft : o.add(o.mul(soft, w), o.mul(hard, 1 - w));
}

function zero(like: Tensor): Tensor {
  return o.constant(like.graph, 0, [], like.dtype);
}

export const OBJECTIVES: { readonly [K in ObjectiveKind]: ObjectiveDef<K> } = {
  ce: {
    params: z.strictObject({}),
    summary: "cross-entropy with the labels",
    teacher: false,
    usesLabels: () => true,
    needsLabels: true,
    terms: ["ce"],
    temperature: () => 1,
    build: (_, x) => {
      const hard = crossEntropy(x.logits, x.targets!);
      return { total: hard, parts: { ce: hard } };
    },
    describe: () => "labels",
  },
  kd: {
    params: z.strictObject({ temperature: temperature.default(20), softWeight: weight.default(0.5) }),
    summary: "soft targets at temperature T (Hinton et al. 2015): w·T²·KL(p‖q) + (1−w)·CE",
    teacher: true,
    usesLabels: (p, labeled) => labeled && p.softWeight < 1,
    needsLabels: false,
    terms: ["soft", "hard"],
    temperature: (p) => p.temperature,
    build: (p, x) => {
      const hard = x.targets ? crossEntropy(x.logits, x.targets) : undefined;
      const soft = softTargetLoss(x.logits, x.teacher!, p.temperature);
      return { total: mix(soft, hard, p.softWeight), parts: { soft, hard: hard ?? zero(soft) } };
    },
    describe: (p) => `soft targets T=${p.temperature} (w=${p.softWeight})`,
  },
  match: {
    params: z.strictObject({ softWeight: weight.default(0.5) }),
    summary: "squared error of zero-meaned logits (the high-T limit), mixed with CE",
    teacher: true,
    usesLabels: (p, labeled) => labeled && p.softWeight < 1,
    needsLabels: false,
    terms: ["soft", "hard"],
    temperature: () => 1,
    build: (p, x) => {
      const hard = x.targets ? crossEntropy(x.logits, x.targets) : undefined;
      const soft = logitMatchingLoss(x.logits, x.teacher!);
      return { total: mix(soft, hard, p.softWeight), parts: { soft, hard: hard ?? zero(soft) } };
    },
    describe: (p) => `logit matching (w=${p.softWeight})`,
  },
};

export const OBJECTIVE_KINDS = Object.keys(OBJECTIVES) as ObjectiveKind[];

/** The entry of a spec's kind, typed for its parameters. */
export function objectiveDef<K extends ObjectiveKind>(spec: { kind: K }): ObjectiveDef<K> {
  return OBJECTIVES[spec.kind] as unknown as ObjectiveDef<K>;
}

/** Calls a def's method with the spec as its parameters (the spec's kind picks the def). */
export const objective = {
  usesLabels: (s: ObjectiveSpec, labeled: boolean) => objectiveDef(s).usesLabels(s as never, labeled),
  teacher: (s: ObjectiveSpec) => objectiveDef(s).teacher,
  needsLabels: (s: ObjectiveSpec) => objectiveDef(s).needsLabels,
  terms: (s: ObjectiveSpec) => objectiveDef(s).terms,
  temperature: (s: ObjectiveSpec) => objectiveDef(s).temperature(s as never),
  warmup: (s: ObjectiveSpec) => {
    const w = objectiveDef(s).warmup;
    return w ? (epoch: number) => w(s as never, epoch) : undefined;
  },
  build: (s: ObjectiveSpec, x: ObjectiveInputs) => objectiveDef(s).build(s as never, x),
  describe: (s: ObjectiveSpec) => objectiveDef(s).describe(s as never),
};
