/**
 * A queue worker: takes run jobs from Redis, trains each with the in-process runner into the
 * shared store, and returns the run's record. A job whose record is already in the store returns
 * it untouched (at-least-once delivery is harmless); a run cut short by a killed worker is taken
 * again after its lock expires and resumes from its checkpoint in the store.
 */
import { mkdirSync, rmSync } from "node:fs";
import { type Job, type JobJson, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { RunRecord } from "../analyses/results.js";
import { DataCatalog } from "../data/sources.js";
import { teacherCacheFor } from "../distill/distill.js";
import { computeShard } from "../distill/shards.js";
import { KdAbort, KdError } from "../util/errors.js";
import { printable } from "../util/printable.js";
import { failedLog, fileState } from "./failed-log.js";
import { queueSecret, verifyJob } from "./job-auth.js";
import { type Job as KdJob, parseJob, type RunJobData, type ShardJobData } from "./jobs.js";
import { LocalRunner, teacherSpecFor } from "./local.js";
import { BAD_INPUT, type JobProgress, QUEUE_NAME } from "./queue.js";
import { bullConnection, closeWatch, connectRedis, type RedisTarget } from "./redis.js";
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
  /** The file holding the secret jobs are signed with (default: $KD_QUEUE_SECRET, else <store>/secret). */
  readonly secretFile?: string;
}

/** Progress updates sent to Redis at most this often (ms); epochs are always sent. */
const PROGRESS_EVERY_MS = 500;

/**
 * BullMQ's worker, except that a job whose data is not JSON reaches the processor (which refuses
 * it, so it fails) instead of throwing in the fetch loop, which left the job stuck without a word.
 */
class KdWorker extends Worker<unknown, RunRecord | string> {
  readonly unreadable = new WeakSet<Job>();

  protected override createJob(json: JobJson, jobId: string): Job<unknown, RunRecord | string> {
    try {
      return super.createJob(json, jobId);
    } catch {
      const job = super.createJob({ ...json, data: "null" }, jobId);
      this.unreadable.add(job);
      return job;
    }
  }
}

/** Text from Redis (a job's id) as it may appear in a log line: printable, bounded. */
const shown = (s: unknown): string =>
  String(s)
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 100);

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
  let worker: KdWorker | undefined;
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
  let secret: Buffer;
  try {
    store = new Store(o.store).init();
    secret = queueSecret({ store: store.root, ...(o.secretFile ? { secretFile: o.secretFile } : {}) });
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
  // Each admitted job's name in log lines; a refused job is named by its id alone.
  const labels = new WeakMap<Job, string>();
  worker = new KdWorker(
    QUEUE_NAME,
    async (job) => {
      const j = admit(job, secret, worker!.unreadable.has(job));
      const label =
        j.name === "shard"
          ? `${j.data.planned.id} teacher rows ${j.data.range.start}-${j.data.range.end}`
          : j.data.planned.id;
      labels.set(job, label);
      o.onEvent?.(`${label}: started (${shown(job.id)})`);
      return j.name === "shard"
        ? processShard(j.data, store, catalog(j.data), o)
        : processRun(job as Job<unknown, RunRecord>, j.data, store, catalog(j.data), o);
    },
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
  const what = (job: Job | undefined) => (job && labels.get(job)) ?? `job ${shown(job?.id)}`;
  worker.on("completed", (job) => o.onEvent?.(`${what(job)}: done`));
  worker.on("failed", (job, err) => {
    const msg = err.message.startsWith(BAD_INPUT) ? err.message.slice(BAD_INPUT.length) : err.message;
    o.onEvent?.(printable(`${what(job)}: failed: ${msg}`));
  });
  await worker.waitUntilReady();
  return {
    done,
    close: async () => {
      await stop(false);
      resolveDone();
    },
  };
}

/**
 * A job's checked payload: its signature first, before anything reads its data, then its shape.
 * A refused job fails at once as bad input, with a reason that quotes nothing from the job's data.
 */
function admit(job: Job, secret: Buffer, unreadable: boolean): KdJob {
  try {
    if (unreadable) throw new KdError("its data is not JSON");
    return parseJob(job.name, verifyJob(secret, String(job.name), job.data));
  } catch (e) {
    if (e instanceof KdError) throw new UnrecoverableError(`${BAD_INPUT}job refused: ${e.message}`);
    throw e;
  }
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
    const r = d.planned.spec;
    const cache = await teacherCacheFor(spec, catalog.get(r.train), r.objective);
    try {
      return await computeShard(store.shardDir, cache.parts, cache.temperature, d.range);
    } finally {
      await cache.release();
    }
  } catch (e) {
    if (e instanceof KdError) throw new UnrecoverableError(`${BAD_INPUT}${e.message}`);
    throw e;
  }
}

async function processRun(
  job: Job<unknown, RunRecord>,
  d: RunJobData,
  store: Store,
  catalog: DataCatalog,
  o: WorkerOptions,
): Promise<RunRecord> {
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
