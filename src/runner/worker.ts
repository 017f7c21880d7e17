/**
 * A queue worker: takes run jobs from Redis, trains each with the in-process runner into the
 * shared store, and returns the run's record. A job whose record is already in the store returns
 * it untouched (at-least-once delivery is harmless); a run cut short by a killed worker is taken
 * again after its lock expires and resumes from its checkpoint in the store.
 */
import { mkdirSync, rmSync } from "node:fs";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { DataCatalog } from "../data/sources.js";
import { cacheSettings } from "../distill/distill.js";
import { computeShard } from "../distill/shards.js";
import { Teachers } from "../distill/teacher.js";
import { objective } from "../objectives/index.js";
import { KdAbort, KdError } from "../util/errors.js";
import { failedLog, fileState } from "./failed-log.js";
import { LocalRunner, teacherSpecFor } from "./local.js";
import { BAD_INPUT, type JobProgress, QUEUE_NAME, type RunJobData, type ShardJobData } from "./queue.js";
import { bullConnection, closeWatch, connectRedis, type RedisTarget } from "./redis.js";
import type { RunRecord } from "./results.js";
import { Store } from "./store.js";

export interface WorkerOptions {
  readonly redis: RedisTarget;
  readonly store: string;
  /** Jobs processed at once by this process (default 1). */
  readonly concurrency?: number;
  readonly threads?: number;
  /**
   * How long a job's lock lasts without renewal (ms, default 30 s): a killed worker's job is taken
   * again at most about this long after its death (the stall check runs every half of it).
   */
  readonly lockMs?: number;
  readonly onEvent?: (message: string) => void;
}

/** Progress updates sent to Redis at most this often (ms); epochs are always sent. */
const PROGRESS_EVERY_MS = 500;

export interface RunningWorker {
  /** Settles when the worker stops: resolves after close(), rejects when Redis is lost for good. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  let rejectDone: (e: Error) => void = () => {};
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  let worker: Worker | undefined;
  let watch: Redis | undefined;
  const stop = async (force: boolean) => {
    closeWatch(watch);
    // Bounded: a worker whose Redis is gone may never finish closing.
    await Promise.race([
      worker?.close(force).catch(() => {}),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
  };
  watch = await connectRedis(o.redis, (msg) => {
    void stop(true).then(() => rejectDone(new KdAbort(msg)));
  });
  let store: Store;
  try {
    store = new Store(o.store).init();
  } catch (e) {
    closeWatch(watch);
    throw e;
  }
  const catalogs = new Map<string, DataCatalog>();
  const catalog = (d: RunJobData) => {
    const key = JSON.stringify([d.datasets, d.baseDir]);
    let c = catalogs.get(key);
    if (!c) {
      // Datasets stay loaded between jobs of one spec; a new spec replaces them.
      catalogs.clear();
      c = new DataCatalog(d.datasets, d.baseDir);
      catalogs.set(key, c);
    }
    return c;
  };
  const lockDuration = o.lockMs ?? 30_000;
  worker = new Worker<RunJobData, RunRecord | string>(
    QUEUE_NAME,
    async (job) =>
      job.name === "shard"
        ? processShard(job.data as ShardJobData, store, catalog(job.data), o)
        : processRun(job as Job<RunJobData, RunRecord>, store, catalog(job.data), o),
    {
      connection: bullConnection(o.redis),
      concurrency: o.concurrency ?? 1,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      // A killed worker's job counts as stalled once; it is taken again up to CRASH_ATTEMPTS times.
      maxStalledCount: 3,
    },
  );
  worker.on("error", () => {});
  const what = (job: Job<RunJobData> | undefined) =>
    job?.name === "shard"
      ? `${job.data.planned.id} teacher rows ${(job.data as ShardJobData).range.start}-${(job.data as ShardJobData).range.end}`
      : (job?.data.planned.id ?? "?");
  worker.on("active", (job) => o.onEvent?.(`${what(job)}: started (${job.id})`));
  worker.on("completed", (job) => o.onEvent?.(`${what(job)}: done`));
  worker.on("failed", (job, err) => o.onEvent?.(`${what(job)}: failed: ${err.message}`));
  await worker.waitUntilReady();
  return {
    done,
    close: async () => {
      await stop(false);
      resolveDone();
    },
  };
}

/** Computes one shard of a run's teacher logits into the store (kept if already there). */
async function processShard(
  d: ShardJobData,
  store: Store,
  catalog: DataCatalog,
  o: WorkerOptions,
): Promise<string> {
  const spec = teacherSpecFor(d.planned, d.teacherFiles, o.threads);
  try {
    for (const f of d.teacherFiles) store.checkBlob(f);
    const teachers = await Teachers.load(spec);
    try {
      const T = objective.temperature(d.planned.spec.objective);
      const data = catalog.get(d.planned.spec.train);
      const parts = { teachers, data, settings: cacheSettings(teachers, spec, T) };
      return await computeShard(store.shardDir, parts, T, d.range);
    } finally {
      await teachers.release();
    }
  } catch (e) {
    if (e instanceof KdError) throw new UnrecoverableError(`${BAD_INPUT}${e.message}`);
    throw e;
  }
}

async function processRun(
  job: Job<RunJobData, RunRecord>,
  store: Store,
  catalog: DataCatalog,
  o: WorkerOptions,
): Promise<RunRecord> {
  const d = job.data;
  const fp = d.planned.fingerprint;
  const files = store.run(fp);
  const runner = new LocalRunner(catalog, {
    threads: o.threads,
    stepsPerRun: d.stepsPerRun,
    cacheDir: store.cacheDir,
  });
  let last = 0;
  const send = (p: JobProgress) => void job.updateProgress(p as object).catch(() => {});
  const logBefore = fileState(files.log);
  try {
    // A damaged record is bad input like any other: final at once, not retried as a crash.
    const finished = store.finished(fp);
    if (finished) return finished.record;
    for (const f of d.teacherFiles) store.checkBlob(f);
    mkdirSync(files.dir, { recursive: true });
    const rec = await runner.run(
      {
        planned: d.planned,
        model: files.model,
        checkpoint: files.checkpoint,
        log: files.log,
        teacherFiles: d.teacherFiles,
        recordedModel: files.model,
      },
      {
        onProgress: (progress) => {
          const now = Date.now();
          if (now - last < PROGRESS_EVERY_MS) return;
          last = now;
          send({ progress });
        },
        onEpoch: (epoch) => send({ epoch }),
        onNote: (m) => o.onEvent?.(`${d.planned.id}: ${m}`),
      },
    );
    store.writeRecord(fp, rec);
    rmSync(files.checkpoint, { force: true });
    return rec;
  } catch (e) {
    // Bad input fails the same way every time: final at once, with its one-line message.
    if (e instanceof KdError)
      throw new UnrecoverableError(`${BAD_INPUT}${e.message}${failedLog(files.log, logBefore)}`);
    throw e;
  }
}
