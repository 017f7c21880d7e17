/** Checkpoints: parameters, optimizer state, epoch, RNG state and history in one atomically written file. */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";

const MAGIC = "KDCKPT01";

const headerSchema = z.object({
  /** Identifies the run's configuration; a resume with another configuration is refused. */
  fingerprint: z.string(),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  rng: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  history: z.array(z.record(z.string(), z.unknown())),
  /** Early stopping: the best epoch so far and its eval errors (its weights are tensors "best/..."). */
  best: z.object({ epoch: z.number().int().positive(), errors: z.number().nonnegative() }).optional(),
  tensors: z.array(z.object({ name: z.string(), length: z.number().int().nonnegative() })),
});
export type CheckpointHeader = z.infer<typeof headerSchema>;

export interface Checkpoint {
  readonly header: CheckpointHeader;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

/** Layout: magic, u32 header length, JSON header, then the float32 tensors back to back. */
export function writeCheckpoint(
  path: string,
  header: Omit<CheckpointHeader, "tensors">,
  tensors: ReadonlyMap<string, Float32Array>,
): void {
  const entries = [...tensors.entries()];
  const full: CheckpointHeader = {
    ...header,
    tensors: entries.map(([name, t]) => ({ name, length: t.length })),
  };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const dataStart = align4(MAGIC.length + 4 + json.length);
  const total = dataStart + entries.reduce((a, [, t]) => a + t.byteLength, 0);
  const buf = new Uint8Array(total);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(buf.buffer).setUint32(MAGIC.length, json.length, true);
  buf.set(json, MAGIC.length + 4);
  let off = dataStart;
  for (const [, t] of entries) {
    buf.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), off);
    off += t.byteLength;
  }
  writeFileAtomic(path, buf);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function readCheckpoint(path: string): Checkpoint {
  if (!existsSync(path)) throw new KdError(`${path}: no such checkpoint`);
  const bytes = readFileSync(path);
  const bad = (why: string): never => {
    throw new KdError(`${path}: not a valid kd checkpoint (${why})`);
  };
  if (bytes.length < MAGIC.length + 4 || bytes.subarray(0, MAGIC.length).toString("latin1") !== MAGIC)
    bad("wrong magic");
  const len = bytes.readUInt32LE(MAGIC.length);
  if (MAGIC.length + 4 + len > bytes.length) bad("truncated header");
  let header: CheckpointHeader;
  try {
    header = headerSchema.parse(
      JSON.parse(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + len).toString("utf8")),
    );
  } catch (e) {
    return bad(`corrupt header: ${(e as Error).message.split("\n")[0]}`);
  }
  let off = align4(MAGIC.length + 4 + len);
  const tensors = new Map<string, Float32Array>();
  for (const { name, length } of header.tensors) {
    if (off + length * 4 > bytes.length) bad(`truncated at tensor ${name}`);
    tensors.set(
      name,
      new Float32Array(bytes.buffer.slice(bytes.byteOffset + off, bytes.byteOffset + off + length * 4)),
    );
    off += length * 4;
  }
  if (off !== bytes.length) bad("trailing bytes");
  return { header, tensors };
}
