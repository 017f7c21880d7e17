/** Inference graphs of a model: a compiled forward pass fed live parameters, and ONNX export with its preprocessing (no Node APIs). */
import { Graph, reachable, type Tensor } from "../ir/tensor.js";
import { ParamMap } from "../nn/layers.js";
import type { Model } from "../nn/model.js";
import { isNormalized } from "../nn/normalize.js";
import { EXPORT_OPSET } from "../onnx/lower.js";
import { modelMetadata, type Preprocessing, preprocessingMetadata } from "../onnx/metadata.js";
import { buildModelBytes } from "../onnx/model.js";
import { bakePreprocessing } from "../onnx/preprocess.js";
import { decodeModel, encodeModel } from "../onnx/proto.js";
import { Compiled, type SessionOptions } from "../runtime/session.js";
import { bufferInput, paramInput } from "./step.js";

/** The symbolic batch axis of inference graphs. */
const BATCH_DIM = "N";

/** Names in exported files: one input, one output, as any ONNX Runtime user expects. */
export const EXPORT_INPUT = "input";
export const EXPORT_OUTPUT = "logits";

/** The weights a model's inference reads: its parameters, then its buffers (see train/step.ts). */
function weightSpecs(model: Model): { name: string; input: string; shape: readonly number[] }[] {
  return [
    ...model.params.map((p) => ({ name: p.name, input: paramInput(p.name), shape: p.shape })),
    ...(model.buffers ?? []).map((b) => ({ name: b.name, input: bufferInput(b.name), shape: b.shape })),
  ];
}

/** The evaluation graph over weights `specs`; `folded`: the model's export form (see Model.foldWeights). */
function trace(
  model: Model,
  specs: readonly { name: string; input: string; shape: readonly number[] }[] = weightSpecs(model),
  folded = false,
): { g: Graph; x: Tensor; params: Tensor[]; logits: Tensor; layers: Map<Tensor, string> } {
  const g = new Graph();
  const x = g.input(EXPORT_INPUT, [BATCH_DIM, ...model.inputShape]);
  const params = specs.map((p) => g.input(p.input, p.shape));
  const taps = new Map<string, Tensor>();
  const logits = model.forward(x, new ParamMap(new Map(specs.map((p, i) => [p.name, params[i]!]))), {
    training: false,
    taps,
    ...(folded ? { folded } : {}),
  });
  // A layer's output by its name (the first where a layer passes its input on unchanged).
  const layers = new Map<Tensor, string>();
  for (const [name, t] of taps) if (!layers.has(t)) layers.set(t, name);
  return { g, x, params, logits, layers };
}

/** Evaluation batches are at most this many examples (an MLP's batch). */
export const MAX_EVAL_BATCH = 1000;
/**
 * Bytes the largest activation of an evaluation batch may take. ONNX Runtime keeps the memory a
 * session once needed: 1000 ResNet-8 examples of 28×28 make 50 MB activations, and the session
 * held some 190 MB beside the training step's own (measured, kd train --arch resnet:8).
 */
export const EVAL_ACTIVATION_BYTES = 16 * 2 ** 20;

/** The largest tensor of a traced forward pass, in elements per example (the batch axis left out). */
function largestPerExample(logits: Tensor): number {
  let most = 0;
  for (const t of reachable([logits]))
    if (t.shape[0] === BATCH_DIM)
      most = Math.max(
        most,
        t.shape.slice(1).reduce<number>((a, d) => a * (typeof d === "number" ? d : 1), 1),
      );
  return most;
}

/** MAX_EVAL_BATCH, fewer where the largest float32 activation of the pass to `logits` would pass EVAL_ACTIVATION_BYTES. */
function batchWithin(logits: Tensor): number {
  const per = 4 * largestPerExample(logits);
  return Math.max(1, Math.min(MAX_EVAL_BATCH, Math.floor(EVAL_ACTIVATION_BYTES / per)));
}

/** The evaluation batch of a model (see batchWithin). */
export const evalBatch = (model: Model): number => batchWithin(trace(model).logits);

/** The forward pass with parameters as inputs, so one session serves every epoch's weights. */
export class Forward {
  private constructor(
    private readonly model: Model,
    private readonly compiled: Compiled,
    /** Examples per run unless the caller says otherwise (see evalBatch). */
    readonly batch: number,
  ) {}

  static async compile(model: Model, opts: SessionOptions = {}): Promise<Forward> {
    const { x, params, logits } = trace(model);
    return new Forward(
      model,
      await Compiled.compile({ inputs: [x, ...params], outputs: { [EXPORT_OUTPUT]: logits } }, opts),
      batchWithin(logits),
    );
  }

  /** Logits of `n` flat examples, `batch` at a time; `params` holds the model's buffers too (see weightsOf). */
  async logits(
    params: ReadonlyMap<string, Float32Array>,
    x: Float32Array,
    n: number,
    batch = this.batch,
  ): Promise<Float32Array> {
    const { model } = this;
    const f = model.inputShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n * model.numClasses);
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const p of weightSpecs(model)) feeds[p.input] = { data: params.get(p.name)!, dims: p.shape };
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      feeds[EXPORT_INPUT] = { data: x.subarray(s * f, (s + m) * f), dims: [m, ...model.inputShape] };
      const res = await this.compiled.run(feeds, [EXPORT_OUTPUT]);
      out.set(res[EXPORT_OUTPUT]!.data as Float32Array, s * model.numClasses);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.compiled.release();
  }
}

/**
 * A standalone ONNX inference model: input [N, ...inputShape] → logits [N, classes], weights
 * inside (`params` holds the model's buffers too). A model with batch norm is exported in its
 * folded form (Model.foldWeights): convolutions with biases, no batch-norm arithmetic left.
 */
export function exportModel(
  model: Model,
  params: ReadonlyMap<string, Float32Array>,
  extraMeta: Record<string, string> = {},
): Uint8Array {
  const weights = model.foldWeights
    ? model.foldWeights(params).map((w) => ({ ...w, input: paramInput(w.name) }))
    : weightSpecs(model).map((p) => ({ ...p, data: params.get(p.name)! }));
  const { x, params: ps, logits, layers } = trace(model, weights, model.foldWeights !== undefined);
  const initializers = new Map(weights.map((p, i) => [ps[i]!, p.data]));
  return buildModelBytes({
    inputs: [x, ...ps],
    outputs: { [EXPORT_OUTPUT]: logits },
    initializers,
    // The layers' outputs by their names: what feature objectives call a student's (or a kd teacher's) layers.
    names: layers,
    graphName: model.arch,
    opset: EXPORT_OPSET,
    docString: `kd ${model.arch} classifier: ${EXPORT_INPUT} [N, ${model.inputShape.join(", ")}] -> ${EXPORT_OUTPUT} [N, ${model.numClasses}]`,
    metadata: { ...modelMetadata(model.arch, paramInput(model.outputBias)), ...extraMeta },
  });
}

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
