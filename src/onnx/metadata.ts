/**
 * The one place that knows a model file's `kd.*` metadata: the key names, what each value holds,
 * and typed helpers that write them and read them back. A model file is untrusted input, so every
 * read parses and validates, and a malformed value is one line (a KdError naming the model). Its
 * schemas use zod/mini, as the objectives do: the browser page writes metadata too, and zod's
 * classic API stays out of the page.
 */
import * as z from "zod/mini";
import { KdError } from "../util/errors.js";
import { setMetadata } from "./edit.js";
import type { ModelProto } from "./gen/onnx_pb.js";

/** Every `kd.*` key kd writes into a model file. */
export const META = {
  /** The model's architecture string (`mlp:50`), as `--arch` takes it. */
  arch: "kd.arch",
  /** The name of the output layer's bias initializer, which `kd adjust-bias` edits in place. */
  outputBias: "kd.output_bias",
  /** JSON {name, shape}: the training data's source name ("mnist" for the embedded MNIST) and example shape. */
  data: "kd.data",
  /** JSON array of class names, when the training data had them. */
  classes: "kd.classes",
  /** JSON Preprocessing: how raw inputs become what the model was trained on. */
  preprocessing: "kd.preprocessing",
  /** The quantisation mode of a `kd quantize` output. */
  quantization: "kd.quantization",
  /** `kd distill`'s teacher files, comma-separated. */
  teachers: "kd.teachers",
  /** `kd distill`'s temperature, for objectives that have one. */
  temperature: "kd.temperature",
  /** The validation split a student was distilled with (see distill/transfer.ts holdOut)... */
  valCount: "kd.val",
  valSeed: "kd.seed",
  /** ...and the files it came from: recorded for the user, never opened (see `kd adjust-bias`). */
  valImages: "kd.val_images",
  valLabels: "kd.val_labels",
  /** A note on models distilled in the browser page. */
  demo: "kd.demo",
} as const;

/** The raw value of metadata `key`, if the model has it. */
function readMeta(model: ModelProto, key: string): string | undefined {
  return model.metadataProps.find((e) => e.key === key)?.value;
}

/** Parses metadata `key` of `model` with `schema`; absent: undefined; malformed: a KdError naming `what`. */
function readJson<T>(model: ModelProto, key: string, schema: z.ZodMiniType<T>, what: string): T | undefined {
  const value = readMeta(model, key);
  if (value === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new KdError(`${what}: metadata ${key} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new KdError(`${what}: metadata ${key} is malformed (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

/** A whole number recorded under `key`, or `fallback` when absent. */
function readWhole(model: ModelProto, key: string, what: string, fallback: number): number {
  const v = readMeta(model, key);
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v))
    throw new KdError(`${what}: metadata ${key} is ${JSON.stringify(v)}, not a whole number`);
  return Number(v);
}

// --- Preprocessing (kd.preprocessing) ---

const PreprocessingSchema = z.object({
  /** Raw values are multiplied by this first (1/255 for 8-bit pixels: kd's loaders do this). */
  scale: z.number().check(z.positive()),
  /** Per-channel mean subtracted after scaling: one value, or one per channel (axis 1 of [N, C, ...]). */
  mean: z.optional(z.array(z.number()).check(z.minLength(1))),
  /** Per-channel standard deviation divided by last (positive). */
  std: z.optional(z.array(z.number().check(z.positive())).check(z.minLength(1))),
  /** True when the steps are inside the graph: the model takes raw values. */
  baked: z.optional(z.boolean()),
});

/** How raw inputs become what a model was trained on: y = (x · scale − mean_c) / std_c per channel c. */
export type Preprocessing = z.infer<typeof PreprocessingSchema>;

/** The metadata entry recording `pre` (for an export's metadata record). */
export function preprocessingMetadata(pre: Preprocessing): Record<string, string> {
  return { [META.preprocessing]: JSON.stringify(pre) };
}

/** The preprocessing a model records, if any; a malformed record is an error naming the model. */
export function readPreprocessing(model: ModelProto, what = "model"): Preprocessing | undefined {
  return readJson(model, META.preprocessing, PreprocessingSchema, what);
}

/** Records `pre` in the model's metadata (replacing an earlier record). */
export function recordPreprocessing(model: ModelProto, pre: Preprocessing): void {
  setMetadata(model, META.preprocessing, JSON.stringify(PreprocessingSchema.parse(pre)));
}

// --- Training data (kd.data, kd.classes) ---

const DataRecordSchema = z.object({
  name: z.string().check(z.minLength(1)),
  shape: z.array(z.int().check(z.positive())),
});
/** What a model records of its training data: the source's name and the example shape. */
export type DataRecord = z.infer<typeof DataRecordSchema>;

const ClassNamesSchema = z.array(z.string()).check(
  z.minLength(1),
  z.refine((names) => new Set(names).size === names.length, "class names must be distinct"),
);

/** The metadata entries recording a training set: its source name, example shape and class names. */
export function dataMetadata(
  name: string,
  shape: readonly number[],
  classNames?: readonly string[],
): Record<string, string> {
  return {
    [META.data]: JSON.stringify({ name, shape }),
    ...(classNames ? { [META.classes]: JSON.stringify(classNames) } : {}),
  };
}

/** The data record of a model, if it has one. */
export function readDataRecord(model: ModelProto, what: string): DataRecord | undefined {
  return readJson(model, META.data, DataRecordSchema, what);
}

/** The class names a model records, checked against its class count. */
export function readClassNames(model: ModelProto, what: string, classes: number): string[] | undefined {
  const names = readJson(model, META.classes, ClassNamesSchema, what);
  if (names !== undefined && names.length !== classes)
    throw new KdError(
      `${what}: metadata ${META.classes} names ${names.length} classes; the model outputs ${classes}`,
    );
  return names;
}

// --- Validation split (kd.val, kd.seed, kd.val_images, kd.val_labels) ---

/** The validation split a student was distilled with; `count` 0 when none is recorded. */
export interface ValSplit {
  readonly count: number;
  readonly seed: number;
  /** Paths as recorded: untrusted, for messages only. */
  readonly images?: string | undefined;
  readonly labels?: string | undefined;
}

export function valSplitMetadata(split: ValSplit): Record<string, string> {
  return {
    [META.valCount]: String(split.count),
    [META.valSeed]: String(split.seed),
    ...(split.images ? { [META.valImages]: split.images } : {}),
    ...(split.labels ? { [META.valLabels]: split.labels } : {}),
  };
}

/** The recorded split (count 0 and seed 1 when absent, as `kd distill` defaults them). */
export function readValSplit(model: ModelProto, what: string): ValSplit {
  return {
    count: readWhole(model, META.valCount, what, 0),
    seed: readWhole(model, META.valSeed, what, 1),
    images: readMeta(model, META.valImages),
    labels: readMeta(model, META.valLabels),
  };
}

// --- Architecture and the output bias (kd.arch, kd.output_bias) ---

/** The entries every kd export carries: its architecture and the name of its output bias. */
export function modelMetadata(arch: string, outputBias: string): Record<string, string> {
  return { [META.arch]: arch, [META.outputBias]: outputBias };
}

/** The initializer name of a kd model's output bias, if it records one. */
export function readOutputBias(model: ModelProto): string | undefined {
  return readMeta(model, META.outputBias);
}
