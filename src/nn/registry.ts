/**
 * The model registry: one table of kinds, each one file in kinds/ (parameters, `--arch` short form,
 * builder). Specs and short forms become models here, and every model passes the size check.
 * A new kind: its file, one line in MODELS, and its test.
 */
import { ensure, KdError } from "../util/errors.js";
import { cnnKind } from "./kinds/cnn.js";
import type { ModelKindDef } from "./kinds/kind.js";
import { layersKind } from "./kinds/layers.js";
import { mlpKind } from "./kinds/mlp.js";
import { mobilenetKind } from "./kinds/mobilenet.js";
import { resnetKind } from "./kinds/resnet.js";
import type { Model, Regularisation } from "./model.js";
import { checkModelSize, paramCount } from "./size.js";

export const MODELS = {
  /** Fully connected ReLU layers of these widths on the flattened example. */
  mlp: mlpKind,
  /** 3×3 conv + ReLU + 2×2 max-pool per entry, then a dense layer to the classes. */
  cnn: cnnKind,
  /** CIFAR-style ResNet: 3 stages of basic blocks with batch norm, widths w, 2w, 4w; depth 6n+2. */
  resnet: resnetKind,
  /** Depthwise-separable blocks with batch norm and ReLU6, a width multiplier and strides. */
  mobilenet: mobilenetKind,
  /** A sequential list written in the spec (conv, bn, activations, pooling, residual blocks, dense); no short form. */
  layers: layersKind,
};

export type ModelKind = keyof typeof MODELS;
/** Each kind's parameters, as its file declares them. */
export type ModelParams = { [K in ModelKind]: (typeof MODELS)[K] extends ModelKindDef<infer P> ? P : never };
export type ModelSpec = { [K in ModelKind]: { readonly kind: K } & ModelParams[K] }[ModelKind];

const KINDS = Object.keys(MODELS) as ModelKind[];

function def<K extends ModelKind>(spec: { kind: K }): ModelKindDef<ModelParams[K]> {
  return MODELS[spec.kind] as unknown as ModelKindDef<ModelParams[K]>;
}

/** "a or b", "a, b or c". */
const orList = (xs: readonly string[]) =>
  xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`;

/** The `--arch` help: every kind's short form. */
export const ARCH_USAGE = orList(KINDS.map((k) => MODELS[k].usage));

/**
 * The model a spec describes for this data. Data without features or classes, data the kind cannot
 * take, and a model too large to export or train are refused here, before any weight is allocated.
 */
export function buildModel(spec: ModelSpec, exampleShape: readonly number[], numClasses: number): Model {
  const kind = def(spec);
  const arch = kind.arch(spec as never);
  const features = exampleShape.reduce((a, b) => a * b, 1);
  ensure(
    Number.isInteger(features) && features >= 1,
    `architecture "${arch}": the data has no features per example`,
  );
  ensure(Number.isInteger(numClasses) && numClasses >= 1, `architecture "${arch}": the data has no classes`);
  const model = kind.build(spec as never, exampleShape, numClasses);
  checkModelSize(model.arch, paramCount(model));
  return model;
}

/** A short form ("mlp:1200,1200", "cnn:32,64"; the command line's) as a spec; dropout comes separately. */
export function parseArchSpec(arch: string, drop?: { input: number; hidden: number }): ModelSpec {
  const form = arch.trim();
  const colon = form.indexOf(":");
  const name = form.slice(0, colon);
  const kind = colon > 0 && Object.hasOwn(MODELS, name) ? MODELS[name as ModelKind] : undefined;
  const params = kind?.parse(form.slice(colon + 1), arch);
  if (!params)
    throw new KdError(
      `unknown architecture "${arch}" (expected e.g. ${orList(KINDS.flatMap((k) => MODELS[k].example ?? []))})`,
    );
  const dropout = drop && (drop.input > 0 || drop.hidden > 0) ? { dropout: drop } : {};
  return { kind: name, ...params, ...dropout } as ModelSpec;
}

/**
 * A short form's model for this data (the library's entry point; the spec path uses buildModel).
 * An MLP takes any example flattened; a cnn takes image-shaped examples, [H, W] or [C, H, W].
 * `features` stays for existing callers: it is the product of `exampleShape`, which decides.
 */
export function parseArch(
  arch: string,
  _features: number,
  exampleShape: readonly number[],
  numClasses: number,
  reg?: Regularisation,
): Model {
  const dropout = reg && { input: reg.inputDropout, hidden: reg.hiddenDropout };
  return buildModel(parseArchSpec(arch, dropout), exampleShape, numClasses);
}
