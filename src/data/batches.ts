/** Minibatch assembly: shuffled epoch orders and copies of example rows into reused buffers. */

import type { Rng } from "../util/rng.js";
import type { Dataset } from "./dataset.js";

/** A fresh random order of 0..n-1 for one epoch. */
export function epochOrder(n: number, rng: Rng): Int32Array {
  return rng.permutation(n);
}

/**
 * Copies examples order[start..start+size) into the first `size` rows of `xOut` (and their labels
 * into `yOut`, when given). The buffers are preallocated by the caller and reused every step,
 * so nothing is allocated per batch.
 */
export function gatherBatch(
  ds: Dataset,
  order: Int32Array,
  start: number,
  size: number,
  xOut: Float32Array,
  yOut?: Int32Array,
): void {
  const f = ds.features;
  if (start < 0 || size < 0 || start + size > order.length) {
    throw new RangeError(`gatherBatch: rows [${start}, ${start + size}) outside an order of ${order.length}`);
  }
  if (xOut.length < size * f) {
    throw new RangeError(`gatherBatch: xOut holds ${xOut.length} floats, batch needs ${size * f}`);
  }
  if (yOut !== undefined) {
    if (ds.y === undefined) throw new RangeError(`gatherBatch: ${ds.name} has no labels for yOut`);
    if (yOut.length < size)
      throw new RangeError(`gatherBatch: yOut holds ${yOut.length}, batch needs ${size}`);
  }
  const x = ds.x;
  const y = ds.y;
  for (let i = 0; i < size; i++) {
    const j = order[start + i]!;
    if (j < 0 || j >= ds.n) throw new RangeError(`gatherBatch: example ${j} out of range [0, ${ds.n})`);
    xOut.set(x.subarray(j * f, j * f + f), i * f);
    if (yOut !== undefined) yOut[i] = y![j]!;
  }
}
