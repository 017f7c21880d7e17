/** Runs a TypeScript file in a child Node with its memory capped, so a memory bomb fails fast instead of swapping. */
import { spawnSync } from "node:child_process";
import type { CliResult } from "./cli.js";

/**
 * Runs `script` (through tsx) with `args`: the V8 heap capped at 300 MB and the process's data
 * (ArrayBuffers included, which the heap cap misses) at `dataMb` through `ulimit -d`. KD_MAX_MEMORY
 * tells kd the same budget, so its own checks see it.
 */
export function runCapped(
  script: string,
  args: readonly string[],
  dataMb = 1024,
  timeoutMs = 60_000,
): CliResult {
  const r = spawnSync(
    "bash",
    [
      "-c",
      `ulimit -d ${dataMb * 1024} && exec "$@"`,
      "bash",
      process.execPath,
      "--max-old-space-size=300",
      "--import",
      "tsx",
      script,
      ...args,
    ],
    {
      encoding: "utf8",
      timeout: timeoutMs,
      env: { ...process.env, KD_MAX_MEMORY: String(dataMb * 1024 * 1024) },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
