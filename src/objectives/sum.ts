/**
 * A run's objective as a weighted sum of registry entries: one entry plus weighted terms of others,
 * `{ kind, ...params, plus: [{ kind, weight, ...params }] }`, whose loss is the entry's total plus
 * Σ weight·total of each term, on one step graph. With `plus`, every term's parts are reported as
 * `<kind>.<part>` (`kd2.soft` where a kind repeats). Terms see the same inputs as the entry, so a
 * feature term (a hint on intermediate tensors) adds to a logit objective with no more plumbing.
 */
import * as z from "zod/mini";
import * as o from "../ir/ops.js";
import type { ObjectiveKind, ObjectiveSpec, SingleObjective } from "./index.js";
import { lossWeight, type ObjectiveDef, type ObjectiveInputs, type ObjectiveTerms } from "./types.js";

/** One added term: an entry's spec and its weight. */
export type PlusTerm = SingleObjective & { readonly weight: number };

/** What index.ts answers for one entry's spec; a sum combines these over its terms. */
export interface SingleCalls {
  usesLabels(s: SingleObjective, labeled: boolean): boolean;
  teacher(s: SingleObjective): boolean;
  needsLabels(s: SingleObjective): boolean;
  terms(s: SingleObjective): readonly string[];
  temperature(s: SingleObjective): number;
  warmup(s: SingleObjective): ((epoch: number) => number) | undefined;
  build(s: SingleObjective, x: ObjectiveInputs): ObjectiveTerms;
  describe(s: SingleObjective): string;
}

/**
 * The `plus` field: terms of any entry, none with a warm-up (the step has one warm-up scale, and
 * it is the main entry's).
 */
export function plusParam(registry: { readonly [K in ObjectiveKind]: ObjectiveDef<K> }, one: SingleCalls) {
  const term = z.discriminatedUnion(
    "kind",
    Object.entries(registry).map(([k, d]) =>
      z.extend(d.params as z.ZodMiniObject, { kind: z.literal(k), weight: lossWeight(1) }),
    ) as unknown as [z.ZodMiniObject, ...z.ZodMiniObject[]],
  );
  return z.optional(
    z.array(term).check(
      z.minLength(1),
      z.refine(
        (ts) => (ts as unknown as PlusTerm[]).every((t) => !one.warmup(t)),
        "an added term may not have a warm-up",
      ),
    ),
  );
}

/** Each term's label: its kind, numbered where the kind repeats. */
function labels(terms: readonly SingleObjective[]): string[] {
  const kinds = terms.map((t) => t.kind);
  const count = (k: string, upTo = kinds.length) => kinds.slice(0, upTo).filter((x) => x === k).length;
  return kinds.map((k, i) => (count(k) > 1 ? `${k}${count(k, i + 1)}` : k));
}

/** The calls for a spec with `plus`, from its terms' (the main entry first, at weight 1). */
export function sumCalls(one: SingleCalls) {
  type Sum = ObjectiveSpec & { readonly plus: readonly PlusTerm[] };
  const all = (s: Sum): readonly SingleObjective[] => [s, ...s.plus];
  return {
    usesLabels: (s: Sum, labeled: boolean) => all(s).some((t) => one.usesLabels(t, labeled)),
    teacher: (s: Sum) => all(s).some(one.teacher),
    needsLabels: (s: Sum) => all(s).some(one.needsLabels),
    terms: (s: Sum) => {
      const l = labels(all(s));
      return all(s).flatMap((t, i) => one.terms(t).map((n) => `${l[i]}.${n}`));
    },
    // A "prob" ensemble averages its members once, at the first teacher term's temperature.
    temperature: (s: Sum) => {
      const t = all(s).find(one.teacher);
      return t ? one.temperature(t) : 1;
    },
    warmup: (s: Sum) => one.warmup(s),
    build: (s: Sum, x: ObjectiveInputs): ObjectiveTerms => {
      const l = labels(all(s));
      const built = all(s).map((t, i) =>
        one.build(t, {
          ...x,
          // Labels are fed when any term uses them; a term that would not does not see them.
          targets: x.targets && one.usesLabels(t, true) ? x.targets : undefined,
          scale: i === 0 ? x.scale : undefined,
        }),
      );
      const total = s.plus.reduce((acc, t, i) => {
        const b = built[i + 1]!.total;
        return o.add(acc, t.weight === 1 ? b : o.mul(b, t.weight));
      }, built[0]!.total);
      const parts = all(s).flatMap((t, i) => one.terms(t).map((n) => [`${l[i]}.${n}`, built[i]!.parts[n]!]));
      return { total, parts: Object.fromEntries(parts) };
    },
    describe: (s: Sum) =>
      [one.describe(s), ...s.plus.map((t) => `${t.weight}·(${one.describe(t)})`)].join(" + "),
  };
}
