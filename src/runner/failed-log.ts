/** A failed run's epoch log: named in its message when it holds epochs, removed when empty. */
import { rmSync, statSync } from "node:fs";

/** A file's size and modification time, or undefined when there is none. */
export function fileState(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * What a failed run's message says of the epoch log it wrote: where it is, when it holds epochs;
 * an empty one is removed. A log the run never touched (a failure before training) is left alone.
 */
export function failedLog(path: string, before: string | undefined): string {
  const now = fileState(path);
  if (now === undefined || now === before) return "";
  if (!now.startsWith("0:")) return `; its epochs so far are logged in ${path}`;
  rmSync(path, { force: true });
  return "";
}
