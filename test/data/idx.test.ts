/** Tests for the IDX parser and file reader: every dtype, every error message, gzip handling. */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseIdx, readIdxFile } from "../../src/data/idx.js";
import { kdMessage } from "../helpers/errors.js";
import { idxBytes } from "./idx-bytes.js";

describe("parseIdx", () => {
  it("decodes every dtype big-endian into native arrays", () => {
    const cases = [
      ["uint8", [0, 1, 255, 128], Uint8Array],
      ["int8", [-128, -1, 0, 127], Int8Array],
      ["int16", [-32768, -2, 258, 32767], Int16Array],
      ["int32", [-2147483648, -3, 65536 + 7, 2147483647], Int32Array],
      ["float32", [-1.5, 0, 0.25, 3e38], Float32Array],
      ["float64", [-1e300, Math.PI, 0, 1 / 3], Float64Array],
    ] as const;
    for (const [dtype, values, ctor] of cases) {
      const arr = parseIdx(idxBytes(dtype, [2, 2], values), "f");
      expect(arr.dtype).toBe(dtype);
      expect(arr.dims).toEqual([2, 2]);
      expect(arr.data).toBeInstanceOf(ctor);
      expect(Array.from(arr.data)).toEqual(Array.from(ctor.from(values)));
    }
  });

  it("handles input that is a view at an odd offset", () => {
    const inner = idxBytes("int16", [3], [1, -2, 300]);
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(Array.from(parseIdx(outer.subarray(3), "f").data)).toEqual([1, -2, 300]);
    const bytes = idxBytes("uint8", [1, 2, 3], [1, 2, 3, 4, 5, 6]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const arr = parseIdx(shifted.subarray(1), "f");
    expect(arr.dims).toEqual([1, 2, 3]);
    expect(Array.from(arr.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("accepts zero-length dimensions", () => {
    const arr = parseIdx(idxBytes("float32", [0, 5], []), "f");
    expect(arr.dims).toEqual([0, 5]);
    expect(arr.data.length).toBe(0);
  });

  it("rejects a wrong magic number, printing it in hex", () => {
    const bytes = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]);
    expect(kdMessage(() => parseIdx(bytes, "a.idx"))).toBe(
      "a.idx: wrong magic number 0x1f8b0800 (an IDX file starts with two zero bytes)",
    );
    const png = Uint8Array.from([0x00, 0x50, 0x4e, 0x47]);
    expect(kdMessage(() => parseIdx(png, "b.idx"))).toMatch(/^b\.idx: wrong magic number 0x00504e47 /);
  });

  it("rejects an unknown type code", () => {
    const bytes = idxBytes("uint8", [1], [0]);
    bytes[2] = 0x0a;
    expect(kdMessage(() => parseIdx(bytes, "a.idx"))).toBe(
      "a.idx: unknown IDX type code 0x0a (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)",
    );
  });

  it("rejects a truncated header", () => {
    expect(kdMessage(() => parseIdx(Uint8Array.from([0, 0, 8]), "a.idx"))).toBe(
      "a.idx: truncated header (need at least 4 bytes, got 3); is this an IDX file?",
    );
    const bytes = idxBytes("uint8", [2, 2, 2], new Array(8).fill(0)).subarray(0, 10);
    expect(kdMessage(() => parseIdx(bytes, "a.idx"))).toBe(
      "a.idx: truncated header (3 dimensions need 16 header bytes, got 10)",
    );
  });

  it("rejects truncated data, giving expected and actual byte counts", () => {
    const bytes = idxBytes("int32", [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(kdMessage(() => parseIdx(bytes.subarray(0, bytes.length - 5), "a.idx"))).toBe(
      "a.idx: truncated data (dims [2, 3] need 24 bytes, got 19)",
    );
  });

  it("rejects trailing garbage", () => {
    const bytes = idxBytes("uint8", [2], [1, 2]);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expect(kdMessage(() => parseIdx(longer, "a.idx"))).toBe(
      "a.idx: trailing garbage (3 bytes after the 2 data bytes)",
    );
  });
});

describe("readIdxFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "kd-idx-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = idxBytes("uint8", [2, 3], [0, 1, 2, 253, 254, 255]);

  it("reads a plain IDX file", () => {
    const path = join(dir, "plain-idx3-ubyte");
    writeFileSync(path, bytes);
    const arr = readIdxFile(path);
    expect(arr.dims).toEqual([2, 3]);
    expect(Array.from(arr.data)).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it("gunzips a gzipped IDX file, detected by magic bytes not by name", () => {
    const path = join(dir, "zipped-without-gz-suffix");
    writeFileSync(path, gzipSync(bytes));
    const arr = readIdxFile(path);
    expect(arr.dtype).toBe("uint8");
    expect(Array.from(arr.data)).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it("names the file in parse errors", () => {
    const path = join(dir, "short.gz");
    writeFileSync(path, gzipSync(bytes.subarray(0, bytes.length - 1)));
    expect(kdMessage(() => readIdxFile(path))).toBe(
      `${path}: truncated data (dims [2, 3] need 6 bytes, got 5)`,
    );
  });

  it("reports corrupt gzip data", () => {
    const gz = gzipSync(bytes);
    const truncated = join(dir, "truncated.gz");
    writeFileSync(truncated, gz.subarray(0, gz.length - 6));
    const message = kdMessage(() => readIdxFile(truncated));
    expect(message.startsWith(`${truncated}: corrupt gzip data (`)).toBe(true);
    expect(message).toMatch(/\(.+\)$/);
    const mangled = join(dir, "mangled.gz");
    const bad = Uint8Array.from(gz);
    bad[3] = 0xff; // reserved flag bits set: zlib refuses the header
    writeFileSync(mangled, bad);
    expect(kdMessage(() => readIdxFile(mangled))).toMatch(/: corrupt gzip data \(.+\)$/);
  });

  it("reports a missing file", () => {
    const path = join(dir, "nope-idx1-ubyte");
    expect(kdMessage(() => readIdxFile(path))).toBe(`${path}: no such file`);
  });

  it("reports a directory", () => {
    expect(kdMessage(() => readIdxFile(dir))).toBe(`${dir}: is a directory, not an IDX file`);
  });
});
