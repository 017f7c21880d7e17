/**
 * The queue's store is verified: a finished run tampered with in the store (model, log, record, or
 * a record that is not JSON) is refused with one line naming the artifact, by the coordinator and
 * by a worker (once, as bad input), and a teacher blob that does not match its name is written again.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Results } from "../../src/analyses/results.js";
import { DataCatalog } from "../../src/data/sources.js";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec, type RunEvent } from "../../src/runner/execute.js";
import { queueSecret, signJob } from "../../src/runner/job-auth.js";
import type { RunJobData } from "../../src/runner/jobs.js";
import { type PlannedRun, planSpec } from "../../src/runner/plan.js";
import { CRASH_ATTEMPTS, QUEUE_NAME, QueueRunner } from "../../src/runner/queue.js";
import { bullConnection, parseRedisUrl } from "../../src/runner/redis.js";
import { Store } from "../../src/runner/store.js";
import { type RunningWorker, startWorker } from "../../src/runner/worker.js";
import { KdError } from "../../src/util/errors.js";
import { hasRedis, type RedisServer, startRedis } from "../helpers/redis.js";
import { type SpecDoc, tinySpec, writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-store-"));

const kdObjective = { kind: "kd", temperature: 4, softWeight: 0.7 };
const spec: SpecDoc = tinySpec({
  name: "store",
  runs: {
    teacher: { model: { kind: "mlp", hidden: [16] }, epochs: 2, seed: 1 },
    distilled: {
      model: { kind: "mlp", hidden: [8] },
      teachers: ["teacher"],
      objective: kdObjective,
      epochs: 1,
      seed: 3,
    },
  },
});

describe.skipIf(!hasRedis())("the queue's store, tampered with", () => {
  let redis: RedisServer;
  let worker: RunningWorker;
  let queue: Queue;
  const store = new Store(join(tmp, "store"));
  const specFile = writeSpec(tmp, spec);
  let local: Results;
  let fp: { teacher: string; distilled: string };
  const originals = new Map<string, Buffer>();
  let outs = 0;

  /** Runs `file` on the queue into a fresh output folder; returns its results and notes. */
  async function queued(file = specFile) {
    const loaded = loadSpec(file);
    const runner = await QueueRunner.open({
      redis: parseRedisUrl(redis.url),
      store: store.root,
      datasets: loaded.spec.data,
      baseDir: loaded.baseDir,
    });
    const out = join(tmp, `out${++outs}`);
    const events: RunEvent[] = [];
    const results = await executeSpec(loaded, {
      outDir: out,
      threads: 1,
      runner,
      onEvent: (e) => events.push(e),
    });
    const notes = events.flatMap((e) => (e.kind === "note" ? [e.message] : []));
    return { results, notes, out };
  }

  /** Forgets the queue's finished and failed jobs, so the worker looks at the store again. */
  const forgetJobs = async () => {
    await queue.clean(0, 0, "completed");
    await queue.clean(0, 0, "failed");
  };

  /** Queues the teacher's job straight to the worker (no coordinator checks, but signed) and waits for it to settle. */
  async function teacherJob() {
    const loaded = loadSpec(specFile);
    const catalog = new DataCatalog(loaded.spec.data, loaded.baseDir);
    const planned = planSpec(loaded.spec, catalog, loaded.baseDir).find(
      (p) => p.id === "teacher",
    ) as PlannedRun;
    const jobId = `run-${planned.fingerprint}`;
    await queue.remove(jobId);
    const data: RunJobData = {
      planned,
      datasets: loaded.spec.data,
      baseDir: loaded.baseDir,
      teacherFiles: [],
    };
    // Signed with the store's secret, as kd run signs its jobs (the worker refuses unsigned ones).
    const signed = signJob(queueSecret({ store: store.root }), "run", data);
    await queue.add("run", signed, {
      jobId,
      attempts: CRASH_ATTEMPTS,
      backoff: { type: "fixed", delay: 200 },
    });
    for (let t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 50))) {
      const state = await queue.getJobState(jobId);
      if (state === "failed" || state === "completed") break;
    }
    return (await queue.getJob(jobId))!;
  }

  const restore = () => {
    for (const [p, bytes] of originals) writeFileSync(p, bytes);
  };

  beforeAll(async () => {
    redis = await startRedis();
    queue = new Queue(QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    worker = await startWorker({ redis: parseRedisUrl(redis.url), store: store.root, threads: 1 });
    local = await executeSpec(loadSpec(specFile), { outDir: join(tmp, "local"), threads: 1 });
    const base = await queued();
    expect(base.results.failed).toEqual({});
    fp = { teacher: local.runs.teacher!.fingerprint, distilled: local.runs.distilled!.fingerprint };
    for (const f of Object.values(fp)) {
      const files = store.run(f);
      for (const p of [files.model, files.record, files.log]) originals.set(p, readFileSync(p));
    }
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    await redis?.stop();
  });

  /** The teacher is refused with one line matching `re`; its student is not trained from it. */
  const refused = (r: Awaited<ReturnType<typeof queued>>, re: RegExp) => {
    const msg = r.results.failed.teacher ?? "";
    expect(msg).toMatch(re);
    expect(msg).toContain(store.run(fp.teacher).dir);
    expect(msg).not.toContain("\n");
    expect(r.results.failed.distilled).toBe("its teacher teacher failed");
    expect(existsSync(join(r.out, "models", "teacher.onnx"))).toBe(false);
  };

  const flip = (p: string) => {
    const bytes = readFileSync(p);
    bytes[bytes.length >> 1]! ^= 1;
    writeFileSync(p, bytes);
  };

  const cases: [string, () => void, RegExp][] = [
    [
      "a flipped byte in the teacher's model.onnx",
      () => flip(store.run(fp.teacher).model),
      /model\.onnx does not match the digest in its record/,
    ],
    [
      "the teacher's model replaced by another run's model",
      () => copyFileSync(store.run(fp.distilled).model, store.run(fp.teacher).model),
      /model\.onnx does not match the digest in its record/,
    ],
    [
      "the teacher's record.json edited (errors + 10)",
      () => {
        const p = store.run(fp.teacher).record;
        const rec = JSON.parse(readFileSync(p, "utf8"));
        rec.test.errors += 10;
        writeFileSync(p, JSON.stringify(rec, null, 1));
      },
      /record\.json does not match its digest/,
    ],
    [
      "the teacher's record.json replaced by another run's",
      () => copyFileSync(store.run(fp.distilled).record, store.run(fp.teacher).record),
      /record\.json belongs to run [0-9a-f]+, not to this folder's/,
    ],
    [
      "the teacher's record.json not JSON",
      () => writeFileSync(store.run(fp.teacher).record, '{"id": "teacher", '),
      /record\.json is not JSON/,
    ],
    [
      "the teacher's log.jsonl edited",
      () => writeFileSync(store.run(fp.teacher).log, "{}\n"),
      /log\.jsonl does not match the digest in its record/,
    ],
  ];

  it.each(cases)(
    "%s: one line naming it, from the coordinator and from a worker (failed once, as bad input)",
    async (_, tamper, re) => {
      restore();
      tamper();
      refused(await queued(), re);
      const job = await teacherJob();
      expect(job.failedReason).toMatch(re);
      expect(job.attemptsMade).toBe(1);
    },
  );

  it("removing the damaged run's folder, as the line says, trains it again, though Redis keeps its finished job", async () => {
    restore();
    await forgetJobs();
    expect((await queued()).results.failed).toEqual({});
    expect(await queue.getJobState(`run-${fp.teacher}`)).toBe("completed");
    flip(store.run(fp.teacher).model);
    refused(await queued(), /model\.onnx does not match the digest in its record/);
    rmSync(store.run(fp.teacher).dir, { recursive: true });
    const r = await queued();
    expect(r.results.failed).toEqual({});
    const model = readFileSync(join(r.out, "models", "teacher.onnx"));
    expect(model.equals(readFileSync(join(tmp, "local", "models", "teacher.onnx")))).toBe(true);
    expect(store.finished(fp.teacher)?.model.equals(model)).toBe(true);
  });

  it("restored, the store is reused as it is: the same models as a local run", async () => {
    restore();
    await forgetJobs();
    const r = await queued();
    expect(r.results.failed).toEqual({});
    for (const id of ["teacher", "distilled"])
      expect(
        readFileSync(join(r.out, "models", `${id}.onnx`)).equals(
          readFileSync(join(tmp, "local", "models", `${id}.onnx`)),
        ),
      ).toBe(true);
  });

  it("a run that fails on the worker after an epoch names the epoch log it leaves in the store", async () => {
    const diverging = tinySpec({
      name: "diverging",
      // Fine for one epoch, then the learning rate jumps by 1e30 and the loss becomes NaN.
      runs: {
        late: { model: { kind: "mlp", hidden: [8] }, epochs: 3, lrSchedule: { kind: "exp", factor: 1e30 } },
      },
    });
    const r = await queued(writeSpec(tmp, diverging, "diverging.yaml"));
    const m = /; its epochs so far are logged in (\S+)$/.exec(r.results.failed.late ?? "");
    expect(m?.[1]).toMatch(new RegExp(`^${store.root}/runs/[0-9a-f]+/log\\.jsonl$`));
    expect(readFileSync(m![1]!, "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("a teacher blob replaced by another valid model is written again from the teacher file: the student learns from the right teacher", async () => {
    const teacherFile = join(tmp, "local", "models", "teacher.onnx");
    const fileSpec: SpecDoc = tinySpec({
      name: "blob",
      runs: {
        fromFile: {
          model: { kind: "mlp", hidden: [8] },
          teachers: [{ path: teacherFile }],
          objective: kdObjective,
          epochs: 1,
          seed: 5,
        },
      },
    });
    const file = writeSpec(tmp, fileSpec, "blob.yaml");
    const blob = store.ingest(teacherFile);
    writeFileSync(blob, readFileSync(join(tmp, "local", "models", "distilled.onnx")));
    const r = await queued(file);
    expect(r.results.failed).toEqual({});
    const ref = await executeSpec(loadSpec(file), { outDir: join(tmp, "blob-local"), threads: 1 });
    expect(
      readFileSync(join(r.out, ref.runs.fromFile!.model!)).equals(
        readFileSync(join(tmp, "blob-local", ref.runs.fromFile!.model!)),
      ),
    ).toBe(true);
    expect(r.notes).toContainEqual(
      expect.stringMatching(/blob .* does not match its SHA-256 name .*writing it again from/),
    );
    expect(readFileSync(blob).equals(readFileSync(teacherFile))).toBe(true);
  });
});

describe("store blobs", () => {
  it("a worker refuses a blob that does not match its name, and a teacher file outside the store's blobs", () => {
    const store = new Store(join(tmp, "blobs-only")).init();
    const file = join(tmp, "some.onnx");
    writeFileSync(file, "model bytes");
    const blob = store.ingest(file);
    expect(() => store.checkBlob(blob)).not.toThrow();
    writeFileSync(blob, "other bytes");
    expect(() => store.checkBlob(blob)).toThrow(/does not match its SHA-256 name/);
    expect(() => store.checkBlob(file)).toThrow(KdError);
    expect(() => store.checkBlob(file)).toThrow(/is not a blob of the store/);
  });
});
