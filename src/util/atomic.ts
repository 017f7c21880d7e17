/**
 * Atomic file output: write to a temporary sibling `<path>.<pid>.tmp`, then rename, so readers never
 * see half a file; temporaries that a killed kd left behind are removed by the next write.
 */
import { copyFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { KdError } from "./errors.js";
import { fsErrorMessage, fsReason } from "./fs-errors.js";

/** Fails early, with one clear line, when `path`'s folder does not exist or is not a folder. */
export function ensureWritableDir(path: string, what = "output"): void {
  if (path.trim() === "") throw new KdError(`${what}: empty path`);
  const dir = dirname(path);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new KdError(`${what} ${path}: folder ${dir} does not exist`);
    throw new KdError(`${what} ${path}: ${fsErrorMessage(e, dir)}`);
  }
  if (!isDir) throw new KdError(`${what} ${path}: ${dir} is not a folder`);
}

/**
 * This machine's name as it appears in temporary names: a folder shared by several machines (the
 * queue's store) must not take another machine's live temporary for a dead process's leftover.
 */
export const HOST_TAG =
  hostname()
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 32) || "host";

/** The temporary sibling this process writes `path` through: `<path>.<pid>.<host>.tmp`. */
export function tempPathFor(path: string, pid = process.pid): string {
  return `${path}.${pid}.${HOST_TAG}.tmp`;
}

/** Whether process `pid` is alive (a process we may not signal still counts as alive). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Removes `<path>.<pid>.tmp` files left by kd processes that died mid-write (their pid is no
 * longer running). Only kd's own pattern for this very path is touched; errors are ignored (a
 * leftover is untidy, not wrong). Returns the names removed.
 */
export function cleanStaleTemps(path: string): string[] {
  const dir = dirname(path);
  // `<name>.<pid>.tmp` (older kd) or `<name>.<pid>.<host>.tmp`; only this machine's pids can be checked.
  const re = new RegExp(`^${escapeRe(basename(path))}\\.(\\d{1,10})(?:\\.([A-Za-z0-9-]{1,32}))?\\.tmp$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (m[2] !== undefined && m[2] !== HOST_TAG) continue;
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      const full = join(dir, name);
      if (!statSync(full).isFile()) continue;
      rmSync(full, { force: true });
      removed.push(name);
    } catch {
      // Not ours to fuss over: the write itself reports real problems.
    }
  }
  return removed;
}

export function writeFileAtomic(path: string, data: Uint8Array | string, what = "output"): void {
  atomically(path, what, (tmp) => writeFileSync(tmp, data));
}

/** Copies `from` to `path` atomically (a copy stopped half-way is never seen at `path`). */
export function copyFileAtomic(from: string, path: string, what = "output"): void {
  atomically(path, what, (tmp) => copyFileSync(from, tmp));
}

/** Makes `path` by `write` into its temporary sibling, then a rename; one line naming `path` on failure. */
function atomically(path: string, what: string, write: (tmp: string) => void): void {
  ensureWritableDir(path, what);
  cleanStaleTemps(path);
  try {
    if (statSync(path).isDirectory()) throw new KdError(`cannot write ${path}: it is a folder`);
  } catch (e) {
    if (e instanceof KdError) throw e;
  }
  const tmp = tempPathFor(path);
  try {
    write(tmp);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing to remove where nothing could be written.
    }
    // The user knows `path`, not the temporary sibling the error names.
    throw new KdError(`cannot write ${path}: ${fsReason(e)}`);
  }
}
