import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import {
  cleanStaleTemps,
  copyFileAtomic,
  ensureWritableDir,
  HOST_TAG,
  tempPathFor,
  writeFileAtomic,
} from "../../src/util/atomic.js";
import { KdError } from "../../src/util/errors.js";
import { fsError, fsErrorMessage, isFsError } from "../../src/util/fs-errors.js";
import { checkAllocation, formatBytes } from "../../src/util/memory.js";
import { checkOutputPath, checkOutputPaths, resolveInside, safeMkdir } from "../../src/util/paths.js";
import { kdMessage } from "../helpers/errors.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-paths-"));

describe("safeMkdir", () => {
  it("creates nested folders and accepts an existing one", () => {
    const d = join(tmp, "a", "b", "c");
    safeMkdir(d);
    safeMkdir(d);
    expect(existsSync(d)).toBe(true);
  });
  it("refuses a file in the way, naming it", () => {
    const f = join(tmp, "plain");
    writeFileSync(f, "x");
    expect(kdMessage(() => safeMkdir(f, "cache folder"))).toBe(`cache folder ${f} is a file, not a folder`);
    expect(kdMessage(() => safeMkdir(join(f, "sub")))).toMatch(/plain is not a folder/);
  });
  it("ends at once under /proc, where Node's recursive mkdir never returns", () => {
    const t0 = performance.now();
    expect(kdMessage(() => safeMkdir("/proc/self/kd-cache/x", "cache folder"))).toMatch(
      /^cache folder \/proc\/self\/kd-cache\/x: cannot create \/proc\/self\/kd-cache: this file system does not allow new folders there$/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it("refuses an empty path", () => {
    expect(kdMessage(() => safeMkdir(""))).toMatch(/empty path/);
  });
});

describe("checkOutputPath", () => {
  const input = join(tmp, "in.onnx");
  writeFileSync(input, "model");
  it("accepts a new file in an existing folder", () => {
    checkOutputPath(join(tmp, "new.onnx"), [input]);
  });
  it("refuses an empty path, a folder and a missing folder", () => {
    expect(kdMessage(() => checkOutputPath("", [input]))).toBe("--out: empty path");
    expect(kdMessage(() => checkOutputPath(tmp, [input]))).toMatch(/is a folder, not a file/);
    expect(kdMessage(() => checkOutputPath(`${join(tmp, "x")}/`, []))).toMatch(/names a folder/);
    expect(kdMessage(() => checkOutputPath(join(tmp, "nope", "m.onnx")))).toMatch(
      /folder .*nope does not exist/,
    );
  });
  it("refuses the input itself, however it is spelled", () => {
    const link = join(tmp, "link.onnx");
    symlinkSync(input, link);
    expect(kdMessage(() => checkOutputPath(input, [input]))).toMatch(/is the input file/);
    expect(kdMessage(() => checkOutputPath(link, [input], "--out"))).toMatch(
      /--out .*link\.onnx is the input file/,
    );
    const rel = relative(process.cwd(), join(tmp, ".", "in.onnx"));
    expect(kdMessage(() => checkOutputPath(rel, [undefined, input]))).toMatch(/is the input file/);
  });
});

describe("resolveInside", () => {
  const base = join(tmp, "model");
  mkdirSync(join(base, "sub"), { recursive: true });
  writeFileSync(join(base, "sub", "w.bin"), "weights");
  const secret = join(tmp, "secret.bin");
  writeFileSync(secret, "secret");
  symlinkSync(secret, join(base, "link.bin"));
  symlinkSync(tmp, join(base, "up"));
  it("accepts a file in the folder or below", () => {
    expect(resolveInside(base, "sub/w.bin", "m.onnx")).toMatch(/sub\/w\.bin$/);
    expect(resolveInside(base, "./sub/w.bin", "m.onnx")).toMatch(/sub\/w\.bin$/);
  });
  it("refuses absolute paths, .. and links out", () => {
    expect(kdMessage(() => resolveInside(base, secret, "m.onnx"))).toMatch(/refuses the absolute path/);
    expect(kdMessage(() => resolveInside(base, "../secret.bin", "m.onnx"))).toMatch(/leaves its folder/);
    expect(kdMessage(() => resolveInside(base, "sub/../../secret.bin", "m.onnx"))).toMatch(
      /leaves its folder/,
    );
    expect(kdMessage(() => resolveInside(base, "link.bin", "m.onnx"))).toMatch(/a link to a file outside/);
    expect(kdMessage(() => resolveInside(base, "up/secret.bin", "m.onnx"))).toMatch(
      /a link to a file outside/,
    );
    expect(kdMessage(() => resolveInside(base, "missing.bin", "m.onnx"))).toMatch(
      /"missing.bin": no such file/,
    );
    expect(kdMessage(() => resolveInside(base, "", "m.onnx"))).toMatch(/refuses the path ""/);
  });
});

describe("filesystem errors in words", () => {
  it("names the path and the problem, not the code", () => {
    const e = Object.assign(new Error("EROFS: read-only file system, open '/ro/x'"), {
      code: "EROFS",
      path: "/ro/x",
    });
    expect(isFsError(e)).toBe(true);
    expect(fsErrorMessage(e)).toBe("/ro/x: read-only file system");
    expect(fsErrorMessage(e, "/ro/out.onnx", "write")).toBe(
      "/ro/out.onnx: cannot write: read-only file system",
    );
    expect(fsError(e)).toBeInstanceOf(KdError);
    expect(isFsError(new Error("plain"))).toBe(false);
  });
});

describe("atomic writes", () => {
  it("remove a dead kd process's temporary file, and keep a live one's", () => {
    const out = join(tmp, "model.onnx");
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout.trim());
    writeFileSync(`${out}.${deadPid}.tmp`, "half");
    writeFileSync(`${out}.${process.ppid}.tmp`, "someone else's, still running");
    writeFileSync(join(tmp, `other.onnx.${deadPid}.tmp`), "another target");
    writeFileAtomic(out, "whole");
    const left = readdirSync(tmp).filter((f) => f.endsWith(".tmp"));
    expect(left.sort()).toEqual([`model.onnx.${process.ppid}.tmp`, `other.onnx.${deadPid}.tmp`].sort());
    expect(cleanStaleTemps(join(tmp, "other.onnx"))).toEqual([`other.onnx.${deadPid}.tmp`]);
  });
  it("in a folder shared by machines (the queue's store), leave another machine's temporaries alone", () => {
    const out = join(tmp, "shared.bin");
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout.trim());
    expect(tempPathFor(out)).toBe(`${out}.${process.pid}.${HOST_TAG}.tmp`);
    writeFileSync(`${out}.${deadPid}.${HOST_TAG}.tmp`, "ours, dead");
    writeFileSync(`${out}.${deadPid}.another-machine.tmp`, "theirs: its pid means nothing here");
    writeFileAtomic(out, "whole");
    expect(readdirSync(tmp).filter((f) => f.startsWith("shared.bin.") && f.endsWith(".tmp"))).toEqual([
      `shared.bin.${deadPid}.another-machine.tmp`,
    ]);
  });
  it("copy a file whole, leaving no temporary, and name the target when the copy fails", () => {
    const from = join(tmp, "from.bin");
    writeFileSync(from, "the bytes");
    const to = join(tmp, "copy.bin");
    writeFileSync(to, "old");
    copyFileAtomic(from, to);
    expect(readFileSync(to, "utf8")).toBe("the bytes");
    expect(readdirSync(tmp).filter((f) => f.startsWith("copy.bin."))).toEqual([]);
    expect(kdMessage(() => copyFileAtomic(join(tmp, "missing.bin"), to))).toMatch(
      new RegExp(`^cannot write ${to.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `),
    );
    expect(readFileSync(to, "utf8")).toBe("the bytes");
    expect(readdirSync(tmp).filter((f) => f.startsWith("copy.bin."))).toEqual([]);
  });
  it("say which file could not be written and why, without the temporary name", () => {
    expect(kdMessage(() => writeFileAtomic(tmp, "x"))).toBe(`cannot write ${tmp}: it is a folder`);
    expect(kdMessage(() => writeFileAtomic("/sys/kd-harden-test.onnx", "x"))).toMatch(
      /^cannot write \/sys\/kd-harden-test\.onnx: (permission denied|read-only file system|operation not permitted)$/,
    );
    const file = join(tmp, "afile");
    writeFileSync(file, "x");
    expect(kdMessage(() => ensureWritableDir(join(file, "m.onnx")))).toMatch(/afile is not a folder/);
  });
});

describe("checkAllocation", () => {
  it("states the memory a request would need", () => {
    expect(formatBytes(40_314_040_000)).toBe("40.3 GB");
    const before = process.env.KD_MAX_MEMORY;
    process.env.KD_MAX_MEMORY = String(1e9);
    try {
      expect(kdMessage(() => checkAllocation(4e9, "teacher logits"))).toBe(
        "teacher logits would need 4.00 GB of memory, more than the 1.00 GB available",
      );
      checkAllocation(1e8, "fine");
    } finally {
      if (before === undefined) delete process.env.KD_MAX_MEMORY;
      else process.env.KD_MAX_MEMORY = before;
    }
    expect(kdMessage(() => checkAllocation(100, "one array", 2 ** 33))).toMatch(
      /more than the .* one array can hold/,
    );
  });
});

describe("checkOutputPaths", () => {
  it("checks each output and refuses two outputs naming one file", () => {
    const input = join(tmp, "data.idx");
    writeFileSync(input, "x");
    const out = join(tmp, "m.onnx");
    checkOutputPaths({ "--out": out, "--checkpoint": `${out}.ckpt`, "--log": undefined }, [input]);
    expect(kdMessage(() => checkOutputPaths({ "--out": out, "--checkpoint": out }))).toBe(
      `--checkpoint ${out} is the same file as --out ${out}`,
    );
    expect(kdMessage(() => checkOutputPaths({ "--out": out, "--log": input }, [input]))).toMatch(
      /^--log .*data\.idx is the input file/,
    );
  });
});
