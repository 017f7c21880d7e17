/** Inference graphs of a model (src/train/inference.ts, safe in a browser) and saving them to files. */
import type { Model } from "../nn/model.js";
import { isNormalized } from "../nn/normalize.js";
import { type Preprocessing, preprocessingMetadata } from "../onnx/metadata.js";
import { bakePreprocessing } from "../onnx/preprocess.js";
import { decodeModel, encodeModel } from "../onnx/proto.js";
import { writeFileAtomic } from "../util/atomic.js";
import { exportModel } from "./inference.js";

export * from "./inference.js";

export interface SaveOptions {
  /**
   * What the training data's values were multiplied by on loading (Dataset.rawScale, 1 for data
   * taken as it was). Given, or with a standardising model, the preprocessing is recorded.
   */
  readonly rawScale?: number | undefined;
  /** Bake the preprocessing into the graph, so the model takes raw values (8-bit pixels, raw features). */
  readonly bake?: boolean | undefined;
}

/**
 * The model's preprocessing: the loader's scale and, for a standardising model, its input
 * statistics. The exported graph is the net after them, unless they are baked in.
 */
function preprocessingOf(model: Model, rawScale: number | undefined): Preprocessing {
  return {
    scale: rawScale ?? 1,
    ...(isNormalized(model) ? { mean: Array.from(model.norm.mean), std: Array.from(model.norm.std) } : {}),
  };
}

/** The ONNX bytes of `model` with its preprocessing recorded in the metadata (`kd.preprocessing`) or baked in. */
export function exportWithPreprocessing(
  model: Model,
  params: ReadonlyMap<string, Float32Array>,
  meta: Record<string, string> = {},
  o: SaveOptions = {},
): Uint8Array {
  const normalized = isNormalized(model);
  const net = normalized ? model.inner : model;
  // Nothing is known of a model trained in code on data of unknown origin: nothing is recorded.
  if (o.rawScale === undefined && !normalized && !o.bake) return exportModel(net, params, meta);
  const pre = preprocessingOf(model, o.rawScale);
  const bytes = exportModel(net, params, { ...meta, ...preprocessingMetadata(pre) });
  return o.bake ? encodeModel(bakePreprocessing(decodeModel(bytes), pre)) : bytes;
}

export function saveModel(
  path: string,
  model: Model,
  params: ReadonlyMap<string, Float32Array>,
  meta: Record<string, string> = {},
  o: SaveOptions = {},
): void {
  writeFileAtomic(path, exportWithPreprocessing(model, params, meta, o));
}
