/** Shared layer helpers for model kinds: dense, conv and conv-BN blocks, and the classifier skeleton around them. */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import * as L from "./conv-layers.js";
import { dense, denseParams, dropout, type ParamMap, type ParamSpec } from "./layers.js";
import type { ForwardOptions, Model, NamedWeight, Regularisation } from "./model.js";

export const NO_REG: Regularisation = { inputDropout: 0, hiddenDropout: 0 };

/** A spec's `dropout: { input, hidden }` as a model's regularisation. */
export const regularisation = (d: { input: number; hidden: number } | undefined): Regularisation => ({
  inputDropout: d?.input ?? 0,
  hiddenDropout: d?.hidden ?? 0,
});

/** State a block keeps but does not train (a model buffer): its name, shape and initial value. */
export type BufferSpec = NonNullable<Model["buffers"]>[number];

/** One stage of a classifier's body: its parameters and its step on the running activations. */
export interface Block {
  /** Its output's name for feature objectives (see ForwardOptions.taps); absent: not exposed. */
  readonly name?: string;
  readonly params: readonly ParamSpec[];
  /** Buffers it reads (from the ParamMap) and, in a training forward, sets in `opts.updates`. */
  readonly buffers?: readonly BufferSpec[];
  apply(h: Tensor, p: ParamMap, opts: ForwardOptions): Tensor;
  /** Hidden dropout follows this block in training mode (each such block gets its own mask). */
  readonly dropAfter?: boolean;
  /** The smallest training batch it can normalise (batch norm: 2); absent: 1. */
  readonly minBatch?: number;
  /** Weights of its export form (see ForwardOptions.folded); absent: its parameters and buffers as they are. */
  readonly fold?: (w: ReadonlyMap<string, Float32Array>) => NamedWeight[];
}

/** The export-form weights of blocks in order: each one's fold, or its parameters and buffers unchanged. */
function foldAll(blocks: readonly Block[], w: ReadonlyMap<string, Float32Array>): NamedWeight[] {
  return blocks.flatMap((b) =>
    b.fold
      ? b.fold(w)
      : [...b.params, ...(b.buffers ?? [])].map((s) => ({
          name: s.name,
          shape: s.shape,
          data: w.get(s.name)!,
        })),
  );
}

/** A fully connected ReLU layer `name` (He init, max-norm constrained), with hidden dropout after it. */
export function denseBlock(name: string, fanIn: number, fanOut: number): Block {
  return {
    name,
    params: denseParams(name, fanIn, fanOut, "he", true),
    apply: (h, p) => o.relu(dense(h, p, name)),
    dropAfter: true,
  };
}

/** A 3x3 convolution `name` (padding 1) with a per-channel bias, ReLU and 2x2 max pooling. */
export function convBlock(name: string, cin: number, cout: number): Block {
  const fan: [number, number] = [cin * 9, cout * 9];
  return {
    name,
    params: [
      { name: `${name}.weight`, shape: [cout, cin, 3, 3], init: "he", fan, unitAxes: [1, 2, 3], decay: true },
      { name: `${name}.bias`, shape: [cout, 1, 1], init: "zeros", fan, decay: false },
    ],
    apply: (h, p) =>
      o.maxPool2d(
        o.relu(o.add(o.conv2d(h, p.get(`${name}.weight`), [1, 1], [1, 1]), p.get(`${name}.bias`))),
        2,
      ),
  };
}

/** Flattens [N, ...] to [N, features], with hidden dropout after it (a convnet's features before its head). */
export function flattenBlock(features: number): Block {
  return { params: [], apply: (h) => o.reshape(h, [h.shape[0]!, features]), dropAfter: true };
}

/** Whether this forward pass applies dropout (training mode with a non-zero rate). */
function dropsOut(reg: Regularisation, opts: ForwardOptions): boolean {
  return opts.training && (reg.inputDropout > 0 || reg.hiddenDropout > 0);
}

function needSeed(opts: ForwardOptions): Tensor {
  if (!opts.seed) throw new Error("dropout in training mode needs a seed input");
  return opts.seed;
}

export interface ClassifierLayout {
  readonly arch: string;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly reg: Regularisation;
  /** The body, in order; its output is `features` wide. */
  readonly blocks: readonly Block[];
  readonly features: number;
}

/**
 * The skeleton every kind shares: input dropout, the blocks in order, then a dense head "out"
 * (Glorot init, unconstrained) to the classes. Parameters are listed, and so initialised, in that order.
 */
export function classifier(m: ClassifierLayout): Model {
  const { reg, blocks } = m;
  const buffers = blocks.flatMap((b) => b.buffers ?? []);
  const minBatch = minBatchOf(blocks);
  const head = denseParams("out", m.features, m.numClasses, "glorot", false);
  return {
    arch: m.arch,
    inputShape: m.inputShape,
    numClasses: m.numClasses,
    params: [...blocks.flatMap((b) => b.params), ...head],
    outputBias: "out.bias",
    reg,
    ...(buffers.length ? { buffers } : {}),
    ...(minBatch > 1 ? { minTrainingBatch: minBatch } : {}),
    ...(blocks.some((b) => b.fold)
      ? { foldWeights: (w) => foldAll([...blocks, { params: head, apply: (h) => h }], w) }
      : {}),
    forward(x, p, opts) {
      const drop = dropsOut(reg, opts);
      let h = drop ? dropout(x, reg.inputDropout, needSeed(opts), 0) : x;
      let salt = 0;
      for (const b of blocks) {
        h = b.apply(h, p, opts);
        if (b.name) opts.taps?.set(b.name, h);
        if (drop && b.dropAfter) h = dropout(h, reg.hiddenDropout, needSeed(opts), ++salt);
      }
      return dense(h, p, "out");
    },
  };
}

const minBatchOf = (blocks: readonly Block[]) => Math.max(1, ...blocks.map((b) => b.minBatch ?? 1));

/** Parts combined by `apply` into one block: their parameters, buffers, smallest batch and export form. */
export function composite(parts: readonly Block[], apply: Block["apply"]): Block {
  const minBatch = minBatchOf(parts);
  return {
    params: parts.flatMap((b) => b.params),
    buffers: parts.flatMap((b) => b.buffers ?? []),
    ...(minBatch > 1 ? { minBatch } : {}),
    ...(parts.some((b) => b.fold) ? { fold: (w) => foldAll(parts, w) } : {}),
    apply,
  };
}

/** `block` with its output exposed as `name` (see ForwardOptions.taps). */
export const named = (name: string, block: Block): Block => ({ ...block, name });

/** Blocks applied in order, as one block. */
export const sequence = (...blocks: Block[]): Block =>
  composite(blocks, (h, p, opts) => blocks.reduce((x, b) => b.apply(x, p, opts), h));

/** A block without parameters: an activation or a pooling on the running activations. */
export const step = (f: (h: Tensor) => Tensor, dropAfter = false): Block => ({
  params: [],
  apply: (h) => f(h),
  ...(dropAfter ? { dropAfter } : {}),
});

export interface ConvShape {
  readonly cin: number;
  readonly cout: number;
  /** Odd kernel side: padding (k − 1)/2 keeps the size at stride 1. */
  readonly kernel: number;
  readonly stride?: number;
  /** 1: full convolution; cin (= cout): depthwise. */
  readonly groups?: number;
}

/** The k×k convolution `name` of shape `c` (padding (k − 1)/2), with `<name>.bias` where `biased`. */
function convApply(name: string, c: ConvShape, biased: boolean): Block["apply"] {
  const { kernel: k, stride = 1, groups = 1 } = c;
  return (h, p) =>
    L.conv2d(h, p.get(`${name}.weight`), {
      name,
      stride,
      padding: (k - 1) / 2,
      groups,
      ...(biased ? { bias: p.get(`${name}.bias`) } : {}),
    });
}

/** A bias-free k×k convolution `name` (He init, max-norm constrained), as put before a batch norm. */
export function convLayer(name: string, c: ConvShape): Block {
  const { cin, cout, kernel: k, groups = 1 } = c;
  const fan: [number, number] = [(cin / groups) * k * k, (cout / groups) * k * k];
  return {
    params: [
      {
        name: `${name}.weight`,
        shape: [cout, cin / groups, k, k],
        init: "he",
        fan,
        unitAxes: [1, 2, 3],
        decay: true,
      },
    ],
    apply: convApply(name, c, false),
  };
}

/** PyTorch's default batch-norm momentum: running ← 0.9·running + 0.1·batch. */
export const BN_MOMENTUM = 0.1;

/**
 * Batch norm `name` over [N, C, H, W]: scale and shift as parameters (init 1 and 0; no weight
 * decay, no max-norm), running mean and variance as buffers (init 0 and 1). Training mode uses
 * the batch's statistics and sets the updated running ones in `opts.updates`; evaluation the running ones.
 */
export function batchNormLayer(name: string, channels: number): Block {
  const fan: [number, number] = [channels, channels];
  const [meanName, varName] = [`${name}.running_mean`, `${name}.running_var`];
  return {
    params: [
      { name: `${name}.weight`, shape: [channels], init: "ones", fan, decay: false },
      { name: `${name}.bias`, shape: [channels], init: "zeros", fan, decay: false },
    ],
    buffers: [
      { name: meanName, shape: [channels], init: 0 },
      { name: varName, shape: [channels], init: 1 },
    ],
    minBatch: 2,
    apply(h, p, opts) {
      const affine = { name, weight: p.get(`${name}.weight`), bias: p.get(`${name}.bias`) };
      const [runningMean, runningVar] = [p.get(meanName), p.get(varName)];
      if (!opts.training) return L.batchNorm2dEval(h, { ...affine, runningMean, runningVar });
      const t = L.batchNorm2dTrain(h, affine);
      opts.updates?.set(meanName, L.runningUpdate(runningMean, t.mean, BN_MOMENTUM));
      opts.updates?.set(varName, L.runningUpdate(runningVar, t.variance, BN_MOMENTUM));
      return t.y;
    },
  };
}

/**
 * Convolution `<name>.conv` then batch norm `<name>.bn`, without activation. Its export form is
 * one convolution with a bias, the batch norm folded in (foldBn).
 */
export function convBn(name: string, c: ConvShape): Block {
  const [conv, bn] = [`${name}.conv`, `${name}.bn`];
  return foldBn(convLayer(conv, c), bn, c.cout, {
    name: conv,
    biasShape: [c.cout, 1, 1],
    outAxis: "first",
    biased: convApply(conv, c, true),
  });
}

/** Where a weight keeps its output channels: first (a convolution's [out, in/g, k, k]) or last (a dense [in, out]). */
export type OutAxis = "first" | "last";

/** The bias-free layer a batch norm folds into, and its export form. */
export interface FoldInto {
  /** Its parameters' prefix: weight `<name>.weight`, and the export form's bias `<name>.bias`. */
  readonly name: string;
  readonly biasShape: readonly number[];
  readonly outAxis: OutAxis;
  /** The layer with `<name>.bias` added: the export form's step. */
  readonly biased: Block["apply"];
}

/**
 * A bias-free convolution or dense layer `linear`, then batch norm `bn` (batchNormLayer) over its
 * `channels` outputs: trains and evaluates as the pair; its export form (ForwardOptions.folded) is
 * the layer with a bias, the batch norm folded in (foldBatchNorm). `bnBlock` replaces the plain
 * batchNormLayer where the activations need reshaping around it (a dense layer's [N, F]).
 */
export function foldBn(
  linear: Block,
  bn: string,
  channels: number,
  into: FoldInto,
  bnBlock: Block = batchNormLayer(bn, channels),
): Block {
  const pair = sequence(linear, bnBlock);
  const weight = `${into.name}.weight`;
  const shape = linear.params.find((s) => s.name === weight)!.shape;
  return {
    ...pair,
    apply: (h, p, opts) => (opts.folded && !opts.training ? into.biased(h, p, opts) : pair.apply(h, p, opts)),
    fold: (w) => {
      const get = (n: string) => w.get(n)!;
      const f = foldBatchNorm(
        get(weight),
        {
          gamma: get(`${bn}.weight`),
          beta: get(`${bn}.bias`),
          mean: get(`${bn}.running_mean`),
          variance: get(`${bn}.running_var`),
        },
        into.outAxis,
      );
      return [
        { name: weight, shape, data: f.weight },
        { name: `${into.name}.bias`, shape: into.biasShape, data: f.bias },
      ];
    },
  };
}

/**
 * Batch norm in evaluation mode folded into the bias-free convolution (or dense layer) before it,
 * output channel o along W's first (convolution) or last (dense [in, out]) axis:
 * s = γ/√(var + ε), W' = W·s, b' = β − mean·s. Computed in double precision, with the training
 * graph's ε (BN_EPS).
 */
export function foldBatchNorm(
  w: Float32Array,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array },
  outAxis: OutAxis = "first",
): { weight: Float32Array; bias: Float32Array } {
  const c = bn.gamma.length;
  const per = w.length / c;
  const s = Array.from(bn.gamma, (g, o) => g / Math.sqrt(bn.variance[o]! + L.BN_EPS));
  const channel = outAxis === "first" ? (i: number) => Math.floor(i / per) : (i: number) => i % c;
  const weight = w.map((v, i) => v * s[channel(i)]!);
  const bias = bn.beta.map((b, o) => b - bn.mean[o]! * s[o]!);
  return { weight, bias };
}

/** Global average pooling to [N, C], with hidden dropout after it (a convnet's features before its head). */
export const globalPoolBlock = (): Block =>
  named(
    "pool",
    step((h) => L.globalAvgPool(h, "pool"), true),
  );
