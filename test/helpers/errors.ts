/** Error helpers for tests: the one line a user would read. */
import { expect } from "vitest";
import { KdError } from "../../src/util/errors.js";

/** Runs `fn`, expecting a KdError, and returns its message. */
export function kdMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KdError);
    return (err as KdError).message;
  }
  throw new Error("expected a KdError");
}
