/**
 * A run's identity: everything that shapes its result (settings, data content, teachers), computed
 * once by the planner. Its hash is the run's fingerprint; the checkpoint's key is the same identity
 * without what a resume may change.
 */

import { RESULTS_VERSION } from "../analyses/results.js";
import type { DataCatalog } from "../data/sources.js";
import type { RunSpec } from "../experiment/schema.js";
import { lrScheduleUsesLength } from "../train/schedule.js";
import type { TrainConfig } from "../train/trainer.js";
import { sha256Hex as sha } from "../util/hash.js";

/** A teacher as the identity sees it: a planned teacher's fingerprints, or a model file's hash and reading. */
export type TeacherIdentity =
  | readonly string[]
  | {
      readonly file: string;
      readonly input: string | null;
      readonly output: string | null;
      readonly probs: boolean;
    };

/** The fields of an identity, in the order they are hashed (the fingerprint depends on the order). */
export interface RunIdentity {
  readonly version: number;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly data: { readonly train: string; readonly test: string | null; readonly val: string | null };
  readonly teachers: readonly TeacherIdentity[];
}

/** What the trainer stores in a checkpoint and compares on resume. */
export type CheckpointIdentity = NonNullable<TrainConfig["identity"]>;

/** Settings that change where files go or how fast, never the numbers: left out of identities. */
const NOT_RESULTS = ["out", "checkpoint", "log", "cache", "featureCap", "metadata", "grid", "seeds"] as const;

/** A run's identity from its resolved settings, its data's content and its teachers' identities. */
export function runIdentity(
  rs: RunSpec,
  catalog: DataCatalog,
  teachers: readonly TeacherIdentity[],
): RunIdentity {
  const settings: Record<string, unknown> = { ...rs };
  for (const k of NOT_RESULTS) delete settings[k];
  return {
    version: RESULTS_VERSION,
    settings,
    data: {
      train: catalog.fingerprint(rs.train),
      test: rs.test ? catalog.fingerprint(rs.test) : null,
      val: rs.val ? catalog.fingerprint(rs.val) : null,
    },
    teachers,
  };
}

/** The planner's fingerprint of a run: what results, stores and checkpoint file names are keyed by. */
export function fingerprintOf(id: RunIdentity): string {
  return sha(JSON.stringify(id)).slice(0, 16);
}

/**
 * The identity a checkpoint must match to be resumed: the run's, less what a resume may change —
 * the epoch count where the learning-rate schedule does not stretch with it, how the model is
 * exported, and data only evaluated (the validation set counts when early stopping watches it).
 */
export function checkpointIdentity(id: RunIdentity): CheckpointIdentity {
  const s = id.settings as unknown as RunSpec;
  const watchesVal = s.earlyStop !== undefined;
  const settings: Record<string, unknown> = { ...id.settings };
  for (const k of ["test", "evalEach", "bakePreprocessing"]) delete settings[k];
  if (!lrScheduleUsesLength(s.lrSchedule)) delete settings.epochs;
  if (!watchesVal) delete settings.val;
  const fields = {
    version: id.version,
    settings,
    data: { train: id.data.train, ...(watchesVal ? { val: id.data.val } : {}) },
    teachers: id.teachers,
  };
  return { key: sha(JSON.stringify(fields)).slice(0, 16), fields };
}
