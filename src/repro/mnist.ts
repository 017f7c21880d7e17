/**
 * `kd reproduce mnist`: the paper's MNIST experiments end to end, reusing one teacher, resuming
 * from results.json and per-run checkpoints, writing the report beside the paper's numbers.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type Dataset, loadMnist, subset, takeCount, takeFraction } from "../data/dataset.js";
import { searchShift, shiftVector } from "../distill/bias.js";
import { distill } from "../distill/distill.js";
import { holdOut, transferSet } from "../distill/transfer.js";
import { mlp, NO_REG } from "../nn/model.js";
import { DEFAULT_OPTIMIZER } from "../optim/optimizers.js";
import { OnnxClassifier } from "../runtime/classifier.js";
import { defaultThreads } from "../runtime/session.js";
import { argmaxRows } from "../train/metrics.js";
import { type JobResult, runJob } from "../train/run.js";
import type { Progress } from "../train/trainer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { Rng } from "../util/rng.js";
import { describeChoices, type Profile, type TrainSettings } from "./profiles.js";
import type { BiasExperiment, Results, RunSummary, ShiftOutcome, SweepSeries } from "./results.js";

export const EXPERIMENTS = [
  "teacher",
  "student",
  "distilled",
  "omit3",
  "only78",
  "sweep",
  "fewdata",
] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

/** What each experiment needs finished first. */
const NEEDS: Readonly<Record<ExperimentName, readonly ExperimentName[]>> = {
  teacher: [],
  student: [],
  distilled: ["teacher", "student"],
  omit3: ["teacher"],
  only78: ["teacher"],
  sweep: ["teacher"],
  fewdata: ["teacher", "student"],
};

export interface ReproOptions {
  readonly profile: Profile;
  readonly outDir: string;
  readonly only?: readonly ExperimentName[];
  readonly threads?: number;
  /** One line per event (experiment started, finished, reused). */
  readonly onStatus?: (msg: string) => void;
  readonly onProgress?: (label: string, p: Progress) => void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Everything the experiments share: data splits, paths, the results being built. */
class Repro {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly rest: Dataset;
  readonly val: Dataset;
  readonly results: Mutable<Results> & {
    experiments: Mutable<Results["experiments"]>;
    fingerprints: Record<string, string>;
    timings: Record<string, number>;
  };
  /** Fingerprint of the experiment being run. */
  currentFp = "";

  constructor(readonly o: ReproOptions) {
    const p = o.profile;
    const fullTrain = loadMnist("train");
    const fullTest = loadMnist("test");
    this.train = p.trainCount ? takeCount(fullTrain, p.trainCount, new Rng(1)) : fullTrain;
    this.test = p.testCount
      ? subset(
          fullTest,
          Int32Array.from({ length: p.testCount }, (_, i) => i),
          `mnist-test[:${p.testCount}]`,
        )
      : fullTest;
    const split = holdOut(this.train, p.valCount, 1);
    this.rest = split.train;
    this.val = split.val!;
    mkdirSync(join(o.outDir, "ckpt"), { recursive: true });
    mkdirSync(join(o.outDir, "logs"), { recursive: true });
    const previous = this.load();
    this.results = {
      profile: p.name,
      startedAt: previous?.startedAt ?? new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        node: process.version,
        onnxruntime: ortVersion(),
        threads: o.threads ?? defaultThreads(),
      },
      choices: describeChoices(p),
      timings: { ...(previous?.timings ?? {}) },
      fingerprints: { ...(previous?.fingerprints ?? {}) },
      experiments: { ...(previous?.experiments ?? {}) },
    };
  }

  private load(): Results | undefined {
    const path = join(this.o.outDir, "results.json");
    if (!existsSync(path)) return undefined;
    try {
      const r = JSON.parse(readFileSync(path, "utf8")) as Results;
      return r.profile === this.o.profile.name ? r : undefined;
    } catch {
      this.o.onStatus?.(`${path} is unreadable; starting afresh`);
      return undefined;
    }
  }

  save(): void {
    writeFileAtomic(join(this.o.outDir, "results.json"), `${JSON.stringify(this.results, null, 1)}\n`);
  }

  path(name: string, ext = "onnx"): string {
    return join(this.o.outDir, `${name}.${ext}`);
  }

  common(name: string, s: TrainSettings) {
    const threads = this.o.threads;
    return {
      test: this.test,
      epochs: s.epochs,
      batchSize: this.o.profile.batchSize,
      optimizer: DEFAULT_OPTIMIZER,
      lr: s.lr,
      lrSchedule: s.lrSchedule,
      momentum: s.momentum,
      jitter: 0,
      seed: 1 + EXPERIMENTS.indexOf(name.split("-")[0] as ExperimentName),
      ...(threads ? { threads } : {}),
      evalEach: "test" as const,
      // Named by the experiment's fingerprint: changed settings never resume an old run.
      checkpoint: join(this.o.outDir, "ckpt", `${name}-${this.currentFp}.ckpt`),
      resume: true,
      logFile: join(this.o.outDir, "logs", `${name}.jsonl`),
      onProgress: (p: Progress) => this.o.onProgress?.(name, p),
    };
  }
}

function ortVersion(): string {
  try {
    const pkg = readFileSync(
      new URL("../../node_modules/onnxruntime-node/package.json", import.meta.url),
      "utf8",
    );
    return (JSON.parse(pkg) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function summary(
  name: string,
  arch: string,
  objective: string,
  trainExamples: number,
  res: JobResult,
): RunSummary {
  const t = res.test!;
  return {
    name,
    arch,
    objective,
    trainExamples,
    epochs: res.history.length,
    testErrors: t.errors,
    testAccuracy: t.accuracy,
    perClass: t.perClass.map((c) => ({ total: c.total, correct: c.correct })),
    confusion: t.confusion,
    history: res.history,
    seconds: res.seconds,
  };
}

/** Test (or validation) outcome of adding `shift` to the logits of `classes`. */
function outcome(
  logits: Float32Array,
  labels: Int32Array,
  classes: readonly number[],
  shift: number,
): ShiftOutcome {
  const c = logits.length / labels.length;
  const moved = new Float32Array(logits);
  const v = shiftVector(c, classes, shift);
  for (let i = 0; i < moved.length; i++) moved[i]! += v[i % c]!;
  const pred = argmaxRows(moved, labels.length, c);
  let errors = 0;
  let classErrors = 0;
  let classTotal = 0;
  for (let i = 0; i < labels.length; i++) {
    const wrong = pred[i] !== labels[i];
    if (wrong) errors++;
    if (classes.includes(labels[i]!)) {
      classTotal++;
      if (wrong) classErrors++;
    }
  }
  return { shift, testErrors: errors, classErrors, classTotal, errorRate: (100 * errors) / labels.length };
}

async function teacherExp(r: Repro): Promise<void> {
  const t = r.o.profile.teacher;
  const model = mlp(784, t.hidden, 10, { inputDropout: 0.2, hiddenDropout: 0.5 });
  const res = await runJob({
    ...r.common("teacher", t),
    model,
    train: r.train,
    optimizer: { ...DEFAULT_OPTIMIZER, maxNorm: t.maxNorm },
    jitter: t.jitter,
    objective: { kind: "labels" },
    out: r.path("teacher"),
  });
  r.results.experiments.teacher = summary(
    "teacher",
    model.arch,
    "labels, dropout 0.2/0.5, max-norm, jitter",
    r.train.n,
    res,
  );
}

async function studentExp(r: Repro): Promise<void> {
  const s = r.o.profile.student;
  const model = mlp(784, s.hidden, 10, NO_REG);
  const res = await runJob({
    ...r.common("student", s),
    model,
    train: r.train,
    objective: { kind: "labels" },
    out: r.path("student"),
  });
  r.results.experiments.student = summary("student", model.arch, "labels", r.train.n, res);
}

async function distillRun(
  r: Repro,
  name: string,
  train: Dataset,
  hidden: readonly number[],
  settings: { epochs: number; temperature: number; softWeight: number },
) {
  const d = r.o.profile.distill;
  const model = mlp(784, hidden, 10, NO_REG);
  const res = await distill({
    ...r.common(name, { ...d, epochs: settings.epochs }),
    model,
    train,
    teachers: { paths: [r.path("teacher")], ...(r.o.threads ? { threads: r.o.threads } : {}) },
    temperature: settings.temperature,
    softWeight: settings.softWeight,
    cacheDir: join(r.o.outDir, ".cache"),
    out: r.path(name),
  });
  return { model, res };
}

async function distilledExp(r: Repro): Promise<void> {
  const d = r.o.profile.distill;
  const { model, res } = await distillRun(r, "distilled", r.train, r.o.profile.student.hidden, d);
  const s = summary(
    "distilled",
    model.arch,
    `soft targets T=${d.temperature} (w=${d.softWeight})`,
    r.train.n,
    res,
  );
  const { teacher, student } = r.results.experiments;
  const gap = student!.testErrors - teacher!.testErrors;
  r.results.experiments.distilled = {
    ...s,
    temperature: d.temperature,
    gapClosed: gap > 0 ? (student!.testErrors - s.testErrors) / gap : 0,
  };
}

async function biasExp(r: Repro, name: "omit3" | "only78"): Promise<BiasExperiment> {
  const d = r.o.profile.distill;
  const classes = name === "omit3" ? [3] : [7, 8];
  const transfer = transferSet(r.rest, {
    ...(name === "omit3" ? { omitClasses: classes } : { onlyClasses: classes }),
    seed: 1,
  });
  const { model, res } = await distillRun(r, name, transfer, r.o.profile.student.hidden, d);
  const run = summary(
    name,
    model.arch,
    `soft targets T=${d.temperature}, transfer set ${name === "omit3" ? "without 3s" : "of 7s and 8s only"}`,
    transfer.n,
    res,
  );
  const clf = await OnnxClassifier.load(r.path(name), r.o.threads ? { threads: r.o.threads } : {});
  const testLogits = await clf.logits(r.test.x, r.test.n);
  const valLogits = await clf.logits(r.val.x, r.val.n);
  await clf.release();
  const given = name === "omit3" ? 3.5 : -7.6;
  const search = searchShift(valLogits, r.val.y!, 10, classes);
  return {
    run,
    classes,
    shiftedClasses: classes,
    unshifted: outcome(testLogits, r.test.y!, classes, 0),
    given: outcome(testLogits, r.test.y!, classes, given),
    found: {
      ...outcome(testLogits, r.test.y!, classes, search.shift),
      valErrors: search.errors,
      valBaselineErrors: search.baselineErrors,
    },
  };
}

async function sweepExp(r: Repro): Promise<void> {
  const sw = r.o.profile.sweep;
  const d = r.o.profile.distill;
  const data =
    sw.trainCount && sw.trainCount < r.train.n ? takeCount(r.train, sw.trainCount, new Rng(5)) : r.train;
  const series: SweepSeries[] = [];
  for (const hidden of sw.sizes) {
    const tag = hidden.join("x");
    const s = { epochs: sw.epochs, lr: d.lr, lrSchedule: d.lrSchedule, momentum: d.momentum };
    const labelsOnly = await runJob({
      ...r.common(`sweep-${tag}-labels`, s),
      model: mlp(784, hidden, 10),
      train: data,
      objective: { kind: "labels" },
      evalEach: "none",
    });
    const points = [];
    for (const T of sw.temperatures) {
      const { res } = await distillRun(r, `sweep-${tag}-T${T}`, data, hidden, {
        epochs: sw.epochs,
        temperature: T,
        softWeight: d.softWeight,
      });
      points.push({ temperature: T, testErrors: res.test!.errors });
      r.o.onStatus?.(`  sweep ${hidden.join("-")}: T=${T} → ${res.test!.errors} errors`);
    }
    const best = points.reduce((a, b) => (b.testErrors < a.testErrors ? b : a));
    series.push({
      hidden,
      points,
      labelsOnlyErrors: labelsOnly.test!.errors,
      bestTemperature: best.temperature,
    });
  }
  r.results.experiments.temperatureSweep = { series, trainExamples: data.n, epochs: sw.epochs };
}

async function fewDataExp(r: Repro): Promise<void> {
  const f = r.o.profile.fewData;
  const d = r.o.profile.distill;
  const s = r.o.profile.student;
  const small = takeFraction(r.train, f.fraction, new Rng(3));
  const settings = { epochs: f.epochs, lr: s.lr, lrSchedule: s.lrSchedule, momentum: s.momentum };
  const model = mlp(784, s.hidden, 10, NO_REG);
  const hard = await runJob({
    ...r.common("fewdata-labels", settings),
    model,
    train: small,
    objective: { kind: "labels" },
  });
  const soft = await distillRun(r, "fewdata-soft", small, s.hidden, {
    epochs: f.epochs,
    temperature: d.temperature,
    softWeight: d.softWeight,
  });
  r.results.experiments.softRegularizer = {
    fraction: f.fraction,
    labelsOnly: summary("fewdata-labels", model.arch, "labels", small.n, hard),
    softTargets: summary(
      "fewdata-soft",
      model.arch,
      `soft targets T=${d.temperature} (w=${d.softWeight})`,
      small.n,
      soft.res,
    ),
    fullDataErrors: r.results.experiments.student!.testErrors,
  };
}

const RUN: Readonly<Record<ExperimentName, (r: Repro) => Promise<void>>> = {
  teacher: teacherExp,
  student: studentExp,
  distilled: distilledExp,
  omit3: async (r) => {
    r.results.experiments.omit3 = await biasExp(r, "omit3");
  },
  only78: async (r) => {
    r.results.experiments.only78 = await biasExp(r, "only78");
  },
  sweep: sweepExp,
  fewdata: fewDataExp,
};

const RESULT_KEY: Readonly<Record<ExperimentName, keyof Results["experiments"]>> = {
  teacher: "teacher",
  student: "student",
  distilled: "distilled",
  omit3: "omit3",
  only78: "only78",
  sweep: "temperatureSweep",
  fewdata: "softRegularizer",
};

/** The profile settings an experiment's numbers depend on (its own section and the data). */
function settingsOf(name: ExperimentName, p: Profile): unknown {
  const data = { trainCount: p.trainCount, testCount: p.testCount, batchSize: p.batchSize };
  switch (name) {
    case "teacher":
      return { data, teacher: p.teacher };
    case "student":
      return { data, student: p.student };
    case "distilled":
      return { data, student: p.student.hidden, distill: p.distill };
    case "omit3":
    case "only78":
      return { data, valCount: p.valCount, student: p.student.hidden, distill: p.distill };
    case "sweep":
      return { data, sweep: p.sweep, distill: p.distill };
    case "fewdata":
      return { data, fewData: p.fewData, student: p.student, distill: p.distill };
  }
}

/**
 * A stable hash of what an experiment's numbers depend on: its settings and its dependencies'
 * fingerprints. A rerun reuses a result only when this matches.
 */
export function experimentFingerprint(
  name: ExperimentName,
  p: Profile,
  done: Readonly<Record<string, string>>,
): string {
  const key = [name, { own: settingsOf(name, p), deps: NEEDS[name].map((d) => done[d]) }];
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
}

/** The experiments to run: the ones asked for and what they depend on, in order. */
export function plan(only?: readonly ExperimentName[]): ExperimentName[] {
  if (!only || only.length === 0) return [...EXPERIMENTS];
  const want = new Set<ExperimentName>();
  const add = (e: ExperimentName) => {
    for (const d of NEEDS[e]) add(d);
    want.add(e);
  };
  only.forEach(add);
  return EXPERIMENTS.filter((e) => want.has(e));
}

export async function reproduceMnist(o: ReproOptions): Promise<Results> {
  const r = new Repro(o);
  const p = o.profile;
  for (const name of plan(o.only)) {
    const fp = experimentFingerprint(name, p, r.results.fingerprints);
    r.currentFp = fp;
    const key = RESULT_KEY[name];
    const modelMissing = ["teacher", "student"].includes(name) && !existsSync(r.path(name));
    if (r.results.fingerprints[name] === fp && r.results.experiments[key] && !modelMissing) {
      o.onStatus?.(`${name}: reusing the finished result in ${join(o.outDir, "results.json")}`);
      continue;
    }
    o.onStatus?.(`${name}: running`);
    const t0 = performance.now();
    await RUN[name](r);
    r.results.fingerprints[name] = fp;
    r.results.timings[name] = (performance.now() - t0) / 1000;
    r.save();
    o.onStatus?.(`${name}: done in ${r.results.timings[name]!.toFixed(0)} s`);
  }
  r.results.finishedAt = new Date().toISOString();
  // Results from an earlier run without timings count their training time.
  const planned = plan(o.only);
  r.results.totalSeconds = planned.reduce((sum, name) => {
    const run = r.results.experiments[RESULT_KEY[name]] as { seconds?: number } | undefined;
    return sum + (r.results.timings[name] ?? run?.seconds ?? 0);
  }, 0);
  r.save();
  return r.results;
}
