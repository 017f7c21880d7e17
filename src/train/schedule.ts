/** Learning-rate and momentum schedules: typed registries of structured specs, evaluated per epoch. */
import { z } from "zod";
import { KdError } from "../util/errors.js";

/** A value as a function of the (0-based) epoch and the run's epoch count. */
export type Schedule = (epoch: number, epochs: number) => number;

const pos = z.number().positive().finite();

/** Each learning-rate schedule's parameters (besides the base rate). */
export interface LrScheduleParams {
  constant: object;
  /** × factor each epoch, as in the dropout papers. */
  exp: { factor: number };
  /** × factor every `every` epochs. */
  step: { every: number; factor: number };
  /** Half a cosine from the base rate to 0 over the run. */
  cosine: object;
  /** A straight line from the base rate to 0 over the run. */
  linear: object;
}
export type LrScheduleKind = keyof LrScheduleParams;
export type LrScheduleSpec = {
  [K in LrScheduleKind]: { readonly kind: K } & LrScheduleParams[K];
}[LrScheduleKind];

interface LrDef<K extends LrScheduleKind> {
  readonly params: z.ZodType<LrScheduleParams[K]> & z.ZodObject;
  /** Whether the value depends on the run's length (then the epoch count is part of the schedule). */
  readonly usesLength: boolean;
  at(p: LrScheduleParams[K], base: number, epoch: number, epochs: number): number;
}

export const LR_SCHEDULES: { readonly [K in LrScheduleKind]: LrDef<K> } = {
  constant: { params: z.strictObject({}), usesLength: false, at: (_, b) => b },
  exp: {
    params: z.strictObject({ factor: pos }),
    usesLength: false,
    at: (p, b, e) => b * p.factor ** e,
  },
  step: {
    params: z.strictObject({ every: z.number().int().positive(), factor: pos }),
    usesLength: false,
    at: (p, b, e) => b * p.factor ** Math.floor(e / p.every),
  },
  cosine: {
    params: z.strictObject({}),
    usesLength: true,
    at: (_, b, e, n) => b * 0.5 * (1 + Math.cos((Math.PI * e) / Math.max(1, n))),
  },
  linear: {
    params: z.strictObject({}),
    usesLength: true,
    at: (_, b, e, n) => b * (1 - e / Math.max(1, n)),
  },
};

function def<K extends LrScheduleKind>(spec: { kind: K }): LrDef<K> {
  return LR_SCHEDULES[spec.kind] as unknown as LrDef<K>;
}

export function lrSchedule(base: number, spec: LrScheduleSpec): Schedule {
  const d = def(spec);
  return (e, n) => d.at(spec as never, base, e, n);
}

export function lrScheduleUsesLength(spec: LrScheduleSpec): boolean {
  return def(spec).usesLength;
}

/** Momentum: a constant, or a linear ramp from `from` to `to` over `epochs` (Hinton et al. 2012). */
export type MomentumSpec =
  | number
  | { readonly kind: "ramp"; readonly from: number; readonly to: number; readonly epochs: number };

const unit = z.number().min(0).lt(1);
export const momentumSchema = z.union([
  unit,
  z.strictObject({ kind: z.literal("ramp"), from: unit, to: unit, epochs: z.number().positive() }),
]);

export function momentumSchedule(spec: MomentumSpec): Schedule {
  if (typeof spec === "number") return () => spec;
  return (e) => spec.from + (spec.to - spec.from) * Math.min(1, e / spec.epochs);
}

/**
 * The command line's short forms: "constant", "exp:0.98", "step:10:0.5", "cosine", "linear".
 * `flag` names the option in messages.
 */
export function parseLrSchedule(text: string, flag = "learning-rate schedule"): LrScheduleSpec {
  const [kind, a, b, ...rest] = text.trim().split(":");
  const n = (v: string | undefined, what: string) => {
    const x = Number(v);
    if (v === undefined || !/^\d*\.?\d+(e-?\d+)?$/i.test(v.trim()) || !(x > 0))
      throw new KdError(`${flag} "${text}": ${what} must be a positive number`);
    return x;
  };
  const extra = (count: number) => {
    if ([a, b].slice(count).some((v) => v !== undefined) || rest.length > 0)
      throw new KdError(`${flag} "${text}": too many parts`);
  };
  switch (kind) {
    case "constant":
    case "cosine":
    case "linear":
      extra(0);
      return { kind } as LrScheduleSpec;
    case "exp":
      extra(1);
      return { kind, factor: n(a, "the factor") };
    case "step": {
      extra(2);
      const every = n(a, "the step length");
      if (!Number.isInteger(every)) throw new KdError(`${flag} "${text}": the step length must be whole`);
      return { kind, every, factor: n(b, "the factor") };
    }
    default:
      throw new KdError(`unknown ${flag} "${text}" (constant, exp:F, step:N:F, cosine, linear)`);
  }
}

/** "0.9" or a ramp "0.5:0.99:10". */
export function parseMomentum(text: string, flag = "momentum"): MomentumSpec {
  const parts = text.split(":").map((s) => (/^\s*\d*\.?\d+\s*$/.test(s) ? Number(s) : Number.NaN));
  const ok = (m: number | undefined) => m !== undefined && Number.isFinite(m) && m >= 0 && m < 1;
  if (parts.length === 1 && ok(parts[0])) return parts[0]!;
  if (parts.length === 3 && ok(parts[0]) && ok(parts[1]) && parts[2]! > 0)
    return { kind: "ramp", from: parts[0]!, to: parts[1]!, epochs: parts[2]! };
  throw new KdError(`${flag} "${text}": expected a value in [0, 1) or start:end:epochs`);
}
