/** A throwaway redis-server on a free loopback port for queue tests (no persistence), and `kd worker` processes. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));

export const hasRedis = (): boolean => spawnSync("sh", ["-c", "command -v redis-server"]).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts redis-server (with `extraArgs`, e.g. --requirepass) and waits until it accepts connections (it prints "Ready to accept"). */
export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("Ready to accept")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const closed = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await closed;
    },
  };
}

export interface Proc {
  readonly child: ChildProcess;
  stderr: string;
}

/** `kd worker` on `url` and `store` (1 thread, 1 s locks), its stderr collected as it comes. */
export function spawnWorker(
  url: string,
  store: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Proc {
  return spawnKd(
    ["worker", "--redis", url, "--store", store, "--threads", "1", "--lock-ms", "1000", ...args],
    env,
  );
}

/** A `kd` process left running (a worker, a coordinator waiting on the queue), its stderr collected. */
export function spawnKd(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", bin, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, KD_DEBUG: "", ...env },
  });
  const p: Proc = { child, stderr: "" };
  child.stderr!.on("data", (b: Buffer) => {
    p.stderr += b.toString();
  });
  return p;
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const closed = new Promise((r) => p.child.once("close", r));
  p.child.kill("SIGTERM");
  await closed;
}
