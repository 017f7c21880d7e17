/** The on-disk cache of teacher logits over a transfer set, keyed by everything they depend on. */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "../data/dataset.js";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import type { Teachers } from "./teacher.js";

const MAGIC = "KDTCACHE";

export interface CacheKeyParts {
  readonly teachers: Teachers;
  readonly data: Dataset;
  /** Settings that change the logits: ensemble mode, temperature (prob ensembles), output kind, names. */
  readonly settings: Record<string, unknown>;
}

/** sha256 over the teacher files, the transfer set's pixels and the settings. */
export function cacheKey(parts: CacheKeyParts): string {
  const h = createHash("sha256");
  for (const b of parts.teachers.fileBytes()) h.update(b);
  const { x } = parts.data;
  h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  h.update(JSON.stringify([parts.data.n, parts.data.features, parts.settings]));
  return h.digest("hex");
}

export type CacheStatus = "hit" | "built" | "rebuilt";

/**
 * Teacher logits for every row of `data`, from `dir` when a valid entry exists. A truncated file,
 * or one whose header names other inputs, is reported and rebuilt, never used.
 */
export async function cachedLogits(
  dir: string,
  parts: CacheKeyParts,
  compute: () => Promise<Float32Array>,
  onNote?: (msg: string) => void,
): Promise<{ logits: Float32Array; status: CacheStatus; path: string }> {
  const key = cacheKey(parts);
  const classes = parts.teachers.numClasses;
  const path = join(dir, `teacher-${key.slice(0, 24)}.bin`);
  let status: CacheStatus = "built";
  if (existsSync(path)) {
    const why = validate(readFileSync(path), key, parts.data.n, classes);
    if (typeof why !== "string") return { logits: why, status: "hit", path };
    onNote?.(`teacher cache ${path} ${why}: rebuilding it`);
    status = "rebuilt";
  }
  const logits = await compute();
  if (!logits.every(Number.isFinite))
    throw new KdError("the teacher produced non-finite logits on the transfer set");
  mkdirSync(dir, { recursive: true });
  const header = new TextEncoder().encode(JSON.stringify({ key, n: parts.data.n, classes }).padEnd(256));
  const buf = new Uint8Array(MAGIC.length + header.length + logits.byteLength);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  buf.set(header, MAGIC.length);
  buf.set(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength), MAGIC.length + header.length);
  writeFileAtomic(path, buf);
  return { logits, status, path };
}

/** The cached rows, or why they cannot be used. */
function validate(bytes: Buffer, key: string, n: number, classes: number): Float32Array | string {
  if (bytes.length < MAGIC.length + 256 || bytes.subarray(0, MAGIC.length).toString("latin1") !== MAGIC)
    return "is not a cache file";
  let header: { key?: string; n?: number; classes?: number };
  try {
    header = JSON.parse(bytes.subarray(MAGIC.length, MAGIC.length + 256).toString("utf8"));
  } catch {
    return "has a corrupt header";
  }
  if (header.key !== key || header.n !== n || header.classes !== classes) return "belongs to other inputs";
  const body = bytes.subarray(MAGIC.length + 256);
  if (body.length !== n * classes * 4) return `is truncated (${body.length} of ${n * classes * 4} bytes)`;
  const rows = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  if (!rows.every(Number.isFinite)) return "holds non-finite values";
  return rows;
}
