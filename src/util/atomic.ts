/** Atomic file output: write to a temporary sibling, then rename, so readers never see half a file. */
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { KdError } from "./errors.js";

/** Fails early, with one clear line, when `path`'s folder does not exist. */
export function ensureWritableDir(path: string, what = "output"): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new KdError(`${what} ${path}: folder ${dir} does not exist`);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  ensureWritableDir(path);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new KdError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
