/**
 * The shared artifact store that every worker reaches (a folder on a shared filesystem), laid out
 * by content: runs/<fingerprint>/{model.onnx, ckpt, log.jsonl, record.json}, blobs/<sha256>.onnx
 * for teacher files, cache/ for teacher logits, shards/<key>/ for sharded logits. Every write is
 * atomic, so a job delivered twice rewrites identical bytes and a reader never sees half a file.
 * Everything read back is verified: record.json carries its own SHA-256 and its model's and log's,
 * blobs are named by theirs, and teacher-logit caches and shards carry one in their header.
 */
import { existsSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { type RunRecord, runRecordSchema } from "../analyses/results.js";
import { MAX_MODEL_BYTES } from "../runtime/model-file.js";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { sha256Hex as sha256 } from "../util/hash.js";
import { safeMkdir } from "../util/paths.js";

/** A record or log larger than this is not one kd wrote (750 epochs of history take about 250 KB). */
const MAX_RECORD_BYTES = 64 * 2 ** 20;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** What record.json carries besides the run record: its files' digests and its own. */
const digestsSchema = z.object({ modelSha256: hex64, logSha256: hex64, sha256: hex64 });

/** A finished run in the store: its record, and its model's and log's bytes, checked against it. */
export interface FinishedRun {
  readonly record: RunRecord;
  readonly model: Buffer;
  readonly log: Buffer;
}

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

  /**
   * The finished run's record with the verified bytes of its model and log, or undefined while
   * it has none. A record is trusted only whole: its own digest, its folder's fingerprint and the
   * digests of the files it names must all match; anything else is one line naming the artifact.
   * Refused, not retrained: a finished run is a result, not a cache, and quietly replacing it would
   * hide whatever damaged it (a disk, a hand edit, a stray writer); the line says how to redo it.
   */
  finished(fingerprint: string): FinishedRun | undefined {
    const f = this.run(fingerprint);
    if (!existsSync(f.record)) return undefined;
    const bad = (what: string, why: string): never => {
      throw new KdError(`store: ${what} ${why}; remove ${f.dir} (or use --force) to train the run again`);
    };
    const read = (path: string, what: string, max: number): Buffer => {
      try {
        return readInputFile(path, what, max);
      } catch (e) {
        return bad(`run ${fingerprint}:`, (e as Error).message);
      }
    };
    let raw: unknown;
    try {
      raw = JSON.parse(read(f.record, "run record", MAX_RECORD_BYTES).toString("utf8"));
    } catch (e) {
      if (e instanceof KdError) throw e;
      return bad(f.record, "is not JSON (corrupt)");
    }
    const digests = digestsSchema.safeParse(raw);
    if (!digests.success) return bad(f.record, "carries no digests (corrupt, or written by an older kd)");
    const { sha256: claimed, ...body } = raw as Record<string, unknown>;
    if (sha256(JSON.stringify(body)) !== claimed)
      return bad(f.record, "does not match its digest (edited or corrupt)");
    const rec = runRecordSchema.safeParse(body);
    if (!rec.success) return bad(f.record, "is not a run record");
    if (rec.data.fingerprint !== fingerprint)
      return bad(f.record, `belongs to run ${rec.data.fingerprint}, not to this folder's ${fingerprint}`);
    const checked = (path: string, what: string, max: number, digest: string): Buffer => {
      const bytes = read(path, what, max);
      return sha256(bytes) === digest ? bytes : bad(path, "does not match the digest in its record");
    };
    const model = checked(f.model, "model", MAX_MODEL_BYTES, digests.data.modelSha256);
    const log = checked(f.log, "log", MAX_RECORD_BYTES, digests.data.logSha256);
    return { record: rec.data, model, log };
  }

  /** Records a finished run, tied to the digests of its model and log as they are now. */
  writeRecord(fingerprint: string, rec: RunRecord): void {
    const f = this.run(fingerprint);
    const body = {
      ...rec,
      modelSha256: sha256(readInputFile(f.model, "model", MAX_MODEL_BYTES)),
      logSha256: sha256(readInputFile(f.log, "log", MAX_RECORD_BYTES)),
    };
    const text = JSON.stringify({ ...body, sha256: sha256(JSON.stringify(body)) }, null, 1);
    writeFileAtomic(f.record, `${text}\n`, "store record");
  }

  /** Removes a run's record, checkpoint and files, so it runs again (kd run --force). */
  forget(fingerprint: string): void {
    rmSync(this.run(fingerprint).dir, { recursive: true, force: true });
  }

  /**
   * Copies a teacher file into blobs/ under its SHA-256, so workers on other machines can read it.
   * A blob already there is checked against its name and, if damaged, written again from `path`.
   */
  ingest(path: string, onNote?: (msg: string) => void): string {
    const bytes = readInputFile(path, "teacher model", MAX_MODEL_BYTES);
    const out = join(this.root, "blobs", `${sha256(bytes)}.onnx`);
    if (existsSync(out)) {
      try {
        this.checkBlob(out);
        return out;
      } catch (e) {
        if (!(e instanceof KdError)) throw e;
        onNote?.(`${e.message}: writing it again from ${path}`);
      }
    }
    writeFileAtomic(out, bytes, "store blob");
    return out;
  }

  /** Refuses a teacher file that is not one of this store's blobs, or whose bytes do not match its name. */
  checkBlob(path: string): void {
    const name = /^([0-9a-f]{64})\.onnx$/.exec(basename(path));
    if (!name || resolve(dirname(path)) !== join(this.root, "blobs"))
      throw new KdError(`store: ${path} is not a blob of the store ${this.root}`);
    if (sha256(readInputFile(path, "teacher model", MAX_MODEL_BYTES)) !== name[1])
      throw new KdError(`store: blob ${path} does not match its SHA-256 name (corrupt or replaced)`);
  }
}
