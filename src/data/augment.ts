/** Input jitter: random integer translations of whole images, all channels together (the paper's teacher saw up to 2 px). */

import { KdError } from "../util/errors.js";
import type { Rng } from "../util/rng.js";

/**
 * Writes `count` images of [channels,] rows × cols from `src` into `dst`, each shifted by its own
 * dx, dy drawn uniformly from [-maxShift, maxShift] (dx first, then dy, per image; all channels of
 * an image move together), with zeros shifted in.
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
  channels = 1,
): void {
  const plane = rows * cols;
  const size = channels * plane;
  const total = count * size;
  if (src.length < total || dst.length < total) {
    throw new RangeError(
      `jitter: ${count} images of ${channels}x${rows}x${cols} need ${total} floats (src ${src.length}, dst ${dst.length})`,
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
    dst.fill(0, img * size, (img + 1) * size);
    // Columns that survive the horizontal shift: dst[c] = src[c - dx] for c in [c0, c1).
    const c0 = Math.max(0, dx);
    const c1 = Math.min(cols, cols + dx);
    if (c0 >= c1) continue;
    const r0 = Math.max(0, dy);
    const r1 = Math.min(rows, rows + dy);
    for (let ch = 0; ch < channels; ch++) {
      const base = img * size + ch * plane;
      for (let r = r0; r < r1; r++) {
        const from = base + (r - dy) * cols - dx;
        dst.set(src.subarray(from + c0, from + c1), base + r * cols + c0);
      }
    }
  }
}

/**
 * Jitter for examples of any image shape: [H, W] or [C, H, W] (channels shifted together).
 * The same random draws as `jitter`, so single-channel images jitter identically either way.
 */
export function jitterImages(
  src: Float32Array,
  dst: Float32Array,
  count: number,
  exampleShape: readonly number[],
  maxShift: number,
  rng: Rng,
): void {
  if (exampleShape.length < 2 || exampleShape.length > 3)
    throw new KdError(
      `jitter needs image-shaped examples [H, W] or [C, H, W], got [${exampleShape.join(", ")}]`,
    );
  const [channels, rows, cols] = (exampleShape.length === 2 ? [1, ...exampleShape] : exampleShape) as [
    number,
    number,
    number,
  ];
  jitter(src, dst, count, rows, cols, maxShift, rng, channels);
}

function overlaps(a: Float32Array, b: Float32Array, len: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const bytes = len * Float32Array.BYTES_PER_ELEMENT;
  return a.byteOffset < b.byteOffset + bytes && b.byteOffset < a.byteOffset + bytes;
}
