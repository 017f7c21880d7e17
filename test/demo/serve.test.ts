/** The demo server under hostile requests and files: it answers 400/404/500, keeps serving, and closes what it opens. */
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, serveSite } from "../../src/demo/serve.js";
import { kd } from "../helpers/cli.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

/** Sends `GET <path>` as raw bytes (no client-side URL checks) and returns the status and body. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    const s = connect(port, "127.0.0.1", () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    s.on("data", (c) => chunks.push(c));
    s.on("error", fail);
    s.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      ok({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: text.split("\r\n\r\n")[1] ?? "" });
    });
  });
}

/** Starts a download of `path` and drops the connection as soon as the first bytes arrive. */
function abortedGet(port: number, path: string): Promise<void> {
  return new Promise((ok, fail) => {
    const s = connect(port, "127.0.0.1", () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.once("data", () => {
      s.destroy();
      ok();
    });
    s.on("error", fail);
  });
}

const openFds = () => readdirSync("/proc/self/fd").length;

describe("kd demo's server", () => {
  let dir: string;
  let site: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-serve-"));
    site = join(dir, "site");
    mkdirSync(site);
    writeFileSync(join(site, "index.html"), "<p>demo</p>");
    writeFileSync(join(dir, "secret.txt"), "outside the site");
    symlinkSync(join(dir, "secret.txt"), join(site, "secret.txt"));
    symlinkSync(dir, join(site, "up"));
    symlinkSync("/proc/self/mem", join(site, "mem"));
    symlinkSync(join(site, "index.html"), join(site, "inside.html"));
    writeFileSync(join(site, "big.wasm"), "");
    truncateSync(join(site, "big.wasm"), 64 << 20); // sparse: 64 MiB, far more than a socket buffers
    server = await serveSite(site, 0);
  });

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves a file byte for byte across its first read and the stream after it", async () => {
    const bytes = randomBytes(300_000);
    writeFileSync(join(site, "model.onnx"), bytes);
    const res = await fetch(`${server.url}model.onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("answers a malformed percent-escape with 400 and serves the next request", async () => {
    for (const path of ["/%", "/%zz", "/%FF", "/%E0%A4%A", "/a%00b"]) {
      expect((await get(server.port, path)).status, path).toBe(400);
      const next = await get(server.port, "/");
      expect(next.status).toBe(200);
      expect(next.body).toBe("<p>demo</p>");
    }
  });

  it("serves links inside the site, and not links that lead out of it", async () => {
    expect((await get(server.port, "/inside.html")).body).toBe("<p>demo</p>");
    for (const path of ["/secret.txt", "/up/secret.txt", "/%2e%2e/secret.txt", "/mem"]) {
      const r = await get(server.port, path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain("outside the site");
    }
    expect((await get(server.port, "/")).status).toBe(200);
  });

  it("answers a file that fails on read with 500 and keeps serving", async () => {
    // /proc/<pid>/mem is a regular file that fails with EIO on its first read.
    const proc = await serveSite("/proc/self", 0);
    try {
      expect((await get(proc.port, "/mem")).status).toBe(500);
      expect((await get(proc.port, "/mem")).status).toBe(500);
      expect((await get(proc.port, "/comm")).status).toBe(200);
    } finally {
      await proc.close();
    }
  });

  it("closes the file of every aborted download", async () => {
    await get(server.port, "/");
    const before = openFds();
    for (let i = 0; i < 30; i++) await abortedGet(server.port, "/big.wasm");
    for (let t = 0; t < 40 && openFds() > before; t++) await new Promise((r) => setTimeout(r, 50));
    // At most: the sockets of the warm-up request may still have been closing when counted.
    expect(openFds()).toBeLessThanOrEqual(before);
    expect((await get(server.port, "/")).status).toBe(200);
  });

  it("refuses a busy port in one line, before writing the site", async () => {
    const busy: Server = createServer();
    await new Promise<void>((ok) => busy.listen(0, "127.0.0.1", ok));
    const port = (busy.address() as { port: number }).port;
    try {
      const model = join(dir, "model.onnx");
      writeForeignClassifier(model, new Float32Array(7840), new Float32Array(10), 10);
      const out = join(dir, "busy-site");
      const r = kd([
        "demo",
        "--teacher",
        model,
        "--student",
        model,
        "--out",
        out,
        "--serve",
        "--port",
        String(port),
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toEqual([
        `kd: cannot serve on 127.0.0.1:${port}: the port is in use (choose another with --port; --port 0 picks a free one)`,
      ]);
      expect(existsSync(out)).toBe(false);
    } finally {
      busy.close();
    }
  });
});
