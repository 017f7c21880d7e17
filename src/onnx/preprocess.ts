/**
 * Preprocessing as part of a model (the record is onnx/metadata.ts's `kd.preprocessing`): baked into
 * the graph as Mul, Sub and Div nodes in front of everything else, so the model takes raw values, or
 * applied to examples on the host for a model that only records it. Below runtime/ and train/, which
 * both need it; deploy/preprocess.ts is the user-facing face of it.
 */
import { ensure, KdError } from "../util/errors.js";
import { DataType, rawTensor } from "./edit.js";
import { type Preprocessing, readPreprocessing, recordPreprocessing } from "./metadata.js";
import { decodeModel, encodeModel, type ModelProto, makeNode } from "./proto.js";

/** Shape [C, 1, 1, ...] that broadcasts per channel over [N, C, ...] (or [1] for one value). */
function channelDims(values: readonly number[], inputRank: number, what: string): number[] {
  if (values.length === 1) return [1];
  ensure(inputRank >= 2, () => `${what}: per-channel values need an input of rank 2 or more`);
  return [values.length, ...new Array<number>(Math.max(0, inputRank - 2)).fill(1)];
}

/**
 * A copy of `source` that takes raw values: (x · scale − mean) / std computed in the graph before
 * the original first nodes; the input keeps its name and shape. Records the preprocessing as baked.
 */
export function bakePreprocessing(source: ModelProto, pre: Preprocessing, what = "model"): ModelProto {
  const model = decodeModel(encodeModel(source));
  const g = model.graph;
  ensure(g !== undefined, () => `${what}: no graph`);
  ensure(!readPreprocessing(model, what)?.baked, () => `${what}: its preprocessing is already baked in`);
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !inits.has(i.name));
  ensure(inputs.length === 1, () => `${what}: has ${inputs.length} inputs; baking needs exactly one`);
  const input = inputs[0]!;
  const t = input.type?.value.case === "tensorType" ? input.type.value.value : undefined;
  ensure(t?.elemType === DataType.FLOAT, () => `${what}: input "${input.name}" is not float32`);
  const rank = t.shape?.dim.length ?? 0;
  ensure(
    pre.mean === undefined ||
      pre.std === undefined ||
      pre.mean.length === pre.std.length ||
      pre.std.length === 1 ||
      pre.mean.length === 1,
    () => `${what}: ${pre.mean!.length} means but ${pre.std!.length} standard deviations`,
  );
  const channels = rank >= 2 ? t.shape!.dim[1]!.value : undefined;
  for (const v of [pre.mean, pre.std])
    if (v !== undefined && v.length > 1 && channels?.case === "dimValue")
      ensure(
        BigInt(v.length) === channels.value,
        () => `${what}: ${v.length} per-channel values, but the input has ${channels.value} channels`,
      );

  // Everything that read the input now reads the preprocessed tensor.
  const x = input.name;
  const steps: [string, string, number[], Float32Array][] = [
    ["Mul", "scale", [1], Float32Array.of(pre.scale)],
  ];
  if (pre.mean !== undefined)
    steps.push(["Sub", "mean", channelDims(pre.mean, rank, what), Float32Array.from(pre.mean)]);
  if (pre.std !== undefined)
    steps.push(["Div", "std", channelDims(pre.std, rank, what), Float32Array.from(pre.std)]);
  const out = `${x}_preprocessed`;
  for (const n of g.node) n.input = n.input.map((i) => (i === x ? out : i));
  for (const o of g.output) if (o.name === x) throw new KdError(`${what}: the input is also an output`);
  const nodes = steps.map(([op, name, dims, values], k) => {
    const c = `${x}_preprocess_${name}`;
    g.initializer.push(rawTensor(c, DataType.FLOAT, dims, values));
    const from = k === 0 ? x : `${x}_preprocess_${k}`;
    const to = k === steps.length - 1 ? out : `${x}_preprocess_${k + 1}`;
    return makeNode(op, [from, c], [to], {}, `preprocess_${name}`);
  });
  g.node = [...nodes, ...g.node];
  recordPreprocessing(model, { ...pre, baked: true });
  return model;
}

/**
 * Examples as kd's loaders hold them (8-bit data divided by 255, so `rawScale` = 1/255; other data
 * as stored) turned into what a model with preprocessing `pre` takes: the raw values when it is
 * baked, else (raw · scale − mean) / std per channel, the channel being axis 1 of the model's input
 * ([N, C, H, W]: C; flat [N, F]: each feature). Data that was not 8-bit is taken as already scaled,
 * so a model trained on it gets it unchanged. Returns `x` itself when nothing changes.
 */
export function modelInput(
  x: Float32Array,
  exampleShape: readonly number[],
  pre: Preprocessing | undefined,
  rawScale: number | undefined,
): Float32Array {
  if (pre === undefined) return x;
  const a = pre.baked
    ? 1 / (rawScale ?? pre.scale)
    : rawScale === undefined || rawScale === pre.scale
      ? 1
      : pre.scale / rawScale;
  const mean = pre.baked ? undefined : pre.mean;
  const std = pre.baked ? undefined : pre.std;
  if (a === 1 && mean === undefined && std === undefined) return x;
  const features = exampleShape.reduce((p, d) => p * d, 1);
  const channels = exampleShape.length === 0 ? 1 : exampleShape[0]!;
  const plane = features / channels;
  for (const v of [mean, std])
    ensure(
      v === undefined || v.length === 1 || v.length === channels,
      () =>
        `the model's preprocessing has ${v!.length} per-channel values; its input has ${channels} channels`,
    );
  const at = (v: readonly number[] | undefined, c: number, dflt: number) =>
    v === undefined ? dflt : v.length === 1 ? v[0]! : v[c]!;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / plane) % channels;
    out[i] = (x[i]! * a - at(mean, c, 0)) / at(std, c, 1);
  }
  return out;
}
