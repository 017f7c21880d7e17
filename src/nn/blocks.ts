/** Shared layer helpers for model kinds: dense and conv blocks, and the classifier skeleton around them. */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { dense, denseParams, dropout, type ParamMap, type ParamSpec } from "./layers.js";
import type { ForwardOptions, Model, Regularisation } from "./model.js";

export const NO_REG: Regularisation = { inputDropout: 0, hiddenDropout: 0 };

/** A spec's `dropout: { input, hidden }` as a model's regularisation. */
export const regularisation = (d: { input: number; hidden: number } | undefined): Regularisation => ({
  inputDropout: d?.input ?? 0,
  hiddenDropout: d?.hidden ?? 0,
});

/** One stage of a classifier's body: its parameters and its step on the running activations. */
export interface Block {
  readonly params: readonly ParamSpec[];
  apply(h: Tensor, p: ParamMap): Tensor;
  /** Hidden dropout follows this block in training mode (each such block gets its own mask). */
  readonly dropAfter?: boolean;
}

/** A fully connected ReLU layer `name` (He init, max-norm constrained), with hidden dropout after it. */
export function denseBlock(name: string, fanIn: number, fanOut: number): Block {
  return {
    params: denseParams(name, fanIn, fanOut, "he", true),
    apply: (h, p) => o.relu(dense(h, p, name)),
    dropAfter: true,
  };
}

/** A 3x3 convolution `name` (padding 1) with a per-channel bias, ReLU and 2x2 max pooling. */
export function convBlock(name: string, cin: number, cout: number): Block {
  const fan: [number, number] = [cin * 9, cout * 9];
  return {
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
  return {
    arch: m.arch,
    inputShape: m.inputShape,
    numClasses: m.numClasses,
    params: [
      ...blocks.flatMap((b) => b.params),
      ...denseParams("out", m.features, m.numClasses, "glorot", false),
    ],
    outputBias: "out.bias",
    reg,
    forward(x, p, opts) {
      const drop = dropsOut(reg, opts);
      let h = drop ? dropout(x, reg.inputDropout, needSeed(opts), 0) : x;
      let salt = 0;
      for (const b of blocks) {
        h = b.apply(h, p);
        if (drop && b.dropAfter) h = dropout(h, reg.hiddenDropout, needSeed(opts), ++salt);
      }
      return dense(h, p, "out");
    },
  };
}
