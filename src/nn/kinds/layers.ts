/** The `layers` kind: a sequential stack written in the spec (conv, bn, activations, pooling, residual blocks, dense). */
import * as z from "zod/mini";
import * as o from "../../ir/ops.js";
import { KdError } from "../../util/errors.js";
import { type Block, batchNormLayer, classifier, sequence, step } from "../blocks.js";
import * as L from "../conv-layers.js";
import { dense, denseParams } from "../layers.js";
import type { ModelKindDef } from "./kind.js";

const MAX = 100_000;
const count = z.int().check(z.minimum(1), z.maximum(MAX));

/** One entry of the list; the head to the classes is added after the last. */
export type LayerEntry =
  | "bn"
  | "relu"
  | "relu6"
  | "hardswish"
  | "gap"
  | "flatten"
  | { conv: { out: number; kernel: number; stride?: number; pad?: number; groups?: number } }
  | { maxpool: number }
  | { avgpool: { kernel: number; stride?: number } }
  | { dense: number }
  | { dropout: number }
  | { residual: LayerEntry[] };

const SIMPLE = ["bn", "relu", "relu6", "hardswish", "gap", "flatten"] as const;

const pool = z.int().check(z.minimum(1), z.maximum(64));
const ENTRY_KEYS = ["conv", "maxpool", "avgpool", "dense", "dropout", "residual"] as const;
const EXPECTED = `expected ${SIMPLE.join(", ")} or an object with one key of ${ENTRY_KEYS.join(", ")}`;

/** An entry with parameters: one object with one key (checked on `layer`), so a misspelt key is named as an unknown field. */
const withParams = z.strictObject({
  conv: z.optional(
    z.strictObject({
      out: count,
      kernel: pool,
      stride: z.optional(pool),
      /** Zero padding on each side; default (kernel − 1)/2 rounded down, which keeps the size at stride 1 for odd kernels. */
      pad: z.optional(z.int().check(z.minimum(0), z.maximum(64))),
      groups: z.optional(count),
    }),
  ),
  maxpool: z.optional(pool),
  avgpool: z.optional(z.strictObject({ kernel: pool, stride: z.optional(pool) })),
  dense: z.optional(count),
  dropout: z.optional(z.number().check(z.minimum(0), z.maximum(0.95))),
  get residual() {
    return z.optional(z.array(layer).check(z.minLength(1)));
  },
});

/**
 * The union's one line: for an object, its first problem (zod names it only when the object
 * branch's problem is not a missing field), else what an entry can be.
 */
function explain(i: z.core.$ZodRawIssue): string | undefined {
  if (i.code !== "invalid_union") return undefined;
  const first = typeof i.input === "object" && i.input !== null ? i.errors[1]?.[0] : undefined;
  if (!first) return EXPECTED;
  const missing = first.code === "invalid_type" && first.input === undefined;
  const what = missing ? `required field missing (expected ${first.expected})` : first.message;
  return `${first.path.join(".")}: ${what}`;
}

// The object form's type has every key optional; the one-key check makes it one of LayerEntry's.
const layer = z
  .union([z.enum(SIMPLE), withParams], { error: explain })
  .check(
    z.refine((e) => typeof e === "string" || Object.keys(e).length === 1, EXPECTED),
  ) as unknown as z.ZodMiniType<LayerEntry>;

const params = z.strictObject({ layers: z.array(layer).check(z.minLength(1)) });
export type LayersParams = z.output<typeof params>;

const kindOf = (e: LayerEntry) => (typeof e === "string" ? e : Object.keys(e)[0]!);

/** A compact name of the stack ("layers[conv16k3,bn,relu,res(conv16k3,bn),gap]"): the model's `arch`. */
function entryName(e: LayerEntry): string {
  if (typeof e === "string") return e;
  if ("conv" in e) {
    const c = e.conv;
    const opt = (k: string, v: number | undefined) => (v === undefined ? "" : `${k}${v}`);
    return `conv${c.out}k${c.kernel}${opt("s", c.stride)}${opt("p", c.pad)}${opt("g", c.groups)}`;
  }
  if ("maxpool" in e) return `maxpool${e.maxpool}`;
  if ("avgpool" in e) return `avgpool${e.avgpool.kernel}${e.avgpool.stride ? `s${e.avgpool.stride}` : ""}`;
  if ("dense" in e) return `dense${e.dense}`;
  if ("dropout" in e) return `dropout${e.dropout}`;
  return `res(${e.residual.map(entryName).join(",")})`;
}
const arch = (p: LayersParams) => `layers[${p.layers.map(entryName).join(",")}]`;

/** The running activations' shape per example: [C, H, W] (an image) or [F] (flat). */
type Shape = readonly number[];
const show = (s: Shape) => `[${s.join(", ")}]`;
const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((v, i) => v === b[i]);

/** What the stack has built so far: its blocks, the shape after them, and the dropout rate its entries ask for. */
interface Stack {
  blocks: Block[];
  shape: Shape;
  rate?: number;
}

/** Builds the entries onto `s`; `path` ("3" inside layer 3, "" at the top) numbers each entry in errors and names. */
function build(entries: readonly LayerEntry[], s: Stack, path: string, nested: boolean): void {
  entries.forEach((e, i) => {
    const at = path ? `${path}.${i + 1}` : `${i + 1}`;
    const where = `layer ${at} (${kindOf(e)})`;
    const fail = (why: string): never => {
      throw new KdError(`architecture "layers": ${where}: ${why}`);
    };
    const name = `l${at}`;
    const image = (): [number, number, number] => {
      if (s.shape.length !== 3) fail(`needs an image-shaped input [C, H, W], got ${show(s.shape)}`);
      return s.shape as [number, number, number];
    };
    const window = (k: number, stride: number, pad: number): [number, number] => {
      const [, h, w] = image();
      if (k > h + 2 * pad || k > w + 2 * pad)
        fail(
          `kernel ${k}x${k} is larger than the${pad ? " padded" : ""} input ${h + 2 * pad}x${w + 2 * pad}`,
        );
      return [Math.floor((h + 2 * pad - k) / stride) + 1, Math.floor((w + 2 * pad - k) / stride) + 1];
    };
    const next = entries[i + 1];
    if (typeof e === "string") {
      if (e === "bn") s.blocks.push(batchNormLayer(name, image()[0]));
      else if (e === "relu") s.blocks.push(step(o.relu));
      else if (e === "relu6") s.blocks.push(step(L.relu6));
      else if (e === "hardswish") s.blocks.push(step(L.hardSwish));
      else if (e === "gap") {
        const [c] = image();
        s.blocks.push(step((h) => L.globalAvgPool(h, name)));
        s.shape = [c];
      } else {
        const f = image().reduce((a, b) => a * b, 1);
        s.blocks.push(step((h) => o.reshape(h, [h.shape[0]!, f])));
        s.shape = [f];
      }
    } else if ("conv" in e) {
      const { out, kernel: k, stride = 1, groups = 1 } = e.conv;
      const pad = e.conv.pad ?? (k - 1) >> 1;
      const [cin] = image();
      if (cin % groups !== 0 || out % groups !== 0)
        fail(`${cin} input and ${out} output channels are not both divisible into ${groups} groups`);
      const [h, w] = window(k, stride, pad);
      const bias = next !== "bn";
      s.blocks.push(convBlock(name, { cin, out, k, stride, pad, groups, bias }));
      s.shape = [out, h, w];
    } else if ("maxpool" in e) {
      const k = e.maxpool;
      const [c, h, w] = image();
      window(k, k, 0);
      if (h % k !== 0 || w % k !== 0)
        fail(
          `the input ${h}x${w} is not divisible by the pool ${k} (use avgpool, or a conv to change the size)`,
        );
      s.blocks.push(step((x) => o.maxPool2d(x, k)));
      s.shape = [c, h / k, w / k];
    } else if ("avgpool" in e) {
      const { kernel, stride = kernel } = e.avgpool;
      const [c] = image();
      const [h, w] = window(kernel, stride, 0);
      s.blocks.push(step((x) => L.avgPool2d(x, { name, kernel, stride })));
      s.shape = [c, h, w];
    } else if ("dense" in e) {
      const [fanIn, flat] = [s.shape.reduce((a, b) => a * b, 1), s.shape.length === 1];
      s.blocks.push({
        params: denseParams(name, fanIn, e.dense, "he", true),
        apply: (h, p) => dense(flat ? h : o.reshape(h, [h.shape[0]!, fanIn]), p, name),
      });
      s.shape = [e.dense];
    } else if ("dropout" in e) {
      if (nested) fail("dropout is taken only at the top level of the list, not inside a residual block");
      if (s.rate !== undefined && s.rate !== e.dropout)
        fail(`every dropout entry takes the same rate; an earlier one has ${s.rate}`);
      s.rate = e.dropout;
      // The classifier applies the hidden-dropout rate after this identity step, in training mode only.
      s.blocks.push(step((h) => h, true));
    } else s.blocks.push(residual(e.residual, s, at, fail));
  });
}

interface ConvDef {
  cin: number;
  out: number;
  k: number;
  stride: number;
  pad: number;
  groups: number;
  /** Without bias before a batch norm, whose shift takes its place. */
  bias: boolean;
}

/** A k×k convolution `name` (He init, max-norm constrained), with a per-channel bias unless a batch norm follows. */
function convBlock(name: string, c: ConvDef): Block {
  const fan: [number, number] = [(c.cin / c.groups) * c.k * c.k, (c.out / c.groups) * c.k * c.k];
  const w = `${name}.weight`;
  return {
    params: [
      {
        name: w,
        shape: [c.out, c.cin / c.groups, c.k, c.k],
        init: "he",
        fan,
        unitAxes: [1, 2, 3],
        decay: true,
      },
      ...(c.bias
        ? [{ name: `${name}.bias`, shape: [c.out], init: "zeros" as const, fan, decay: false }]
        : []),
    ],
    apply: (h, p) =>
      L.conv2d(h, p.get(w), {
        name,
        stride: c.stride,
        padding: c.pad,
        groups: c.groups,
        ...(c.bias ? { bias: p.get(`${name}.bias`) } : {}),
      }),
  };
}

/**
 * A residual block: its entries as the branch, plus its input. Where the branch changes the shape
 * of an image, the shortcut is a 1×1 conv + BN projection `<name>.shortcut` at the stride that
 * gives the branch's size; a shape no such projection reaches is refused.
 */
function residual(entries: readonly LayerEntry[], s: Stack, at: string, fail: (why: string) => never): Block {
  const inner: Stack = { blocks: [], shape: s.shape };
  build(entries, inner, at, true);
  const branch = sequence(...inner.blocks);
  const name = `l${at}`;
  const [from, to] = [s.shape, inner.shape];
  s.shape = to;
  if (sameShape(from, to))
    return { ...branch, apply: (h, p, opts) => L.residualAdd(branch.apply(h, p, opts), h, name) };
  const stride = projectionStride(from, to);
  if (stride === undefined)
    fail(
      `the branch turns ${show(from)} into ${show(to)}, which no 1x1 conv projection of the input can match`,
    );
  const shortcut = sequence(
    convBlock(`${name}.shortcut.conv`, {
      cin: from[0]!,
      out: to[0]!,
      k: 1,
      stride: stride!,
      pad: 0,
      groups: 1,
      bias: false,
    }),
    batchNormLayer(`${name}.shortcut.bn`, to[0]!),
  );
  const parts = [branch, shortcut];
  return {
    params: parts.flatMap((b) => b.params),
    buffers: parts.flatMap((b) => b.buffers ?? []),
    minBatch: 2,
    apply: (h, p, opts) => L.residualAdd(branch.apply(h, p, opts), shortcut.apply(h, p, opts), name),
  };
}

/** The stride of a 1×1 convolution (no padding) taking image `from` to `to`'s height and width, if any. */
function projectionStride(from: Shape, to: Shape): number | undefined {
  if (from.length !== 3 || to.length !== 3) return undefined;
  const [h, w] = [from[1]!, from[2]!];
  for (let s = 1; s <= Math.max(h, w); s++)
    if (Math.floor((h - 1) / s) + 1 === to[1] && Math.floor((w - 1) / s) + 1 === to[2]) return s;
  return undefined;
}

export const layersKind: ModelKindDef<LayersParams> = {
  params,
  usage: "layers (in a spec only: model: { kind: layers, layers: [...] })",
  parse: (_body, whole) => {
    throw new KdError(
      `architecture "${whole}": the layers kind is written in a spec (model: { kind: layers, layers: [...] }), not as --arch`,
    );
  },
  arch,
  build: (p, shape, classes) => {
    const s: Stack = { blocks: [], shape: shape.length === 2 ? [1, shape[0]!, shape[1]!] : shape };
    if (s.shape.length !== 1 && s.shape.length !== 3)
      throw new KdError(
        `architecture "layers" needs examples [C, H, W], [H, W] or flat [F]; the data's are ${show(shape)}`,
      );
    const inputShape = s.shape;
    build(p.layers, s, "", false);
    const features = s.shape.reduce((a, b) => a * b, 1);
    if (s.shape.length !== 1) s.blocks.push(step((h) => o.reshape(h, [h.shape[0]!, features])));
    return classifier({
      arch: arch(p),
      inputShape,
      numClasses: classes,
      reg: { inputDropout: 0, hiddenDropout: s.rate ?? 0 },
      blocks: s.blocks,
      features,
    });
  },
};
