/**
 * Memory bombs in data files, built here small on disk: NPZ entries that inflate to gigabytes,
 * share compressed bytes or lie about their size; PNG headers claiming a billion pixels. Each is
 * refused in one line before anything is inflated or decoded, in a child with capped memory.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateRawSync, deflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/load.js";
import { runCapped } from "../helpers/capped.js";
import { kdMessage } from "../helpers/errors.js";
import { grayJpeg8x8 } from "./gray-jpeg.js";
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

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body) >>> 0, body.length + 4);
  return out;
}

/** An 8-bit grayscale PNG header of `width` × `height` over `rows` rows of zeros (zlib-wrapped). */
function pngBomb(width: number, height: number, rows: number, interlace: 0 | 1): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[12] = interlace;
  const n = rows * (width + 1);
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((n % 65521) << 16) | 1) >>> 0); // Adler-32 of n zero bytes
  const idat =
    rows < 64
      ? deflateSync(new Uint8Array(n))
      : Buffer.concat([Buffer.from([0x78, 0x9c]), deflatedZeros(new Uint8Array(0), n), adler]);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

describe("PNG and JPEG: the header's size is checked before decoding", () => {
  const limit = "more than the 16,777,216 (4096x4096) kd decodes from one image";
  for (const [name, bytes, size] of [
    ["plain.png", () => pngBomb(32767, 32768, 32768, 0), "32767x32768"],
    ["adam7.png", () => pngBomb(32767, 32768, 32768, 1), "32767x32768"],
    ["four-rows.png", () => pngBomb(30000, 30000, 4, 0), "30000x30000"],
  ] as const)
    it(`${name}: ${size} pixels`, () => {
      const path = put(name, bytes());
      expect(statSync(path).size).toBeLessThan(1.2e6);
      const r = runCapped(child, [path], 1024);
      expect(r.stderr.trim()).toBe(`kd: ${path}: ${size} pixels, ${limit}`);
      expect(r.code).toBe(1);
    });

  it("a JPEG frame header of 30000x30000 (jpeg-js would allow 100 megapixels)", () => {
    const jpg = grayJpeg8x8(144);
    // SOI, then the quantization table segment (69 bytes), then the frame header: height, width.
    expect([jpg[71], jpg[72]]).toEqual([0xff, 0xc0]);
    jpg.set([30000 >> 8, 30000 & 0xff, 30000 >> 8, 30000 & 0xff], 76);
    const path = put("huge.jpg", jpg);
    expect(kdMessage(() => loadDataset(path))).toBe(`${path}: 30000x30000 pixels, ${limit}`);
  });
});
