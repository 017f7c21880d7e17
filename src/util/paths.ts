/**
 * Paths the user (or an untrusted file) names: folders created one level at a time, output paths
 * checked before any work, and relative paths kept inside the folder they belong to.
 */
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { KdError } from "./errors.js";
import { fsErrorMessage, fsReason } from "./fs-errors.js";

/** stat, or undefined when the path does not exist (or, with `notDirMissing`, crosses a file). */
function statOrUndefined(path: string, notDirMissing = false): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || (notDirMissing && code === "ENOTDIR")) return undefined;
    throw new KdError(fsErrorMessage(e, path));
  }
}

/**
 * Creates folder `dir` and any missing parents, one level at a time, and stops at the first error
 * with one line naming the folder. (Node's recursive mkdirSync can loop forever on paths such as
 * /proc/self/x, where mkdir fails with ENOENT although the parent exists.) `what` names the folder
 * in messages, e.g. "cache folder".
 */
export function safeMkdir(dir: string, what = "folder"): void {
  if (dir.trim() === "") throw new KdError(`${what}: empty path`);
  const target = resolve(dir);
  // Walk up to the nearest existing ancestor: at most one step per path component.
  const missing: string[] = [];
  let cur = target;
  for (;;) {
    const st = statOrUndefined(cur, true);
    if (st !== undefined) {
      if (!st.isDirectory())
        throw new KdError(
          cur === target
            ? `${what} ${dir} is a file, not a folder`
            : `${what} ${dir}: ${cur} is not a folder`,
        );
      break;
    }
    missing.push(cur);
    const up = dirname(cur);
    if (up === cur) break; // the root itself is missing: mkdir below will say why
    cur = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && statOrUndefined(d)?.isDirectory()) continue;
      // ENOENT although the parent exists: a file system that holds no new folders (/proc, /sys).
      const why =
        (e as NodeJS.ErrnoException).code === "ENOENT" && statOrUndefined(dirname(d), true)?.isDirectory()
          ? "this file system does not allow new folders there"
          : fsReason(e);
      throw new KdError(`${what} ${dir}: cannot create ${d}: ${why}`);
    }
    // A folder that "exists" but cannot be listed as one (e.g. under /proc) ends here too.
    if (!statOrUndefined(d)?.isDirectory()) throw new KdError(`${what} ${dir}: cannot create ${d}`);
  }
}

/** realpath when the path exists; otherwise the real folder plus the name (undefined if neither). */
function canonical(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return undefined;
    }
  }
}

/**
 * Refuses an output path before any work is done: empty, an existing folder, a path whose folder is
 * missing or not a folder, or the same file as one of `inputs` (compared by real path, so a
 * symlink or `./` spelling does not hide it). `flag` names the option in messages.
 */
export function checkOutputPath(
  out: string,
  inputs: readonly (string | undefined)[] = [],
  flag = "--out",
): void {
  if (out.trim() === "") throw new KdError(`${flag}: empty path`);
  if (out.endsWith("/") || out.endsWith(sep)) throw new KdError(`${flag} ${out}: names a folder, not a file`);
  const st = statOrUndefined(out);
  if (st?.isDirectory()) throw new KdError(`${flag} ${out}: is a folder, not a file`);
  const dir = dirname(resolve(out));
  const dst = statOrUndefined(dir);
  if (dst === undefined) throw new KdError(`${flag} ${out}: folder ${dirname(out)} does not exist`);
  if (!dst.isDirectory()) throw new KdError(`${flag} ${out}: ${dirname(out)} is not a folder`);
  const real = canonical(out);
  for (const input of inputs) {
    if (input === undefined || input === "") continue;
    if (real !== undefined && canonical(input) === real)
      throw new KdError(`${flag} ${out} is the input file ${input}; write the result elsewhere`);
  }
}

/**
 * Checks every output of a run at once (e.g. `{ "--out": out, "--checkpoint": ckpt, "--log": log }`):
 * each passes checkOutputPath against `inputs`, and no two name the same file.
 */
export function checkOutputPaths(
  outputs: Readonly<Record<string, string | undefined>>,
  inputs: readonly (string | undefined)[] = [],
): void {
  const seen = new Map<string, string>();
  for (const [flag, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    checkOutputPath(path, inputs, flag);
    const real = canonical(path) ?? resolve(path);
    const other = seen.get(real);
    if (other !== undefined) throw new KdError(`${flag} ${path} is the same file as ${other}`);
    seen.set(real, `${flag} ${path}`);
  }
}

/** Whether `child` (an absolute, resolved path) lies inside folder `parent` (or is it). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Resolves `location`, read from an untrusted file, against `baseDir` and refuses anything that
 * leaves that folder: absolute paths, `..` components, and symlinks (of the file or a folder on the
 * way) that point outside it. Returns the real path of the existing file. `what` names the file
 * that holds the location, for messages.
 */
export function resolveInside(baseDir: string, location: string, what: string): string {
  const shown = JSON.stringify(location);
  if (location === "" || location.includes("\0"))
    throw new KdError(`${what}: refuses the path ${shown} (empty or not a file name)`);
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith("\\"))
    throw new KdError(`${what}: refuses the absolute path ${shown}; paths must be relative to its folder`);
  if (location.split(/[\\/]+/).includes(".."))
    throw new KdError(`${what}: refuses the path ${shown}, which leaves its folder`);
  let base: string;
  try {
    base = realpathSync(baseDir);
  } catch (e) {
    throw new KdError(fsErrorMessage(e, baseDir));
  }
  const full = resolve(base, location);
  if (!isInside(base, full)) throw new KdError(`${what}: refuses the path ${shown}, which leaves its folder`);
  let real: string;
  try {
    real = realpathSync(full);
  } catch (e) {
    throw new KdError(`${what}: ${shown}: ${fsReason(e)}`);
  }
  if (!isInside(base, real))
    throw new KdError(`${what}: refuses the path ${shown}, a link to a file outside its folder`);
  return real;
}
