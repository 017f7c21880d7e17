/**
 * Teacher features for feature objectives (FitNets hints, attention transfer): the tensors they name
 * checked on both sides before any training, then computed with the logits by running the teacher
 * with them as extra outputs — live on every batch (consistent teaching), or once over the transfer
 * set and kept in memory within a cap.
 */
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../nn/model.js";
import { namedLayers } from "../nn/named-layers.js";
import { type FeatureUse, featureUses, type ObjectiveSpec, teacherTensors } from "../objectives/index.js";
import { shapeText } from "../objectives/types.js";
import { withExtraOutputs } from "../onnx/edit.js";
import { decodeModel, encodeModel, type ModelProto } from "../onnx/proto.js";
import type { BackendSession } from "../runtime/backend.js";
import { LOGITS_BATCH, type OnnxClassifier } from "../runtime/classifier.js";
import { cleanOrtMessage } from "../runtime/ort-errors.js";
import { createSession, type SessionOptions } from "../runtime/session.js";
import { tensorsOf } from "../runtime/tensors.js";
import { trainedParams } from "../train/step.js";
import type { TeacherProvider } from "../train/trainer.js";
import { KdError } from "../util/errors.js";
import { checkAllocation, formatBytes } from "../util/memory.js";
import { closestNames, unknownTensor } from "../util/names.js";
import type { Teachers } from "./teacher.js";

/** The default memory cap of cached teacher features: 1 GiB. */
export const DEFAULT_FEATURE_CAP = 2 ** 30;

const volume = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The one line for a student layer `name` that `model` does not have, naming the closest. */
function unknownLayer(name: string, layers: readonly string[], arch: string): KdError {
  const near = closestNames(name, layers);
  return new KdError(
    `no layer "${name}" in the student ${arch} (closest: ${near.join(", ") || "none: it names no layers"})`,
  );
}

/**
 * The line for a teacher tensor the teacher lacks: the closest names by spelling, then the closest
 * of the tensors the student layer can match (exporters name tensors "t114" or
 * "/layer3/relu/Relu_output_0", so the intended one is seldom near a wrong name by spelling alone).
 */
async function unknownTeacherTensor(
  use: FeatureUse,
  student: readonly number[],
  made: readonly string[],
  graph: ModelProto,
  path: string,
  opts: SessionOptions,
): Promise<KdError> {
  const line = unknownTensor(use.teacherTensor, made, path).message;
  let fit: string[];
  try {
    const { tensors } = await tensorsOf(graph, path, opts);
    fit = tensors.filter((t) => t.shape !== undefined && matchable(student, t.shape)).map((t) => t.name);
  } catch {
    // Only a hint: a teacher that cannot be listed still gets the names by spelling.
    return new KdError(line);
  }
  const layer = `student layer "${use.studentLayer}" ${shapeText(student)}`;
  if (fit.length === 0) return new KdError(`${line}; no tensor matches ${layer}`);
  const near = closestNames(use.teacherTensor, fit);
  return new KdError(
    `${line}; ${fit.length === 1 ? "the one tensor" : `of the ${fit.length} tensors`} matching ${layer}: ${near.join(", ")}${fit.length > near.length ? ", …" : ""} (kd summary --tensors lists them)`,
  );
}

/**
 * Whether a listed teacher tensor (dims with the batch's first) has a per-example shape a student
 * layer's can match: feature maps of equal spatial size (channels may differ), or vectors.
 */
function matchable(student: readonly number[], teacher: readonly (number | string)[]): boolean {
  const [batch, ...dims] = teacher;
  if (batch !== "N" || dims.length !== student.length) return false;
  if (student.length === 1) return typeof dims[0] === "number";
  return student.length === 3 && dims[1] === student[1] && dims[2] === student[2];
}

/** One teacher run with its logits and the named tensors as outputs. */
export class FeatureTeacher {
  private constructor(
    private readonly member: OnnxClassifier,
    private readonly session: BackendSession,
    /** The tensors read, by name, with their shapes per example. */
    readonly shapes: ReadonlyMap<string, readonly number[]>,
  ) {}

  /**
   * Checks every feature term of `objective` against the teacher's tensors and the student's layers
   * (a wrong name on either side: one line with the closest names; shapes that cannot match: one
   * line with both), then loads the teacher with those tensors as extra outputs.
   */
  static async load(
    teachers: Teachers,
    model: Model,
    objective: ObjectiveSpec,
    opts: SessionOptions = {},
  ): Promise<FeatureTeacher> {
    const uses = featureUses(objective);
    if (teachers.members.length !== 1)
      throw new KdError(
        `${uses[0]!.kind} reads one teacher's tensors; this run has ${teachers.members.length} teachers`,
      );
    const member = teachers.members[0]!;
    const layers = namedLayers(model);
    for (const u of uses)
      if (!layers.has(u.studentLayer)) throw unknownLayer(u.studentLayer, [...layers.keys()], model.arch);
    const graph = decodeModel(member.modelBytes);
    const made = graph.graph!.node.flatMap((nd) => nd.output).filter((n) => n !== "");
    for (const u of uses)
      if (!made.includes(u.teacherTensor))
        throw await unknownTeacherTensor(u, layers.get(u.studentLayer)!, made, graph, member.path, opts);
    const names = teacherTensors(objective);
    let session: BackendSession;
    try {
      session = await createSession(encodeModel(withExtraOutputs(graph, names)), opts);
    } catch (e) {
      throw new KdError(
        `${member.path}: ONNX Runtime cannot load it (${cleanOrtMessage((e as Error).message)})`,
      );
    }
    const ft = new FeatureTeacher(member, session, new Map());
    try {
      const shapes = await ft.probe(names);
      // The shapes' own check (hints: equal spatial sizes; attention: maps), before any training.
      trainedParams({ model, objective, teacherFeatures: shapes });
      return new FeatureTeacher(member, session, shapes);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Each tensor's shape per example, from a run on two zero examples: its first dim must be the batch. */
  private async probe(names: readonly string[]): Promise<Map<string, readonly number[]>> {
    const m = this.member;
    const out = await this.runBlock(new Float32Array(2 * m.features), 2, names);
    return new Map(
      names.map((n) => {
        const { dims, data } = out[n]!;
        if (!(data instanceof Float32Array))
          throw new KdError(
            `${m.path}: tensor "${n}" is not float32; feature objectives read float32 tensors`,
          );
        if (dims[0] !== 2 || dims.length < 2)
          throw new KdError(
            `${m.path}: tensor "${n}" is [${dims.join(", ")}] for a batch of 2; kd reads tensors [N, ...] whose first dim is the batch`,
          );
        return [n, dims.slice(1)];
      }),
    );
  }

  private async runBlock(x: Float32Array, n: number, names: readonly string[]) {
    const m = this.member;
    const feed = { data: x, dims: [n, ...m.exampleShape], dtype: "float32" as const };
    try {
      // A set: a tensor named may be the logits output itself.
      return await this.session.run({ [m.inputName]: feed }, [...new Set([m.outputName, ...names])]);
    } catch (e) {
      throw new KdError(`${m.path}: ONNX Runtime cannot run it (${cleanOrtMessage((e as Error).message)})`);
    }
  }

  /**
   * Logits into `logits` ([n, classes]) and each tensor into `features` (by name, [n, ...shape])
   * for `n` examples as loaded (`rawScale`: the data's), `LOGITS_BATCH` rows per run.
   */
  async run(
    x: Float32Array,
    n: number,
    rawScale: number | undefined,
    logits: Float32Array,
    features: ReadonlyMap<string, Float32Array>,
  ): Promise<void> {
    const m = this.member;
    const names = [...this.shapes.keys()];
    const c = m.numClasses;
    for (let s = 0; s < n; s += LOGITS_BATCH) {
      const k = Math.min(LOGITS_BATCH, n - s);
      // Prepared a block at a time: a whole transfer set's copy would double its memory.
      const input = m.prepare(x.subarray(s * m.features, (s + k) * m.features), rawScale);
      const res = await this.runBlock(input, k, names);
      const y = res[m.outputName]!.data as Float32Array;
      for (let i = 0; i < k * c; i++) {
        const v = m.outputsProbs ? Math.log(Math.max(y[i]!, 1e-30)) : y[i]!;
        if (!Number.isFinite(v))
          throw new KdError(
            `${m.path}: output "${m.outputName}" is not finite (${v}) for example ${s + Math.floor(i / c)}`,
          );
        logits[s * c + i] = v;
      }
      for (const [name, per] of this.shapes) {
        const v = res[name]!.data as Float32Array;
        if (v.length !== k * volume(per))
          throw new KdError(`${m.path}: tensor "${name}" changes shape with the batch`);
        features.get(name)!.set(v, s * volume(per));
      }
    }
  }

  get classes(): number {
    return this.member.numClasses;
  }

  /** Bytes the tensors of `n` examples take as float32. */
  bytesFor(n: number): number {
    return 4 * n * [...this.shapes.values()].reduce((a, d) => a + volume(d), 0);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The bytes of `n` examples' features; refused in one line, saying how to proceed, beyond `cap`. */
export function checkFeatureCap(ft: FeatureTeacher, n: number, cap: number): number {
  const bytes = ft.bytesFor(n);
  if (bytes > cap)
    throw new KdError(
      `the teacher's features for ${n} examples would take ${formatBytes(bytes)} of memory, more than the feature cache's cap of ${formatBytes(cap)}: raise the cap (--feature-cap <GiB>, featureCap in a spec) or run the teacher on every batch instead (--no-cache, cache: false)`,
    );
  return bytes;
}

/** The provider's id: the teacher's, and which tensors it gives. */
const idOf = (base: string, ft: FeatureTeacher) => `${base}+${JSON.stringify([...ft.shapes.keys()])}`;

/** Logits and features of every batch as the student sees it, from one teacher run (consistent teaching). */
export function liveFeatureTeacher(ft: FeatureTeacher, id: string, rawScale?: number): TeacherProvider {
  return {
    id: idOf(id, ft),
    features: ft.shapes,
    async logits(_indices, x, size, out, features) {
      await ft.run(x, size, rawScale, out, features ?? new Map());
    },
  };
}

/**
 * `base`'s logits with the tensors of every transfer-set example, computed once and held in memory.
 * Refused in one line, before anything is allocated, when they would take more than `cap` bytes.
 */
export async function cachedFeatureTeacher(
  base: TeacherProvider,
  ft: FeatureTeacher,
  transfer: Dataset,
  cap: number,
): Promise<TeacherProvider> {
  const bytes = checkFeatureCap(ft, transfer.n, cap);
  checkAllocation(bytes + 4 * transfer.n * ft.classes, `the teacher's features for ${transfer.n} examples`);
  const rows = new Map([...ft.shapes].map(([name, d]) => [name, new Float32Array(transfer.n * volume(d))]));
  // The pass's logits are dropped: `base` serves them (from the logit cache, on disk when asked).
  const logits = new Float32Array(transfer.n * ft.classes);
  await ft.run(transfer.x, transfer.n, transfer.rawScale, logits, rows);
  return {
    id: idOf(base.id, ft),
    features: ft.shapes,
    async logits(indices, x, size, out, features) {
      await base.logits(indices, x, size, out);
      for (const [name, d] of ft.shapes) {
        const [from, into, per] = [rows.get(name)!, features?.get(name), volume(d)];
        if (!into) continue;
        for (let i = 0; i < size; i++) {
          const r = indices[i]!;
          into.set(from.subarray(r * per, (r + 1) * per), i * per);
        }
      }
    },
  };
}
