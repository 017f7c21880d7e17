/** The `mobilenet` kind: a MobileNet-style stack of depthwise-separable blocks with batch norm and ReLU6. */
import * as z from "zod/mini";
import { ensure, KdError } from "../../util/errors.js";
import {
  type Block,
  classifier,
  convBn,
  globalPoolBlock,
  named,
  regularisation,
  sequence,
  step,
} from "../blocks.js";
import { relu6 } from "../conv-layers.js";
import { dropoutParams, imageInput, type ModelKindDef, sizes } from "./kind.js";

/**
 * The default stack, for 28×28 and 32×32 inputs: a 32-channel stem at stride 1, then blocks to
 * 64 (stride 2), 128 (stride 2) and 128 (stride 1) channels: 28 → 14 → 7 → 7 pixels.
 */
const CHANNELS = [32, 64, 128, 128];
const STRIDES = [1, 2, 2, 1];
const MAX_MULTIPLIER = 4;

const params = z.strictObject({
  /** Scales every layer's channels (rounded, at least 1). */
  multiplier: z._default(z.number().check(z.positive(), z.maximum(MAX_MULTIPLIER)), 1),
  /** The stem's channels, then each block's (before the multiplier). */
  channels: z._default(sizes.check(z.minLength(1)), CHANNELS),
  /** The stem's stride, then each block's depthwise stride; as many as channels. */
  strides: z._default(z.array(z.int().check(z.minimum(1), z.maximum(8))), STRIDES),
  dropout: z.optional(dropoutParams),
});
export type MobilenetParams = z.output<typeof params>;

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** "mobilenet:0.5"; a stack other than the default is named after it ("mobilenet:1[16,32;1,2]": channels; strides). */
function arch(p: MobilenetParams): string {
  const stack = same(p.channels, CHANNELS) && same(p.strides, STRIDES);
  return `mobilenet:${p.multiplier}${stack ? "" : `[${p.channels.join(",")};${p.strides.join(",")}]`}`;
}

/** Depthwise 3×3 + BN + ReLU6 (`<name>.dw`), then pointwise 1×1 + BN + ReLU6 (`<name>.pw`). */
function separable(name: string, cin: number, cout: number, stride: number): Block {
  return named(
    name,
    sequence(
      convBn(`${name}.dw`, { cin, cout: cin, kernel: 3, stride, groups: cin }),
      step(relu6),
      convBn(`${name}.pw`, { cin, cout, kernel: 1 }),
      step(relu6),
    ),
  );
}

export const mobilenetKind: ModelKindDef<MobilenetParams> = {
  params,
  usage: "mobilenet:MULTIPLIER",
  example: "mobilenet:0.5",
  parse: (body, whole) => {
    if (!/^[0-9]*\.?[0-9]+$/.test(body)) return undefined;
    const multiplier = Number(body);
    if (!(multiplier > 0 && multiplier <= MAX_MULTIPLIER))
      throw new KdError(`architecture "${whole}": the width multiplier must lie in (0, ${MAX_MULTIPLIER}]`);
    return { multiplier, channels: CHANNELS, strides: STRIDES };
  },
  arch,
  build: (p, shape, classes) => {
    const name = arch(p);
    ensure(
      p.strides.length === p.channels.length,
      `architecture "${name}": ${p.channels.length} channel counts but ${p.strides.length} strides (one each)`,
    );
    const [c0, h0, w0] = imageInput(name, shape);
    const ch = p.channels.map((c) => Math.max(1, Math.round(c * p.multiplier)));
    const blocks: Block[] = [
      named(
        "stem",
        sequence(convBn("stem", { cin: c0, cout: ch[0]!, kernel: 3, stride: p.strides[0]! }), step(relu6)),
      ),
    ];
    for (let i = 1; i < ch.length; i++)
      blocks.push(separable(`block${i}`, ch[i - 1]!, ch[i]!, p.strides[i]!));
    return classifier({
      arch: name,
      inputShape: [c0, h0, w0],
      numClasses: classes,
      reg: regularisation(p.dropout),
      blocks: [...blocks, globalPoolBlock()],
      features: ch.at(-1)!,
    });
  },
};
