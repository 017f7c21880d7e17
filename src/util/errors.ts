/** The one error type users see: a message naming the problem, printed by the CLI as one line. */

/**
 * An error caused by the user's input or environment (bad file, bad flag, diverged loss).
 * The CLI prints `kd: <message>` and exits non-zero; any other error is a bug in kd.
 */
export class KdError extends Error {
  override readonly name = "KdError";
}

/** Throws a KdError with `message` unless `cond` holds. */
export function ensure(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new KdError(typeof message === "string" ? message : message());
}

/**
 * A KdError that stops a whole spec, not just the run it came from (e.g. the queue's Redis is
 * gone): the executor rethrows it after keeping the results written so far.
 */
export class KdAbort extends KdError {}
