/** The on-disk cache of teacher logits over a transfer set, keyed by everything they depend on. */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Dataset } from "../data/dataset.js";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { fsReason } from "../util/fs-errors.js";
import { sha256Hex as sha256 } from "../util/hash.js";
import { checkAllocation } from "../util/memory.js";
import { safeMkdir } from "../util/paths.js";
import type { Teachers } from "./teacher.js";

/** Version 2 adds `sha256`, the SHA-256 of the body, to the header. */
const MAGIC = "KDTCACH2";
const HEADER_BYTES = 256;

const headerSchema = z.object({
  key: z.string(),
  n: z.number().int().nonnegative(),
  classes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

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
  // rawScale too: the same stored values read at another scale reach the teacher as other inputs.
  h.update(JSON.stringify([parts.data.n, parts.data.features, parts.data.rawScale ?? 1, parts.settings]));
  return h.digest("hex");
}

/** Where the entry for `key` lives in a cache folder. */
export function cachePath(dir: string, key: string): string {
  return join(dir, `teacher-${key.slice(0, 24)}.bin`);
}

export type CacheStatus = "hit" | "built" | "rebuilt";

/**
 * Teacher logits for every row of `data`, from `dir` when a valid entry exists. A truncated file,
 * one whose body does not match its checksum, or one whose header names other inputs, is reported
 * and rebuilt, never used. The folder is created one level at a time (see safeMkdir).
 */
export async function cachedLogits(
  dir: string,
  parts: CacheKeyParts,
  compute: () => Promise<Float32Array>,
  onNote?: (msg: string) => void,
): Promise<{ logits: Float32Array; status: CacheStatus; path: string }> {
  const key = cacheKey(parts);
  const classes = parts.teachers.numClasses;
  const path = cachePath(dir, key);
  checkAllocation(
    parts.data.n * classes * 4,
    `teacher logits for ${parts.data.n} examples × ${classes} classes`,
  );
  let status: CacheStatus = "built";
  safeMkdir(dir, "cache folder");
  if (existsSync(path)) {
    const why = readEntry(path, key, parts.data.n, classes);
    if (typeof why !== "string") return { logits: why, status: "hit", path };
    onNote?.(`teacher cache ${path} ${why}: rebuilding it`);
    status = "rebuilt";
  }
  const logits = await compute();
  if (!logits.every(Number.isFinite))
    throw new KdError("the teacher produced non-finite logits on the transfer set");
  writeFileAtomic(path, encodeEntry(key, parts.data.n, classes, logits), "teacher cache");
  return { logits, status, path };
}

/**
 * The rows of the entry at `path`, or why they cannot be used. Its size is checked first, so a
 * wrong-sized file (truncated, or a huge stray one) is never read whole.
 */
export function readEntry(path: string, key: string, n: number, classes: number): Float32Array | string {
  try {
    const size = statSync(path).size;
    const expected = MAGIC.length + HEADER_BYTES + n * classes * 4;
    if (size === expected) return validate(readFileSync(path), key, n, classes);
    return size < expected && size >= MAGIC.length + HEADER_BYTES
      ? `is truncated (${size - MAGIC.length - HEADER_BYTES} of ${expected - MAGIC.length - HEADER_BYTES} bytes)`
      : `has the wrong size (${size} bytes, expected ${expected})`;
  } catch (e) {
    return `cannot be read (${fsReason(e)})`;
  }
}

/** Layout: magic, a JSON header padded to 256 bytes (key, n, classes, body SHA-256), float32 rows. */
export function encodeEntry(key: string, n: number, classes: number, logits: Float32Array): Uint8Array {
  const body = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength);
  const json = JSON.stringify({ key, n, classes, sha256: sha256(body) });
  const header = new TextEncoder().encode(json.padEnd(HEADER_BYTES));
  if (header.length !== HEADER_BYTES) throw new Error(`cache header of ${header.length} bytes`);
  const buf = new Uint8Array(MAGIC.length + HEADER_BYTES + body.length);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  buf.set(header, MAGIC.length);
  buf.set(body, MAGIC.length + HEADER_BYTES);
  return buf;
}

/** The cached rows, or why they cannot be used. */
export function validate(bytes: Uint8Array, key: string, n: number, classes: number): Float32Array | string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + HEADER_BYTES || buf.subarray(0, MAGIC.length).toString("latin1") !== MAGIC)
    return "is not a cache file (or one from an older kd)";
  const parsed = (() => {
    try {
      return headerSchema.safeParse(
        JSON.parse(buf.subarray(MAGIC.length, MAGIC.length + HEADER_BYTES).toString("utf8")),
      );
    } catch {
      return undefined;
    }
  })();
  if (!parsed?.success) return "has a corrupt header";
  const header = parsed.data;
  if (header.key !== key || header.n !== n || header.classes !== classes) return "belongs to other inputs";
  const body = buf.subarray(MAGIC.length + HEADER_BYTES);
  if (body.length !== n * classes * 4) return `is truncated (${body.length} of ${n * classes * 4} bytes)`;
  if (sha256(body) !== header.sha256) return "does not match its checksum (corrupt)";
  const rows = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  if (!rows.every(Number.isFinite)) return "holds non-finite values";
  return rows;
}
