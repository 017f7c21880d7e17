/** Learning-rate and momentum schedules, parsed from short strings and evaluated per epoch. */
import { KdError } from "../util/errors.js";

/** A value as a function of the (0-based) epoch and the run's epoch count. */
export type Schedule = (epoch: number, epochs: number) => number;

/**
 * Learning rate: "constant", "exp:0.98" (× 0.98 each epoch, as in the dropout papers),
 * "step:10:0.5" (halve every 10 epochs), "cosine" (to 0 at the end), "linear" (to 0).
 */
export function lrSchedule(base: number, spec: string): Schedule {
  const [kind, a, b] = spec.split(":");
  const num = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0)
      throw new KdError(`--lr-schedule ${spec}: ${what} must be a positive number`);
    return n;
  };
  switch (kind) {
    case "constant":
      return () => base;
    case "exp": {
      const f = num(a, "the factor");
      return (e) => base * f ** e;
    }
    case "step": {
      const every = num(a, "the step length");
      const f = num(b, "the factor");
      return (e) => base * f ** Math.floor(e / every);
    }
    case "cosine":
      return (e, n) => base * 0.5 * (1 + Math.cos((Math.PI * e) / Math.max(1, n)));
    case "linear":
      return (e, n) => base * (1 - e / Math.max(1, n));
    default:
      throw new KdError(`unknown --lr-schedule "${spec}" (constant, exp:F, step:N:F, cosine, linear)`);
  }
}

/** Momentum: "0.9" (fixed) or "0.5:0.99:10" (linear ramp from 0.5 to 0.99 over 10 epochs, as in Hinton 2012). */
export function momentumSchedule(spec: string): Schedule {
  const parts = spec.split(":").map(Number);
  const ok = (m: number) => Number.isFinite(m) && m >= 0 && m < 1;
  if (parts.length === 1 && ok(parts[0]!)) return () => parts[0]!;
  if (parts.length === 3 && ok(parts[0]!) && ok(parts[1]!) && parts[2]! > 0) {
    const [m0, m1, ramp] = parts as [number, number, number];
    return (e) => m0 + (m1 - m0) * Math.min(1, e / ramp);
  }
  throw new KdError(`--momentum "${spec}": expected a value in [0, 1) or start:end:epochs`);
}
