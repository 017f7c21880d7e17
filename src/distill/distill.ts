/** Distillation as one call: load teachers, build the teacher-logit source, train the student on soft targets. */
import { augments } from "../data/augment.js";
import type { Dataset } from "../data/dataset.js";
import { featureUses, type ObjectiveSpec, objective as obj } from "../objectives/index.js";
import { type JobOptions, type JobResult, runJob } from "../train/run.js";
import type { TeacherProvider } from "../train/trainer.js";
import { KdError } from "../util/errors.js";
import { type CacheKeyParts, type CacheStatus, cachedLogits, cacheKey, cachePath } from "./cache.js";
import {
  cachedFeatureTeacher,
  checkFeatureCap,
  DEFAULT_FEATURE_CAP,
  FeatureTeacher,
  liveFeatureTeacher,
} from "./features.js";
import { cachedTeacher, liveTeacher, type TeacherSpec, Teachers } from "./teacher.js";

export interface DistillOptions extends Omit<JobOptions, "teacher"> {
  readonly teachers: TeacherSpec;
  /** Any objective that needs a teacher, e.g. { kind: "kd", temperature: 20, softWeight: 0.5 }. */
  readonly objective: ObjectiveSpec;
  /** Folder of the on-disk teacher cache; undefined keeps the cache in memory only. */
  readonly cacheDir?: string;
  /** Never cache: run the teacher on every batch (the behaviour with augmentation). */
  readonly noCache?: boolean;
  /** Bytes the teacher's features (feature objectives) may take when cached in memory (default 1 GiB). */
  readonly featureCap?: number;
}

export type TeacherMode =
  | { kind: "live" }
  | { kind: "cached"; status: CacheStatus | "memory"; path?: string };

/** The settings that change a teacher-logit cache entry (part of its key). */
export function cacheSettings(teachers: Teachers, spec: TeacherSpec, T: number): Record<string, unknown> {
  return {
    ensemble: teachers.mode,
    // Only a "prob" ensemble's combined logits depend on T.
    temperature: teachers.members.length > 1 && teachers.mode === "prob" ? T : null,
    outputs: spec.outputs ?? "logits",
    input: spec.input ?? null,
    output: spec.output ?? null,
  };
}

/** What keys the cache entry of `teachers`' logits over `transfer` at temperature `T`. */
function cacheParts(teachers: Teachers, spec: TeacherSpec, transfer: Dataset, T: number): CacheKeyParts {
  return { teachers, data: transfer, settings: cacheSettings(teachers, spec, T) };
}

/** A distilled run's teacher-logit cache entry, for those who compute it elsewhere (the queue's shards). */
export interface TeacherCache {
  readonly parts: CacheKeyParts;
  /** The temperature the logits are computed at. */
  readonly temperature: number;
  /** The entry's key: hashes the teacher files and the transfer set, so computed once, when first asked. */
  key(): string;
  /** Where the entry lives in the cache folder `dir`. */
  path(dir: string): string;
  /** Frees the loaded teachers. */
  release(): Promise<void>;
}

/**
 * The cache entry `distill` reads for these teachers, transfer set and objective. Loads the
 * teachers: release them when done.
 */
export async function teacherCacheFor(
  spec: TeacherSpec,
  transfer: Dataset,
  objective: ObjectiveSpec,
): Promise<TeacherCache> {
  const teachers = await Teachers.load(spec);
  const temperature = obj.temperature(objective);
  const parts = cacheParts(teachers, spec, transfer, temperature);
  let key: string | undefined;
  const keyOf = () => (key ??= cacheKey(parts));
  return {
    parts,
    temperature,
    key: keyOf,
    path: (dir) => cachePath(dir, keyOf()),
    release: () => teachers.release(),
  };
}

/** Whether the teacher runs on every batch: inputs that change between epochs, or no cache asked for. */
const live = (o: Pick<DistillOptions, "jitter" | "augment" | "noCache">): boolean =>
  augments(o) || o.noCache === true;

/**
 * The teacher-logit source for a transfer set. Inputs that change between epochs (jitter, crops,
 * flips, mixup) need the teacher on every batch, where it sees exactly the augmented batch the student
 * sees (consistent teaching); otherwise its logits are computed once, and kept on disk when a
 * cache folder is given.
 */
export async function teacherSource(
  teachers: Teachers,
  transfer: Dataset,
  o: Pick<
    DistillOptions,
    "objective" | "jitter" | "augment" | "cacheDir" | "noCache" | "onNote" | "teachers"
  >,
): Promise<{ provider: TeacherProvider; mode: TeacherMode }> {
  const T = obj.temperature(o.objective);
  if (live(o)) return { provider: liveTeacher(teachers, T, transfer.rawScale), mode: { kind: "live" } };
  const compute = () => teachers.logits(transfer.x, transfer.n, T, transfer.rawScale);
  if (!o.cacheDir)
    return {
      provider: cachedTeacher(teachers.id, await compute(), teachers.numClasses),
      mode: { kind: "cached", status: "memory" },
    };
  const parts = cacheParts(teachers, o.teachers, transfer, T);
  const res = await cachedLogits(o.cacheDir, parts, compute, o.onNote);
  return {
    provider: cachedTeacher(teachers.id, res.logits, teachers.numClasses),
    mode: { kind: "cached", status: res.status, path: res.path },
  };
}

export async function distill(o: DistillOptions): Promise<JobResult & { teacherMode: TeacherMode }> {
  if (!obj.teacher(o.objective))
    throw new KdError(`the ${o.objective.kind} objective does not learn from a teacher`);
  const teachers = await Teachers.load(o.teachers);
  let features: FeatureTeacher | undefined;
  try {
    teachers.checkFits(o.train, o.model.numClasses);
    // Names and shapes are checked here, before any teacher logit is computed or cached.
    if (featureUses(o.objective).length > 0) {
      features = await FeatureTeacher.load(teachers, o.model, o.objective, o.teachers);
      if (!live(o)) checkFeatureCap(features, o.train.n, o.featureCap ?? DEFAULT_FEATURE_CAP);
    }
    let mode: TeacherMode = { kind: "live" };
    const { teachers: _t, cacheDir: _c, noCache: _n, featureCap: _f, ...job } = o;
    const res = await runJob({
      ...job,
      teacher: async (transfer) => {
        const src = await teacherSource(teachers, transfer, o);
        mode = src.mode;
        if (!features) return src.provider;
        if (src.mode.kind === "live") return liveFeatureTeacher(features, teachers.id, transfer.rawScale);
        return cachedFeatureTeacher(src.provider, features, transfer, o.featureCap ?? DEFAULT_FEATURE_CAP);
      },
    });
    return { ...res, teacherMode: mode };
  } finally {
    await features?.release();
    await teachers.release();
  }
}
