/** Model architectures: an arch string such as "mlp:1200,1200" or "cnn:32,64" becomes a forward function. */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { KdError } from "../util/errors.js";
import { checkAllocation, formatBytes } from "../util/memory.js";
import { dense, denseParams, dropout, type ParamMap, type ParamSpec } from "./layers.js";

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation, export). */
  readonly training: boolean;
  /** int64 scalar seeding this step's dropout masks; required when training with dropout. */
  readonly seed?: Tensor;
}

export interface Regularisation {
  /** Dropout rate on the inputs (the paper's teacher: 0.2). */
  readonly inputDropout: number;
  /** Dropout rate on hidden units (the paper's teacher: 0.5). */
  readonly hiddenDropout: number;
}

/** A classifier: parameters plus a forward function from inputs to logits. */
export interface Model {
  readonly arch: string;
  /** Shape of one example as the model takes it ([784] or [1, 28, 28]). */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly params: readonly ParamSpec[];
  /** Name of the output layer's bias (what bias shifts adjust). */
  readonly outputBias: string;
  readonly reg: Regularisation;
  /** State not trained but updated by the training forward (e.g. running statistics): see train/step.ts. */
  readonly buffers?: readonly {
    readonly name: string;
    readonly shape: readonly number[];
    readonly init: number;
  }[];
  forward(x: Tensor, p: ParamMap, opts: ForwardOptions): Tensor;
}

export const NO_REG: Regularisation = { inputDropout: 0, hiddenDropout: 0 };

/** Whether this forward pass applies dropout (training mode with a non-zero rate). */
function dropsOut(reg: Regularisation, opts: ForwardOptions): boolean {
  return opts.training && (reg.inputDropout > 0 || reg.hiddenDropout > 0);
}

function needSeed(opts: ForwardOptions): Tensor {
  if (!opts.seed) throw new Error("dropout in training mode needs a seed input");
  return opts.seed;
}

export function mlp(
  features: number,
  hidden: readonly number[],
  numClasses: number,
  reg: Regularisation = NO_REG,
): Model {
  const sizes = [features, ...hidden, numClasses];
  const names = sizes.slice(1).map((_, i) => (i === hidden.length ? "out" : `fc${i + 1}`));
  const params = names.flatMap((name, i) =>
    i === hidden.length
      ? denseParams(name, sizes[i]!, sizes[i + 1]!, "glorot", false)
      : denseParams(name, sizes[i]!, sizes[i + 1]!, "he", true),
  );
  return {
    arch: `mlp:${hidden.join(",")}`,
    inputShape: [features],
    numClasses,
    params,
    outputBias: "out.bias",
    reg,
    forward(x, p, opts) {
      const drop = dropsOut(reg, opts);
      let h = drop ? dropout(x, reg.inputDropout, needSeed(opts), 0) : x;
      names.forEach((name, i) => {
        h = dense(h, p, name);
        if (i < hidden.length) {
          h = o.relu(h);
          if (drop) h = dropout(h, reg.hiddenDropout, needSeed(opts), i + 1);
        }
      });
      return h;
    },
  };
}

/** [C, H, W] from a side (square, one channel), [H, W] (one channel) or [C, H, W]. */
function imageShape(input: number | readonly number[]): [number, number, number] {
  if (typeof input === "number") return [1, input, input];
  if (input.length === 2) return [1, input[0]!, input[1]!];
  if (input.length === 3) return [input[0]!, input[1]!, input[2]!];
  throw new KdError(`a cnn needs image-shaped examples [C, H, W] or [H, W], got [${input.join(", ")}]`);
}

/**
 * A small convnet: for each entry, a 3x3 convolution (padding 1), ReLU and 2x2 max pooling;
 * then one dense layer to the classes. `input` is the example shape [C, H, W] (any number of
 * channels), [H, W] (one channel), or a side for square single-channel images.
 */
export function cnn(
  input: number | readonly number[],
  channels: readonly number[],
  numClasses: number,
  reg: Regularisation = NO_REG,
): Model {
  const [c0, h0, w0] = imageShape(input);
  const pools = 2 ** channels.length;
  if (h0 % pools !== 0 || w0 % pools !== 0)
    throw new KdError(
      `cnn:${channels.join(",")} pools ${channels.length} times, so the image height and width must be multiples of ${pools}; the data is ${h0}x${w0} (resize it, e.g. to ${Math.ceil(h0 / pools) * pools}x${Math.ceil(w0 / pools) * pools})`,
    );
  const params: ParamSpec[] = [];
  let c = c0;
  channels.forEach((co, i) => {
    const fanIn = c * 9;
    params.push(
      {
        name: `conv${i + 1}.weight`,
        shape: [co, c, 3, 3],
        init: "he",
        fan: [fanIn, co * 9],
        unitAxes: [1, 2, 3],
        decay: true,
      },
      { name: `conv${i + 1}.bias`, shape: [co, 1, 1], init: "zeros", fan: [fanIn, co * 9], decay: false },
    );
    c = co;
  });
  const flat = c * (h0 / pools) * (w0 / pools);
  params.push(...denseParams("out", flat, numClasses, "glorot", false));
  return {
    arch: `cnn:${channels.join(",")}`,
    inputShape: [c0, h0, w0],
    numClasses,
    params,
    outputBias: "out.bias",
    reg,
    forward(x, p, opts) {
      const drop = dropsOut(reg, opts);
      let h = drop ? dropout(x, reg.inputDropout, needSeed(opts), 0) : x;
      channels.forEach((_, i) => {
        h = o.add(o.conv2d(h, p.get(`conv${i + 1}.weight`), [1, 1], [1, 1]), p.get(`conv${i + 1}.bias`));
        h = o.maxPool2d(o.relu(h), 2);
      });
      h = o.reshape(h, [x.shape[0]!, flat]);
      if (drop) h = dropout(h, reg.hiddenDropout, needSeed(opts), 1);
      return dense(h, p, "out");
    },
  };
}

/**
 * Parses "mlp:1200,1200", "mlp:" (softmax regression) or "cnn:32,64". An MLP takes any example
 * flattened; a cnn takes image-shaped examples, [H, W] or [C, H, W] with any number of channels.
 */
export function parseArch(
  arch: string,
  features: number,
  exampleShape: readonly number[],
  numClasses: number,
  reg: Regularisation = NO_REG,
): Model {
  const m = /^(mlp|cnn):([0-9,]*)$/.exec(arch.trim());
  if (!m) throw new KdError(`unknown architecture "${arch}" (expected e.g. mlp:1200,1200 or cnn:32,64)`);
  const sizes = m[2] === "" ? [] : m[2]!.split(",").map((s) => Number(s));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000))
    throw new KdError(`architecture "${arch}": layer sizes must be whole numbers from 1 to 100000`);
  if (!(Number.isInteger(features) && features >= 1))
    throw new KdError(`architecture "${arch}": the data has no features per example`);
  if (!(Number.isInteger(numClasses) && numClasses >= 1))
    throw new KdError(`architecture "${arch}": the data has no classes`);
  if (m[1] === "mlp") {
    checkModelSize(arch, mlpParamCount(features, sizes, numClasses));
    return mlp(features, sizes, numClasses, reg);
  }
  if (sizes.length === 0) throw new KdError(`architecture "${arch}": a cnn needs at least one conv layer`);
  if (exampleShape.length < 2 || exampleShape.length > 3)
    throw new KdError(
      `architecture "${arch}" needs image-shaped examples [C, H, W] or [H, W]; the data's are [${exampleShape.join(", ")}]`,
    );
  const model = cnn(exampleShape, sizes, numClasses, reg);
  checkModelSize(arch, paramCount(model));
  return model;
}

/** How many numbers a model's parameters hold. */
export function paramCount(model: Pick<Model, "params">): number {
  return model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

/** Weights and biases of an MLP with these layer sizes. */
export function mlpParamCount(features: number, hidden: readonly number[], numClasses: number): number {
  const sizes = [features, ...hidden, numClasses];
  let count = 0;
  for (let i = 1; i < sizes.length; i++) count += (sizes[i - 1]! + 1) * sizes[i]!;
  return count;
}

/** An exported model is one protobuf message, which holds at most 2 GiB: 536,870,911 float32s. */
export const MAX_PARAMS = Math.floor((2 ** 31 - 1) / 4);

/**
 * Copies of the parameters training holds at once: the weights, their gradients, up to two optimizer
 * moments (Adam) and the session's own copy of the weights it updates.
 */
const TRAINING_COPIES = 5;

/**
 * Refuses an architecture too large to export (ONNX's 2 GiB) or to train in this machine's memory,
 * saying how large it is, before anything is allocated.
 */
export function checkModelSize(arch: string, params: number): void {
  const count = params.toLocaleString("en-US");
  if (params > MAX_PARAMS)
    throw new KdError(
      `architecture "${arch}" has ${count} parameters (${formatBytes(params * 4)} as float32); an ONNX model holds at most ${MAX_PARAMS.toLocaleString("en-US")}`,
    );
  checkAllocation(params * 4 * TRAINING_COPIES, `training architecture "${arch}" (${count} parameters)`);
}
