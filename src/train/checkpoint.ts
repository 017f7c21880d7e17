/** Checkpoints: parameters, optimizer state, epoch, RNG state and history in one atomically written file. */
import { createHash } from "node:crypto";
import { z } from "zod";
import { firstNonFinite } from "../data/checks.js";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";

/** Version 2 carries a SHA-256 of everything after it (header and tensors). */
const MAGIC = "KDCKPT02";
const OLD_MAGIC = "KDCKPT01";
/** Where the header starts: magic, u32 header length, 32-byte digest. */
const HEADER_START = MAGIC.length + 4 + 32;

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const u32 = z.number().int().min(0).max(0xffffffff);

/** One epoch's log line as the trainer writes it (see EpochLog in trainer.ts). */
const epochLogSchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    loss: z.number(),
    parts: z.record(z.string(), z.number()),
    trainAccuracy: z.number().nullable(),
    evalErrors: z.number().int().nonnegative().nullable(),
    evalAccuracy: z.number().nullable(),
    lr: finite,
    momentum: finite,
    seconds: z.number().nonnegative(),
    examplesPerSec: z.number().nonnegative(),
  })
  .loose();

const headerSchema = z.object({
  /** Identifies the run's configuration; a resume with another configuration is refused. */
  fingerprint: z.string(),
  /** What the fingerprint hashes (runner/identity.ts), so a refused resume can name what differs. */
  identity: z.record(z.string(), z.unknown()).optional(),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  rng: z.tuple([u32, u32, u32, u32]),
  history: z.array(epochLogSchema),
  /** Early stopping: the best epoch so far and its eval errors (its weights are tensors "best/..."). */
  best: z.object({ epoch: z.number().int().positive(), errors: z.number().nonnegative() }).optional(),
  tensors: z.array(
    z.object({
      name: z.string().min(1),
      length: z
        .number()
        .int()
        .nonnegative()
        .max(2 ** 32 - 1),
    }),
  ),
});
export type CheckpointHeader = z.infer<typeof headerSchema>;

export interface Checkpoint {
  readonly header: CheckpointHeader;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

/** The first problem zod found, as `path: message` (zod's own message is a multi-line JSON dump). */
function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return "invalid";
  const where = i.path.length ? i.path.join(".") : "header";
  return `${where}: ${i.message}`;
}

/**
 * Layout: magic, u32 header length, the SHA-256 of everything that follows it, the JSON header,
 * then the float32 tensors back to back (4-byte aligned).
 */
export function writeCheckpoint(
  path: string,
  header: Omit<CheckpointHeader, "tensors" | "history"> & {
    history: readonly Record<string, unknown>[];
  },
  tensors: ReadonlyMap<string, Float32Array>,
): void {
  const entries = [...tensors.entries()];
  const full = { ...header, tensors: entries.map(([name, t]) => ({ name, length: t.length })) };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const dataStart = align4(HEADER_START + json.length);
  const total = dataStart + entries.reduce((a, [, t]) => a + t.byteLength, 0);
  const buf = new Uint8Array(total);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(buf.buffer).setUint32(MAGIC.length, json.length, true);
  buf.set(json, HEADER_START);
  let off = dataStart;
  for (const [, t] of entries) {
    buf.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), off);
    off += t.byteLength;
  }
  buf.set(checkpointDigest(buf), MAGIC.length + 4);
  writeFileAtomic(path, buf, "checkpoint");
}

/** The SHA-256 a checkpoint's bytes carry: over everything after the digest itself. */
export function checkpointDigest(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes.subarray(HEADER_START)).digest();
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Reads and verifies a checkpoint: magic, the SHA-256 of header and tensors, header shape (zod),
 * sizes and finite values. Anything else is refused with one line naming the file.
 */
export function readCheckpoint(path: string): Checkpoint {
  const bytes = readInputFile(path, "checkpoint");
  const bad = (why: string): never => {
    throw new KdError(`${path}: not a valid kd checkpoint (${why})`);
  };
  if (bytes.length >= MAGIC.length && bytes.subarray(0, MAGIC.length).toString("latin1") === OLD_MAGIC)
    throw new KdError(`${path}: a checkpoint from an older kd without a checksum; remove it to start afresh`);
  if (bytes.length < HEADER_START || bytes.subarray(0, MAGIC.length).toString("latin1") !== MAGIC)
    bad("wrong magic");
  const len = bytes.readUInt32LE(MAGIC.length);
  if (HEADER_START + len > bytes.length) bad("truncated header");
  if (!Buffer.from(checkpointDigest(bytes)).equals(bytes.subarray(MAGIC.length + 4, HEADER_START)))
    throw new KdError(`${path}: checksum mismatch: the checkpoint is corrupt; remove it to start afresh`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.subarray(HEADER_START, HEADER_START + len).toString("utf8"));
  } catch {
    // Not JSON.parse's message: on Node 20 it quotes the start of the text.
    return bad("corrupt header: not valid JSON");
  }
  const parsed = headerSchema.safeParse(raw);
  if (!parsed.success) return bad(`corrupt header: ${firstIssue(parsed.error)}`);
  const header = parsed.data;
  const dataStart = align4(HEADER_START + len);
  const names = new Set<string>();
  let total = 0;
  for (const { name, length } of header.tensors) {
    if (names.has(name)) bad(`tensor ${name} appears twice`);
    names.add(name);
    total += length * 4;
  }
  if (dataStart + total > bytes.length) bad(`truncated (${bytes.length - dataStart} of ${total} data bytes)`);
  if (dataStart + total < bytes.length) bad("trailing bytes");
  let off = dataStart;
  const tensors = new Map<string, Float32Array>();
  for (const { name, length } of header.tensors) {
    const t = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + off, bytes.byteOffset + off + length * 4),
    );
    const i = firstNonFinite(t);
    if (i >= 0)
      throw new KdError(
        `${path}: tensor ${name} holds a non-finite value (${t[i]}) at ${i}; refusing to resume from it`,
      );
    tensors.set(name, t);
    off += length * 4;
  }
  return { header, tensors };
}

/**
 * Refuses a checkpoint of a run with other settings: `key` is this run's checkpoint key and
 * `fields` what it hashes. When both sides have fields, the line names the fields that differ.
 */
export function checkResumable(
  path: string,
  header: CheckpointHeader,
  key: string,
  fields: Record<string, unknown> | undefined,
): void {
  if (header.fingerprint === key) return;
  const diff = fields && header.identity ? differences(fields, header.identity) : [];
  const what = diff.length
    ? ` (${diff.slice(0, 3).join("; ")}${diff.length > 3 ? `; ${diff.length - 3} more` : ""})`
    : "";
  throw new KdError(`${path} belongs to a run with other settings${what}; remove it to start afresh`);
}

/** `name: now X, checkpoint Y` for each leaf that differs; settings are named without their prefix. */
function differences(now: Record<string, unknown>, then: Record<string, unknown>): string[] {
  const a = leaves(now);
  const b = leaves(then);
  const show = (v: string | undefined) =>
    v === undefined ? "unset" : v.length > 40 ? `${v.slice(0, 37)}...` : v;
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k))
    .map(
      (k) => `${k.replace(/^settings\./, "")}: ${show(a.get(k))} now, ${show(b.get(k))} in the checkpoint`,
    );
}

/** Leaf path → JSON text; arrays are leaves. */
function leaves(v: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === "object" && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  else out.set(path, JSON.stringify(v));
  return out;
}

/**
 * Refuses a checkpoint whose tensors are not exactly `expected` (name → element count): a
 * checkpoint of another architecture, or one edited by hand, would otherwise fail deep in a run.
 */
export function checkCheckpointTensors(
  path: string,
  ck: Checkpoint,
  expected: ReadonlyMap<string, number>,
): void {
  for (const [name, length] of expected) {
    const t = ck.tensors.get(name);
    if (!t) throw new KdError(`${path}: has no tensor ${name}; it belongs to another model`);
    if (t.length !== length)
      throw new KdError(`${path}: tensor ${name} has ${t.length} values, the model needs ${length}`);
  }
  for (const name of ck.tensors.keys())
    if (!expected.has(name))
      throw new KdError(`${path}: unexpected tensor ${name}; it belongs to another model`);
}
