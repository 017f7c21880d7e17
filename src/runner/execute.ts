/**
 * Executes a planned spec: runs in dependency order through a Runner, reusing finished runs whose
 * fingerprint matches, recording failures on bad input without stopping the others, then the
 * analyses; results.json is written atomically after every run, so a killed spec resumes.
 */
import { existsSync, rmSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { type AnalysisContext, analysisDef } from "../analyses/index.js";
import { RESULTS_VERSION, type Results, type RunRecord, readResults } from "../analyses/results.js";
import { DataCatalog } from "../data/sources.js";
import type { LoadedSpec } from "../experiment/load.js";
import { writeReports } from "../report/index.js";
import { machineInfo } from "../runtime/machine.js";
import { MAX_MODEL_BYTES } from "../runtime/model-file.js";
import { defaultThreads } from "../runtime/session.js";
import type { EpochLog, Progress } from "../train/trainer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { ensure, KdAbort, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { sha256Hex } from "../util/hash.js";
import { isInside, safeMkdir } from "../util/paths.js";
import { failedLog, fileState } from "./failed-log.js";
import { LocalRunner, type Runner } from "./local.js";
import { fileName, type PlannedRun, planSpec } from "./plan.js";

export type RunEvent =
  | { kind: "plan"; runs: readonly PlannedRun[]; reused: readonly string[] }
  | { kind: "reuse"; index: number; total: number; run: PlannedRun }
  | { kind: "start"; index: number; total: number; run: PlannedRun }
  | { kind: "progress"; index: number; total: number; run: PlannedRun; progress: Progress }
  | { kind: "epoch"; index: number; total: number; run: PlannedRun; epoch: EpochLog }
  | { kind: "done"; index: number; total: number; run: PlannedRun; seconds: number }
  | { kind: "failed"; index: number; total: number; run: PlannedRun; message: string }
  | { kind: "note"; message: string };

export interface ExecuteOptions {
  readonly outDir: string;
  /** Write results.json, the reports and the spec into outDir (default true; one-run commands say false). */
  readonly persist?: boolean;
  /** Rerun every run, finished or not. */
  readonly force?: boolean;
  /** Keep each run's checkpoint after it finishes (default: removed). */
  readonly keepCheckpoints?: boolean;
  readonly threads?: number;
  readonly stepsPerRun?: number;
  /** The teacher-logit cache (default: .cache in the output folder). */
  readonly cacheDir?: string;
  /** Defaults to the in-process runner. */
  readonly runner?: Runner;
  readonly onEvent?: (e: RunEvent) => void;
}

/**
 * Where a run's files go: its own paths if the spec gives them (relative to the output folder),
 * else inside the output folder.
 */
export function runPaths(outDir: string, p: PlannedRun) {
  const name = fileName(p.id);
  const model = p.spec.out ? resolve(outDir, p.spec.out) : join(outDir, "models", `${name}.onnx`);
  return {
    model,
    checkpoint:
      p.spec.checkpoint === false
        ? undefined
        : p.spec.checkpoint
          ? resolve(outDir, p.spec.checkpoint)
          : join(outDir, "ckpt", `${name}-${p.fingerprint}.ckpt`),
    log: p.spec.log ? resolve(outDir, p.spec.log) : join(outDir, "logs", `${name}.jsonl`),
    recordedModel:
      isAbsolute(relative(outDir, model)) || relative(outDir, model).startsWith("..")
        ? model
        : relative(outDir, model),
  };
}

/**
 * A record under the name of the planned run it answers: a run with the settings of another (one
 * fingerprint) may come back from a shared store under the other's name.
 */
function asPlanned(rec: RunRecord, p: PlannedRun): RunRecord {
  return { ...rec, id: p.id, run: p.run, point: p.point, seed: p.seed };
}

/**
 * The record of a run already trained here with the same fingerprint (a screen's winner declared
 * again under its own name), with its model copied to this run's path; undefined when there is
 * none or its model file is gone or changed (the run then trains).
 */
function copyTwin(
  outDir: string,
  plan: readonly PlannedRun[],
  results: Results,
  p: PlannedRun,
): RunRecord | undefined {
  const twin = Object.values(results.runs).find((r) => r.fingerprint === p.fingerprint);
  if (!twin) return undefined;
  const from = runPaths(outDir, plan.find((q) => q.id === twin.id)!).model;
  if (!existsSync(from)) return undefined;
  const bytes = readInputFile(from, "model", MAX_MODEL_BYTES);
  if (twin.modelSha256 !== undefined && sha256Hex(bytes) !== twin.modelSha256) return undefined;
  const to = runPaths(outDir, p);
  if (resolve(from) !== resolve(to.model)) writeFileAtomic(to.model, bytes);
  return { ...asPlanned(twin, p), model: to.recordedModel };
}

/**
 * Refuses a spec file's `out`, `checkpoint` or `log` that leaves the output folder (absolute, or
 * with ".."): a spec must not write, or overwrite, files elsewhere. (One-run commands take these
 * paths from their own flags, and skip this.)
 */
function checkConfined(outDir: string, p: PlannedRun): void {
  for (const field of ["out", "checkpoint", "log"] as const) {
    const v = p.spec[field];
    if (typeof v !== "string") continue;
    ensure(
      !isAbsolute(v) && !v.split(/[\\/]/).includes("..") && isInside(outDir, resolve(outDir, v)),
      () =>
        `runs.${p.run}.${field}: ${JSON.stringify(v)} leaves the output folder; give a path relative to it, without ".."`,
    );
  }
}

/**
 * The plan and which runs a rerun would reuse (what `--dry-run` prints). `confine` (spec files)
 * keeps every run's own paths inside the output folder.
 */
export function planWithReuse(loaded: LoadedSpec, outDir: string, force = false, confine = true) {
  const catalog = new DataCatalog(loaded.spec.data, loaded.baseDir);
  const plan = planSpec(loaded.spec, catalog, loaded.baseDir);
  if (confine) for (const p of plan) checkConfined(resolve(outDir), p);
  const previous = readPrevious(outDir, loaded);
  /** Finished runs' records as reused, each with its model file's digest. */
  const finished = new Map<string, RunRecord>();
  /** Notes on finished runs whose model file is no longer the one their record describes. */
  const stale: string[] = [];
  for (const p of force ? [] : plan) {
    const rec = previous?.runs[p.id];
    const model = runPaths(outDir, p).model;
    if (rec?.fingerprint !== p.fingerprint || !existsSync(model)) continue;
    let digest: string;
    try {
      digest = sha256Hex(readInputFile(model, "model", MAX_MODEL_BYTES));
    } catch (e) {
      if (!(e instanceof KdError)) throw e;
      stale.push(`${e.message}: training ${p.id} again`);
      continue;
    }
    // Results from before kd recorded digests take the model as found.
    if ((rec.modelSha256 ?? digest) === digest)
      finished.set(p.id, { ...asPlanned(rec, p), modelSha256: digest });
    else stale.push(`${model} does not match the digest in results.json: training ${p.id} again`);
  }
  return { catalog, plan, previous, reused: [...finished.keys()], finished, stale };
}

function readPrevious(outDir: string, loaded: LoadedSpec): Results | undefined {
  const prev = readResults(join(outDir, "results.json"));
  if (prev && prev.spec !== loaded.spec.name)
    throw new KdError(`${outDir} holds the results of spec "${prev.spec}"; choose another output folder`);
  return prev;
}

export async function executeSpec(loaded: LoadedSpec, o: ExecuteOptions): Promise<Results> {
  const outDir = resolve(o.outDir);
  const persist = o.persist ?? true;
  if (persist) for (const d of ["", "models", "ckpt", "logs"]) safeMkdir(join(outDir, d), "output folder");
  const { catalog, plan, previous, reused, finished, stale } = planWithReuse(
    loaded,
    outDir,
    o.force,
    persist,
  );
  o.onEvent?.({ kind: "plan", runs: plan, reused });
  for (const message of stale) o.onEvent?.({ kind: "note", message });
  const runner: Runner =
    o.runner ??
    new LocalRunner(catalog, {
      threads: o.threads,
      stepsPerRun: o.stepsPerRun,
      cacheDir: o.cacheDir ?? join(outDir, ".cache"),
    });
  const results: Results = {
    version: RESULTS_VERSION,
    spec: loaded.spec.name,
    profile: loaded.profile,
    startedAt: previous?.startedAt ?? new Date().toISOString(),
    machine: { ...machineInfo(), threads: o.threads ?? defaultThreads() },
    runs: {},
    failed: {},
    analyses: {},
  };
  const save = () => {
    if (persist) writeFileAtomic(join(outDir, "results.json"), `${JSON.stringify(results, null, 1)}\n`);
  };
  if (persist)
    writeFileAtomic(
      join(outDir, "spec.json"),
      `${JSON.stringify({ spec: loaded.spec, profile: loaded.profile, paper: loaded.paper, baseDir: loaded.baseDir }, null, 1)}\n`,
    );
  const total = plan.length;
  try {
    // Runs start in plan order as soon as their teachers are done, up to the runner's concurrency
    // (1 in process; a queue of workers runs several at once).
    const limit = Math.max(1, runner.concurrency ?? 1);
    const settled = new Set<string>();
    const inFlight = new Map<string, Promise<void>>();
    const startRun = async (p: PlannedRun, index: number): Promise<void> => {
      const paths = runPaths(outDir, p);
      o.onEvent?.({ kind: "start", index, total, run: p });
      const teacherFiles = p.teachers.flatMap((t) =>
        t.kind === "file"
          ? [t.path]
          : t.ids.map((id) => runPaths(outDir, plan.find((q) => q.id === id)!).model),
      );
      const logBefore = fileState(paths.log);
      try {
        const rec = await runner.run(
          { planned: p, ...paths, teacherFiles },
          {
            onProgress: (progress) => o.onEvent?.({ kind: "progress", index, total, run: p, progress }),
            onEpoch: (epoch) => o.onEvent?.({ kind: "epoch", index, total, run: p, epoch }),
            onNote: (message) => o.onEvent?.({ kind: "note", message }),
          },
        );
        results.runs[p.id] = asPlanned(rec, p);
        if (!o.keepCheckpoints && paths.checkpoint) rmSync(paths.checkpoint, { force: true });
        o.onEvent?.({ kind: "done", index, total, run: p, seconds: rec.seconds });
      } catch (e) {
        if (!(e instanceof KdError) || e instanceof KdAbort) throw e;
        const message = e.message + failedLog(paths.log, logBefore);
        results.failed[p.id] = message;
        o.onEvent?.({ kind: "failed", index, total, run: p, message });
      }
      save();
    };
    const pending = plan.map((p, i) => ({ p, index: i + 1 }));
    while (pending.length > 0 || inFlight.size > 0) {
      for (let k = 0; k < pending.length && inFlight.size < limit; ) {
        const { p, index } = pending[k]!;
        if (!p.deps.every((d) => settled.has(d))) {
          k++;
          continue;
        }
        pending.splice(k, 1);
        // Finished in an earlier execution, or the same training as a run finished in this one.
        const done = finished.get(p.id) ?? copyTwin(outDir, plan, results, p);
        if (done) {
          results.runs[p.id] = done;
          o.onEvent?.({ kind: "reuse", index, total, run: p });
          settled.add(p.id);
          continue;
        }
        const failedDep = p.deps.find((d) => results.failed[d] !== undefined);
        if (failedDep) {
          results.failed[p.id] = `its teacher ${failedDep} failed`;
          o.onEvent?.({ kind: "failed", index, total, run: p, message: results.failed[p.id]! });
          settled.add(p.id);
          continue;
        }
        inFlight.set(
          p.id,
          startRun(p, index).finally(() => {
            inFlight.delete(p.id);
            settled.add(p.id);
          }),
        );
      }
      if (inFlight.size > 0) await Promise.race(inFlight.values());
      else if (pending.length > 0) throw new Error("planner: runs wait on runs that never ran");
    }
    await runAnalyses(loaded, results, catalog, outDir, o.threads);
  } finally {
    await runner.close?.();
  }
  results.finishedAt = new Date().toISOString();
  // One training per fingerprint, however many runs of the spec share it.
  const trained = new Map(Object.values(results.runs).map((r) => [r.fingerprint, r.seconds]));
  results.totalSeconds = [...trained.values()].reduce((a, s) => a + s, 0);
  save();
  if (persist) writeReports(outDir, loaded.spec, results, loaded.paper);
  return results;
}

async function runAnalyses(
  loaded: LoadedSpec,
  results: Results,
  data: DataCatalog,
  outDir: string,
  threads?: number,
): Promise<void> {
  const ctx: AnalysisContext = {
    records: (run, where) =>
      Object.values(results.runs).filter(
        (r) =>
          r.run === run &&
          Object.entries(where ?? {}).every(([k, v]) => JSON.stringify(r.point[k]) === JSON.stringify(v)),
      ),
    modelPath: (r) => (isAbsolute(r.model ?? "") ? r.model! : join(outDir, r.model ?? "")),
    data,
    ...(threads ? { threads } : {}),
  };
  for (const [name, a] of Object.entries(loaded.spec.analyses)) {
    const def = analysisDef(a);
    const missing = def.runs(a as never).filter((r) => ctx.records(r).length === 0);
    if (missing.length > 0) continue;
    try {
      results.analyses[name] = await def.compute(a as never, ctx);
    } catch (e) {
      if (!(e instanceof KdError)) throw e;
      results.analyses[name] = { error: e.message };
    }
  }
}
