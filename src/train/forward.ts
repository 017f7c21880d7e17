/** Inference graphs of a model (src/train/inference.ts, safe in a browser) and saving them to files. */
import type { Model } from "../nn/model.js";
import { writeFileAtomic } from "../util/atomic.js";
import { exportWithPreprocessing, type SaveOptions } from "./inference.js";

export * from "./inference.js";

export function saveModel(
  path: string,
  model: Model,
  params: ReadonlyMap<string, Float32Array>,
  meta: Record<string, string> = {},
  o: SaveOptions = {},
): void {
  writeFileAtomic(path, exportWithPreprocessing(model, params, meta, o));
}
