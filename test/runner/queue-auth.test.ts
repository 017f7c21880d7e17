/**
 * Queue jobs are not trusted: a worker takes only jobs signed with the queue's secret and shaped
 * like kd's, refuses the rest at once with one line that quotes nothing from any file, and a dead
 * Redis under a worker is its one clean line.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSchema } from "../../src/experiment/schema.js";
import { queueSecret, SECRET_ENV, signJob, verifyJob } from "../../src/runner/job-auth.js";
import { QUEUE_NAME } from "../../src/runner/queue.js";
import { bullConnection, PASSWORD_ENV, parseRedisUrl } from "../../src/runner/redis.js";
import { kd } from "../helpers/cli.js";
import {
  hasRedis,
  type Proc,
  type RedisServer,
  spawnWorker,
  startRedis,
  stopProc,
  waitFor,
} from "../helpers/redis.js";
import { writeSpec } from "../helpers/specs.js";

const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kd-queue-auth-"));
const SECRET = "the-workers-secret-0123456789";
const OTHER = "not-the-workers-secret-987654";
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

/** A shadow-like file: its first line would be a CSV header, and must never appear in a message. */
const shadow = file("shadow", "root:$6$TOPSECRET-hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");

/** A well-formed run job that trains on `shadow` as a CSV dataset. */
const forged = {
  planned: {
    id: "forged",
    run: "forged",
    point: {},
    seed: 1,
    spec: runSchema.parse({ model: { kind: "mlp", hidden: [8] }, train: "shadow", lr: 0.1, epochs: 1 }),
    teachers: [],
    deps: [],
    fingerprint: "0123456789abcdef",
  },
  datasets: { shadow: { source: { kind: "file", path: shadow, format: "csv" } } },
  baseDir: tmp,
  teacherFiles: [],
};

/** A one-run spec of a second's training. */
const spec = writeSpec(
  tmp,
  {
    name: "signed",
    data: {
      train: { source: { kind: "mnist", split: "train" }, first: 300 },
      test: { source: { kind: "mnist", split: "test" }, first: 100 },
    },
    runs: { s: { model: { kind: "mlp", hidden: [8] }, train: "train", test: "test", lr: 0.1, epochs: 1 } },
  },
  "signed.yaml",
);

describe.skipIf(!hasRedis())("queue jobs are checked before a worker touches them", () => {
  let redis: RedisServer;
  let w: Proc;
  const store = join(tmp, "store");

  beforeAll(async () => {
    redis = await startRedis();
    w = spawnWorker(redis.url, store, [], { [SECRET_ENV]: SECRET });
    await waitFor(() => w.stderr.includes("waiting"), 60_000, "the worker");
  });

  afterAll(async () => {
    if (w) await stopProc(w);
    await redis?.stop();
  });

  it("forged jobs (no HMAC, another secret's, data a string, a signed one of the wrong shape, data not JSON) fail at once, with one line each and no file content anywhere", async () => {
    const connection = bullConnection(parseRedisUrl(redis.url));
    const queue = new Queue(QUEUE_NAME, { connection });
    const raw = new Redis(parseRedisUrl(redis.url).options);
    const opts = (jobId: string) => ({ jobId, attempts: 3 });
    await queue.add("run", forged, opts("forged-nomac"));
    await queue.add("run", signJob(Buffer.from(OTHER), "run", forged), opts("forged-othermac"));
    await queue.add("run", "just a string", opts("string-data"));
    // Signed with the workers' secret, but not a job this kd makes (another version's, say).
    await queue.add(
      "run",
      signJob(Buffer.from(SECRET), "run", { ...forged, baseDir: 42 }),
      opts("bad-shape"),
    );
    // Stored as BullMQ stores a job, then its data replaced by bytes that are not JSON.
    const delayed = await queue.add("run", forged, { ...opts("not-json"), delay: 600_000 });
    await raw.hset(`bull:${QUEUE_NAME}:not-json`, "data", "not json{");
    await delayed.promote();

    const ids = ["forged-nomac", "forged-othermac", "string-data", "bad-shape", "not-json"];
    const failed = async () =>
      (await Promise.all(ids.map((id) => raw.zscore(`bull:${QUEUE_NAME}:failed`, id)))).every(
        (s) => s !== null,
      );
    await waitFor(failed, 30_000, "the forged jobs to fail");
    const reasons = await Promise.all(ids.map((id) => raw.hget(`bull:${QUEUE_NAME}:${id}`, "failedReason")));
    const unsigned =
      /^kd-bad-input: job refused: not signed with this queue's secret \(kd run and every kd worker need the same KD_QUEUE_SECRET, --secret-file or store\)$/;
    expect(reasons).toEqual([
      expect.stringMatching(unsigned),
      expect.stringMatching(unsigned),
      expect.stringMatching(unsigned),
      expect.stringMatching(/^kd-bad-input: job refused: not a kd run job: baseDir: /),
      "kd-bad-input: job refused: its data is not JSON",
    ]);
    // Final at once: one attempt each, nothing left waiting.
    for (const id of ids) expect(await raw.hget(`bull:${QUEUE_NAME}:${id}`, "atm"), id).toBe("1");
    expect(await raw.llen(`bull:${QUEUE_NAME}:wait`)).toBe(0);
    await waitFor(() => ids.every((id) => w.stderr.includes(`job ${id}:`)), 10_000, "the worker's lines");
    for (const id of ids)
      expect(
        w.stderr.split("\n").filter((l) => l.includes(id)),
        id,
      ).toEqual([expect.stringMatching(new RegExp(`^kd worker: job ${id}: failed: job refused: `))]);
    expect(w.stderr).not.toMatch(/TOPSECRET|root:|started/);
    expect(reasons.join("\n")).not.toMatch(/TOPSECRET|root:/);
    raw.disconnect();
    await queue.close();
  });

  it("kd run with another secret fails its run with one line; with the worker's secret (a file beside the env) it runs, replacing the refused job", () => {
    const run = (secret: string, out: string) =>
      kd([
        "run",
        spec,
        "--redis",
        redis.url,
        "--store",
        store,
        "--out",
        join(tmp, out),
        "--no-progress",
        "--secret-file",
        file(`${out}.secret`, `${secret}\n`),
      ]);
    const bad = run(OTHER, "other");
    expect(bad.code, bad.stderr).toBe(1);
    const failed = JSON.parse(readFileSync(join(tmp, "other", "results.json"), "utf8")).failed;
    expect(Object.values(failed)).toEqual([
      expect.stringMatching(/^job refused: not signed with this queue's secret /),
    ]);
    const good = run(SECRET, "same");
    expect(good.code, good.stderr).toBe(0);
    // The worker's own progress events pass the coordinator's check.
    expect(good.stderr).toMatch(/epoch 1\/1 - loss \d/);
    expect(Object.keys(JSON.parse(readFileSync(join(tmp, "same", "results.json"), "utf8")).runs)).toEqual([
      "s",
    ]);
  });

  it("a short secret is one line; kd run --secret-file needs --redis", () => {
    const short = file("short.secret", "hunter2\n");
    const r = kd(["worker", "--redis", redis.url, "--store", store, "--secret-file", short], 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`kd: ${short}: a queue secret needs at least 16 characters\n`);
    const f = kd(["run", spec, "--out", join(tmp, "x"), "--secret-file", short], 30_000);
    expect(f.code).toBe(1);
    expect(f.stderr).toBe("kd: --secret-file needs --redis (it signs the queue's jobs)\n");
  });
});

describe("the queue's secret and signatures", () => {
  it("without a file or KD_QUEUE_SECRET, the store's own secret is made once (mode 0600) and reused", () => {
    const env = process.env[SECRET_ENV];
    delete process.env[SECRET_ENV];
    try {
      const dir = mkdtempSync(join(tmp, "store-"));
      const a = queueSecret({ store: dir });
      expect(statSync(join(dir, "secret")).mode & 0o777).toBe(0o600);
      expect(queueSecret({ store: dir }).equals(a)).toBe(true);
      expect(a.length).toBeGreaterThanOrEqual(32);
    } finally {
      if (env !== undefined) process.env[SECRET_ENV] = env;
    }
  });

  it("a signed job verifies; a changed field, another kind or another secret does not", () => {
    const key = Buffer.from(SECRET);
    const signed = signJob(key, "run", forged);
    expect(verifyJob(key, "run", JSON.parse(JSON.stringify(signed)))).toEqual(
      JSON.parse(JSON.stringify(forged)),
    );
    const moved = { ...signed, baseDir: "/" };
    expect(() => verifyJob(key, "run", moved)).toThrow(/not signed/);
    expect(() => verifyJob(key, "shard", signed)).toThrow(/not signed/);
    expect(() => verifyJob(Buffer.from(OTHER), "run", signed)).toThrow(/not signed/);
  });
});

describe.skipIf(!hasRedis())("events on Redis are not trusted either", () => {
  it("kd run shows only well-formed progress events: a forged one cannot write terminal escapes into its output", async () => {
    const lone = await startRedis();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        bin,
        "run",
        spec,
        "--redis",
        lone.url,
        "--store",
        join(tmp, "events"),
        "--out",
        join(tmp, "ev"),
        "--no-progress",
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, KD_DEBUG: "" } },
    );
    const p: Proc = { child, stderr: "" };
    child.stderr!.on("data", (b: Buffer) => {
      p.stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    const raw = new Redis(parseRedisUrl(lone.url).options);
    let jobId: string | undefined;
    await waitFor(
      async () => {
        // Every kd job has a priority, so it waits in BullMQ's prioritized set.
        jobId = (await raw.zrange(`bull:${QUEUE_NAME}:prioritized`, "0", "0"))[0];
        return jobId !== undefined;
      },
      60_000,
      "the job",
    );
    const event = (data: unknown) =>
      raw.xadd(
        `bull:${QUEUE_NAME}:events`,
        "*",
        "event",
        "progress",
        "jobId",
        jobId!,
        "data",
        JSON.stringify(data),
      );
    const epoch = { epoch: 1, loss: 0.5, parts: {}, trainAccuracy: 0.9, evalErrors: 7, evalAccuracy: 0.93 };
    // Sent again until one arrives: kd run may not be reading events yet when the job is queued.
    await waitFor(
      async () => {
        const rest = { lr: 0.1, momentum: 0.9, seconds: 1, examplesPerSec: 300 };
        await event({ epoch: { epoch: 1 } });
        await event({ epoch: { ...epoch, ...rest, loss: 0.25, parts: { "\u001b[2J": 1, b: 2 } } });
        await event({ epoch: { ...epoch, ...rest } });
        await new Promise((r) => setTimeout(r, 300));
        return p.stderr.includes("epoch 1/1 - loss 0.5000");
      },
      10_000,
      "the well-formed event's line",
    );
    raw.disconnect();
    child.kill("SIGKILL");
    await exited;
    await lone.stop();
    expect(p.stderr).not.toContain("\u001b");
    expect(p.stderr).not.toContain("loss 0.2500");
  });
});

describe("Redis with a password", () => {
  it("rediss:// (TLS) and passwords parse; a message never shows the password", () => {
    const t = parseRedisUrl("rediss://kd:pa%40ss@example.org:6380/2");
    expect(t.url).toBe("rediss://example.org:6380/2");
    expect(t.options).toMatchObject({
      host: "example.org",
      port: 6380,
      db: 2,
      username: "kd",
      password: "pa@ss",
    });
    expect(t.options.tls).toEqual({});
    expect(parseRedisUrl("redis://h").options.tls).toBeUndefined();
    for (const url of ["redis://kd:hunter2@h/x", "redis://kd:hun/t@er2@h/x"]) {
      let msg = "";
      try {
        parseRedisUrl(url);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/^--redis "redis:\/\/h\/x": (database must be a number|not a URL)/);
      expect(msg).not.toContain("hun");
    }
  });

  it.skipIf(!hasRedis())(
    "kd worker reaches a requirepass Redis with KD_REDIS_PASSWORD; without it, or with a wrong one, it says so in one line",
    async () => {
      const pw = "redis-password-for-test";
      const locked = await startRedis(["--requirepass", pw]);
      try {
        const r = kd(["worker", "--redis", locked.url, "--store", join(tmp, "locked")], 30_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          `kd: cannot reach Redis at ${locked.url}: it needs a password (KD_REDIS_PASSWORD, or redis://:PASSWORD@HOST)\n`,
        );
        const wrong = kd([
          "worker",
          "--redis",
          locked.url.replace("//", "//:nope@"),
          "--store",
          join(tmp, "locked"),
        ]);
        expect(wrong.stderr).toBe(`kd: cannot reach Redis at ${locked.url}: wrong user name or password\n`);
        const w = spawnWorker(locked.url, join(tmp, "locked"), [], { [PASSWORD_ENV]: pw });
        await waitFor(() => w.stderr.includes("waiting") || w.child.exitCode !== null, 60_000, "the worker");
        await stopProc(w);
        expect(w.stderr).toBe(
          `kd worker: waiting for runs on ${locked.url} (store ${join(tmp, "locked")})\n`,
        );
      } finally {
        await locked.stop();
      }
    },
  );
});

describe.skipIf(!hasRedis())("Redis killed under a worker", () => {
  it("the worker prints its clean line and exits 1, with no ioredis stack", async () => {
    const lone = await startRedis();
    const w = spawnWorker(lone.url, join(tmp, "lone"));
    const exited = new Promise<number | null>((r) => w.child.once("close", (code) => r(code)));
    await waitFor(() => w.stderr.includes("waiting"), 60_000, "the worker");
    await lone.stop();
    expect(await exited).toBe(1);
    expect(w.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^kd worker: waiting for runs on /),
      expect.stringMatching(/^kd: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+: /),
    ]);
  });
});
