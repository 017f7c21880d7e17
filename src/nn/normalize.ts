/**
 * Input standardisation as the first step of a model: (x − mean) / std per channel, with the
 * training set's statistics. It lives in the model (not in the data) so that teachers, jitter and
 * evaluation all see the data as loaded, and the exported model can record it or bake it in.
 */
import type { Dataset } from "../data/types.js";
import * as o from "../ir/ops.js";
import { ensure } from "../util/errors.js";
import type { Model } from "./model.js";

/** Per-channel statistics; the channel is axis 1 of the model's input (each feature of a flat input). */
export interface InputNorm {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

/** A model that standardises its input before `inner` sees it. */
export interface NormalizedModel extends Model {
  readonly inner: Model;
  readonly norm: InputNorm;
}

export function isNormalized(m: Model): m is NormalizedModel {
  return "inner" in m && "norm" in m;
}

/**
 * Mean and population standard deviation of `ds` per channel of a model taking `inputShape`:
 * per feature for flat inputs ([F]), per colour channel for images ([C, H, W]). A channel that
 * never varies gets std 1 (as scikit-learn's StandardScaler does), so it passes through centred.
 */
export function inputNormStats(ds: Dataset, inputShape: readonly number[]): InputNorm {
  const features = inputShape.reduce((a, b) => a * b, 1);
  ensure(
    features === ds.features,
    () => `${ds.name}: ${ds.features} values per example, the model takes ${features}`,
  );
  const channels = inputShape[0]!;
  const plane = features / channels;
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  // Two passes (mean, then squared deviations) in float64: exact enough for millions of values.
  for (let i = 0; i < ds.x.length; i++) sum[Math.floor(i / plane) % channels]! += ds.x[i]!;
  const count = ds.n * plane;
  const mean = Float64Array.from(sum, (s) => s / count);
  for (let i = 0; i < ds.x.length; i++) {
    const c = Math.floor(i / plane) % channels;
    const d = ds.x[i]! - mean[c]!;
    sq[c]! += d * d;
  }
  const std = Float32Array.from(sq, (s) => {
    const v = Math.sqrt(s / count);
    return v > 1e-6 ? v : 1;
  });
  return { mean: Float32Array.from(mean), std };
}

/** `model` with (x − mean) / std in front; the same parameters, so checkpoints and optimizers see no difference. */
export function withInputNorm(model: Model, norm: InputNorm): NormalizedModel {
  const channels = model.inputShape[0]!;
  ensure(
    norm.mean.length === channels && norm.std.length === channels,
    () => `input statistics for ${norm.mean.length} channels; the model takes ${channels}`,
  );
  // [C] for a flat input, [C, 1, 1] for images: broadcasts over axis 1 of [N, C, ...].
  const shape = [channels, ...new Array<number>(model.inputShape.length - 1).fill(1)];
  return {
    ...model,
    inner: model,
    norm,
    forward(x, p, opts) {
      const mean = o.constant(x.graph, norm.mean, shape);
      const std = o.constant(x.graph, norm.std, shape);
      return model.forward(o.div(o.sub(x, mean), std), p, opts);
    },
  };
}
