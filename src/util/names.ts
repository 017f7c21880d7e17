/** The names nearest a misspelt one (edit distance), and the one-line error that lists them. */
import { KdError } from "./errors.js";

/**
 * Levenshtein distance, case-insensitive (exporters differ in case). `within`: the distance from
 * `a` to the closest substring of `b`, so that "layer3.relu" is near "/layer3/relu/Relu_output_0".
 */
export function editDistance(a: string, b: string, within = false): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Row i holds the distances from s[0, i) to t[0, j); with `within`, t may start anywhere (row 0 all 0).
  let prev = Array.from({ length: t.length + 1 }, (_, j) => (within ? 0 : j));
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    prev = cur;
  }
  // ... and end anywhere.
  // A loop, not Math.min(...prev): a name of a million characters would overflow the call stack.
  return within ? prev.reduce((a, b) => Math.min(a, b)) : prev[t.length]!;
}

/** The `k` names closest to `wrong`: nearest substring first, then whole-name distance, then graph order. */
export function closestNames(wrong: string, names: readonly string[], k = 3): string[] {
  return names
    .map((n, i) => ({ n, i, sub: editDistance(wrong, n, true), d: editDistance(wrong, n) }))
    .sort((p, q) => p.sub - q.sub || p.d - q.d || p.i - q.i)
    .slice(0, k)
    .map((c) => c.n);
}

/** The one-line error for a tensor `wrong` that `model` (a file name, for the message) does not have. */
export function unknownTensor(wrong: string, names: readonly string[], model: string): KdError {
  const near = closestNames(wrong, names);
  return new KdError(
    `no tensor "${wrong}" in ${model}${near.length > 0 ? ` (closest: ${near.join(", ")})` : " (it has no intermediate tensors)"}`,
  );
}
