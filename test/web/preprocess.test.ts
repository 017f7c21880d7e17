/** Drawn ink to MNIST pixels: the digit's box scaled to 20 px and its centre of mass on (14, 14), like MNIST. */
import { describe, expect, it } from "vitest";
import { toMnist } from "../../src/web/preprocess.js";

/** A w × h canvas with the rectangle [x0, x1) × [y0, y1) inked. */
function ink(w: number, h: number, x0: number, x1: number, y0: number, y1: number): Float32Array {
  const a = new Float32Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) a[y * w + x] = 1;
  return a;
}

function box(px: Float32Array) {
  let x0 = 28;
  let x1 = -1;
  let y0 = 28;
  let y1 = -1;
  let m = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const v = px[y * 28 + x]!;
      if (v <= 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      m += v;
      cx += v * x;
      cy += v * y;
    }
  return { w: x1 - x0 + 1, h: y1 - y0 + 1, cx: cx / m + 0.5, cy: cy / m + 0.5 };
}

describe("toMnist", () => {
  it("returns undefined for a blank canvas", () => {
    expect(toMnist(new Float32Array(280 * 280), 280, 280)).toBeUndefined();
  });

  it("scales a tall stroke to 20 px high and centres its mass on (14, 14), wherever it was drawn", () => {
    for (const [x0, y0] of [
      [10, 10],
      [200, 60],
    ] as const) {
      const b = box(toMnist(ink(280, 280, x0, x0 + 30, y0, y0 + 200), 280, 280)!);
      expect(b.h).toBe(20);
      expect(b.w).toBe(3);
      expect(Math.abs(b.cx - 14)).toBeLessThanOrEqual(1);
      expect(Math.abs(b.cy - 14)).toBeLessThanOrEqual(1);
    }
  });

  it("keeps values in [0, 1] and the aspect ratio of a wide stroke", () => {
    const px = toMnist(ink(100, 50, 0, 100, 20, 30), 100, 50)!;
    expect(Math.max(...px)).toBeLessThanOrEqual(1);
    expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
    const b = box(px);
    expect(b.w).toBe(20);
    expect(b.h).toBe(2);
  });
});
