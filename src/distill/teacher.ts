/**
 * Teachers: one ONNX file or an ensemble, combined into one row of logits per example, run live on
 * each (augmented) batch or read from a cache computed once.
 */
import { createHash } from "node:crypto";
import type { Dataset } from "../data/dataset.js";
import { type ClassifierOptions, OnnxClassifier } from "../runtime/classifier.js";
import type { TeacherProvider } from "../train/trainer.js";
import { KdError } from "../util/errors.js";

/**
 * How an ensemble's outputs become one target distribution.
 * - "prob" (default): the arithmetic mean of the members' soft distributions at temperature T,
 *   p = (1/M) Σ_m softmax(v_m / T) — the ensemble's own prediction at T, as the paper averages
 *   its ensemble's predictions. It is fed to the student as logits T·log p, whose softmax at T is p.
 * - "logit": the mean of the logits, softmax((1/M) Σ_m v_m / T) — a geometric mean of the
 *   distributions; the natural choice for logit matching.
 */
export type EnsembleMode = "prob" | "logit";

export interface TeacherSpec extends ClassifierOptions {
  readonly paths: readonly string[];
  readonly ensemble?: EnsembleMode;
}

export class Teachers {
  private constructor(
    readonly members: readonly OnnxClassifier[],
    readonly mode: EnsembleMode,
  ) {}

  static async load(spec: TeacherSpec): Promise<Teachers> {
    if (spec.paths.length === 0) throw new KdError("no teacher given (--teacher file.onnx)");
    const members: OnnxClassifier[] = [];
    for (const p of spec.paths) members.push(await OnnxClassifier.load(p, spec));
    // Each member is fed its own view of the same flat examples (an MLP's [N, 784] beside a
    // convnet's [N, 1, 28, 28]): only the number of values per example and the classes must agree.
    const first = members[0]!;
    for (const m of members.slice(1)) {
      if (m.features !== first.features)
        throw new KdError(
          `teachers take different inputs: ${first.path} takes [${first.exampleShape.join(", ")}] (${first.features} values), ${m.path} takes [${m.exampleShape.join(", ")}] (${m.features} values)`,
        );
      if (m.numClasses !== first.numClasses)
        throw new KdError(
          `teachers disagree in classes: ${first.path} has ${first.numClasses}, ${m.path} has ${m.numClasses}`,
        );
    }
    return new Teachers(members, spec.ensemble ?? "prob");
  }

  get numClasses(): number {
    return this.members[0]!.numClasses;
  }

  /** Checks the teachers fit a dataset: same input size, as many classes as its labels need. */
  checkFits(ds: Dataset, studentClasses: number): void {
    const t = this.members[0]!;
    if (t.features !== ds.features)
      throw new KdError(
        `teacher ${t.path} takes [${t.exampleShape.join(", ")}] (${t.features} values) per example; ${ds.name} has [${ds.exampleShape.join(", ")}] (${ds.features} values)`,
      );
    if (t.numClasses !== studentClasses)
      throw new KdError(`teacher ${t.path} has ${t.numClasses} classes; the data has ${studentClasses}`);
  }

  /**
   * Bytes that identify the teachers (for cache keys): every model as ONNX Runtime runs it, in
   * order (external data inlined, so a change to a model's data file changes the key too).
   */
  fileBytes(): Uint8Array[] {
    return this.members.map((m) => m.modelBytes);
  }

  /** A hash of the files, how they combine and which output is read. */
  get id(): string {
    const h = createHash("sha256");
    for (const b of this.fileBytes()) h.update(b);
    h.update(
      JSON.stringify([this.mode, this.members.map((m) => [m.inputName, m.outputName, m.outputsProbs])]),
    );
    return h.digest("hex").slice(0, 24);
  }

  /**
   * Combined logits of `n` flat examples as loaded (see EnsembleMode; T matters only for "prob"
   * ensembles). Each member gets them through its own recorded preprocessing; `rawScale` is the
   * data's (Dataset.rawScale).
   */
  async logits(x: Float32Array, n: number, temperature: number, rawScale?: number): Promise<Float32Array> {
    const run = (m: OnnxClassifier) => m.logits(m.prepare(x, rawScale), n);
    if (this.members.length === 1) return run(this.members[0]!);
    const c = this.numClasses;
    const all = await Promise.all(this.members.map(run));
    return combine(all, n, c, this.mode, temperature);
  }

  async release(): Promise<void> {
    await Promise.all(this.members.map((m) => m.release()));
  }
}

/** Combines members' logits row by row (see EnsembleMode). */
export function combine(
  all: readonly Float32Array[],
  n: number,
  c: number,
  mode: EnsembleMode,
  T: number,
): Float32Array {
  const out = new Float32Array(n * c);
  const m = all.length;
  if (mode === "logit") {
    for (const v of all) for (let i = 0; i < out.length; i++) out[i]! += v[i]! / m;
    return out;
  }
  const p = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    p.fill(0);
    for (const v of all) {
      // softmax(v/T) with the row max subtracted, accumulated in double precision.
      let mx = -Infinity;
      for (let j = 0; j < c; j++) mx = Math.max(mx, v[r * c + j]!);
      let s = 0;
      for (let j = 0; j < c; j++) s += Math.exp((v[r * c + j]! - mx) / T);
      for (let j = 0; j < c; j++) p[j]! += Math.exp((v[r * c + j]! - mx) / T) / s / m;
    }
    // T·log p reproduces p under softmax(·/T); a probability that underflowed to 0 becomes a
    // very negative (finite) logit, so KL terms stay 0·finite rather than 0·∞.
    for (let j = 0; j < c; j++) out[r * c + j] = T * Math.log(Math.max(p[j]!, 1e-300));
  }
  return out;
}

/** Runs the teachers on every batch as the student sees it (needed when inputs are augmented). */
export function liveTeacher(teachers: Teachers, temperature: number, rawScale?: number): TeacherProvider {
  return {
    id: teachers.id,
    async logits(_indices, x, size, out) {
      out.set(await teachers.logits(x, size, temperature, rawScale));
    },
  };
}

/** Reads precomputed rows: indexed by example, so shuffled batches can never be misaligned. */
export function cachedTeacher(id: string, rows: Float32Array, classes: number): TeacherProvider {
  return {
    id,
    async logits(indices, _x, size, out) {
      for (let i = 0; i < size; i++) {
        const r = indices[i]!;
        out.set(rows.subarray(r * classes, (r + 1) * classes), i * classes);
      }
    },
  };
}
