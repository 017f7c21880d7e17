/** The `cnn` kind: per entry a 3x3 conv + ReLU + 2x2 max-pool block, then a dense layer to the classes. */
import * as z from "zod/mini";
import { KdError } from "../../util/errors.js";
import { type Block, classifier, convBlock, flattenBlock, NO_REG, regularisation } from "../blocks.js";
import type { Model, Regularisation } from "../model.js";
import { dropoutParams, imageInput, type ModelKindDef, sizeList, sizes } from "./kind.js";

const params = z.strictObject({ channels: sizes.check(z.minLength(1)), dropout: z.optional(dropoutParams) });
export type CnnParams = z.output<typeof params>;

const arch = (channels: readonly number[]) => `cnn:${channels.join(",")}`;

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
      `${arch(channels)} pools ${channels.length} times, so the image height and width must be multiples of ${pools}; the data is ${h0}x${w0} (resize it, e.g. to ${Math.ceil(h0 / pools) * pools}x${Math.ceil(w0 / pools) * pools})`,
    );
  const blocks: Block[] = [];
  let c = c0;
  channels.forEach((co, i) => {
    blocks.push(convBlock(`conv${i + 1}`, c, co));
    c = co;
  });
  const flat = c * (h0 / pools) * (w0 / pools);
  return classifier({
    arch: arch(channels),
    inputShape: [c0, h0, w0],
    numClasses,
    reg,
    blocks: [...blocks, flattenBlock(flat)],
    features: flat,
  });
}

export const cnnKind: ModelKindDef<CnnParams> = {
  params,
  usage: "cnn:C1,C2,...",
  example: "cnn:32,64",
  parse: (body, whole) => {
    const channels = sizeList(body, whole);
    return channels && { channels };
  },
  arch: (p) => arch(p.channels),
  build: (p, shape, classes) => {
    const name = arch(p.channels);
    if (p.channels.length === 0)
      throw new KdError(`architecture "${name}": a cnn needs at least one conv layer`);
    return cnn(imageInput(name, shape), p.channels, classes, regularisation(p.dropout));
  },
};
