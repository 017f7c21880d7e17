/**
 * The queue backend: each planned run becomes one BullMQ job on Redis, taken by any `kd worker`
 * that reaches the same store. The executor already starts a run only after its teachers are
 * done, so plain jobs (no flows) awaited through QueueEvents keep teacher → student order; the
 * job id is the run's fingerprint, so the same run is never queued twice.
 */
import { existsSync } from "node:fs";
import { type Job, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { RunRecord } from "../analyses/results.js";
import { augments } from "../data/augment.js";
import { DataCatalog } from "../data/sources.js";
import { type TeacherCache, teacherCacheFor } from "../distill/distill.js";
import { assembleShards, shardRanges } from "../distill/shards.js";
import type { Spec } from "../experiment/schema.js";
import { objective as obj } from "../objectives/index.js";
import type { EpochLog, Progress } from "../train/trainer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { KdAbort, KdError } from "../util/errors.js";
import { queueSecret, signJob } from "./job-auth.js";
import { jobProgressSchema, type RunJobData, type ShardJobData } from "./jobs.js";
import { type RunListener, type Runner, type RunTask, teacherSpecFor } from "./local.js";
import { bullConnection, closeWatch, connectRedis, type RedisTarget } from "./redis.js";
import { Store } from "./store.js";

export const QUEUE_NAME = "kd-runs";

/** Prefix of a failure caused by bad input (a KdError on the worker): final, never retried. */
export const BAD_INPUT = "kd-bad-input: ";

/** Attempts of a job that crashed (a bug, a killed process past the stall limit); bad input gets one. */
export const CRASH_ATTEMPTS = 3;

/**
 * A job's default place in the queue: workers take jobs of a smaller number first, and jobs of one
 * number in the order queued. Every kd job has one (BullMQ takes jobs without any before all
 * others), so `kd run --priority` can put a client's jobs ahead of or behind the default.
 */
export const DEFAULT_PRIORITY = 1000;
/** BullMQ's largest priority. */
export const MAX_PRIORITY = 2_097_151;

/** Sent by the worker through job progress. */
export type JobProgress = { readonly progress: Progress } | { readonly epoch: EpochLog };

export interface QueueRunnerOptions {
  readonly redis: RedisTarget;
  readonly store: string;
  readonly datasets: Spec["data"];
  readonly baseDir: string;
  readonly stepsPerRun?: number;
  /**
   * Transfer sets with more rows than this have their teacher logits computed by several shard
   * jobs (about this many rows each) before the run; undefined: never sharded.
   */
  readonly shardRows?: number;
  /** Forget finished jobs and store records of the spec's runs first (kd run --force). */
  readonly force?: boolean;
  /** The file holding the secret jobs are signed with (default: $KD_QUEUE_SECRET, else <store>/secret). */
  readonly secretFile?: string;
  /** Workers take jobs of a smaller number first (1 to MAX_PRIORITY; default DEFAULT_PRIORITY). */
  readonly priority?: number;
}

export class QueueRunner implements Runner {
  /** Runs in flight at once: as many as the workers take; the executor still orders teachers first. */
  readonly concurrency = 10_000;
  private readonly listeners = new Map<string, RunListener>();
  private catalog: DataCatalog | undefined;
  private lostMessage: string | undefined;
  private rejectLost: ((e: Error) => void) | undefined;
  private readonly lost: Promise<never>;

  private constructor(
    private readonly o: QueueRunnerOptions,
    readonly store: Store,
    private readonly secret: Buffer,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly watch: Redis,
  ) {
    this.lost = new Promise<never>((_, reject) => {
      this.rejectLost = reject;
    });
    this.lost.catch(() => {});
    events.on("progress", ({ jobId, data }) => {
      const l = this.listeners.get(jobId);
      const p = l && jobProgressSchema.safeParse(data);
      if (!p?.success) return;
      // An undefined accuracy arrives as a missing key (JSON): the same to every reader.
      const d = p.data as JobProgress;
      if ("progress" in d) l?.onProgress?.(d.progress);
      else l?.onEpoch?.(d.epoch);
    });
  }

  /** Connects (one clear line when Redis is unreachable) and opens the store. */
  static async open(o: QueueRunnerOptions): Promise<QueueRunner> {
    let runner: QueueRunner | undefined;
    let lostEarly: string | undefined;
    const watch = await connectRedis(o.redis, (msg) => {
      if (runner) runner.fail(msg);
      else lostEarly = msg;
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
    const connection = bullConnection(o.redis);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    // Errors surface through the watchdog (lost for good) or the job's own failure.
    queue.on("error", () => {});
    events.on("error", () => {});
    // Every awaited job adds a "closing" listener to both until it finishes, and a spec keeps all
    // its runnable runs in flight (a sweep: dozens), so Node's leak warning at 10 would be noise.
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    runner = new QueueRunner(o, store, secret, queue, events, watch);
    if (lostEarly) runner.fail(lostEarly);
    await Promise.race([events.waitUntilReady(), runner.lost]);
    return runner;
  }

  private fail(message: string): void {
    if (this.lostMessage) return;
    this.lostMessage = message;
    this.rejectLost?.(new KdAbort(message));
  }

  async run(task: RunTask, listener: RunListener): Promise<RunRecord> {
    const p = task.planned;
    if (this.lostMessage) throw new KdAbort(this.lostMessage);
    const blobs = task.teacherFiles.map((f) => this.store.ingest(f, listener.onNote));
    const data: RunJobData = {
      planned: p,
      datasets: this.o.datasets,
      baseDir: this.o.baseDir,
      teacherFiles: blobs,
      ...(this.o.stepsPerRun ? { stepsPerRun: this.o.stepsPerRun } : {}),
    };
    const jobId = `run-${p.fingerprint}`;
    this.listeners.set(jobId, listener);
    try {
      // Messages name the user's teacher files, not their copies in the store.
      const named = (m: string) => blobs.reduce((s, b, i) => s.split(b).join(task.teacherFiles[i]!), m);
      // A damaged finished run is refused here, before any job: a worker's refusal would stay final
      // in Redis, and removing the run's folder, as the line says, must be enough to redo it.
      if (!this.o.force) this.store.finished(p.fingerprint);
      await Promise.race([this.shardTeacher(data, named), this.lost]);
      await Promise.race([this.submit(jobId, data, named), this.lost]);
      // The store's files are what get copied, so they are checked again, against their record.
      let done = this.store.finished(p.fingerprint);
      if (!done) {
        // Redis kept the finished job of a run whose folder was removed since: run it again.
        await this.queue.remove(jobId);
        await Promise.race([this.submit(jobId, data, named), this.lost]);
        done = this.store.finished(p.fingerprint);
      }
      if (!done) throw new KdError(`store: run ${p.fingerprint} has no record.json after its job finished`);
      writeFileAtomic(task.model, done.model, "model");
      writeFileAtomic(task.log, done.log, "log");
      return { ...done.record, model: task.recordedModel };
    } finally {
      this.listeners.delete(jobId);
    }
  }

  /**
   * Computes a distilled run's teacher-logit cache in shards on the workers, then assembles it in
   * the store, where the run's worker finds it. Skipped when the cache exists, when the teachers run
   * live (augmented batches, cache off) and for small transfer sets.
   */
  private async shardTeacher(data: RunJobData, named: (m: string) => string): Promise<void> {
    const r = data.planned.spec;
    if (!this.o.shardRows || !obj.teacher(r.objective) || !r.cache || augments(r)) return;
    this.catalog ??= new DataCatalog(this.o.datasets, this.o.baseDir);
    const train = this.catalog.get(r.train);
    const ranges = shardRanges(train.n, Math.ceil(train.n / this.o.shardRows));
    if (ranges.length < 2) return;
    let cache: TeacherCache;
    try {
      cache = await teacherCacheFor(
        teacherSpecFor(data.planned, data.teacherFiles, undefined),
        train,
        r.objective,
      );
    } catch (e) {
      throw e instanceof KdError ? new KdError(named(e.message)) : e;
    }
    try {
      if (existsSync(cache.path(this.store.cacheDir))) return;
      const key = cache.key();
      const jobs = await Promise.all(
        ranges.map((range) =>
          this.enqueue(
            "shard",
            { ...data, range } satisfies ShardJobData,
            `shard-${key.slice(0, 24)}-${range.start}-${range.end}`,
          ),
        ),
      );
      await Promise.all(jobs.map((j) => this.finished(j, data.planned.id, named)));
      assembleShards(this.store.cacheDir, this.store.shardDir, cache.parts, ranges);
    } finally {
      await cache.release();
    }
  }

  /**
   * Queues a job signed with the queue's secret. A job of this id left failed in an earlier
   * coordinator's time (a crash, bad input, or refused by the workers: signed with another secret,
   * or not ours at all) is replaced by this one, so a rerun tries again with this run's data.
   */
  private async enqueue(
    name: "run" | "shard",
    payload: RunJobData | ShardJobData,
    jobId: string,
  ): Promise<Job> {
    const data = signJob(this.secret, name, payload);
    const opts = {
      jobId,
      attempts: CRASH_ATTEMPTS,
      backoff: { type: "fixed", delay: 1000 },
      priority: this.o.priority ?? DEFAULT_PRIORITY,
    };
    const job = await this.queue.add(name, data, opts);
    if ((await job.getState()) !== "failed") return job;
    // A worker may have taken a twin coordinator's replacement meanwhile: then that one is awaited.
    await this.queue.remove(jobId).catch(() => {});
    return this.queue.add(name, data, opts);
  }

  private async finished(job: Job, id: string, named: (m: string) => string): Promise<unknown> {
    try {
      return await job.waitUntilFinished(this.events);
    } catch (e) {
      if (this.lostMessage) throw new KdAbort(this.lostMessage);
      const msg = String((e as Error).message ?? e);
      if (msg.startsWith(BAD_INPUT)) throw new KdError(named(msg.slice(BAD_INPUT.length)));
      throw new KdError(
        `run ${id} failed on the workers after ${CRASH_ATTEMPTS} attempts: ${named(msg.split("\n")[0] ?? "")}`,
      );
    }
  }

  private async submit(jobId: string, data: RunJobData, named: (m: string) => string): Promise<RunRecord> {
    if (this.o.force) {
      await this.queue.remove(jobId);
      this.store.forget(data.planned.fingerprint);
    }
    const job = await this.enqueue("run", data, jobId);
    return (await this.finished(job, data.planned.id, named)) as RunRecord;
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeWatch(this.watch);
    const force = this.lostMessage !== undefined;
    if (force) {
      // Bounded: clients of a dead server may never finish disconnecting.
      await Promise.race([
        Promise.allSettled([this.events.disconnect(), this.queue.disconnect()]),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      return;
    }
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }
}
