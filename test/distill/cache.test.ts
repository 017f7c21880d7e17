import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Dataset } from "../../src/data/dataset.js";
import { cachedLogits } from "../../src/distill/cache.js";
import type { Teachers } from "../../src/distill/teacher.js";
import { KdError } from "../../src/util/errors.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-cache-"));

/** What the cache needs of teachers: identifying bytes and a class count. */
const teachers = { fileBytes: () => [Uint8Array.of(1, 2, 3)], numClasses: 3 } as unknown as Teachers;
const data: Dataset = {
  x: Float32Array.from({ length: 8 }, (_, i) => i / 8),
  y: undefined,
  n: 4,
  exampleShape: [2],
  features: 2,
  numClasses: 3,
  name: "d",
};
const rows = Float32Array.from({ length: 12 }, (_, i) => i - 6);
const compute = async () => rows;

describe("teacher cache integrity", () => {
  it("rebuilds, with a note, an entry whose body has one flipped bit", async () => {
    const dir = join(tmp, "flip");
    const first = await cachedLogits(dir, { teachers, data, settings: {} }, compute);
    expect(first.status).toBe("built");
    const bytes = readFileSync(first.path);
    bytes[bytes.length - 5]! ^= 0x01; // a float that stays finite, so only the checksum can tell
    writeFileSync(first.path, bytes);
    const notes: string[] = [];
    const again = await cachedLogits(dir, { teachers, data, settings: {} }, compute, (m) => notes.push(m));
    expect(again.status).toBe("rebuilt");
    expect(notes).toEqual([
      `teacher cache ${first.path} does not match its checksum (corrupt): rebuilding it`,
    ]);
    const hit = await cachedLogits(dir, { teachers, data, settings: {} }, compute);
    expect(hit.status).toBe("hit");
    expect(Array.from(hit.logits)).toEqual(Array.from(rows));
  });

  it("rebuilds an entry with an edited header or a folder in its place", async () => {
    const dir = join(tmp, "edit");
    const first = await cachedLogits(dir, { teachers, data, settings: {} }, compute);
    const bytes = readFileSync(first.path);
    bytes.write('{"key": 1}'.padEnd(256), 8, "utf8");
    writeFileSync(first.path, bytes);
    const notes: string[] = [];
    await cachedLogits(dir, { teachers, data, settings: {} }, compute, (m) => notes.push(m));
    expect(notes[0]).toMatch(/has a corrupt header: rebuilding it/);
  });

  it("ends with one line when the cache folder cannot be created", async () => {
    const t0 = performance.now();
    const err = await cachedLogits("/proc/self/kd-cache", { teachers, data, settings: {} }, compute).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KdError);
    expect((err as Error).message).toMatch(/^cache folder \/proc\/self\/kd-cache: cannot create/);
    expect(performance.now() - t0).toBeLessThan(2000);
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    await expect(cachedLogits(file, { teachers, data, settings: {} }, compute)).rejects.toThrow(
      `cache folder ${file} is a file, not a folder`,
    );
  });
});
