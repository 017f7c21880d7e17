/** A whole training job as the CLI runs it: split, train, export, evaluate; the library's one-call API. */
import type { Dataset } from "../data/dataset.js";
import { ensureWritableDir } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { Forward, saveModel } from "./forward.js";
import { type ClassMetrics, classMetrics } from "./metrics.js";
import { type EpochLog, type TeacherProvider, type TrainConfig, train } from "./trainer.js";

/** The trainer's settings, plus what a whole job adds: test/validation sets, export, metadata. */
export interface JobOptions extends Omit<TrainConfig, "evalSet" | "teacher"> {
  readonly test?: Dataset;
  /** Builds the teacher provider for the training (transfer) set. */
  readonly teacher?: (train: Dataset) => Promise<TeacherProvider>;
  /** Held-out validation set (see distill/transfer.ts holdOut), measured at the end. */
  readonly val?: Dataset;
  /** Which set is evaluated after each epoch (default: test). */
  readonly evalEach?: "test" | "val" | "none";
  /** Output ONNX file; written atomically at the end. */
  readonly out?: string;
  readonly metadata?: Record<string, string>;
}

export interface JobResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochLog[];
  readonly test?: ClassMetrics;
  readonly val?: ClassMetrics;
  readonly valSet?: Dataset;
  readonly seconds: number;
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  const t0 = performance.now();
  if (o.out) ensureWritableDir(o.out, "output");
  const { test: testSet, teacher: makeTeacher, val: valSet, evalEach, out, metadata, ...config } = o;
  if (evalEach === "val" && !valSet) throw new KdError("--eval val needs --val N");
  const evalSet = evalEach === "val" ? valSet : evalEach === "none" ? undefined : testSet;
  const teacher = makeTeacher ? await makeTeacher(o.train) : undefined;
  const res = await train({ ...config, ...(evalSet ? { evalSet } : {}), ...(teacher ? { teacher } : {}) });
  if (out) saveModel(out, o.model, res.params, metadata);
  const fwd = await Forward.compile(o.model, o.threads ? { threads: o.threads } : {});
  const measure = async (ds: Dataset | undefined) =>
    ds?.y ? classMetrics(await fwd.logits(res.params, ds.x, ds.n), ds.y, o.model.numClasses) : undefined;
  const test = await measure(testSet);
  const val = await measure(valSet);
  await fwd.release();
  return {
    params: res.params,
    history: res.history,
    ...(test ? { test } : {}),
    ...(val ? { val } : {}),
    ...(valSet ? { valSet } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}
