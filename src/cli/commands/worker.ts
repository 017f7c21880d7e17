/** `kd worker --redis URL --store DIR`: take runs from the queue until stopped (SIGINT/SIGTERM). */
import type { Command } from "commander";
import { SECRET_FILE_HELP } from "../../runner/job-auth.js";
import { parseRedisUrl } from "../../runner/redis.js";
import { startWorker } from "../../runner/worker.js";
import { num } from "../options.js";

interface WorkerFlags {
  redis: string;
  store: string;
  concurrency?: number;
  threads?: number;
  lockMs?: number;
  quiet?: boolean;
  secretFile?: string;
}

export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("process runs queued by `kd run --redis` (models and checkpoints go to the shared store)")
    .requiredOption("--redis <url>", "the queue's Redis, e.g. redis://127.0.0.1:6379")
    .requiredOption("--store <dir>", "the shared artifact folder (the same for every worker and kd run)")
    .option("--concurrency <n>", "runs at once in this process", num({ int: true, min: 1, max: 256 }), 1)
    .option("--threads <n>", "ONNX Runtime threads per run", num({ int: true, min: 1, max: 256 }))
    .option(
      "--lock-ms <ms>",
      "a job's lock; a killed worker's run is taken again about this long after (default 30000)",
      num({ int: true, min: 200, max: 3_600_000 }),
    )
    .option("--secret-file <path>", SECRET_FILE_HELP)
    .option("--quiet", "no line per job")
    .action(async (f: WorkerFlags) => {
      const say = f.quiet ? undefined : (m: string) => process.stderr.write(`kd worker: ${m}\n`);
      const w = await startWorker({
        redis: parseRedisUrl(f.redis),
        store: f.store,
        ...(f.concurrency ? { concurrency: f.concurrency } : {}),
        ...(f.threads ? { threads: f.threads } : {}),
        ...(f.lockMs ? { lockMs: f.lockMs } : {}),
        ...(say ? { onEvent: say } : {}),
        ...(f.secretFile ? { secretFile: f.secretFile } : {}),
      });
      say?.(`waiting for runs on ${parseRedisUrl(f.redis).url} (store ${f.store})`);
      const stop = () => void w.close();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await w.done;
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
