/**
 * Drawn digits to MNIST inputs (no DOM, so Node tests it). MNIST centres each digit's 20×20
 * bounding box by its centre of mass in a 28×28 field; a drawing gets the same treatment.
 */

/**
 * Ink (w × h, values in [0, 1]) to 784 pixels: crop to the ink's bounding box, scale its longer
 * side to 20 px (area averaging), and place it so its centre of mass falls on (14, 14).
 * Returns undefined when there is no ink.
 */
export function toMnist(ink: Float32Array, w: number, h: number): Float32Array | undefined {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (ink[y * w + x]! > 0.05) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  if (x1 < 0) return undefined;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  // Area-average each target pixel's source rectangle.
  const small = new Float32Array(tw * th);
  for (let ty = 0; ty < th; ty++)
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = x0 + Math.floor((tx * bw) / tw);
      const sx1 = x0 + Math.max(Math.floor(((tx + 1) * bw) / tw), Math.floor((tx * bw) / tw) + 1);
      const sy0 = y0 + Math.floor((ty * bh) / th);
      const sy1 = y0 + Math.max(Math.floor(((ty + 1) * bh) / th), Math.floor((ty * bh) / th) + 1);
      let s = 0;
      for (let y = sy0; y < sy1; y++) for (let x = sx0; x < sx1; x++) s += ink[y * w + x]!;
      small[ty * tw + tx] = s / ((sx1 - sx0) * (sy1 - sy0));
    }
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x]!;
      mass += v;
      cx += v * x;
      cy += v * y;
    }
  const ox = Math.round(14 - cx / mass - 0.5);
  const oy = Math.round(14 - cy / mass - 0.5);
  const out = new Float32Array(784);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const X = x + ox;
      const Y = y + oy;
      if (X >= 0 && X < 28 && Y >= 0 && Y < 28) out[Y * 28 + X] = Math.min(1, small[y * tw + x]!);
    }
  return out;
}
