/**
 * The objective registry: what a student learns from, one entry (one file) per kind. Each entry
 * declares its parameters (a zod schema, so specs are checked at parse time), what it needs
 * (labels, a teacher) and builds its loss terms on a traced graph; the training step dispatches
 * here only. A new objective: its file, one key in ObjectiveParams and OBJECTIVES, and its test;
 * a parameter no other objective has also needs its `kd distill` flag (cli/commands/distill.ts).
 */
import type { ZodMiniObject } from "zod/mini";
import { KdError } from "../util/errors.js";
import { ce } from "./ce.js";
import { dist } from "./dist.js";
import { dkd } from "./dkd.js";
import { kd } from "./kd.js";
import { lskd } from "./lskd.js";
import { match } from "./match.js";
import type { ObjectiveDef, ObjectiveInputs } from "./types.js";

export type { ObjectiveDef, ObjectiveInputs, ObjectiveTerms } from "./types.js";

/** Each objective's parameters. */
export interface ObjectiveParams {
  ce: object;
  kd: { temperature: number; softWeight: number };
  match: { softWeight: number };
  dkd: { temperature: number; alpha: number; beta: number; warmup: number; ceWeight: number };
  lskd: { temperature: number; kdWeight: number; ceWeight: number };
  dist: { temperature: number; beta: number; gamma: number; ceWeight: number };
}
export type ObjectiveKind = keyof ObjectiveParams;
export type ObjectiveSpec = {
  [K in ObjectiveKind]: { readonly kind: K } & ObjectiveParams[K];
}[ObjectiveKind];

export const OBJECTIVES: { readonly [K in ObjectiveKind]: ObjectiveDef<K> } = {
  ce,
  kd,
  match,
  dkd,
  lskd,
  dist,
};

export const OBJECTIVE_KINDS = Object.keys(OBJECTIVES) as ObjectiveKind[];

/** The entry of a spec's kind, typed for its parameters. */
export function objectiveDef<K extends ObjectiveKind>(spec: { kind: K }): ObjectiveDef<K> {
  return OBJECTIVES[spec.kind] as unknown as ObjectiveDef<K>;
}

/** Checks an objective's parameters against its schema (the library's own argument validation). */
export function checkObjective(s: ObjectiveSpec): void {
  const def = OBJECTIVES[s.kind] as { params: ZodMiniObject } | undefined;
  if (!def) throw new KdError(`unknown objective "${s.kind}" (known: ${OBJECTIVE_KINDS.join(", ")})`);
  const { kind: _k, ...params } = s;
  const r = def.params.safeParse(params);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KdError(`objective ${s.kind}: ${i.path.join(".") || "parameters"}: ${i.message}`);
  }
}

/** An objective with its schema's defaults filled in (`{ kind: "dkd" }` → every DKD parameter). */
export function withDefaults(kind: ObjectiveKind, given: Record<string, unknown> = {}): ObjectiveSpec {
  const r = (OBJECTIVES[kind].params as ZodMiniObject).safeParse(given);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KdError(`objective ${kind}: ${i.path.join(".") || "parameters"}: ${i.message}`);
  }
  return { kind, ...(r.data as object) } as ObjectiveSpec;
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
