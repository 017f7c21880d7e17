/** Memory requests sized by untrusted input: refuse, with the amount, before allocating. */
import { KdError } from "./errors.js";

/** The most elements one typed array may hold in Node 20 (V8's limit). */
export const MAX_TYPED_ARRAY_LENGTH = 2 ** 32 - 1;

/** Human-readable bytes: 1.5 GB, 312 MB, 12 kB (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(v)} bytes` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/**
 * Memory kd lets one request use: this machine's total memory, or KD_MAX_MEMORY (bytes) when set
 * (tests set it low). A request above it would fail in the middle of a run, or swap for hours.
 */
export function memoryLimit(): number {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const env = Number(proc?.env?.KD_MAX_MEMORY);
  return Number.isFinite(env) && env > 0 ? env : totalMemory;
}

// No node:os here: this module is also bundled for the browser. The Node entry (runtime/node.ts)
// sets the machine's memory; a page keeps no limit beyond the browser's own.
let totalMemory = Number.POSITIVE_INFINITY;

/** The machine's memory, set once by the Node entry point. */
export function setTotalMemory(bytes: number): void {
  totalMemory = bytes;
}

/**
 * Refuses an allocation of `bytes` (in `elements` typed-array elements of one array, when given)
 * that this machine cannot hold, naming `what` needs it and how much: one line instead of V8's
 * "Array buffer allocation failed" or a typed-array range error after minutes of work.
 */
export function checkAllocation(bytes: number, what: string, elements?: number): void {
  if (!Number.isFinite(bytes) || bytes < 0) throw new KdError(`${what}: size out of range`);
  const limit = memoryLimit();
  if (bytes > limit)
    throw new KdError(
      `${what} would need ${formatBytes(bytes)} of memory, more than the ${formatBytes(limit)} available`,
    );
  if (elements !== undefined && elements > MAX_TYPED_ARRAY_LENGTH)
    throw new KdError(
      `${what} would need one array of ${elements.toLocaleString("en-US")} values (${formatBytes(bytes)}), more than the ${MAX_TYPED_ARRAY_LENGTH.toLocaleString("en-US")} one array can hold`,
    );
}
