/** Running a model over calibration data in batches with some intermediate tensors as extra outputs. */

import { withExtraOutputs } from "../onnx/edit.js";
import { encodeModel, type ModelProto } from "../onnx/proto.js";
import { createSession, type HostTensor, type SessionOptions } from "../runtime/session.js";
import { count } from "./graph.js";

export type CalibrationData = { readonly x: Float32Array; readonly n: number };
export type CalibrationInput = { readonly name: string; readonly shape: readonly number[] };

/** Runs `model` on the data, `batch` examples at a time, handing each batch's tensors `names` to `visit`. */
export async function runBatches(
  model: ModelProto,
  names: readonly string[],
  data: CalibrationData,
  input: CalibrationInput,
  opts: SessionOptions,
  batch: number,
  visit: (tensors: Record<string, HostTensor>) => void,
): Promise<void> {
  const session = await createSession(encodeModel(withExtraOutputs(model, names)), opts);
  const f = count(input.shape);
  try {
    for (let s = 0; s < data.n; s += batch) {
      const m = Math.min(batch, data.n - s);
      const feed = {
        data: data.x.subarray(s * f, (s + m) * f),
        dims: [m, ...input.shape],
        dtype: "float32" as const,
      };
      visit(await session.run({ [input.name]: feed }, [...names]));
    }
  } finally {
    await session.release();
  }
}
