/** The `resnet` kind: a CIFAR-style ResNet (He et al. 2016, §4.2) with batch norm and projection shortcuts. */
import * as z from "zod/mini";
import * as o from "../../ir/ops.js";
import { ensure } from "../../util/errors.js";
import {
  type Block,
  classifier,
  composite,
  convBn,
  globalPoolBlock,
  named,
  regularisation,
  sequence,
  step,
} from "../blocks.js";
import { residualAdd } from "../conv-layers.js";
import { dropoutParams, imageInput, type ModelKindDef, sizeList } from "./kind.js";

const MAX_DEPTH = 1000;
const params = z.strictObject({
  /** Weighted layers: 6n + 2 for n basic blocks per stage (8, 14, 20, 32, 44, 56, 110). */
  depth: z.int().check(z.minimum(1), z.maximum(MAX_DEPTH)),
  /** Channels of the first stage; the second and third have 2× and 4×. */
  width: z._default(z.int().check(z.minimum(1), z.maximum(1024)), 16),
  dropout: z.optional(dropoutParams),
});
export type ResnetParams = z.output<typeof params>;

const arch = (p: { depth: number; width: number }) =>
  `resnet:${p.depth}${p.width === 16 ? "" : `,${p.width}`}`;

/**
 * A basic block: 3×3 conv + BN + ReLU, 3×3 conv + BN, plus the shortcut, then ReLU. Where the
 * block changes the size or the channels, the shortcut is a 1×1 conv + BN projection (option B).
 */
function basicBlock(name: string, cin: number, cout: number, stride: number): Block {
  const branch = sequence(
    convBn(`${name}.a`, { cin, cout, kernel: 3, stride }),
    step(o.relu),
    convBn(`${name}.b`, { cin: cout, cout, kernel: 3 }),
  );
  const projects = stride !== 1 || cin !== cout;
  const shortcut = projects ? convBn(`${name}.shortcut`, { cin, cout, kernel: 1, stride }) : undefined;
  return named(
    name,
    composite(shortcut ? [branch, shortcut] : [branch], (h, p, opts) =>
      o.relu(residualAdd(branch.apply(h, p, opts), shortcut ? shortcut.apply(h, p, opts) : h, name)),
    ),
  );
}

export const resnetKind: ModelKindDef<ResnetParams> = {
  params,
  usage: "resnet:DEPTH[,WIDTH]",
  example: "resnet:8",
  parse: (body, whole) => {
    const n = sizeList(body, whole);
    if (!n || n.length < 1 || n.length > 2) return undefined;
    return { depth: n[0]!, width: n[1] ?? 16 };
  },
  arch,
  build: (p, shape, classes) => {
    const name = arch(p);
    ensure(
      p.depth >= 8 && (p.depth - 2) % 6 === 0,
      `architecture "${name}": a resnet's depth is 6n+2 (8, 14, 20, 32, ...), got ${p.depth}`,
    );
    const [c0, h0, w0] = imageInput(name, shape);
    const n = (p.depth - 2) / 6;
    const widths = [p.width, 2 * p.width, 4 * p.width];
    const blocks: Block[] = [
      named("stem", sequence(convBn("stem", { cin: c0, cout: p.width, kernel: 3 }), step(o.relu))),
    ];
    let c = p.width;
    widths.forEach((w, s) => {
      for (let b = 0; b < n; b++) {
        blocks.push(basicBlock(`stage${s + 1}.block${b + 1}`, c, w, s > 0 && b === 0 ? 2 : 1));
        c = w;
      }
    });
    return classifier({
      arch: name,
      inputShape: [c0, h0, w0],
      numClasses: classes,
      reg: regularisation(p.dropout),
      blocks: [...blocks, globalPoolBlock()],
      features: c,
    });
  },
};
