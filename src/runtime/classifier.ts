/** Any ONNX classifier file (ours or another framework's): find its input and logits, run it in batches. */
import { firstNonFinite } from "../data/checks.js";
import type { DataRecord, Preprocessing } from "../onnx/metadata.js";
import { modelInput } from "../onnx/preprocess.js";
import type { ModelProto } from "../onnx/proto.js";
import { KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import type { BackendSession } from "./backend.js";
import { loadModelFile } from "./model-file.js";
import { cleanOrtMessage } from "./ort-errors.js";
import { createSession, type SessionOptions } from "./session.js";
import { classifierSignature, type SignatureOptions } from "./signature.js";

export interface ClassifierOptions extends SessionOptions, SignatureOptions {
  /** What the output holds. Probabilities are turned into log-probabilities, valid logits. */
  readonly outputs?: "logits" | "probs";
}

/**
 * Reads an ONNX classifier file: decoded, its external data inlined from its own folder (see
 * runtime/model-file.ts), with a graph, nodes and outputs. `bytes` are what ONNX Runtime gets.
 */
export function parseModelFile(path: string): { model: ModelProto; bytes: Uint8Array } {
  const { model, bytes } = loadModelFile(path);
  if (!model.graph || model.graph.node.length === 0 || model.graph.output.length === 0)
    throw new KdError(`${path}: not an ONNX model (no graph, nodes or outputs)`);
  return { model, bytes };
}

/** A loaded classifier. `logits` maps a block of flat examples to rows of class scores. */
/**
 * Rows per ONNX Runtime call when scoring many examples. Shards of a teacher-logit cache start at
 * multiples of it, so every call sees the same rows as in one process and returns the same bits.
 */
export const LOGITS_BATCH = 1000;

export class OnnxClassifier {
  private constructor(
    readonly path: string,
    private readonly session: BackendSession,
    readonly inputName: string,
    readonly outputName: string,
    /** Per-example input shape the model wants (batch dim dropped). */
    readonly exampleShape: readonly number[],
    readonly numClasses: number,
    /** The output holds probabilities (read as log-probabilities). */
    readonly outputsProbs: boolean,
    /** The model as ONNX Runtime got it (external data inlined): what identifies it in cache keys. */
    readonly modelBytes: Uint8Array,
    /** What the model records of its preprocessing (`kd.preprocessing`), if anything. */
    readonly preprocessing: Preprocessing | undefined,
    /** What the model records of its training data (`kd.data`), if anything. */
    readonly data: DataRecord | undefined,
    /** Its class names (`kd.classes`), when its training data had them. */
    readonly classNames: readonly string[] | undefined,
  ) {}

  static async load(path: string, opts: ClassifierOptions = {}): Promise<OnnxClassifier> {
    const { model, bytes } = parseModelFile(path);
    const sig = classifierSignature(model, path, opts);
    let session: BackendSession;
    try {
      session = await createSession(bytes, opts);
    } catch (e) {
      throw new KdError(`${path}: ONNX Runtime cannot load it (${cleanOrtMessage((e as Error).message)})`);
    }
    return new OnnxClassifier(
      path,
      session,
      sig.input,
      sig.output,
      sig.exampleShape,
      sig.classes,
      opts.outputs === "probs",
      bytes,
      sig.preprocessing,
      sig.data,
      sig.classNames,
    );
  }

  get features(): number {
    return this.exampleShape.reduce((a, b) => a * b, 1);
  }

  /**
   * Throws a KdError unless examples of `ds` fit the model's input: the same number of values per
   * example (each model gets its own view, so [28, 28] data feeds a [1, 28, 28] or [784] model),
   * and no more classes in the labels than the model outputs.
   */
  checkFits(ds: {
    readonly name: string;
    readonly features: number;
    readonly exampleShape: readonly number[];
    readonly numClasses: number;
  }): void {
    if (ds.features !== this.features)
      throw new KdError(
        `${this.path} takes [${this.exampleShape.join(", ")}] (${this.features} values) per example; ${ds.name} has [${ds.exampleShape.join(", ")}] (${ds.features} values)`,
      );
    if (ds.numClasses > this.numClasses)
      throw new KdError(`${this.path} outputs ${this.numClasses} classes; ${ds.name} has ${ds.numClasses}`);
  }

  /**
   * Examples as kd's loaders hold them (`rawScale`: the dataset's, 1/255 for 8-bit data) as this
   * model takes them: its recorded preprocessing applied (see onnx/preprocess.ts modelInput).
   */
  prepare(x: Float32Array, rawScale: number | undefined): Float32Array {
    return modelInput(x, this.exampleShape, this.preprocessing, rawScale);
  }

  /** `logits` of a dataset as loaded, with the model's preprocessing applied first. */
  async logitsOf(ds: {
    readonly x: Float32Array;
    readonly n: number;
    readonly rawScale?: number;
  }): Promise<Float32Array> {
    return this.logits(this.prepare(ds.x, ds.rawScale), ds.n);
  }

  /**
   * Scores of `n` examples laid out flat in `x`; `batch` rows per run. A model whose outputs are
   * not finite (NaN, ±∞) on these inputs, or that fails to run on them, is refused with one line.
   */
  async logits(x: Float32Array, n: number, batch = LOGITS_BATCH): Promise<Float32Array> {
    const f = this.features;
    if (x.length !== n * f) throw new Error(`expected ${n}×${f} values, got ${x.length}`);
    const c = this.numClasses;
    checkAllocation(n * c * 4, `${this.path}: outputs for ${n} examples × ${c} classes`, n * c);
    const out = new Float32Array(n * c);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      const feed = {
        data: x.subarray(s * f, (s + m) * f),
        dims: [m, ...this.exampleShape],
        dtype: "float32" as const,
      };
      let res: Awaited<ReturnType<BackendSession["run"]>>;
      try {
        res = await this.session.run({ [this.inputName]: feed }, [this.outputName]);
      } catch (e) {
        throw new KdError(
          `${this.path}: ONNX Runtime cannot run it (${cleanOrtMessage((e as Error).message)})`,
        );
      }
      const y = res[this.outputName]!.data as Float32Array;
      if (y.length !== m * c)
        throw new KdError(`${this.path}: output has ${y.length} values for ${m} examples, expected ${m * c}`);
      const bad = firstNonFinite(y);
      if (bad >= 0)
        throw new KdError(
          `${this.path}: output "${this.outputName}" is not finite (${y[bad]}) for example ${s + Math.floor(bad / c)}`,
        );
      out.set(y, s * c);
    }
    if (this.outputsProbs) for (let i = 0; i < out.length; i++) out[i] = Math.log(Math.max(out[i]!, 1e-30));
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
