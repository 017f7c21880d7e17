/** Runs the real `kd` entry point (TypeScript through tsx) in a child process. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
/** tsx's loader by its full path, so that `kd` can run in another working folder. */
export const tsxLoader = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
/** The node arguments that run `kd`. */
export const kdArgs = (args: readonly string[]) => ["--import", tsxLoader, bin, ...args];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function kd(args: readonly string[], timeoutMs = 120_000, cwd?: string): CliResult {
  const r = spawnSync(process.execPath, kdArgs(args), {
    encoding: "utf8",
    ...(cwd ? { cwd } : {}),
    timeout: timeoutMs,
    env: { ...process.env, KD_DEBUG: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `kd ARGS` in a child process that cannot run away, for hostile inputs: at most 1 GB of data
 * memory (ulimit -d; Node's WebAssembly reservations rule out ulimit -v), a 256 MB heap, and a
 * timeout (`timedOut` says it struck).
 */
export function kdCapped(args: readonly string[], timeoutMs = 30_000): CliResult & { timedOut: boolean } {
  const r = spawnSync(
    "bash",
    [
      "-c",
      'ulimit -d 1000000; exec "$0" --max-old-space-size=256 --import tsx "$@"',
      process.execPath,
      bin,
      ...args,
    ],
    { encoding: "utf8", timeout: timeoutMs, env: { ...process.env, KD_DEBUG: "" } },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined };
}
