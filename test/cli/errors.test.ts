import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { kd } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-cli-"));

/** One line on stderr, naming the problem; non-zero exit; nothing written. */
function expectOneLineError(args: string[], pattern: RegExp) {
  const r = kd(args);
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

function idx(magic: number[], dims: number[], payload: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  Buffer.from(magic).copy(head, 0);
  dims.forEach((d, i) => {
    head.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([head, Buffer.from(payload)]);
}

describe("bad input: one clear line and a non-zero exit", () => {
  const out = join(tmp, "never.onnx");
  it("an unknown architecture", () =>
    expectOneLineError(["train", "--arch", "vit:16", "--out", out], /unknown architecture "vit:16"/));
  it("a non-numeric flag", () =>
    expectOneLineError(["train", "--epochs", "many", "--out", out], /--epochs.*expected a whole number/));
  it("an out-of-range flag", () =>
    expectOneLineError(["train", "--dropout-hidden", "1.5", "--out", out], /--dropout-hidden.*≤ 0.95/));
  // A missing folder of --out is now created (kd train makes it, as kd run does its output folder);
  // a folder that cannot be made is the bad input left.
  it("an output path whose folder cannot be made", () => {
    writeFileSync(join(tmp, "a-file"), "");
    expectOneLineError(
      ["train", "--out", join(tmp, "a-file", "m.onnx")],
      /output folder .*a-file is a file, not a folder/,
    );
  });
  it("an IDX file with a wrong magic number", () => {
    const p = join(tmp, "wrong-magic.idx");
    writeFileSync(p, idx([0, 0, 0x99, 1], [3], [1, 2, 3]));
    expectOneLineError(["train", "--train-images", p, "--out", out], /wrong-magic\.idx/);
  });
  it("truncated IDX data", () => {
    const p = join(tmp, "short.idx");
    writeFileSync(p, idx([0, 0, 8, 3], [10, 28, 28], [1, 2, 3]));
    expectOneLineError(["train", "--train-images", p, "--out", out], /short\.idx: .*truncated/);
  });
  it("image and label counts that differ", () => {
    const im = join(tmp, "im.idx");
    const lb = join(tmp, "lb.idx");
    writeFileSync(im, idx([0, 0, 8, 3], [2, 2, 2], new Array(8).fill(0)));
    writeFileSync(lb, idx([0, 0, 8, 1], [3], [0, 1, 2]));
    expectOneLineError(
      ["train", "--train-images", im, "--train-labels", lb, "--out", out],
      /2 examples but .*3/,
    );
  });
  it("a corrupt gzip file", () => {
    const p = join(tmp, "bad.idx.gz");
    const gz = gzipSync(idx([0, 0, 8, 1], [4], [1, 2, 3, 4]));
    gz.writeUInt8(gz.readUInt8(gz.length - 6) ^ 0xff, gz.length - 6);
    writeFileSync(p, gz);
    expectOneLineError(["train", "--train-images", p, "--out", out], /bad\.idx\.gz: corrupt gzip/);
  });
  it("an unknown command", () => expectOneLineError(["fly"], /unknown command 'fly'/));
  it("nothing was written by the failures", () => {
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
