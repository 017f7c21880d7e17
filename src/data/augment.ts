/** Input jitter: random integer translations of whole images (the paper's teacher saw up to 2 px). */

import type { Rng } from "../util/rng.js";

/**
 * Writes `count` images of rows × cols from `src` into `dst`, each shifted by its own dx, dy drawn
 * uniformly from [-maxShift, maxShift] (dx first, then dy, per image), with zeros shifted in.
 * Works a row segment at a time (subarray/set) because it runs on every training batch.
 * `src` and `dst` must not overlap.
 */
export function jitter(
  src: Float32Array,
  dst: Float32Array,
  count: number,
  rows: number,
  cols: number,
  maxShift: number,
  rng: Rng,
): void {
  const size = rows * cols;
  const total = count * size;
  if (src.length < total || dst.length < total) {
    throw new RangeError(
      `jitter: ${count} images of ${rows}x${cols} need ${total} floats (src ${src.length}, dst ${dst.length})`,
    );
  }
  if (!(Number.isInteger(maxShift) && maxShift >= 0)) {
    throw new RangeError(`jitter: maxShift must be a non-negative integer, got ${maxShift}`);
  }
  if (overlaps(src, dst, total)) throw new RangeError("jitter: src and dst overlap");
  if (maxShift === 0) {
    dst.set(src.subarray(0, total));
    return;
  }
  const span = 2 * maxShift + 1;
  for (let img = 0; img < count; img++) {
    const dx = rng.int(span) - maxShift;
    const dy = rng.int(span) - maxShift;
    const base = img * size;
    dst.fill(0, base, base + size);
    // Columns that survive the horizontal shift: dst[c] = src[c - dx] for c in [c0, c1).
    const c0 = Math.max(0, dx);
    const c1 = Math.min(cols, cols + dx);
    if (c0 >= c1) continue;
    const r0 = Math.max(0, dy);
    const r1 = Math.min(rows, rows + dy);
    for (let r = r0; r < r1; r++) {
      const from = base + (r - dy) * cols - dx;
      dst.set(src.subarray(from + c0, from + c1), base + r * cols + c0);
    }
  }
}

function overlaps(a: Float32Array, b: Float32Array, len: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const bytes = len * Float32Array.BYTES_PER_ELEMENT;
  return a.byteOffset < b.byteOffset + bytes && b.byteOffset < a.byteOffset + bytes;
}
