/** Distillation as one call: load teachers, build the teacher-logit source, train the student on soft targets. */
import type { Dataset } from "../data/dataset.js";
import { type JobOptions, type JobResult, runJob } from "../train/run.js";
import type { Objective } from "../train/step.js";
import type { TeacherProvider } from "../train/trainer.js";
import { KdError } from "../util/errors.js";
import { type CacheStatus, cachedLogits } from "./cache.js";
import { cachedTeacher, liveTeacher, type TeacherSpec, Teachers } from "./teacher.js";

export interface DistillOptions extends Omit<JobOptions, "objective" | "teacher"> {
  readonly teachers: TeacherSpec;
  /** Softmax temperature of the soft targets (the paper's MNIST student: 20). */
  readonly temperature: number;
  /** Weight w of the soft term: total = w·T²·KL(p‖q) + (1 − w)·CE(labels). 1 = soft targets only. */
  readonly softWeight: number;
  /** "kd": soft targets at T; "match": squared error of zero-meaned logits (the high-T limit). */
  readonly loss?: "kd" | "match";
  /** Folder of the on-disk teacher cache; undefined keeps the cache in memory only. */
  readonly cacheDir?: string;
  /** Never cache: run the teacher on every batch (the behaviour with augmentation). */
  readonly noCache?: boolean;
  readonly onNote?: (msg: string) => void;
}

export type TeacherMode =
  | { kind: "live" }
  | { kind: "cached"; status: CacheStatus | "memory"; path?: string };

export function validateDistill(o: Pick<DistillOptions, "temperature" | "softWeight">): void {
  if (!(o.temperature > 0) || !Number.isFinite(o.temperature))
    throw new KdError(`temperature must be > 0, got ${o.temperature}`);
  if (!(o.softWeight >= 0 && o.softWeight <= 1))
    throw new KdError(`soft-target weight must be in [0, 1], got ${o.softWeight}`);
}

export function distillObjective(
  o: Pick<DistillOptions, "temperature" | "softWeight" | "loss">,
  labeled: boolean,
): Objective {
  return o.loss === "match"
    ? { kind: "match", softWeight: o.softWeight, labeled }
    : { kind: "distill", temperature: o.temperature, softWeight: o.softWeight, labeled };
}

/**
 * The teacher-logit source for a transfer set. Inputs that change between epochs (jitter) need
 * the teacher on every batch; otherwise its logits are computed once, and kept on disk when a
 * cache folder is given.
 */
export async function teacherSource(
  teachers: Teachers,
  transfer: Dataset,
  o: Pick<DistillOptions, "temperature" | "jitter" | "cacheDir" | "noCache" | "onNote" | "teachers">,
): Promise<{ provider: TeacherProvider; mode: TeacherMode }> {
  if (o.jitter > 0 || o.noCache)
    return { provider: liveTeacher(teachers, o.temperature), mode: { kind: "live" } };
  const compute = () => teachers.logits(transfer.x, transfer.n, o.temperature);
  if (!o.cacheDir)
    return {
      provider: cachedTeacher(teachers.id, await compute(), teachers.numClasses),
      mode: { kind: "cached", status: "memory" },
    };
  const settings = {
    ensemble: teachers.mode,
    // Only a "prob" ensemble's combined logits depend on T.
    temperature: teachers.members.length > 1 && teachers.mode === "prob" ? o.temperature : null,
    outputs: o.teachers.outputs ?? "logits",
    input: o.teachers.input ?? null,
    output: o.teachers.output ?? null,
  };
  const res = await cachedLogits(o.cacheDir, { teachers, data: transfer, settings }, compute, o.onNote);
  return {
    provider: cachedTeacher(teachers.id, res.logits, teachers.numClasses),
    mode: { kind: "cached", status: res.status, path: res.path },
  };
}

export async function distill(o: DistillOptions): Promise<JobResult & { teacherMode: TeacherMode }> {
  validateDistill(o);
  const teachers = await Teachers.load(o.teachers);
  try {
    teachers.checkFits(o.train, o.model.numClasses);
    const labeled = o.train.y !== undefined;
    let mode: TeacherMode = { kind: "live" };
    const {
      teachers: _t,
      temperature: _T,
      softWeight: _w,
      loss: _l,
      cacheDir: _c,
      noCache: _n,
      onNote: _o,
      ...job
    } = o;
    const res = await runJob({
      ...job,
      objective: distillObjective(o, labeled),
      teacher: async (transfer) => {
        const src = await teacherSource(teachers, transfer, o);
        mode = src.mode;
        return src.provider;
      },
    });
    return { ...res, teacherMode: mode };
  } finally {
    await teachers.release();
  }
}
