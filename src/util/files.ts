/** Reading files the user names: regular files only, bounded in size, failures as one line. */
import { readFileSync, statSync } from "node:fs";
import { KdError } from "./errors.js";
import { fsErrorMessage } from "./fs-errors.js";
import { checkAllocation, formatBytes } from "./memory.js";

/** "a model", "an IDX file". */
const a = (noun: string): string => `${/^[aeiouAEIOU]|^(?:IDX|ONNX)/.test(noun) ? "an" : "a"} ${noun}`;

/**
 * The bytes of the regular file at `path`. A folder, a device or a pipe (/dev/zero, /dev/stdin,
 * which would never end) is refused, and so is a file larger than `maxBytes` or than memory.
 * `what` names the file's role in messages ("model", "checkpoint").
 */
export function readInputFile(path: string, what = "file", maxBytes = Number.POSITIVE_INFINITY): Buffer {
  if (path === "") throw new KdError(`${what}: empty path`);
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new KdError(`${path}: is a directory, not ${a(what)}`);
    if (!st.isFile()) throw new KdError(`${path}: not a regular file (a device or pipe), not ${a(what)}`);
    size = st.size;
  } catch (e) {
    if (e instanceof KdError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new KdError(`${path}: no such file`);
    throw new KdError(fsErrorMessage(e, path));
  }
  if (size > maxBytes)
    throw new KdError(
      `${path}: ${formatBytes(size)}, more than the ${formatBytes(maxBytes)} ${a(what)} may have`,
    );
  checkAllocation(size, `reading ${path}`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new KdError(fsErrorMessage(e, path));
  }
}
