/** Any ONNX classifier file (ours or another framework's): find its input and logits, run it in batches. */
import { firstNonFinite, MAX_CLASSES } from "../data/checks.js";
import {
  type DataRecord,
  type Preprocessing,
  readClassNames,
  readDataRecord,
  readPreprocessing,
} from "../onnx/metadata.js";
import { modelInput } from "../onnx/preprocess.js";
import { type ModelProto, OnnxDataType, type ValueInfoProto } from "../onnx/proto.js";
import { KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import type { BackendSession } from "./backend.js";
import { loadModelFile } from "./model-file.js";
import { cleanOrtMessage } from "./ort-errors.js";
import { createSession, type SessionOptions } from "./session.js";

export interface ClassifierOptions extends SessionOptions {
  /** Input to feed (default: the only non-initializer input). */
  readonly input?: string;
  /** Output to read (default: the only float output, or the first one named like logits). */
  readonly output?: string;
  /** What the output holds. Probabilities are turned into log-probabilities, valid logits. */
  readonly outputs?: "logits" | "probs";
  /**
   * The flags of the command in use that name the input and the output, for hints such as
   * "several float outputs; name one with --output" (default: kd distill's --teacher-input and
   * --teacher-output).
   */
  readonly flags?: { readonly input: string; readonly output: string };
}

const TEACHER_FLAGS = { input: "--teacher-input", output: "--teacher-output" } as const;

interface Dims {
  readonly dims: readonly (number | string)[];
}

function dimsOf(v: ValueInfoProto): Dims {
  const t = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  return {
    dims: (t?.shape?.dim ?? []).map((d) =>
      d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : "?",
    ),
  };
}

function elemType(v: ValueInfoProto): number {
  return v.type?.value.case === "tensorType" ? v.type.value.value.elemType : 0;
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
    const preprocessing = readPreprocessing(model, path);
    const data = readDataRecord(model, path);
    const flags = opts.flags ?? TEACHER_FLAGS;
    const g = model.graph!;
    const inits = new Set(g.initializer.map((t) => t.name));
    const inputs = g.input.filter((i) => !inits.has(i.name));
    const input = opts.input
      ? inputs.find((i) => i.name === opts.input)
      : inputs.length === 1
        ? inputs[0]
        : undefined;
    if (!input)
      throw new KdError(
        opts.input
          ? `${path}: no input named "${opts.input}" (inputs: ${inputs.map((i) => i.name).join(", ")})`
          : `${path}: ${inputs.length} inputs (${inputs.map((i) => i.name).join(", ")}); name one with ${flags.input}`,
      );
    if (elemType(input) !== OnnxDataType.FLOAT)
      throw new KdError(`${path}: input "${input.name}" is not float32`);
    const floats = g.output.filter((o) => elemType(o) === OnnxDataType.FLOAT);
    const output = opts.output
      ? g.output.find((o) => o.name === opts.output)
      : floats.length === 1
        ? floats[0]
        : floats.find((o) => /logit/i.test(o.name));
    if (!output)
      throw new KdError(
        opts.output
          ? `${path}: no output named "${opts.output}" (outputs: ${g.output.map((o) => o.name).join(", ")})`
          : floats.length === 0
            ? `${path}: has no float output to read logits from`
            : `${path}: several float outputs (${floats.map((o) => o.name).join(", ")}); name one with ${flags.output}`,
      );
    if (elemType(output) !== OnnxDataType.FLOAT)
      throw new KdError(`${path}: output "${output.name}" is not float32`);
    const inDims = dimsOf(input).dims.slice(1);
    if (inDims.some((d) => typeof d !== "number"))
      throw new KdError(`${path}: input "${input.name}" has non-batch symbolic dims`);
    const outDims = dimsOf(output).dims;
    const classes = outDims[outDims.length - 1];
    if (outDims.length !== 2 || typeof classes !== "number" || classes < 1)
      throw new KdError(
        `${path}: output "${output.name}" should be [batch, classes], is [${outDims.join(", ")}]`,
      );
    if (classes > MAX_CLASSES)
      throw new KdError(
        `${path}: output "${output.name}" has ${classes} classes, more than the ${MAX_CLASSES} kd supports`,
      );
    if (inDims.some((d) => (d as number) < 1))
      throw new KdError(`${path}: input "${input.name}" has an empty dimension [${inDims.join(", ")}]`);
    const classNames = readClassNames(model, path, classes);
    let session: BackendSession;
    try {
      session = await createSession(bytes, opts);
    } catch (e) {
      throw new KdError(`${path}: ONNX Runtime cannot load it (${cleanOrtMessage((e as Error).message)})`);
    }
    return new OnnxClassifier(
      path,
      session,
      input.name,
      output.name,
      inDims as number[],
      classes,
      opts.outputs === "probs",
      bytes,
      preprocessing,
      data,
      classNames,
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
