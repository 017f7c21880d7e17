/** Convnet layers as pure graph builders: conv2d, batch norm, pooling, ReLU6, hard-swish, residual add. */
import * as o from "../ir/ops.js";
import type { Dim, Tensor } from "../ir/tensor.js";
import { ensure, KdError } from "../util/errors.js";

/** A size per spatial axis (height, width), or one for both. */
export type Pair = number | readonly [number, number];

const pair = (p: Pair): [number, number] => (typeof p === "number" ? [p, p] : [p[0], p[1]]);
const showShape = (t: Tensor) => `[${t.shape.join(", ")}]`;

/** The [C, H, W] of an NCHW input, which must be fixed (the batch may be symbolic). */
function nchw(layer: string, x: Tensor): [number, number, number] {
  const [, c, h, w] = x.shape;
  ensure(x.rank === 4, `${layer}: input must be 4-D (NCHW), got ${showShape(x)}`);
  if (typeof c !== "number" || typeof h !== "number" || typeof w !== "number")
    throw new KdError(`${layer}: channels and spatial size must be fixed, got ${showShape(x)}`);
  return [c, h, w];
}

function checkInts(layer: string, what: string, values: readonly number[], min: number): void {
  for (const v of values)
    ensure(Number.isInteger(v) && v >= min, `${layer}: ${what} must be an integer >= ${min}, got ${v}`);
}

/** Refuses a kernel that does not fit the padded input (no output position would exist). */
function checkWindow(
  layer: string,
  size: [number, number],
  k: [number, number],
  pad: [number, number],
): void {
  const padded = [size[0] + 2 * pad[0], size[1] + 2 * pad[1]];
  ensure(
    k[0] <= padded[0]! && k[1] <= padded[1]!,
    `${layer}: kernel ${k[0]}x${k[1]} is larger than the padded input ${padded[0]}x${padded[1]}`,
  );
}

export interface Conv2dOptions {
  /** Names the layer in error messages. */
  readonly name: string;
  readonly stride?: Pair;
  readonly padding?: Pair;
  /** Channel groups: 1 is a full convolution, the channel count a depthwise one. */
  readonly groups?: number;
  /** Per-output-channel bias, [Cout] or [Cout, 1, 1]. */
  readonly bias?: Tensor;
}

/** 2-D convolution of x [N, Cin, H, W] with weight [Cout, Cin / groups, kh, kw], plus an optional bias. */
export function conv2d(x: Tensor, weight: Tensor, opts: Conv2dOptions): Tensor {
  const layer = `conv2d "${opts.name}"`;
  const [cin, h, w] = nchw(layer, x);
  const [stride, padding, groups] = [pair(opts.stride ?? 1), pair(opts.padding ?? 0), opts.groups ?? 1];
  checkInts(layer, "stride", stride, 1);
  checkInts(layer, "padding", padding, 0);
  checkInts(layer, "groups", [groups], 1);
  const [cout, cpg, kh, kw] = weight.shape as Dim[];
  ensure(weight.rank === 4 && [cout, cpg, kh, kw].every((d) => typeof d === "number"), () => {
    return `${layer}: weight must be a fixed 4-D [Cout, Cin/groups, kh, kw], got ${showShape(weight)}`;
  });
  ensure(cin % groups === 0, `${layer}: ${cin} input channels are not divisible into ${groups} groups`);
  ensure(
    (cout as number) % groups === 0,
    `${layer}: ${cout} output channels are not divisible into ${groups} groups`,
  );
  ensure(
    (cpg as number) * groups === cin,
    `${layer}: weight takes ${cpg} x ${groups} groups input channels, the input has ${cin}`,
  );
  checkWindow(layer, [h, w], [kh as number, kw as number], padding);
  const y = o.conv2d(x, weight, stride, padding, groups);
  if (opts.bias === undefined) return y;
  const b = opts.bias;
  const okBias =
    (b.rank === 1 || (b.rank === 3 && b.shape[1] === 1 && b.shape[2] === 1)) && b.shape[0] === cout;
  ensure(okBias, `${layer}: bias must be [${cout}] or [${cout}, 1, 1], got ${showShape(b)}`);
  return o.add(y, b.rank === 1 ? o.reshape(b, [cout as number, 1, 1]) : b);
}

/** Batch norm's default ε, added to the variance before the square root (PyTorch's default). */
export const BN_EPS = 1e-5;

export interface BatchNormOptions {
  readonly name: string;
  /** Scale γ and shift β, each [C]. */
  readonly weight: Tensor;
  readonly bias: Tensor;
  /** Added to the variance before the square root (default BN_EPS). */
  readonly eps?: number;
}

export interface BatchNormTrain {
  readonly y: Tensor;
  /** The batch's per-channel mean [C]. */
  readonly mean: Tensor;
  /** The batch's per-channel UNBIASED variance [C] (n / (n − 1) times the one that normalises). */
  readonly variance: Tensor;
}

function checkChannelVectors(layer: string, c: number, vs: Record<string, Tensor>): void {
  for (const [what, v] of Object.entries(vs))
    ensure(v.rank === 1 && v.shape[0] === c, `${layer}: ${what} must be [${c}], got ${showShape(v)}`);
}

/** γ·(x − mean)/sqrt(var + eps) + β with per-channel [C] statistics, as one scale and one shift. */
function normalise(centred: Tensor, variance: Tensor, opts: BatchNormOptions, c: number): Tensor {
  const asChannels = (t: Tensor) => o.reshape(t, [c, 1, 1]);
  const scale = o.div(opts.weight, o.sqrt(o.add(variance, opts.eps ?? BN_EPS)));
  return o.add(o.mul(centred, asChannels(scale)), asChannels(opts.bias));
}

/**
 * Refuses a training batch of one, whose batch statistics say nothing (PyTorch refuses one value
 * per channel). Graphs usually have a symbolic batch: then whoever feeds the batch must call this.
 */
export function ensureTrainingBatch(name: string, batch: Dim): void {
  ensure(
    batch !== 1,
    `batchNorm2d "${name}": a training batch of one example has no batch statistics (use at least 2)`,
  );
}

/**
 * Batch normalisation in training mode over x [N, C, H, W]: normalises with the batch mean and
 * biased variance over (N, H, W), and returns the batch mean and unbiased variance for the
 * running statistics (see runningUpdate). A fixed batch of one is refused here; a symbolic one
 * is the trainer's to check with ensureTrainingBatch once the batch size is known.
 */
export function batchNorm2dTrain(x: Tensor, opts: BatchNormOptions): BatchNormTrain {
  const layer = `batchNorm2d "${opts.name}"`;
  const [c] = nchw(layer, x);
  checkChannelVectors(layer, c, { weight: opts.weight, bias: opts.bias });
  ensureTrainingBatch(opts.name, x.shape[0]!);
  const axes = [0, 2, 3];
  const mean = o.mean(x, axes, true);
  const centred = o.sub(x, mean);
  const biased = o.reshape(o.mean(o.square(centred), axes, true), [c]);
  const n = o.countOf(x, axes);
  const unbiased = o.div(o.mul(biased, n), o.sub(n, 1));
  return { y: normalise(centred, biased, opts, c), mean: o.reshape(mean, [c]), variance: unbiased };
}

export interface BatchNormEvalOptions extends BatchNormOptions {
  /** Running statistics, each [C]. */
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
}

/** Batch normalisation in evaluation mode: the running mean and variance instead of the batch's. */
export function batchNorm2dEval(x: Tensor, opts: BatchNormEvalOptions): Tensor {
  const layer = `batchNorm2d "${opts.name}"`;
  const [c] = nchw(layer, x);
  const { weight, bias, runningMean, runningVar } = opts;
  checkChannelVectors(layer, c, {
    weight,
    bias,
    "running mean": runningMean,
    "running variance": runningVar,
  });
  return normalise(o.sub(x, o.reshape(runningMean, [c, 1, 1])), runningVar, opts, c);
}

/** A running statistic after one batch, PyTorch's convention: (1 − momentum)·running + momentum·batch. */
export function runningUpdate(running: Tensor, batch: Tensor, momentum: number): Tensor {
  ensure(momentum >= 0 && momentum <= 1, `batch-norm momentum must lie in [0, 1], got ${momentum}`);
  return o.add(o.mul(running, 1 - momentum), o.mul(batch, momentum));
}

export interface PoolOptions {
  readonly name: string;
  readonly kernel: Pair;
  /** Defaults to the kernel. */
  readonly stride?: Pair;
  readonly padding?: Pair;
}

/**
 * k×k average pooling, zero padding counted in the divisor (PyTorch's count_include_pad=True),
 * written as a depthwise convolution with constant 1/(kh·kw) weights: exactly that average, and
 * it reuses the grouped convolution's gradient and lowering instead of adding a primitive.
 */
export function avgPool2d(x: Tensor, opts: PoolOptions): Tensor {
  const layer = `avgPool2d "${opts.name}"`;
  const [c, h, w] = nchw(layer, x);
  const kernel = pair(opts.kernel);
  const [stride, padding] = [pair(opts.stride ?? kernel), pair(opts.padding ?? 0)];
  checkInts(layer, "kernel", kernel, 1);
  checkInts(layer, "stride", stride, 1);
  checkInts(layer, "padding", padding, 0);
  ensure(
    2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1],
    `${layer}: padding ${padding.join("x")} is more than half the kernel ${kernel.join("x")}`,
  );
  checkWindow(layer, [h, w], kernel, padding);
  const taps = kernel[0] * kernel[1];
  const weight = o.constant(x.graph, new Array<number>(c * taps).fill(1 / taps), [c, 1, ...kernel], x.dtype);
  return o.conv2d(x, weight, stride, padding, c);
}

/** Global average pooling: the mean over the spatial axes, [N, C, H, W] to [N, C]. */
export function globalAvgPool(x: Tensor, name: string): Tensor {
  nchw(`globalAvgPool "${name}"`, x);
  return o.mean(x, [2, 3]);
}

/** min(max(x, 0), 6); at exactly 0 and 6 the gradient is 0, as in PyTorch. */
export function relu6(x: Tensor): Tensor {
  return o.where(o.greater(6, x), o.relu(x), 6);
}

/** x·relu6(x + 3)/6 (MobileNetV3's hard-swish), in PyTorch's order of operations. */
export function hardSwish(x: Tensor): Tensor {
  return o.div(o.mul(x, relu6(o.add(x, 3))), 6);
}

/** The sum of a residual branch and its shortcut, which must have the same shape (no broadcasting). */
export function residualAdd(branch: Tensor, shortcut: Tensor, name: string): Tensor {
  const same = branch.rank === shortcut.rank && branch.shape.every((d, i) => d === shortcut.shape[i]);
  ensure(
    same,
    `residual "${name}": branch ${showShape(branch)} and shortcut ${showShape(shortcut)} differ in shape`,
  );
  return o.add(branch, shortcut);
}
