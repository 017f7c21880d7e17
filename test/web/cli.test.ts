/** `kd demo` through the real entry point: the files it writes, its errors, and --serve's headers. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteManifest } from "../../src/web/api.js";
import { kd } from "../helpers/cli.js";
import { trainMlp } from "./models.js";

describe("kd demo", () => {
  let dir: string;
  let teacher: string;
  let student: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-demo-cli-"));
    teacher = join(dir, "teacher.onnx");
    student = join(dir, "student.onnx");
    await trainMlp(teacher, { hidden: 20, images: 2000, epochs: 1, seed: 1 });
    await trainMlp(student, { hidden: 10, images: 2000, epochs: 1, seed: 2 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names a missing model in one line", () => {
    const missing = kd([
      "demo",
      "--teacher",
      join(dir, "nope.onnx"),
      "--student",
      student,
      "--out",
      join(dir, "x"),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`kd: ${join(dir, "nope.onnx")}: no such file\n`);
  });

  it("writes an offline site (page, onnxruntime-web's wasm, models, an MNIST slice) and --serve serves it with COOP/COEP", async () => {
    const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
    const out = join(dir, "served");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        bin,
        "demo",
        "--teacher",
        teacher,
        "--student",
        student,
        "--out",
        out,
        "--train-images",
        "500",
        "--test-images",
        "50",
        "--serve",
        "--port",
        "0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let text = "";
      const url = await new Promise<string>((ok, fail) => {
        child.stderr.on("data", (d) => {
          text += d;
        });
        child.stdout.on("data", (d) => {
          text += d;
          const m = /serving .* at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
          if (m) ok(m[1]!);
        });
        child.once("exit", (code) => fail(new Error(`kd demo exited (${code}) before serving: ${text}`)));
      });
      expect(text).toMatch(/^wrote .*served \(\d+\.\d MiB\); serve it over HTTP/);
      const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as SiteManifest;
      expect(m.train.n).toBe(500);
      expect(m.test.n).toBe(50);
      expect(m.teacher).toMatchObject({
        name: "teacher.onnx",
        input: "input",
        output: "logits",
        params: 784 * 20 + 20 + 210,
      });
      expect(readFileSync(join(out, m.train.images)).length).toBe(500 * 784);
      expect(readFileSync(join(out, m.test.labels)).length).toBe(50);
      // Offline: the page fetches nothing from another origin.
      expect(readFileSync(join(out, "index.html"), "utf8")).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
      for (const path of [
        "",
        "kd-demo.js",
        "kd-webgpu.js",
        "kd-csv.js",
        "style.css",
        "ort/ort-wasm-simd-threaded.mjs",
        "models/student.onnx",
        "ort/ort-wasm-simd-threaded.wasm",
        "ort/ort-wasm-simd-threaded.asyncify.mjs",
        "ort/ort-wasm-simd-threaded.asyncify.wasm",
        "manifest.json",
      ]) {
        const res = await fetch(url + path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
        expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      }
      expect((await fetch(`${url}ort/ort-wasm-simd-threaded.wasm`)).headers.get("content-type")).toBe(
        "application/wasm",
      );
      expect((await fetch(`${url}../../etc/passwd`)).status).toBe(404);
      expect((await fetch(`${url}..%2fteacher.onnx`)).status).toBe(403);
      const exited = new Promise<number | null>((ok) => child.once("exit", ok));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
