/** The Runner interface, and the in-process runner: one planned run → train or distil → a results record. */
import type { Metrics, RunRecord } from "../analyses/results.js";
import { alignClasses, emptyClassesWarning } from "../data/classes.js";
import type { DataCatalog } from "../data/sources.js";
import { distill } from "../distill/distill.js";
import type { TeacherSpec } from "../distill/teacher.js";
import { paramCount } from "../nn/model.js";
import { inputNormStats, withInputNorm } from "../nn/normalize.js";
import { buildModel } from "../nn/registry.js";
import { objective as obj } from "../objectives/index.js";
import { dataMetadata } from "../onnx/metadata.js";
import { optimizerConfig } from "../optim/registry.js";
import { MAX_MODEL_BYTES } from "../runtime/model-file.js";
import { defaultThreads } from "../runtime/session.js";
import { runDiverged } from "../train/divergence.js";
import type { ClassMetrics } from "../train/metrics.js";
import { type JobOptions, runJob } from "../train/run.js";
import { trainSettings } from "../train/settings.js";
import type { EpochLog, Progress } from "../train/trainer.js";
import { readInputFile } from "../util/files.js";
import { sha256Hex } from "../util/hash.js";
import { checkpointIdentity } from "./identity.js";
import type { PlannedRun } from "./plan.js";

/** What a runner needs besides the planned run: where files go and the teachers' model files. */
export interface RunTask {
  readonly planned: PlannedRun;
  /** Output files (absolute paths). */
  readonly model: string;
  /** Absent: no checkpoint (the run cannot resume). */
  readonly checkpoint?: string | undefined;
  readonly log: string;
  /** Model files of the run's teachers, in order (run teachers expand to their instances' files). */
  readonly teacherFiles: readonly string[];
  /** The model path as recorded in results.json (relative to the output folder when inside it). */
  readonly recordedModel: string;
}

export interface RunListener {
  onProgress?(p: Progress): void;
  onEpoch?(e: EpochLog): void;
  onNote?(msg: string): void;
}

/**
 * Executes one run. The in-process runner is one implementation; a distributed backend (a queue
 * of workers) implements the same interface, so the planner and executor do not change.
 */
export interface Runner {
  /** How many runs may be in flight at once (default 1). */
  readonly concurrency?: number;
  run(task: RunTask, listener: RunListener): Promise<RunRecord>;
  close?(): Promise<void>;
}

export function toMetrics(m: ClassMetrics): Metrics {
  return {
    n: m.n,
    errors: m.errors,
    accuracy: m.accuracy,
    ties: m.ties,
    perClass: m.perClass.map((c) => ({ total: c.total, correct: c.correct })),
    confusion: m.confusion.map((r) => [...r]),
  };
}

/** How a run's teachers are loaded: its files, ensemble mode, names and output kind. */
export function teacherSpecFor(
  planned: PlannedRun,
  files: readonly string[],
  threads: number | undefined,
): TeacherSpec {
  const file = planned.teachers.find((t) => t.kind === "file");
  return {
    paths: files,
    ensemble: planned.spec.ensemble,
    ...(file?.kind === "file" && file.input ? { input: file.input } : {}),
    ...(file?.kind === "file" && file.output ? { output: file.output } : {}),
    outputs: file?.kind === "file" && file.probs ? "probs" : "logits",
    ...(threads ? { threads } : {}),
  };
}

export interface LocalRunnerOptions {
  readonly threads?: number | undefined;
  /** Steps traced into one graph run (default 8). */
  readonly stepsPerRun?: number | undefined;
  /** Folder of the on-disk teacher-logit cache. */
  readonly cacheDir?: string | undefined;
}

export class LocalRunner implements Runner {
  constructor(
    private readonly data: DataCatalog,
    private readonly o: LocalRunnerOptions = {},
  ) {}

  async run(task: RunTask, listener: RunListener): Promise<RunRecord> {
    const { planned } = task;
    const r = planned.spec;
    const train = this.data.get(r.train);
    // Class names number the classes as the training set does: a test set missing one keeps the rest.
    const names = train.classNames;
    const test = r.test ? alignClasses(this.data.get(r.test), names, train.name) : undefined;
    const val = r.val ? alignClasses(this.data.get(r.val), names, train.name) : undefined;
    const classes = Math.max(train.numClasses, test?.numClasses ?? 0, val?.numClasses ?? 0);
    const empty = emptyClassesWarning(train, classes);
    if (empty) listener.onNote?.(empty);
    const net = buildModel(r.model, train.exampleShape, classes);
    // Statistics of the labelled and unlabelled training (transfer) set the student sees.
    const model = r.standardize ? withInputNorm(net, inputNormStats(train, net.inputShape)) : net;
    // The planned run's settings as the schema resolved them (the grid point and seed applied).
    const job: JobOptions = {
      ...trainSettings(r),
      model,
      train,
      ...(test ? { test } : {}),
      ...(val ? { val } : {}),
      ...(r.evalEach ? { evalEach: r.evalEach } : {}),
      optimizer: optimizerConfig(r.optimizer),
      objective: r.objective,
      ...(this.o.threads ? { threads: this.o.threads } : {}),
      ...(this.o.stepsPerRun ? { stepsPerRun: this.o.stepsPerRun } : {}),
      ...(task.checkpoint ? { checkpoint: task.checkpoint, resume: true } : {}),
      // A queue job from a kd before run identities carries none: the trainer then keys the checkpoint.
      ...(planned.identity ? { identity: checkpointIdentity(planned.identity) } : {}),
      logFile: task.log,
      out: task.model,
      // What the model was trained on, so eval/quantize/predict know its data and class names.
      metadata: { ...dataMetadata(this.data.origin(r.train), train.exampleShape, names), ...r.metadata },
      ...(r.bakePreprocessing ? { bakePreprocessing: true } : {}),
      ...(listener.onProgress ? { onProgress: listener.onProgress } : {}),
      ...(listener.onEpoch ? { onEpoch: listener.onEpoch } : {}),
      ...(listener.onNote ? { onNote: listener.onNote } : {}),
    };
    let teacher: string | undefined;
    let res: Awaited<ReturnType<typeof runJob>>;
    // Whether the objective has teachers is a rule of the run schema (experiment/schema.ts), which
    // every run (spec, command line, grid point, queue job) is parsed with.
    if (obj.teacher(r.objective)) {
      const d = await distill({
        ...job,
        teachers: teacherSpecFor(planned, task.teacherFiles, this.o.threads),
        ...(r.cache && this.o.cacheDir ? { cacheDir: this.o.cacheDir } : r.cache ? {} : { noCache: true }),
        ...(r.featureCap !== undefined ? { featureCap: r.featureCap * 2 ** 30 } : {}),
      });
      teacher = d.teacherMode.kind === "live" ? "run on every batch" : `cached (${d.teacherMode.status})`;
      res = d;
    } else {
      res = await runJob(job);
    }
    return {
      id: planned.id,
      run: planned.run,
      point: { ...planned.point },
      seed: planned.seed,
      fingerprint: planned.fingerprint,
      arch: model.arch,
      params: paramCount(model),
      objective: obj.describe(r.objective),
      trainExamples: train.n,
      epochs: res.history.length,
      ...(res.bestEpoch !== undefined ? { bestEpoch: res.bestEpoch } : {}),
      ...(runDiverged(res.history, res.bestEpoch) ? { diverged: true } : {}),
      ...(res.test ? { test: toMetrics(res.test) } : {}),
      ...(res.val ? { val: toMetrics(res.val) } : {}),
      history: res.history.map((h) => ({ ...h, parts: { ...h.parts } })),
      seconds: res.seconds,
      threads: this.o.threads ?? defaultThreads(),
      ...(teacher ? { teacher } : {}),
      model: task.recordedModel,
      modelSha256: sha256Hex(readInputFile(task.model, "model", MAX_MODEL_BYTES)),
    };
  }
}
