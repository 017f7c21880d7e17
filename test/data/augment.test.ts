/** Tests for jitter: identity at shift 0, exact single-pixel moves, zero fill, and speed. */

import { describe, expect, it } from "vitest";
import { jitter, jitterImages } from "../../src/data/augment.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

/** Replays the shifts jitter draws for `count` images (dx then dy per image). */
function expectedShifts(seed: number, count: number, maxShift: number): [number, number][] {
  const rng = new Rng(seed);
  const span = 2 * maxShift + 1;
  return Array.from({ length: count }, () => [rng.int(span) - maxShift, rng.int(span) - maxShift]);
}

describe("jitter", () => {
  it("is the identity with maxShift 0", () => {
    const rng = new Rng(1);
    const src = Float32Array.from({ length: 3 * 28 * 28 }, () => rng.uniform());
    const dst = new Float32Array(src.length).fill(-1);
    jitter(src, dst, 3, 28, 28, 0, new Rng(2));
    expect(dst).toEqual(src);
  });

  it("moves a single interior pixel by the drawn shift, preserving mass", () => {
    const rows = 10;
    const cols = 12;
    const count = 50;
    const k = 2;
    const src = new Float32Array(count * rows * cols);
    const r = 4;
    const c = 6;
    for (let i = 0; i < count; i++) src[i * rows * cols + r * cols + c] = 1;
    const dst = new Float32Array(src.length).fill(-1);
    jitter(src, dst, count, rows, cols, k, new Rng(9));
    const shifts = expectedShifts(9, count, k);
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const img = dst.subarray(i * rows * cols, (i + 1) * rows * cols);
      const lit = img.findIndex((v) => v !== 0);
      expect(img.reduce((a, b) => a + b, 0)).toBe(1);
      const [dx, dy] = shifts[i]!;
      expect(lit).toBe((r + dy) * cols + (c + dx));
      expect(Math.abs(Math.floor(lit / cols) - r)).toBeLessThanOrEqual(k);
      expect(Math.abs((lit % cols) - c)).toBeLessThanOrEqual(k);
      seen.add(`${dx},${dy}`);
    }
    expect(seen.size).toBeGreaterThan(10); // shifts really vary per image
  });

  it("drops pixels shifted past the border and zero-fills", () => {
    const rows = 5;
    const cols = 5;
    const src = new Float32Array(rows * cols).fill(1);
    for (let seed = 0; seed < 20; seed++) {
      const dst = new Float32Array(rows * cols).fill(-1);
      jitter(src, dst, 1, rows, cols, 2, new Rng(seed));
      const [[dx, dy]] = expectedShifts(seed, 1, 2) as [[number, number]];
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          const inside = y - dy >= 0 && y - dy < rows && x - dx >= 0 && x - dx < cols;
          expect(dst[y * cols + x]).toBe(inside ? 1 : 0);
        }
      }
    }
  });

  it("copes with shifts as large as the image", () => {
    const src = new Float32Array(4 * 3 * 3).fill(1);
    const dst = new Float32Array(src.length);
    jitter(src, dst, 4, 3, 3, 5, new Rng(1));
    expect(dst.every((v) => v === 0 || v === 1)).toBe(true);
  });

  it("rejects short or overlapping buffers", () => {
    const buf = new Float32Array(2 * 4);
    expect(() => jitter(buf, new Float32Array(4), 2, 2, 2, 1, new Rng(0))).toThrow(RangeError);
    expect(() => jitter(buf.subarray(0, 4), buf.subarray(2), 1, 2, 2, 1, new Rng(0))).toThrow("overlap");
    expect(() => jitter(buf.subarray(0, 4), buf.subarray(4), 1, 2, 2, 1, new Rng(0))).not.toThrow();
  });

  it("is fast enough to run on every batch", () => {
    const src = new Float32Array(128 * 784).fill(0.5);
    const dst = new Float32Array(src.length);
    const rng = new Rng(3);
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) jitter(src, dst, 128, 28, 28, 2, rng);
    const perBatch = (performance.now() - t0) / 200;
    expect(perBatch).toBeLessThan(5);
  });

  it("shifts every channel of a [C, H, W] image together, drawing as the single-channel jitter does", () => {
    const [c, rows, cols] = [3, 6, 7];
    const count = 20;
    const rng = new Rng(4);
    const src = Float32Array.from({ length: count * c * rows * cols }, () => rng.uniform());
    const dst = new Float32Array(src.length);
    jitterImages(src, dst, count, [c, rows, cols], 2, new Rng(5));
    // Each channel plane equals the one-channel jitter of that plane with the image's shift.
    const shifts = expectedShifts(5, count, 2);
    for (let i = 0; i < count; i++) {
      for (let ch = 0; ch < c; ch++) {
        const off = (i * c + ch) * rows * cols;
        const plane = src.subarray(off, off + rows * cols);
        const want = new Float32Array(rows * cols);
        const [dx, dy] = shifts[i]!;
        for (let y = 0; y < rows; y++)
          for (let x = 0; x < cols; x++) {
            const sy = y - dy;
            const sx = x - dx;
            if (sy >= 0 && sy < rows && sx >= 0 && sx < cols) want[y * cols + x] = plane[sy * cols + sx]!;
          }
        expect(dst.subarray(off, off + rows * cols)).toEqual(want);
      }
    }
    // [H, W] examples jitter exactly as before.
    const a = new Float32Array(count * rows * cols);
    const b = new Float32Array(count * rows * cols);
    jitter(src, a, count, rows, cols, 2, new Rng(8));
    jitterImages(src, b, count, [rows, cols], 2, new Rng(8));
    expect(b).toEqual(a);
    expect(() => jitterImages(src, dst, 1, [rows * cols], 2, new Rng(0))).toThrow(KdError);
  });
});
