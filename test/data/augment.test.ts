/** Tests for the augmentations: jitter (identity at shift 0, exact single-pixel moves, zero fill, speed), crops and flips (exact values), and the batch pipeline (seeded, jitter alone unchanged). */

import { describe, expect, it } from "vitest";
import { augments, batchAugmenter, crop, flip, jitter, jitterImages } from "../../src/data/augment.js";
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

/** 1, 2, 3, … over `n` values, so every pixel is told apart. */
const counting = (n: number) => Float32Array.from({ length: n }, (_, i) => i + 1);

describe("crop", () => {
  it("cuts the image's size out of it padded with zeros, at the drawn top then left (RandomCrop's order)", () => {
    // One 3×4 image, padding 1: the padded image is 5×6; the crop's top and left are in [0, 2].
    const src = counting(12);
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const x = src.slice();
      crop(x, 1, [3, 4], 1, new Rng(seed), new Float32Array(12));
      const r = new Rng(seed);
      const top = r.int(3);
      const left = r.int(3);
      seen.add(`${top},${left}`);
      const padded = (y: number, c: number) =>
        y >= 1 && y <= 3 && c >= 1 && c <= 4 ? src[(y - 1) * 4 + c - 1]! : 0;
      const want = Float32Array.from({ length: 12 }, (_, i) =>
        padded(Math.floor(i / 4) + top, (i % 4) + left),
      );
      expect(x).toEqual(want);
    }
    expect(seen.size).toBe(9);
  });

  it("gives these values for a known draw: top 0, left 2 moves the image down one row and left one column", () => {
    const x = counting(12);
    // Draws (top, left) replayed from the seed; find one with top 0, left 2.
    const seed = Array.from({ length: 100 }, (_, s) => s).find((s) => {
      const r = new Rng(s);
      return r.int(3) === 0 && r.int(3) === 2;
    })!;
    crop(x, 1, [3, 4], 1, new Rng(seed), new Float32Array(12));
    expect(Array.from(x)).toEqual([0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
  });

  it("moves all channels of an image together and leaves padding 0 alone", () => {
    const x = counting(2 * 2 * 3 * 3);
    const before = x.slice();
    crop(x, 2, [2, 3, 3], 0, new Rng(1), new Float32Array(18));
    expect(x).toEqual(before);
    crop(x, 2, [2, 3, 3], 1, new Rng(7), new Float32Array(18));
    const r = new Rng(7);
    for (let img = 0; img < 2; img++) {
      const top = r.int(3);
      const left = r.int(3);
      for (let ch = 0; ch < 2; ch++)
        for (let y = 0; y < 3; y++)
          for (let c = 0; c < 3; c++) {
            const sy = y + top - 1;
            const sc = c + left - 1;
            const inside = sy >= 0 && sy < 3 && sc >= 0 && sc < 3;
            const at = img * 18 + ch * 9;
            expect(x[at + y * 3 + c]).toBe(inside ? before[at + sy * 3 + sc] : 0);
          }
    }
    expect(() => crop(x, 1, [18], 1, new Rng(0), new Float32Array(18))).toThrow(KdError);
  });
});

describe("flip", () => {
  it("mirrors each row of the images whose draw is below 1/2, every channel together", () => {
    const x = counting(4 * 2 * 2 * 3);
    const before = x.slice();
    flip(x, 4, [2, 2, 3], new Rng(3));
    const r = new Rng(3);
    const flipped: boolean[] = [];
    for (let img = 0; img < 4; img++) {
      const f = r.uniform() < 0.5;
      flipped.push(f);
      for (let row = 0; row < 4; row++) {
        const at = img * 12 + row * 3;
        const want = Array.from(before.subarray(at, at + 3));
        expect(Array.from(x.subarray(at, at + 3))).toEqual(f ? want.reverse() : want);
      }
    }
    // A 1×3 image flipped: [1, 2, 3] → [3, 2, 1].
    const one = Float32Array.of(1, 2, 3);
    const seed = Array.from({ length: 100 }, (_, s) => s).find((s) => new Rng(s).uniform() < 0.5)!;
    flip(one, 1, [1, 3], new Rng(seed));
    expect(Array.from(one)).toEqual([3, 2, 1]);
  });
});

describe("the batch pipeline", () => {
  const rows = 6;
  const cols = 5;
  const count = 16;
  const src = counting(count * rows * cols);
  const run = (o: Parameters<typeof batchAugmenter>[1], seed: number) => {
    const aug = batchAugmenter([rows, cols], o, count)!;
    const x = new Float32Array(src.length);
    aug.apply((into) => into.set(src), x, count, new Rng(seed));
    return x;
  };

  it("is off (undefined) with no augmentation, and on with any", () => {
    expect(batchAugmenter([rows, cols], { jitter: 0 }, count)).toBeUndefined();
    expect(
      batchAugmenter([rows, cols], { jitter: 0, augment: { crop: 0, flip: false } }, count),
    ).toBeUndefined();
    expect(augments({ jitter: 1 })).toBe(true);
    expect(augments({ jitter: 0, augment: { crop: 2, flip: false } })).toBe(true);
    expect(augments({ jitter: 0, augment: { crop: 0, flip: true } })).toBe(true);
  });

  it("with jitter alone gives exactly jitterImages' batch, from the same draws", () => {
    const want = new Float32Array(src.length);
    const r = new Rng(5);
    jitterImages(src, want, count, [rows, cols], 2, r);
    const got = run({ jitter: 2 }, 5);
    expect(got).toEqual(want);
    expect(run({ jitter: 2, augment: { crop: 0, flip: false } }, 5)).toEqual(want);
  });

  it("runs jitter, then crop, then flip, each from the batch's generator: the same draws give the same batch", () => {
    const o = { jitter: 1, augment: { crop: 2, flip: true } };
    const want = new Float32Array(src.length);
    const r = new Rng(9);
    jitterImages(src, want, count, [rows, cols], 1, r);
    crop(want, count, [rows, cols], 2, r, new Float32Array(rows * cols));
    flip(want, count, [rows, cols], r);
    expect(run(o, 9)).toEqual(want);
    expect(run(o, 9)).toEqual(run(o, 9));
    expect(run(o, 10)).not.toEqual(want);
  });
});
