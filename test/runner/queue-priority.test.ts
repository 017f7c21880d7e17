/** `kd run --priority`: workers take a client's jobs before or after other clients' by its number, FIFO within one. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PRIORITY, QUEUE_NAME } from "../../src/runner/queue.js";
import { bullConnection, parseRedisUrl } from "../../src/runner/redis.js";
import { kd } from "../helpers/cli.js";
import {
  hasRedis,
  type Proc,
  type RedisServer,
  spawnKd,
  startRedis,
  stopProc,
  waitFor,
} from "../helpers/redis.js";
import { writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-queue-priority-"));

/** A spec of one labels-only run `name` (no teacher: queued at once), one job per seed. */
function spec(name: string, seeds: number[]): string {
  return writeSpec(
    tmp,
    {
      name,
      data: {
        train: { source: { kind: "mnist", split: "train" }, first: 200 },
        test: { source: { kind: "mnist", split: "test" }, first: 100 },
      },
      runs: {
        [name]: {
          model: { kind: "mlp", hidden: [8] },
          train: "train",
          test: "test",
          lr: 0.1,
          epochs: 1,
          seeds,
        },
      },
    },
    `${name}.yaml`,
  );
}

describe.skipIf(!hasRedis())("kd run --priority", () => {
  let redis: RedisServer;
  const clients: Proc[] = [];
  let queue: Queue;

  beforeAll(async () => {
    redis = await startRedis();
    queue = new Queue(QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
  });
  afterAll(async () => {
    await Promise.all(clients.map(stopProc));
    await queue?.close();
    await redis?.stop();
  });

  it("a later client's jobs go ahead with a smaller number and behind with a larger one", async () => {
    const store = join(tmp, "store");
    // Queued in this order, with no worker yet: first (default), later-low (5000), later-high (1).
    const clientsInOrder: [string, number[], string[]][] = [
      ["first", [1, 2], []],
      ["low", [3], ["--priority", "5000"]],
      ["high", [4], ["--priority", "1"]],
    ];
    let queued = 0;
    for (const [name, seeds, flags] of clientsInOrder) {
      const c = spawnKd([
        "run",
        spec(name, seeds),
        "--redis",
        redis.url,
        "--store",
        store,
        "--out",
        join(tmp, name),
        "--no-progress",
        ...flags,
      ]);
      clients.push(c);
      queued += seeds.length;
      await waitFor(
        async () => (await queue.count()) >= queued || c.child.exitCode !== null,
        60_000,
        `${name}'s jobs queued`,
      );
      expect(c.child.exitCode, `${name}: ${c.stderr}`).toBeNull();
    }
    const jobs = await queue.getJobs(["prioritized", "waiting"]);
    expect(jobs.map((j) => j.opts.priority).sort()).toEqual(
      [1, 5000, DEFAULT_PRIORITY, DEFAULT_PRIORITY].sort(),
    );
    // Taken as a worker takes them.
    const taker = new Worker(QUEUE_NAME, null, {
      connection: bullConnection(parseRedisUrl(redis.url)),
      autorun: false,
    });
    const order: string[] = [];
    try {
      for (let i = 0; i < queued; i++) {
        const job = await taker.getNextJob(`taker-${i}`);
        order.push((job?.data as { planned?: { id: string } } | undefined)?.planned?.id ?? "none");
      }
    } finally {
      await taker.close(true);
    }
    expect(order).toEqual(["high@s4", "first@s1", "first@s2", "low@s3"]);
  }, 180_000);

  it("--priority without --redis, or out of range, is one line", () => {
    const f = spec("alone", [1]);
    const alone = kd(["run", f, "--priority", "3", "--out", join(tmp, "alone")]);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr.trim()).toBe("kd: --priority needs --redis (it orders the queue's jobs)");
    const zero = kd(["run", f, "--priority", "0", "--redis", redis.url, "--store", join(tmp, "s")]);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr.trim().split("\n")).toHaveLength(1);
    expect(zero.stderr).toMatch(/--priority/);
  });
});
