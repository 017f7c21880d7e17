/** The `layers` kind: a sequential stack written in the spec (conv, bn, activations, pooling, residual blocks, dense). */
import * as z from "zod/mini";
import * as o from "../../ir/ops.js";
import type { Tensor } from "../../ir/tensor.js";
import { KdError } from "../../util/errors.js";
import {
  type Block,
  batchNormLayer,
  classifier,
  composite,
  type FoldInto,
  foldBn,
  sequence,
  step,
} from "../blocks.js";
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

type Simple = (typeof SIMPLE)[number];
type EntryKind = Simple | (typeof ENTRY_KEYS)[number];
/** An entry kind's parameters (the object's value; none for a simple entry). */
type ArgOf<K extends EntryKind> = K extends Simple
  ? undefined
  : Extract<LayerEntry, Record<K, unknown>> extends Record<K, infer A>
    ? A
    : never;

/** The running activations' shape per example: [C, H, W] (an image) or [F] (flat). */
type Shape = readonly number[];
const show = (s: Shape) => `[${s.join(", ")}]`;
const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((v, i) => v === b[i]);
const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** What the stack has built so far: its blocks, the shape after them, and the dropout rate its entries ask for. */
interface Stack {
  blocks: Block[];
  shape: Shape;
  rate?: number;
}

/** One entry's place in the stack, with the shape checks that name it ("layer 3.2 (maxpool)") in errors. */
class At {
  /** Its parameters' prefix ("l3.2"). */
  readonly name: string;
  constructor(
    readonly s: Stack,
    readonly at: string,
    readonly kind: EntryKind,
    /** The entry after it in the same list. */
    readonly next: LayerEntry | undefined,
    /** Inside a residual block. */
    readonly nested: boolean,
  ) {
    this.name = `l${at}`;
  }
  fail(why: string): never {
    throw new KdError(`architecture "layers": layer ${this.at} (${this.kind}): ${why}`);
  }
  image(): [number, number, number] {
    const { shape } = this.s;
    if (shape.length !== 3) this.fail(`needs an image-shaped input [C, H, W], got ${show(shape)}`);
    return shape as [number, number, number];
  }
  /** The output height and width of a k×k window at this stride and padding; a window larger than the input is refused. */
  window(k: number, stride: number, pad: number): [number, number] {
    const [, h, w] = this.image();
    if (k > h + 2 * pad || k > w + 2 * pad)
      this.fail(
        `kernel ${k}x${k} is larger than the${pad ? " padded" : ""} input ${h + 2 * pad}x${w + 2 * pad}`,
      );
    return [Math.floor((h + 2 * pad - k) / stride) + 1, Math.floor((w + 2 * pad - k) / stride) + 1];
  }
}

/** An entry's block; a bias-free conv or dense before a `bn` says how that batch norm folds into it. */
type Built = Block & { readonly into?: FoldInto };

interface EntryDef<K extends EntryKind> {
  /** Its part of the model's `arch` ("conv16k3s2"). */
  name(arg: ArgOf<K>): string;
  /** Its block; sets the shape after it on `at.s`. */
  block(arg: ArgOf<K>, at: At): Built;
}

/**
 * Batch norm `name` over the running activations' channels: an image's C, or a flat [F]'s F
 * (PyTorch's BatchNorm1d: statistics over the batch), normalised as [N, F, 1, 1].
 */
function bnBlock(name: string, shape: Shape): Block {
  const c = shape[0]!;
  const bn = batchNormLayer(name, c);
  if (shape.length === 3) return bn;
  return {
    ...bn,
    apply: (h, p, opts) => {
      const n = h.shape[0]!;
      return o.reshape(bn.apply(o.reshape(h, [n, c, 1, 1]), p, opts), [n, c]);
    },
  };
}

/** A step that keeps the shape. */
const activation = (f: (h: Tensor) => Tensor) => ({ name: () => "", block: () => step(f) });

/** Every entry kind: its arch name and its block. */
const ENTRIES: { [K in EntryKind]: EntryDef<K> } = {
  bn: { name: () => "", block: (_, at) => bnBlock(at.name, at.s.shape) },
  relu: activation(o.relu),
  relu6: activation(L.relu6),
  hardswish: activation(L.hardSwish),
  gap: {
    name: () => "",
    block: (_, at) => {
      at.s.shape = [at.image()[0]];
      return step((h) => L.globalAvgPool(h, at.name));
    },
  },
  flatten: {
    name: () => "",
    block: (_, at) => {
      const f = size(at.image());
      at.s.shape = [f];
      return step((h) => o.reshape(h, [h.shape[0]!, f]));
    },
  },
  conv: {
    name: (c) => {
      const opt = (k: string, v: number | undefined) => (v === undefined ? "" : `${k}${v}`);
      return `${c.out}k${c.kernel}${opt("s", c.stride)}${opt("p", c.pad)}${opt("g", c.groups)}`;
    },
    block: (c, at) => {
      const { out, kernel: k, stride = 1, groups = 1 } = c;
      const pad = c.pad ?? (k - 1) >> 1;
      const [cin] = at.image();
      if (cin % groups !== 0 || out % groups !== 0)
        at.fail(`${cin} input and ${out} output channels are not both divisible into ${groups} groups`);
      const [h, w] = at.window(k, stride, pad);
      at.s.shape = [out, h, w];
      return convBlock(at.name, { cin, out, k, stride, pad, groups, bias: at.next !== "bn" });
    },
  },
  maxpool: {
    name: (k) => `${k}`,
    block: (k, at) => {
      const [c, h, w] = at.image();
      at.window(k, k, 0);
      if (h % k !== 0 || w % k !== 0)
        at.fail(
          `the input ${h}x${w} is not divisible by the pool ${k} (use avgpool, or a conv to change the size)`,
        );
      at.s.shape = [c, h / k, w / k];
      return step((x) => o.maxPool2d(x, k));
    },
  },
  avgpool: {
    name: (a) => `${a.kernel}${a.stride ? `s${a.stride}` : ""}`,
    block: ({ kernel, stride = kernel }, at) => {
      const [c] = at.image();
      const [h, w] = at.window(kernel, stride, 0);
      at.s.shape = [c, h, w];
      return step((x) => L.avgPool2d(x, { name: at.name, kernel, stride }));
    },
  },
  dense: {
    name: (n) => `${n}`,
    block: (n, at) => {
      const [fanIn, flat] = [size(at.s.shape), at.s.shape.length === 1];
      at.s.shape = [n];
      const input = (h: Tensor) => (flat ? h : o.reshape(h, [h.shape[0]!, fanIn]));
      const [weight, bias] = denseParams(at.name, fanIn, n, "he", true);
      const biased: Block["apply"] = (h, p) => dense(input(h), p, at.name);
      if (at.next !== "bn") return { params: [weight!, bias!], apply: biased };
      // Without bias before a batch norm, whose shift takes its place (as for conv).
      return {
        params: [weight!],
        apply: (h, p) => o.matmul(input(h), p.get(weight!.name)),
        into: { name: at.name, biasShape: [n], outAxis: "last", biased },
      };
    },
  },
  dropout: {
    name: (r) => `${r}`,
    block: (rate, at) => {
      if (at.nested)
        at.fail("dropout is taken only at the top level of the list, not inside a residual block");
      if (at.s.rate !== undefined && at.s.rate !== rate)
        at.fail(`every dropout entry takes the same rate; an earlier one has ${at.s.rate}`);
      at.s.rate = rate;
      // The classifier applies the hidden-dropout rate after this identity step, in training mode only.
      return step((h) => h, true);
    },
  },
  residual: { name: (es) => `(${es.map(entryName).join(",")})`, block: residual },
};

const split = (e: LayerEntry): [EntryKind, unknown] =>
  typeof e === "string" ? [e, undefined] : (Object.entries(e)[0] as [EntryKind, unknown]);

/** An entry's part of the arch: "bn", "conv16k3", "residual(...)". */
function entryName(e: LayerEntry): string {
  const [kind, arg] = split(e);
  return kind + (ENTRIES[kind] as EntryDef<EntryKind>).name(arg as never);
}
/** A compact name of the stack ("layers[conv16k3,bn,relu,residual(conv16k3,bn),gap]"): the model's `arch`. */
const arch = (p: LayersParams) => `layers[${p.layers.map(entryName).join(",")}]`;

/**
 * Builds the entries onto `s`; `path` ("3" inside layer 3, "" at the top) numbers each entry in
 * errors and names. A `bn` right after a conv or dense joins it as one block that exports folded.
 */
function build(entries: readonly LayerEntry[], s: Stack, path: string, nested: boolean): void {
  const number = (i: number) => (path ? `${path}.${i + 1}` : `${i + 1}`);
  const entry = (i: number): Built => {
    const [kind, arg] = split(entries[i]!);
    const at = new At(s, number(i), kind, entries[i + 1], nested);
    return (ENTRIES[kind] as EntryDef<EntryKind>).block(arg as never, at);
  };
  // Top-level entries are exposed by their prefix ("l3") for feature objectives; a folded pair by
  // its `bn`'s, whose output it gives.
  const named = (block: Block, i: number): Block => (path ? block : { ...block, name: `l${number(i)}` });
  for (let i = 0; i < entries.length; i++) {
    const { into, ...block } = entry(i);
    if (!into) {
      s.blocks.push(named(block, i));
      continue;
    }
    // The `bn` entry that follows (a conv or dense takes `into` only then), over its outputs.
    const bn = entry(++i);
    s.blocks.push(named(foldBn(block, `l${number(i)}`, s.shape[0]!, into, bn), i));
  }
}

interface ConvDef {
  cin: number;
  out: number;
  k: number;
  stride: number;
  pad: number;
  groups: number;
  /** Without bias before a batch norm, whose shift takes its place (and which then folds into it). */
  bias: boolean;
}

/** A k×k convolution `name` (He init, max-norm constrained), with a per-channel bias unless a batch norm follows. */
function convBlock(name: string, c: ConvDef): Built {
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
    apply: convApply(name, c, c.bias),
    ...(c.bias
      ? {}
      : { into: { name, biasShape: [c.out], outAxis: "first", biased: convApply(name, c, true) } }),
  };
}

function convApply(name: string, c: ConvDef, biased: boolean): Block["apply"] {
  const opts = { name, stride: c.stride, padding: c.pad, groups: c.groups };
  return (h, p) =>
    L.conv2d(h, p.get(`${name}.weight`), { ...opts, ...(biased ? { bias: p.get(`${name}.bias`) } : {}) });
}

/**
 * A residual block: its entries as the branch, plus its input. Where the branch changes the shape
 * of an image, the shortcut is a 1×1 conv + BN projection `<name>.shortcut` at the stride that
 * gives the branch's size; a shape no such projection reaches is refused.
 */
function residual(entries: readonly LayerEntry[], at: At): Block {
  const s = at.s;
  const inner: Stack = { blocks: [], shape: s.shape };
  build(entries, inner, at.at, true);
  const branch = sequence(...inner.blocks);
  const name = at.name;
  const [from, to] = [s.shape, inner.shape];
  s.shape = to;
  if (sameShape(from, to))
    return { ...branch, apply: (h, p, opts) => L.residualAdd(branch.apply(h, p, opts), h, name) };
  const stride = projectionStride(from, to);
  if (stride === undefined)
    at.fail(
      `the branch turns ${show(from)} into ${show(to)}, which no 1x1 conv projection of the input can match`,
    );
  const { into, ...conv } = convBlock(`${name}.shortcut.conv`, {
    cin: from[0]!,
    out: to[0]!,
    k: 1,
    stride: stride!,
    pad: 0,
    groups: 1,
    bias: false,
  });
  const shortcut = foldBn(conv, `${name}.shortcut.bn`, to[0]!, into!);
  return composite([branch, shortcut], (h, p, opts) =>
    L.residualAdd(branch.apply(h, p, opts), shortcut.apply(h, p, opts), name),
  );
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
