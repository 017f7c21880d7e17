/** A whole training job as a planned run executes it (runner/local.ts, distill/distill.ts): train, export, evaluate; the library's one-call API. */
import { checkCompatible } from "../data/checks.js";
import type { Dataset } from "../data/dataset.js";
import { ensureWritableDir } from "../util/atomic.js";
import { Forward, saveModel } from "./forward.js";
import { type ClassMetrics, classMetrics } from "./metrics.js";
import type { JobSettings } from "./settings.js";
import { type EpochLog, type TeacherProvider, type TrainConfig, train } from "./trainer.js";

/** The trainer's settings, plus what a whole job adds (train/settings.ts): test/validation sets, export, metadata. */
export interface JobOptions extends Omit<TrainConfig, "evalSet" | "teacher">, Readonly<JobSettings> {
  readonly test?: Dataset;
  /** Builds the teacher provider for the training (transfer) set. */
  readonly teacher?: (train: Dataset) => Promise<TeacherProvider>;
  /** Held-out validation set (see distill/transfer.ts holdOut), measured at the end. */
  readonly val?: Dataset;
  /** Output ONNX file; written atomically at the end. */
  readonly out?: string;
}

export interface JobResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochLog[];
  readonly test?: ClassMetrics;
  readonly val?: ClassMetrics;
  readonly valSet?: Dataset;
  /** With early stopping: the epoch whose weights were kept. */
  readonly bestEpoch?: number;
  readonly seconds: number;
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  const t0 = performance.now();
  if (o.out) ensureWritableDir(o.out, "output");
  const {
    test: testSet,
    teacher: makeTeacher,
    val: valSet,
    evalEach,
    out,
    metadata,
    bakePreprocessing,
    ...config
  } = o;
  // Which sets may be evaluated each epoch, and that early stopping watches the validation set, are
  // rules of the run schema (experiment/schema.ts). Early stopping is only ever given the validation
  // set, so a library call that breaks the rule meets train()'s one guard, never the test set.
  const each = evalEach ?? (valSet ? "val" : "test");
  const evalSet =
    each === "val" ? valSet : each === "none" || o.earlyStop !== undefined ? undefined : testSet;
  // Before the teacher runs: a refusal must not leave a teacher-logit cache file behind.
  for (const ds of [testSet, valSet]) if (ds) checkCompatible(o.train, ds);
  // Said before training, not discovered after it: an unlabelled test set gives no errors to report.
  if (testSet && !testSet.y)
    o.onNote?.(
      `the test set ${testSet.name} has no labels: it will not be evaluated (give its labels: --test-labels, or labels: in a spec)`,
    );
  const teacher = makeTeacher ? await makeTeacher(o.train) : undefined;
  const res = await train({ ...config, ...(evalSet ? { evalSet } : {}), ...(teacher ? { teacher } : {}) });
  if (out)
    saveModel(out, o.model, res.params, metadata, {
      rawScale: o.train.rawScale ?? 1,
      bake: bakePreprocessing,
    });
  // The trainer already measured its eval set on the final weights: never evaluate a set twice.
  const fwd = await Forward.compile(o.model, o.threads ? { threads: o.threads } : {});
  const measure = async (ds: Dataset | undefined) => {
    if (!ds?.y) return undefined;
    if (ds === evalSet && res.evalMetrics) return res.evalMetrics;
    return classMetrics(await fwd.logits(res.params, ds.x, ds.n), ds.y, o.model.numClasses);
  };
  const test = await measure(testSet);
  const val = await measure(valSet);
  await fwd.release();
  return {
    params: res.params,
    history: res.history,
    ...(test ? { test } : {}),
    ...(val ? { val } : {}),
    ...(valSet ? { valSet } : {}),
    ...(res.bestEpoch !== undefined ? { bestEpoch: res.bestEpoch } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}
