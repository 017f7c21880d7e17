/**
 * Preprocessing as part of a model: how raw inputs (8-bit pixels, say) become what the model was
 * trained on, y = (x · scale − mean_c) / std_c per channel c. Recorded as JSON in the model's
 * metadata (`kd.preprocessing`, see onnx/metadata.ts), and optionally baked into the graph
 * (onnx/preprocess.ts, below the runtime and the trainer that use it). This is `kd bake`'s API.
 */
import { META } from "../onnx/metadata.js";
import { KdError } from "../util/errors.js";

export {
  type Preprocessing,
  readPreprocessing,
  recordPreprocessing,
} from "../onnx/metadata.js";
export { bakePreprocessing, modelInput } from "../onnx/preprocess.js";

/** Metadata key holding the JSON of a Preprocessing (public API; kd itself uses onnx/metadata.ts's META). */
export const META_PREPROCESSING = META.preprocessing;

/** Parses "1/255", "0.5" or "2" (a positive number, written as a fraction if wished). */
export function parseScale(v: string): number {
  const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(v);
  const x = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : Number.NaN;
  if (!(Number.isFinite(x) && x > 0))
    throw new KdError(`scale must be a positive number like 1/255, got "${v}"`);
  return x;
}
