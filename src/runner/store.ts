/**
 * The shared artifact store that every worker reaches (a folder on a shared filesystem), laid out
 * by content: runs/<fingerprint>/{model.onnx, ckpt, log.jsonl, record.json}, blobs/<sha256>.onnx
 * for teacher files, cache/ for teacher logits, shards/<key>/ for sharded logits. Every write is
 * atomic, so a job delivered twice rewrites identical bytes and a reader never sees half a file.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { fsReason } from "../util/fs-errors.js";
import { safeMkdir } from "../util/paths.js";
import { type RunRecord, runRecordSchema } from "./results.js";

export class Store {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Creates the store's folders (one level at a time). */
  init(): this {
    for (const d of ["", "runs", "blobs", "cache", "shards"]) safeMkdir(join(this.root, d), "store");
    return this;
  }

  get cacheDir(): string {
    return join(this.root, "cache");
  }

  get shardDir(): string {
    return join(this.root, "shards");
  }

  /** A run's files, named by its fingerprint. */
  run(fingerprint: string) {
    if (!/^[0-9a-f]{8,64}$/.test(fingerprint)) throw new KdError(`store: bad fingerprint "${fingerprint}"`);
    const dir = join(this.root, "runs", fingerprint);
    return {
      dir,
      model: join(dir, "model.onnx"),
      checkpoint: join(dir, "ckpt"),
      log: join(dir, "log.jsonl"),
      record: join(dir, "record.json"),
    };
  }

  /** The finished run's record, or undefined while it has none (an unreadable one is an error). */
  readRecord(fingerprint: string): RunRecord | undefined {
    const p = this.run(fingerprint).record;
    if (!existsSync(p)) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(p, "utf8"));
    } catch (e) {
      throw new KdError(`store: ${p} cannot be read (${fsReason(e)})`);
    }
    const r = runRecordSchema.safeParse(raw);
    if (!r.success) throw new KdError(`store: ${p} is not a run record`);
    return r.data;
  }

  writeRecord(fingerprint: string, rec: RunRecord): void {
    writeFileAtomic(this.run(fingerprint).record, `${JSON.stringify(rec, null, 1)}\n`, "store record");
  }

  /** Removes a run's record, checkpoint and files, so it runs again (kd run --force). */
  forget(fingerprint: string): void {
    rmSync(this.run(fingerprint).dir, { recursive: true, force: true });
  }

  /** Copies a file into blobs/ under its SHA-256 (once), so workers on other machines can read it. */
  ingest(path: string, ext = ".onnx"): string {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new KdError(`${path}: cannot read it (${fsReason(e)})`);
    }
    const out = join(this.root, "blobs", `${createHash("sha256").update(bytes).digest("hex")}${ext}`);
    if (!existsSync(out)) writeFileAtomic(out, bytes, "store blob");
    return out;
  }
}

/** Copies `from` to `to` atomically (a reader of `to` sees the old file or the whole new one). */
export function copyAtomic(from: string, to: string, what = "output"): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(from);
  } catch (e) {
    throw new KdError(`${from}: cannot read it (${fsReason(e)})`);
  }
  writeFileAtomic(to, bytes, what);
}
