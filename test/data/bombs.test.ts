/**
 * Memory bombs in data files, built here small on disk: NPZ entries that inflate to gigabytes,
 * share compressed bytes or lie about their size; PNG headers claiming a billion pixels. Each is
 * refused in one line before anything is inflated or decoded, in a child with capped memory.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/load.js";
import { KdError } from "../../src/util/errors.js";
import { runCapped } from "../helpers/capped.js";
import { npyBytes } from "./npy-bytes.js";
import { deflatedZeros, type ZipEntrySpec, zipBytes } from "./zip-bytes.js";

const dir = mkdtempSync(join(tmpdir(), "kd-bombs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const child = fileURLToPath(new URL("../helpers/load-child.ts", import.meta.url));

function put(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** Runs `fn`, expecting a KdError, and returns its message. */
function kdMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KdError);
    return (err as KdError).message;
  }
  throw new Error("expected a KdError");
}

/** A deflated .npy entry of uint8 zeros with shape `dims`, declaring its true size. */
function zerosEntry(name: string, dims: number[]): ZipEntrySpec {
  const header = npyBytes("uint8", dims, []);
  const zeros = dims.reduce((a, b) => a * b, 1);
  return { name, method: 8, body: deflatedZeros(header, zeros), size: header.length + zeros };
}

/** A small deflated .npy entry. */
function npyEntry(name: string, npy: Uint8Array): ZipEntrySpec {
  return { name, method: 8, body: deflateRawSync(npy), size: npy.length };
}

const x = npyEntry(
  "x.npy",
  npyBytes(
    "uint8",
    [4, 5],
    Array.from({ length: 20 }, (_, i) => i),
  ),
);
const y = npyEntry("y.npy", npyBytes("int64", [4], [0, 1, 1, 0]));

describe("NPZ: only the arrays needed are inflated, each checked before it is", () => {
  it("a 1.5 MB archive whose array inflates to 1.57 GB: refused from its declared size", () => {
    const path = put("big.npz", zipBytes([zerosEntry("x.npy", [2_003_968, 784])]));
    expect(statSync(path).size).toBeLessThan(2e6);
    const r = runCapped(child, [path], 1024);
    expect(r.stderr.trim()).toBe(
      `kd: ${path}[x]: inflating the entry would need 1.57 GB of memory, more than the 1.07 GB available`,
    );
    expect(r.code).toBe(1);
  });

  it("five unused 700 MiB arrays are never inflated", () => {
    const unused = [0, 1, 2, 3, 4].map((i) => zerosEntry(`u${i}.npy`, [700, 1 << 20]));
    const path = put("unused.npz", zipBytes([...unused, x, y]));
    expect(statSync(path).size).toBeLessThan(5e6);
    const r = runCapped(child, [path], 1024);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ n: 4, shape: [5] });
    expect(r.code).toBe(0);
  });

  it("entries sharing one compressed range", () => {
    const path = put("alias.npz", zipBytes([x], { "y.npy": "x.npy" }));
    expect(kdMessage(() => loadDataset(path))).toBe(
      `${path}: entries x.npy and y.npy share compressed bytes (a zip bomb?)`,
    );
  });

  it("an entry that inflates past its declared size, or declares a size its NPY header does not", () => {
    // The header says [4, 5] (what the entry declares), the data goes on for 100 MB of zeros.
    const header = npyBytes("uint8", [4, 5], []);
    const long = {
      name: "x.npy",
      method: 8,
      body: deflatedZeros(header, 100e6),
      size: header.length + 20,
    } as const;
    const p1 = put("long.npz", zipBytes([long, y]));
    expect(kdMessage(() => loadDataset(p1))).toBe(`${p1}[x]: inflates to more than its declared 148 bytes`);
    const p2 = put("lies.npz", zipBytes([{ ...x, size: 100 }, y]));
    expect(kdMessage(() => loadDataset(p2))).toBe(
      `${p2}[x]: its zip entry declares 100 bytes, but shape [4, 5] of uint8 takes 148`,
    );
  });
});
