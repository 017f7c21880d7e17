/** Runs the real `kd` entry point (TypeScript through tsx) in a child process. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function kd(args: readonly string[], timeoutMs = 120_000): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", bin, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, KD_DEBUG: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
