/** The model registry: each architecture kind, its parameters (a zod schema) and how it is built for a dataset. */
import { z } from "zod";
import { ensure } from "../util/errors.js";
import { checkModelSize, cnn, type Model, mlp, paramCount, type Regularisation } from "./model.js";

const rate = z.number().min(0).max(0.95);
const dropout = z.strictObject({ input: rate.default(0), hidden: rate.default(0) });
const sizes = z.array(z.number().int().min(1).max(100_000));

export interface ModelParams {
  /** Fully connected ReLU layers of these widths on the flattened example. */
  mlp: { hidden: number[]; dropout?: { input: number; hidden: number } };
  /** 3×3 conv + ReLU + 2×2 max-pool per entry, then a dense layer to the classes. */
  cnn: { channels: number[]; dropout?: { input: number; hidden: number } };
}
export type ModelKind = keyof ModelParams;
export type ModelSpec = { [K in ModelKind]: { readonly kind: K } & ModelParams[K] }[ModelKind];

interface ModelDef<K extends ModelKind> {
  readonly params: z.ZodType<ModelParams[K]> & z.ZodObject;
  build(p: ModelParams[K], exampleShape: readonly number[], numClasses: number): Model;
  /** The short form the command line takes ("mlp:1200,1200"). */
  arch(p: ModelParams[K]): string;
}

const reg = (d: { input: number; hidden: number } | undefined): Regularisation => ({
  inputDropout: d?.input ?? 0,
  hiddenDropout: d?.hidden ?? 0,
});

export const MODELS: { readonly [K in ModelKind]: ModelDef<K> } = {
  mlp: {
    params: z.strictObject({ hidden: sizes, dropout: dropout.optional() }),
    build: (p, shape, c) =>
      mlp(
        shape.reduce((a, b) => a * b, 1),
        p.hidden,
        c,
        reg(p.dropout),
      ),
    arch: (p) => `mlp:${p.hidden.join(",")}`,
  },
  cnn: {
    params: z.strictObject({ channels: sizes.min(1), dropout: dropout.optional() }),
    // [H, W] or [C, H, W] with any number of channels; cnn() refuses other shapes in one line.
    build: (p, shape, c) => cnn(shape, p.channels, c, reg(p.dropout)),
    arch: (p) => `cnn:${p.channels.join(",")}`,
  },
};

export const MODEL_KINDS = Object.keys(MODELS) as ModelKind[];

function def<K extends ModelKind>(spec: { kind: K }): ModelDef<K> {
  return MODELS[spec.kind] as unknown as ModelDef<K>;
}

/** The model a spec describes for this data; one too large to export or train is refused here, before any weight is allocated. */
export function buildModel(spec: ModelSpec, exampleShape: readonly number[], numClasses: number): Model {
  const model = def(spec).build(spec as never, exampleShape, numClasses);
  checkModelSize(model.arch, paramCount(model));
  return model;
}

export function modelArch(spec: ModelSpec): string {
  return def(spec).arch(spec as never);
}

/** "mlp:1200,1200" / "cnn:32,64" (the command line's form) as a spec; dropout comes separately. */
export function parseArchSpec(arch: string, drop?: { input: number; hidden: number }): ModelSpec {
  const m = /^(mlp|cnn):([0-9,]*)$/.exec(arch.trim());
  ensure(m, `unknown architecture "${arch}" (expected e.g. mlp:1200,1200 or cnn:32,64)`);
  const n = m[2] === "" ? [] : m[2]!.split(",").map(Number);
  ensure(
    n.every((x) => Number.isInteger(x) && x >= 1 && x <= 100_000),
    `architecture "${arch}": layer sizes must be whole numbers from 1 to 100000`,
  );
  const dropout = drop && (drop.input > 0 || drop.hidden > 0) ? { dropout: drop } : {};
  return m[1] === "mlp" ? { kind: "mlp", hidden: n, ...dropout } : { kind: "cnn", channels: n, ...dropout };
}
