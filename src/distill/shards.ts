/**
 * Teacher logits computed in shards (row ranges, one per job or machine) and assembled into the
 * same cache entry that `cachedLogits` writes in one process, byte for byte: shards start at
 * multiples of the classifier's batch, so every ONNX Runtime call sees the same rows.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "../data/dataset.js";
import { LOGITS_BATCH } from "../runtime/classifier.js";
import { writeFileAtomic } from "../util/atomic.js";
import { ensure, KdError } from "../util/errors.js";
import { safeMkdir } from "../util/paths.js";
import { type CacheKeyParts, cacheKey, cachePath, encodeEntry, readEntry } from "./cache.js";
import type { Teachers } from "./teacher.js";

export interface RowRange {
  readonly start: number;
  readonly end: number;
}

/** `n` rows in at most `shards` ranges, each starting at a multiple of `align` rows. */
export function shardRanges(n: number, shards: number, align = LOGITS_BATCH): RowRange[] {
  ensure(Number.isInteger(shards) && shards >= 1, `shards must be a whole number ≥ 1 (got ${shards})`);
  ensure(Number.isInteger(align) && align >= 1, `align must be a whole number ≥ 1 (got ${align})`);
  const blocks = Math.ceil(n / align);
  const per = Math.max(1, Math.ceil(blocks / shards));
  const out: RowRange[] = [];
  for (let b = 0; b < blocks; b += per) out.push({ start: b * align, end: Math.min(n, (b + per) * align) });
  return out;
}

/** The shard's file in `dir` (one folder per cache key). */
export function shardPath(dir: string, key: string, r: RowRange): string {
  return join(dir, key.slice(0, 24), `${r.start}-${r.end}.bin`);
}

const shardKey = (key: string, r: RowRange) => `${key}#${r.start}-${r.end}`;

/**
 * Computes one shard's logits and writes it (checksummed, atomically) under `dir`; returns its
 * path. A shard already there and valid is kept, so a job delivered twice does no work twice.
 */
export async function computeShard(
  dir: string,
  parts: CacheKeyParts,
  temperature: number,
  r: RowRange,
): Promise<string> {
  const { data, teachers } = parts;
  ensure(
    Number.isInteger(r.start) &&
      Number.isInteger(r.end) &&
      r.start >= 0 &&
      r.start < r.end &&
      r.end <= data.n,
    `shard ${r.start}-${r.end} is outside the ${data.n} rows of ${data.name}`,
  );
  const key = cacheKey(parts);
  const path = shardPath(dir, key, r);
  const c = teachers.numClasses;
  if (existsSync(path) && typeof readEntry(path, shardKey(key, r), r.end - r.start, c) !== "string")
    return path;
  const rows = await shardLogits(teachers, data, temperature, r);
  safeMkdir(join(dir, key.slice(0, 24)), "shard folder");
  writeFileAtomic(path, encodeEntry(shardKey(key, r), r.end - r.start, c, rows), "teacher shard");
  return path;
}

/** The logits of rows [start, end), as `Teachers.logits` computes them for the whole set. */
export function shardLogits(
  teachers: Teachers,
  data: Dataset,
  T: number,
  r: RowRange,
): Promise<Float32Array> {
  const f = data.features;
  return teachers.logits(data.x.subarray(r.start * f, r.end * f), r.end - r.start, T, data.rawScale);
}

/**
 * Joins the shards of `ranges` (which must cover every row in order) into the cache entry in
 * `cacheDir` that `cachedLogits` would have written; returns its path. A missing or corrupt
 * shard is one line naming it.
 */
export function assembleShards(
  cacheDir: string,
  shardDir: string,
  parts: CacheKeyParts,
  ranges: readonly RowRange[],
): string {
  const key = cacheKey(parts);
  const n = parts.data.n;
  const c = parts.teachers.numClasses;
  let next = 0;
  const all = new Float32Array(n * c);
  for (const r of ranges) {
    ensure(r.start === next && r.end > r.start, `shards must cover rows 0-${n} in order (gap at ${next})`);
    const p = shardPath(shardDir, key, r);
    const rows = readEntry(p, shardKey(key, r), r.end - r.start, c);
    if (typeof rows === "string") throw new KdError(`teacher shard ${p} ${rows}`);
    all.set(rows, r.start * c);
    next = r.end;
  }
  ensure(next === n, `shards cover rows 0-${next} of ${n}`);
  safeMkdir(cacheDir, "cache folder");
  const path = cachePath(cacheDir, key);
  writeFileAtomic(path, encodeEntry(key, n, c, all), "teacher cache");
  return path;
}
