/**
 * The objective registry: what a student learns from, one entry (one file) per kind. Each entry
 * declares its parameters (a zod schema, so specs are checked at parse time), what it needs
 * (labels, a teacher) and builds its loss terms on a traced graph; the training step dispatches
 * here only. A run's objective is one entry, optionally plus weighted terms of others (sum.ts).
 * A new objective: its file, one key in ObjectiveParams and OBJECTIVES, and its test.
 */
import * as z from "zod/mini";
import type { ParamSpec } from "../nn/layers.js";
import { KdError } from "../util/errors.js";
import { attention } from "./attention.js";
import { ce } from "./ce.js";
import { dist } from "./dist.js";
import { dkd } from "./dkd.js";
import { hints } from "./hints.js";
import { kd } from "./kd.js";
import { lskd } from "./lskd.js";
import { match } from "./match.js";
import { type PlusTerm, plusParam, type SingleCalls, sumCalls } from "./sum.js";
import type { ObjectiveDef } from "./types.js";

export type { PlusTerm } from "./sum.js";
export type { FeatureDef, NetTensors, ObjectiveDef, ObjectiveInputs, ObjectiveTerms } from "./types.js";

/** Each objective's parameters. */
export interface ObjectiveParams {
  ce: object;
  kd: { temperature: number; softWeight: number };
  match: { softWeight: number };
  dkd: { temperature: number; alpha: number; beta: number; warmup: number; ceWeight: number };
  lskd: { temperature: number; kdWeight: number; ceWeight: number };
  dist: { temperature: number; beta: number; gamma: number; ceWeight: number };
  hints: { teacherTensor: string; studentLayer: string };
  attention: { teacherTensor: string; studentLayer: string; beta: number };
}
export type ObjectiveKind = keyof ObjectiveParams;
/** One entry's spec: its kind and parameters. */
export type SingleObjective = {
  [K in ObjectiveKind]: { readonly kind: K } & ObjectiveParams[K];
}[ObjectiveKind];
/** A run's objective: one entry, plus weighted terms of other entries when `plus` is given. */
export type ObjectiveSpec = SingleObjective & { readonly plus?: readonly PlusTerm[] | undefined };

export const OBJECTIVES: { readonly [K in ObjectiveKind]: ObjectiveDef<K> } = {
  ce,
  kd,
  match,
  dkd,
  lskd,
  dist,
  hints,
  attention,
};

export const OBJECTIVE_KINDS = Object.keys(OBJECTIVES) as ObjectiveKind[];

/** The entry of a spec's kind, typed for its parameters. */
export function objectiveDef<K extends ObjectiveKind>(spec: { kind: K }): ObjectiveDef<K> {
  return OBJECTIVES[spec.kind] as unknown as ObjectiveDef<K>;
}

/** Calls a def's method with the spec as its parameters (the spec's kind picks the def). */
const one: SingleCalls = {
  usesLabels: (s, labeled) => objectiveDef(s).usesLabels(s as never, labeled),
  teacher: (s) => objectiveDef(s).teacher,
  needsLabels: (s) => objectiveDef(s).needsLabels,
  terms: (s) => objectiveDef(s).terms,
  temperature: (s) => objectiveDef(s).temperature(s as never),
  warmup: (s) => {
    const w = objectiveDef(s).warmup;
    return w ? (epoch: number) => w(s as never, epoch) : undefined;
  },
  build: (s, x) => objectiveDef(s).build(s as never, x),
  describe: (s) => objectiveDef(s).describe(s as never),
};
const sum = sumCalls(one);

/** What a run's `objective` may be, by kind, for the spec schema: each entry's params and `plus`. */
export const RUN_OBJECTIVES = Object.fromEntries(
  OBJECTIVE_KINDS.map((k) => [
    k,
    { params: z.extend(OBJECTIVES[k].params as z.ZodMiniObject, { plus: plusParam(OBJECTIVES, one) }) },
  ]),
) as unknown as { readonly [K in ObjectiveKind]: { readonly params: z.ZodMiniObject } };

/** Checks an objective's parameters against its schema (the library's own argument validation). */
export function checkObjective(s: ObjectiveSpec): void {
  const def = RUN_OBJECTIVES[s.kind] as { params: z.ZodMiniObject } | undefined;
  if (!def) throw new KdError(`unknown objective "${s.kind}" (known: ${OBJECTIVE_KINDS.join(", ")})`);
  const { kind: _k, ...params } = s;
  const r = def.params.safeParse(params);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KdError(`objective ${s.kind}: ${i.path.join(".") || "parameters"}: ${i.message}`);
  }
}

/** An objective with its schema's defaults filled in (`{ kind: "dkd" }` → every DKD parameter). */
export function withDefaults(kind: ObjectiveKind, given: Record<string, unknown> = {}): SingleObjective {
  const r = (OBJECTIVES[kind].params as z.ZodMiniObject).safeParse(given);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KdError(`objective ${kind}: ${i.path.join(".") || "parameters"}: ${i.message}`);
  }
  return { kind, ...(r.data as object) } as SingleObjective;
}

/** One method per spec: with `plus`, the answers combine its terms'; else they are the entry's own. */
const either =
  <A extends unknown[], R>(
    f: (s: SingleObjective, ...a: A) => R,
    g: (s: ObjectiveSpec & { plus: readonly PlusTerm[] }, ...a: A) => R,
  ) =>
  (s: ObjectiveSpec, ...a: A): R =>
    s.plus ? g(s as ObjectiveSpec & { plus: readonly PlusTerm[] }, ...a) : f(s, ...a);

export const objective = {
  usesLabels: either(one.usesLabels, sum.usesLabels),
  teacher: either(one.teacher, sum.teacher),
  needsLabels: either(one.needsLabels, sum.needsLabels),
  terms: either(one.terms, sum.terms),
  temperature: either(one.temperature, sum.temperature),
  warmup: either(one.warmup, sum.warmup),
  build: either(one.build, sum.build),
  describe: either(one.describe, sum.describe),
};

/** One feature term of a spec (its entry or a `plus` term): which teacher tensor and student layer it reads. */
export interface FeatureUse {
  readonly kind: ObjectiveKind;
  readonly teacherTensor: string;
  readonly studentLayer: string;
}

const termsOf = (s: ObjectiveSpec): readonly SingleObjective[] => [s, ...(s.plus ?? [])];

/** The feature terms of a spec, in order (none for logit objectives). */
export function featureUses(s: ObjectiveSpec): FeatureUse[] {
  return termsOf(s).flatMap((t) => {
    const f = objectiveDef(t).feature;
    if (!f) return [];
    const { teacherTensor, studentLayer } = f.names(t as never);
    return [{ kind: t.kind, teacherTensor, studentLayer }];
  });
}

/** The teacher tensors a spec's feature terms read, each once, in order. */
export const teacherTensors = (s: ObjectiveSpec): string[] => [
  ...new Set(featureUses(s).map((u) => u.teacherTensor)),
];

/**
 * Checks each feature term's per-example shapes (one line naming both where they cannot match)
 * and returns the parameters the terms train with the student, each once. The names must be
 * known in both maps (distill/features.ts refuses unknown ones first, naming the closest).
 */
export function featureParams(
  s: ObjectiveSpec,
  student: ReadonlyMap<string, readonly number[]>,
  teacher: ReadonlyMap<string, readonly number[]>,
): ParamSpec[] {
  const out = new Map<string, ParamSpec>();
  for (const t of termsOf(s)) {
    const f = objectiveDef(t).feature;
    if (!f) continue;
    const { teacherTensor, studentLayer } = f.names(t as never);
    const [ss, ts] = [student.get(studentLayer), teacher.get(teacherTensor)];
    if (!ss) throw new KdError(`the student has no layer "${studentLayer}"`);
    if (!ts) throw new KdError(`no shape known for the teacher tensor "${teacherTensor}"`);
    f.check(t as never, ss, ts);
    for (const p of f.params(t as never, ss, ts)) out.set(p.name, p);
  }
  return [...out.values()];
}
