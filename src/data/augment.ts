/**
 * Augmentations of training batches: jitter (random integer translations of whole images, all
 * channels together; the paper's teacher saw up to 2 px), random crops with zero padding,
 * horizontal flips and mixup (function matching), run in that order on each batch by `batchAugmenter`.
 */

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
    shift(src, img * size, dst, img * size, channels, rows, cols, dx, dy);
  }
}

/**
 * One image of channels × rows × cols moved from src[srcAt..] to dst[dstAt..]:
 * dst[r][c] = src[r - dy][c - dx], zero where that falls outside. A row segment at a time.
 */
function shift(
  src: Float32Array,
  srcAt: number,
  dst: Float32Array,
  dstAt: number,
  channels: number,
  rows: number,
  cols: number,
  dx: number,
  dy: number,
): void {
  const plane = rows * cols;
  dst.fill(0, dstAt, dstAt + channels * plane);
  // Columns that survive the horizontal shift: dst[c] = src[c - dx] for c in [c0, c1).
  const c0 = Math.max(0, dx);
  const c1 = Math.min(cols, cols + dx);
  if (c0 >= c1) return;
  const r0 = Math.max(0, dy);
  const r1 = Math.min(rows, rows + dy);
  for (let ch = 0; ch < channels; ch++) {
    const from0 = srcAt + ch * plane;
    const to0 = dstAt + ch * plane;
    for (let r = r0; r < r1; r++) {
      const from = from0 + (r - dy) * cols - dx;
      dst.set(src.subarray(from + c0, from + c1), to0 + r * cols + c0);
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
  const [channels, rows, cols] = imageShape(exampleShape, "jitter");
  jitter(src, dst, count, rows, cols, maxShift, rng, channels);
}

/** [C, H, W] of image-shaped examples ([H, W] is one channel); other shapes refused in one line. */
function imageShape(exampleShape: readonly number[], what: string): [number, number, number] {
  if (exampleShape.length < 2 || exampleShape.length > 3)
    throw new KdError(
      `${what} needs image-shaped examples [H, W] or [C, H, W], got [${exampleShape.join(", ")}]`,
    );
  return (exampleShape.length === 2 ? [1, ...exampleShape] : exampleShape) as [number, number, number];
}

/**
 * Random crops with zero padding, in place on `count` images of `exampleShape`: as torchvision's
 * RandomCrop(size, padding) on each image, pad every side with `padding` zeros, draw the crop's top
 * then its left uniformly from [0, 2·padding], and cut the image's size back out. `scratch` holds
 * one image (its features).
 */
export function crop(
  x: Float32Array,
  count: number,
  exampleShape: readonly number[],
  padding: number,
  rng: Rng,
  scratch: Float32Array,
): void {
  const [channels, rows, cols] = imageShape(exampleShape, "crop");
  const size = channels * rows * cols;
  if (!(Number.isInteger(padding) && padding >= 0))
    throw new RangeError(`crop: padding must be a non-negative integer, got ${padding}`);
  if (x.length < count * size || scratch.length < size)
    throw new RangeError(
      `crop: ${count} images of ${size} floats need ${count * size} (x ${x.length}, scratch ${scratch.length})`,
    );
  if (padding === 0) return;
  const span = 2 * padding + 1;
  for (let img = 0; img < count; img++) {
    const top = rng.int(span);
    const left = rng.int(span);
    const at = img * size;
    scratch.set(x.subarray(at, at + size));
    // Output (r, c) is padded (r + top, c + left), i.e. source (r + top - padding, c + left - padding).
    shift(scratch, 0, x, at, channels, rows, cols, padding - left, padding - top);
  }
}

/**
 * Horizontal flips, in place: each of `count` images of `exampleShape` is mirrored left to right
 * (all channels together) when its draw `rng.uniform()` is below 1/2, as torchvision's
 * RandomHorizontalFlip(0.5).
 */
export function flip(x: Float32Array, count: number, exampleShape: readonly number[], rng: Rng): void {
  const [channels, rows, cols] = imageShape(exampleShape, "flip");
  const size = channels * rows * cols;
  if (x.length < count * size)
    throw new RangeError(`flip: ${count} images of ${size} floats need ${count * size} (x ${x.length})`);
  for (let img = 0; img < count; img++) {
    if (rng.uniform() >= 0.5) continue;
    for (let row = img * size; row < (img + 1) * size; row += cols) x.subarray(row, row + cols).reverse();
  }
}

/**
 * A draw from Beta(alpha, alpha) as G1 / (G1 + G2) of two Gamma(alpha) draws (Marsaglia and
 * Tsang's method; for alpha < 1, Gamma(alpha + 1)·U^(1/alpha)).
 */
export function betaSymmetric(alpha: number, rng: Rng): number {
  if (!(alpha > 0 && Number.isFinite(alpha)))
    throw new RangeError(`beta: alpha must be positive, got ${alpha}`);
  const g1 = gamma(alpha, rng);
  const g2 = gamma(alpha, rng);
  // Both underflow only for tiny alpha, where Beta(alpha, alpha) is a coin flip between 0 and 1.
  return g1 + g2 > 0 ? g1 / (g1 + g2) : rng.uniform() < 0.5 ? 0 : 1;
}

function gamma(alpha: number, rng: Rng): number {
  if (alpha < 1) {
    let u = rng.uniform();
    while (u === 0) u = rng.uniform();
    return gamma(alpha + 1, rng) * u ** (1 / alpha);
  }
  const d = alpha - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = rng.normal();
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    const u = rng.uniform();
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * Mixup in place, as the function matching of Beyer et al. (2022) uses it (big_vision's `mixup`,
 * which their distillation configs call with α = 1): one draw b ~ Beta(alpha, alpha) for the batch,
 * λ = max(b, 1 − b) so that each example keeps the larger share, and each of the `count` examples
 * of `features` values mixed with the one before it in the batch (the first with the last),
 * x_i ← λ·x_i + (1 − λ)·x_{i−1}. Batches are shuffled, so the pairs are random. `scratch` holds
 * the batch. Returns λ.
 */
export function mixup(
  x: Float32Array,
  count: number,
  features: number,
  alpha: number,
  rng: Rng,
  scratch: Float32Array,
): number {
  const total = count * features;
  if (x.length < total || scratch.length < total)
    throw new RangeError(
      `mixup: ${count} examples of ${features} need ${total} floats (x ${x.length}, scratch ${scratch.length})`,
    );
  const b = betaSymmetric(alpha, rng);
  const lambda = Math.max(b, 1 - b);
  scratch.set(x.subarray(0, total));
  for (let i = 0; i < count; i++) {
    const a = i * features;
    const prev = ((i + count - 1) % count) * features;
    for (let j = 0; j < features; j++)
      x[a + j] = lambda * scratch[a + j]! + (1 - lambda) * scratch[prev + j]!;
  }
  return lambda;
}

/** The augmentations beyond jitter (a run's `augment` setting, train/settings.ts). */
export interface AugmentSettings {
  /** Zero padding of random crops, in pixels (0: off). */
  readonly crop: number;
  readonly flip: boolean;
  /** Mixup's Beta(α, α) parameter (absent or 0: off); distillation only (function matching). */
  readonly mixup?: number | undefined;
}

type Augmented = { readonly jitter: number; readonly augment?: AugmentSettings | undefined };

/** Whether a run's batches change between epochs (so a teacher must see each one live). */
export function augments(o: Augmented): boolean {
  return imageAugments(o) || (o.augment?.mixup ?? 0) > 0;
}

/** Whether a run moves pixels (jitter, crops, flips), which needs image-shaped examples. */
export function imageAugments(o: Augmented): boolean {
  return o.jitter > 0 || (o.augment?.crop ?? 0) > 0 || o.augment?.flip === true;
}

/**
 * Refuses mixup, in one line, where the student would learn anything but the teacher's outputs:
 * mixed images have no hard label (kd does not mix labels), so the objective must take none.
 */
export function checkMixup(
  o: Augmented,
  objective: string,
  uses: { labels: boolean; teacher: boolean },
): void {
  if ((o.augment?.mixup ?? 0) <= 0) return;
  if (!uses.teacher)
    throw new KdError(
      `mixup is function matching: it needs a teacher, and the ${objective} objective takes none`,
    );
  if (uses.labels)
    throw new KdError(
      `mixup is function matching: mixed images have no label, and the ${objective} objective here uses labels (give the labels no weight, e.g. --soft-weight 1, or --unlabeled)`,
    );
}

/** Fills a batch as the student sees it: gathered, then augmented. */
export interface BatchAugmenter {
  /** `gather` writes the batch's `size` examples, unaugmented, into the array it is given. */
  apply(gather: (into: Float32Array) => void, x: Float32Array, size: number, rng: Rng): void;
  /** Bytes of scratch it keeps beside the batch (jitter's source batch, crop's one image, mixup's copy). */
  readonly scratchBytes: number;
}

/**
 * The augmentations a run asks for, in a fixed order on each batch: jitter (from a gathered copy
 * into x), then crops, then flips (in place on x), each drawing per image from the batch's `rng`,
 * then mixup (one draw per batch). Undefined when none is on. With jitter alone the draws and the
 * batch are exactly `jitterImages`'.
 */
export function batchAugmenter(
  exampleShape: readonly number[],
  o: Augmented,
  batchSize: number,
): BatchAugmenter | undefined {
  if (!augments(o)) return undefined;
  const padding = o.augment?.crop ?? 0;
  const alpha = o.augment?.mixup ?? 0;
  const features = exampleShape.reduce((a, b) => a * b, 1);
  let raw: Float32Array | undefined;
  let mixed: Float32Array | undefined;
  const scratch = new Float32Array(padding > 0 ? features : 0);
  const batchBytes = 4 * batchSize * features;
  return {
    scratchBytes:
      (o.jitter > 0 ? batchBytes : 0) + (alpha > 0 ? batchBytes : 0) + (padding > 0 ? 4 * features : 0),
    apply(gather, x, size, rng) {
      if (o.jitter > 0) {
        raw ??= new Float32Array(batchSize * features);
        gather(raw);
        jitterImages(raw, x, size, exampleShape, o.jitter, rng);
      } else gather(x);
      if (padding > 0) crop(x, size, exampleShape, padding, rng, scratch);
      if (o.augment?.flip) flip(x, size, exampleShape, rng);
      if (alpha > 0) {
        mixed ??= new Float32Array(batchSize * features);
        mixup(x, size, features, alpha, rng, mixed);
      }
    },
  };
}

function overlaps(a: Float32Array, b: Float32Array, len: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const bytes = len * Float32Array.BYTES_PER_ELEMENT;
  return a.byteOffset < b.byteOffset + bytes && b.byteOffset < a.byteOffset + bytes;
}
