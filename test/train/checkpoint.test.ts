import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type Checkpoint,
  checkCheckpointTensors,
  checkpointDigest,
  readCheckpoint,
  writeCheckpoint,
} from "../../src/train/checkpoint.js";
import { kdMessage } from "../helpers/errors.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-ckpt-"));

const log = {
  epoch: 1,
  loss: 0.5,
  parts: { soft: 0, hard: 0.5 },
  trainAccuracy: 0.9,
  evalErrors: 12,
  evalAccuracy: 0.88,
  lr: 0.1,
  momentum: 0.9,
  seconds: 1.5,
  examplesPerSec: 1000,
};
const header = {
  fingerprint: "abc",
  epoch: 1,
  step: 10,
  rng: [1, 2, 3, 4] as [number, number, number, number],
  history: [log],
};
const tensors = new Map([
  ["fc1.weight", Float32Array.of(1, 2, 3, 4)],
  ["state/fc1.weight", Float32Array.of(0, 0, 0, 0.5)],
]);

/** Writes a good checkpoint and returns its path and bytes. */
function good(name: string): { path: string; bytes: Buffer } {
  const path = join(tmp, name);
  writeCheckpoint(path, header, tensors);
  return { path, bytes: readFileSync(path) };
}

const H = 8 + 4 + 32; // magic, header length, digest

/**
 * The JSON header of a checkpoint's bytes, edited by `edit`, written back with its new length and,
 * unless `rehash` is false, a recomputed digest (a deliberate edit, which only validation can catch).
 */
function editHeader(bytes: Buffer, edit: (h: Record<string, unknown>) => void, rehash = true): Buffer {
  const len = bytes.readUInt32LE(8);
  const h = JSON.parse(bytes.subarray(H, H + len).toString("utf8"));
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const start = (H + json.length + 3) & ~3;
  const out = Buffer.alloc(start + bytes.length - ((H + len + 3) & ~3));
  bytes.copy(out, 0, 0, H);
  out.writeUInt32LE(json.length, 8);
  json.copy(out, H);
  bytes.copy(out, start, (H + len + 3) & ~3);
  if (rehash) Buffer.from(checkpointDigest(out)).copy(out, 12);
  return out;
}

describe("checkpoints", () => {
  it("round-trip", () => {
    const { path } = good("ok.ckpt");
    const ck = readCheckpoint(path);
    expect(ck.header.epoch).toBe(1);
    expect(ck.header.history[0]).toEqual(log);
    expect(Array.from(ck.tensors.get("fc1.weight")!)).toEqual([1, 2, 3, 4]);
  });

  it("refuse a bit flip in the weights", () => {
    const { path, bytes } = good("flip.ckpt");
    bytes[bytes.length - 3]! ^= 0x10;
    writeFileSync(path, bytes);
    expect(kdMessage(() => readCheckpoint(path))).toBe(
      `${path}: checksum mismatch: the checkpoint is corrupt; remove it to start afresh`,
    );
  });

  it("refuse a hand-edited header with one line naming the field", () => {
    const { path, bytes } = good("edit.ckpt");
    const cases: [(h: Record<string, unknown>) => void, RegExp][] = [
      [(h) => (h.epoch = -1), /corrupt header: epoch: /],
      [(h) => (h.rng = ["a", 2, 3, 4]), /corrupt header: rng\.0: /],
      [(h) => (h.history = [{ epoch: "one" }]), /corrupt header: history\.0\.epoch: /],
      [(h) => ((h.tensors as { length: number }[])[0]!.length = 1e12), /corrupt header: tensors\.0\.length/],
      [(h) => ((h.tensors as { length: number }[])[0]!.length = 5), /truncated|trailing/],
      [(h) => ((h.tensors as { name: string }[])[1]!.name = "fc1.weight"), /appears twice/],
      [(h) => delete h.fingerprint, /corrupt header: fingerprint: /],
    ];
    for (const [edit, why] of cases) {
      writeFileSync(path, editHeader(bytes, edit));
      const msg = kdMessage(() => readCheckpoint(path));
      expect(msg).toMatch(why);
      expect(msg.split("\n")).toHaveLength(1);
    }
    // An edit that does not recompute the digest is caught by it.
    writeFileSync(
      path,
      editHeader(bytes, (h) => (h.epoch = 7), false),
    );
    expect(kdMessage(() => readCheckpoint(path))).toMatch(/checksum mismatch/);
    const junk = Buffer.concat([bytes.subarray(0, H), Buffer.from("{not json")]);
    junk.writeUInt32LE(9, 8);
    Buffer.from(checkpointDigest(junk)).copy(junk, 12);
    writeFileSync(path, junk);
    expect(kdMessage(() => readCheckpoint(path))).toMatch(/not a valid kd checkpoint \(corrupt header/);
  });

  it("refuse non-finite weights even with a matching checksum", () => {
    const path = join(tmp, "nan.ckpt");
    writeCheckpoint(path, header, new Map([["w", Float32Array.of(1, Number.NaN)]]));
    expect(kdMessage(() => readCheckpoint(path))).toBe(
      `${path}: tensor w holds a non-finite value (NaN) at 1; refusing to resume from it`,
    );
  });

  it("refuse an old checkpoint, a folder and a missing file", () => {
    const { path, bytes } = good("old.ckpt");
    bytes.write("KDCKPT01", 0, "latin1");
    writeFileSync(path, bytes);
    expect(kdMessage(() => readCheckpoint(path))).toMatch(/older kd without a checksum/);
    expect(kdMessage(() => readCheckpoint(tmp))).toMatch(/is a directory, not a checkpoint/);
    expect(kdMessage(() => readCheckpoint(join(tmp, "none")))).toMatch(/no such file/);
  });

  it("must hold exactly the model's tensors (checkCheckpointTensors)", () => {
    const ck: Checkpoint = readCheckpoint(good("fit.ckpt").path);
    const expected = new Map([
      ["fc1.weight", 4],
      ["state/fc1.weight", 4],
    ]);
    checkCheckpointTensors("c", ck, expected);
    expect(kdMessage(() => checkCheckpointTensors("c", ck, new Map([...expected, ["out.bias", 2]])))).toBe(
      "c: has no tensor out.bias; it belongs to another model",
    );
    expect(kdMessage(() => checkCheckpointTensors("c", ck, new Map([["fc1.weight", 4]])))).toMatch(
      /unexpected tensor state\/fc1\.weight/,
    );
    expect(
      kdMessage(() =>
        checkCheckpointTensors(
          "c",
          ck,
          new Map([
            ["fc1.weight", 8],
            ["state/fc1.weight", 4],
          ]),
        ),
      ),
    ).toBe("c: tensor fc1.weight has 4 values, the model needs 8");
  });
});
