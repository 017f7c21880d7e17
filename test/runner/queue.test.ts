/**
 * The queue backend against a real redis-server: two `kd worker` processes run a 6-run sweep, one
 * is SIGKILLed in the middle of a run, and every model still equals a local run's bit for bit;
 * bad input fails once; an unreachable or vanished Redis is one line and a non-zero exit.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";
import { QUEUE_NAME, QueueRunner } from "../../src/runner/queue.js";
import { bullConnection, parseRedisUrl } from "../../src/runner/redis.js";
import { Store } from "../../src/runner/store.js";
import { kd } from "../helpers/cli.js";
import { writeIntOnlyModel } from "../helpers/onnx-files.js";
import {
  hasRedis,
  type Proc,
  type RedisServer,
  startRedis,
  stopProc,
  waitFor,
  spawnWorker as worker,
} from "../helpers/redis.js";
import { writeSpec } from "../helpers/specs.js";

const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kd-queue-"));
const lines = (p: string) =>
  existsSync(p) ? readFileSync(p, "utf8").trim().split("\n").filter(Boolean).length : 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const data = {
  all: { source: { kind: "mnist", split: "train" } },
  train: { from: "all", take: { count: 1000, seed: 1 } },
  test: { source: { kind: "mnist", split: "test" }, first: 500 },
};
const EPOCHS = 12;

/** A 3 temperatures × 2 seeds sweep distilled from a teacher file. */
function sweep(teacher: string) {
  return {
    name: "sweep",
    data,
    runs: {
      distilled: {
        model: { kind: "mlp", hidden: [256, 256] },
        train: "train",
        test: "test",
        lr: 0.05,
        epochs: EPOCHS,
        batchSize: 50,
        teachers: [{ path: teacher }],
        objective: { kind: "kd", temperature: 4, softWeight: 0.7 },
        grid: { "objective.temperature": [2, 4, 8] },
        seeds: [1, 2],
      },
    },
  };
}

describe.skipIf(!hasRedis())("kd on BullMQ workers over Redis", () => {
  let redis: RedisServer;
  const workers: Proc[] = [];
  const store = join(tmp, "store");
  let teacher = "";

  beforeAll(async () => {
    redis = await startRedis();
    // The teacher file, made here by a local one-run spec.
    const tSpec = writeSpec(
      tmp,
      {
        name: "teacher",
        data,
        runs: {
          teacher: {
            model: { kind: "mlp", hidden: [64] },
            train: "train",
            test: "test",
            lr: 0.05,
            epochs: 3,
            batchSize: 50,
          },
        },
      },
      "teacher.yaml",
    );
    const r = await executeSpec(loadSpec(tSpec), { outDir: join(tmp, "teacher"), threads: 1 });
    teacher = join(tmp, "teacher", r.runs.teacher!.model!);
  });

  /** `kd run` of a spec file on this suite's Redis and store, into tmp/<out>. */
  const kdQueued = (specFile: string, out: string, ...flags: string[]) =>
    kd(["run", specFile, "--redis", redis.url, "--store", store, "--out", join(tmp, out), ...flags]);

  afterAll(async () => {
    await Promise.all(workers.map(stopProc));
    await redis?.stop();
  });

  it("two workers, one killed mid-run: all 6 runs arrive, bit-identical to a local run, nothing left active, stalled or run twice", async () => {
    const specFile = writeSpec(tmp, sweep(teacher), "sweep.yaml");
    const a = worker(redis.url, store);
    const b = worker(redis.url, store);
    workers.push(a, b);
    await waitFor(() => a.stderr.includes("waiting") && b.stderr.includes("waiting"), 60_000, "workers");

    const runner = await QueueRunner.open({
      redis: parseRedisUrl(redis.url),
      store,
      datasets: loadSpec(specFile).spec.data,
      baseDir: tmp,
    });
    const queued = executeSpec(loadSpec(specFile), { outDir: join(tmp, "queued"), threads: 1, runner });

    // Kill worker A once its first run has finished two epochs (and checkpointed), before its end.
    await waitFor(() => /started \(run-([0-9a-f]+)\)/.test(a.stderr), 60_000, "worker A to take a run");
    const fp = /started \(run-([0-9a-f]+)\)/.exec(a.stderr)![1]!;
    const files = new Store(store).run(fp);
    await waitFor(() => lines(files.log) >= 2 && existsSync(files.checkpoint), 60_000, "two epochs");
    a.child.kill("SIGKILL");
    const epochsAtKill = lines(files.log);
    expect(epochsAtKill).toBeLessThan(EPOCHS);
    expect(existsSync(files.record)).toBe(false);

    const results = await queued;
    // The killed run was taken again by worker B and resumed from its checkpoint in the store.
    expect(b.stderr).toContain(`started (run-${fp})`);
    expect(Object.keys(results.runs)).toHaveLength(6);
    expect(results.failed).toEqual({});

    // A local run of the same spec, same seeds, same thread count: the same bytes.
    const local = await executeSpec(loadSpec(specFile), { outDir: join(tmp, "local"), threads: 1 });
    for (const [id, rec] of Object.entries(local.runs)) {
      const q = results.runs[id]!;
      expect(q.fingerprint, id).toBe(rec.fingerprint);
      expect(q.test, id).toEqual(rec.test);
      expect(
        readFileSync(join(tmp, "queued", q.model!)).equals(readFileSync(join(tmp, "local", rec.model!))),
        id,
      ).toBe(true);
      // Each epoch logged once, resumed run included.
      expect(lines(new Store(store).run(rec.fingerprint).log), id).toBe(EPOCHS);
      expect(
        q.history.map((h) => h.epoch),
        id,
      ).toEqual(rec.history.map((h) => h.epoch));
    }

    // Redis: six completed jobs, none active, waiting, failed or stalled.
    const queue = new Queue(QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    const counts = await queue.getJobCounts(
      "active",
      "wait",
      "delayed",
      "failed",
      "completed",
      "prioritized",
    );
    await queue.close();
    expect(counts).toEqual({
      active: 0,
      wait: 0,
      delayed: 0,
      failed: 0,
      completed: 6,
      prioritized: 0,
    });
    const raw = new Redis(parseRedisUrl(redis.url).options);
    expect(await raw.scard(`bull:${QUEUE_NAME}:stalled`)).toBe(0);
    raw.disconnect();
  });

  it("a large transfer set's teacher logits are computed by shard jobs and assembled: the same cache file and model as one process", async () => {
    const spec = sweep(teacher);
    spec.name = "sharded";
    spec.data = { ...data, train: { from: "all", take: { count: 2500, seed: 1 } } };
    spec.runs.distilled.epochs = 1;
    spec.runs.distilled.grid = { "objective.temperature": [4] };
    spec.runs.distilled.seeds = [1];
    const specFile = writeSpec(tmp, spec, "sharded.yaml");
    const r = kdQueued(specFile, "sharded", "--shard-rows", "1000", "--no-progress");
    expect(r.code, r.stderr).toBe(0);
    const queue = new Queue(QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    const shards = (await queue.getCompleted()).filter((j) => j.name === "shard");
    await queue.close();
    expect(
      shards.map((j) => (j.data as { range: { start: number } }).range.start).sort((x, y) => x - y),
    ).toEqual([0, 1000, 2000]);
    const queued = JSON.parse(readFileSync(join(tmp, "sharded", "results.json"), "utf8")).runs;
    const rec = Object.values(queued)[0] as { teacher: string; model: string };
    expect(rec.teacher).toBe("cached (hit)");

    const local = await executeSpec(loadSpec(specFile), { outDir: join(tmp, "sharded-local"), threads: 1 });
    const lrec = Object.values(local.runs)[0]!;
    expect(lrec.teacher).toBe("cached (built)");
    const cacheName = readdirSync(join(tmp, "sharded-local", ".cache"))[0]!;
    expect(
      readFileSync(join(store, "cache", cacheName)).equals(
        readFileSync(join(tmp, "sharded-local", ".cache", cacheName)),
      ),
    ).toBe(true);
    expect(
      readFileSync(join(tmp, "sharded", rec.model)).equals(
        readFileSync(join(tmp, "sharded-local", lrec.model!)),
      ),
    ).toBe(true);
  });

  it("a spec with more runs in flight than Node's listener limit (12 at once) prints no leak warning", async () => {
    const w = worker(redis.url, store);
    workers.push(w);
    await waitFor(() => w.stderr.includes("waiting"), 60_000, "a worker");
    const spec = sweep(teacher);
    spec.name = "wide";
    spec.runs.distilled.epochs = 1;
    spec.runs.distilled.model.hidden = [8];
    spec.runs.distilled.grid = { "objective.temperature": [1, 2, 3, 4, 5, 6] };
    const specFile = writeSpec(tmp, spec, "wide.yaml");
    const r = kdQueued(specFile, "wide", "--no-progress");
    expect(r.code, r.stderr).toBe(0);
    expect(
      Object.keys(JSON.parse(readFileSync(join(tmp, "wide", "results.json"), "utf8")).runs),
    ).toHaveLength(12);
    expect(r.stderr).not.toMatch(/Warning/);
  });

  it("a run on bad input fails once (one attempt), with its message naming the user's file in the results and a non-zero exit", async () => {
    const bad = join(tmp, "argmax.onnx");
    writeIntOnlyModel(bad);
    const spec = sweep(bad) as ReturnType<typeof sweep> & { name: string };
    spec.name = "bad";
    spec.runs.distilled.grid = { "objective.temperature": [3] };
    spec.runs.distilled.seeds = [1];
    const specFile = writeSpec(tmp, spec, "bad.yaml");
    const r = kdQueued(specFile, "bad", "--no-progress");
    expect(r.code).toBe(1);
    const results = JSON.parse(readFileSync(join(tmp, "bad", "results.json"), "utf8"));
    const msg = Object.values(results.failed as Record<string, string>)[0]!;
    expect(msg).toMatch(/argmax\.onnx/);
    expect(msg).not.toContain("kd-bad-input");
    const queue = new Queue(QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    const failed = await queue.getFailed();
    await queue.close();
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(1);
  });

  it("Redis lost mid-run: one line and a non-zero exit, no hang", async () => {
    const lone = await startRedis();
    const specFile = writeSpec(tmp, { ...sweep(teacher), name: "lost" }, "lost.yaml");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        bin,
        "run",
        specFile,
        "--redis",
        lone.url,
        "--store",
        join(tmp, "lone"),
        "--out",
        join(tmp, "lost"),
        "--no-progress",
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, KD_DEBUG: "" } },
    );
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    // No worker takes the jobs: wait until they are queued, then take Redis away.
    const raw = new Redis(parseRedisUrl(lone.url).options);
    let queuedJobs = 0;
    const t0 = Date.now();
    while (queuedJobs === 0 && Date.now() - t0 < 60_000) {
      // Every kd job has a priority (DEFAULT_PRIORITY), so it waits in BullMQ's prioritized set.
      queuedJobs = await raw.zcard(`bull:${QUEUE_NAME}:prioritized`);
      await sleep(50);
    }
    raw.disconnect();
    expect(queuedJobs).toBeGreaterThan(0);
    // A worker that takes one of them loses Redis too.
    const w = worker(lone.url, join(tmp, "lone"));
    const wExited = new Promise<number | null>((r) => w.child.once("close", (code) => r(code)));
    await waitFor(() => w.stderr.includes("started"), 60_000, "the worker to take a run");
    const t1 = Date.now();
    await lone.stop();
    const code = await exited;
    expect(code).toBe(1);
    expect(await wExited).toBe(1);
    expect(Date.now() - t1).toBeLessThan(30_000);
    expect(w.stderr.trim().split("\n").at(-1)).toMatch(/^kd: lost the connection to Redis at /);
    expect(w.stderr).not.toContain("Unhandled error event");
    // Progress lines, then exactly one error line and no stack trace.
    const errLines = stderr.split("\n").filter((l) => l.startsWith("kd:") || /^\s+at /.test(l));
    expect(errLines).toEqual([
      expect.stringMatching(/^kd: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+: /),
    ]);
  });
});

describe("Redis unreachable", () => {
  it("kd run and kd worker say so in one line and exit non-zero", () => {
    const specFile = writeSpec(tmp, sweep("/nonexistent.onnx"), "unreachable.yaml");
    for (const args of [
      [
        "run",
        specFile,
        "--redis",
        "redis://127.0.0.1:1",
        "--store",
        join(tmp, "s1"),
        "--out",
        join(tmp, "u"),
      ],
      ["worker", "--redis", "redis://127.0.0.1:1", "--store", join(tmp, "s1")],
    ]) {
      const r = kd(args, 30_000);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr).toBe("kd: cannot reach Redis at redis://127.0.0.1:1: connection refused\n");
    }
    expect(existsSync(join(tmp, "s1"))).toBe(false);
  });

  it("flags that need each other are one line each", () => {
    const specFile = writeSpec(tmp, sweep("/nonexistent.onnx"), "flags.yaml");
    for (const [args, msg] of [
      [["--redis", "redis://127.0.0.1:1"], "kd: --redis needs --store DIR (the folder the workers share)\n"],
      [["--store", join(tmp, "s2")], "kd: --store needs --redis URL\n"],
      [["--shard-rows", "5"], "kd: --shard-rows needs --redis (shards run on the workers)\n"],
      [
        ["--redis", "http://x", "--store", join(tmp, "s2")],
        'kd: --redis "http://x": expected a redis:// or rediss:// (TLS) URL\n',
      ],
    ] as const) {
      const r = kd(["run", specFile, "--out", join(tmp, "f"), ...args], 30_000);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toBe(msg);
    }
  });
});
