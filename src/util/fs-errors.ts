/** Node's filesystem error codes in words: one place that turns EROFS/EISDIR/... into a user's line. */
import { KdError } from "./errors.js";

/** What each filesystem error code means to someone who typed the path. */
const FS_WORDS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or folder",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "a part of the path is not a folder",
  EEXIST: "already exists",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EBUSY: "resource busy",
  EIO: "input/output error",
  EXDEV: "cannot move across file systems",
  ENOTEMPTY: "folder not empty",
  EFBIG: "file too large",
  ETXTBSY: "file busy",
  EINVAL: "invalid path or argument",
  ENXIO: "no such device",
  ENODEV: "no such device",
  EAGAIN: "resource temporarily unavailable",
};

/** A Node error from the filesystem: a known `code` (and usually the `path` it concerned). */
export interface FsError extends Error {
  readonly code: string;
  readonly path?: string;
  readonly dest?: string;
}

/** Whether `e` is a filesystem error whose code we can put in words. */
export function isFsError(e: unknown): e is FsError {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && code in FS_WORDS;
}

/** The words for a filesystem error code (the code itself when unknown). */
export function fsWords(code: string): string {
  return FS_WORDS[code] ?? code;
}

/** Why a filesystem call failed, in words, without the path (the first line of any other error). */
export function fsReason(e: unknown): string {
  const err = e as Partial<FsError> | null;
  return typeof err?.code === "string" && err.code in FS_WORDS
    ? fsWords(err.code)
    : String(err?.message ?? e).split("\n")[0]!;
}

/**
 * One line for a filesystem failure: `<path>: <what went wrong>`. `path` is the path the user
 * knows (the error's own may be a temporary sibling); `action` says what kd was doing.
 */
export function fsErrorMessage(e: unknown, path?: string, action?: string): string {
  const err = e as Partial<FsError> | null;
  const words = fsReason(e);
  const where = path ?? err?.path;
  const doing = action ? `cannot ${action}: ` : "";
  return where ? `${where}: ${doing}${words}` : `${doing}${words}`;
}

/** A KdError for a filesystem failure (see fsErrorMessage); other errors pass through unchanged. */
export function fsError(e: unknown, path?: string, action?: string): Error {
  if (e instanceof KdError) return e;
  if (isFsError(e)) return new KdError(fsErrorMessage(e, path, action));
  return e as Error;
}
