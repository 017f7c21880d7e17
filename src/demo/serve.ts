/**
 * A static file server for the demo site on 127.0.0.1, with the cross-origin isolation headers
 * (COOP/COEP) that SharedArrayBuffer, and so onnxruntime-web's wasm threads, need.
 */
import { constants } from "node:fs";
import { type FileHandle, open, readlink, realpath } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, isAbsolute, resolve } from "node:path";
import { pipeline } from "node:stream";
import { KdError } from "../util/errors.js";
import { fsReason } from "../util/fs-errors.js";
import { isInside, resolveInside } from "../util/paths.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".u8": "application/octet-stream",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
};

export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
} as const;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The first read, done before the 200 goes out, so that a file that cannot be read gets a 500. */
const FIRST_READ = 64 * 1024;

function send(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", ...ISOLATION_HEADERS });
  res.end(text);
}

/** The site path a request names, decoded; undefined for a malformed URL or escape (a 400). */
function requestPath(url: string | undefined): string | undefined {
  try {
    const path = decodeURIComponent(new URL(url ?? "/", "http://x").pathname);
    return path.includes("\0") ? undefined : path;
  } catch {
    return undefined;
  }
}

/**
 * The regular file at `name` inside `root`, opened, after following every symbolic link; undefined
 * for anything else (missing, a folder or device, or a link that leads out of the site).
 */
async function openInside(root: string, name: string): Promise<{ fh: FileHandle; size: number } | undefined> {
  let real: string;
  try {
    real = resolveInside(root, name.replace(/^\/+/, ""), "request");
  } catch {
    return undefined;
  }
  // O_NONBLOCK: opening a FIFO swapped in after realpath must not hang; fstat refuses it below.
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
  const st = await fh?.stat().catch(() => undefined);
  if (fh && st?.isFile() && (await stillInside(root, fh))) return { fh, size: st.size };
  await fh?.close();
  return undefined;
}

/**
 * Whether the file a handle holds is inside `root`: the path was checked before it was opened, and
 * a folder on it swapped for a link in between would lead the open elsewhere. Linux says which
 * file a handle holds (/proc/self/fd); elsewhere the check before the open stands alone.
 */
async function stillInside(root: string, fh: FileHandle): Promise<boolean> {
  const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
  if (opened === undefined || !isAbsolute(opened)) return true;
  const base = await realpath(root).catch(() => undefined);
  return base !== undefined && isInside(base, opened);
}

/** Answers one GET or HEAD: the file's bytes, or 400/404/405/500 as one line of text. */
async function answer(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed");
  const path = requestPath(req.url);
  if (path === undefined) return send(res, 400, "bad request: malformed URL");
  // A path that climbs out of the site (`..%2f`, which the URL parser leaves encoded) is refused as such.
  if (path.split(/[\\/]/).includes("..")) return send(res, 403, "forbidden: the path leaves the site");
  const name = path.endsWith("/") ? `${path}index.html` : path;
  const file = await openInside(root, name);
  if (!file) return send(res, 404, "not found");
  const { fh, size } = file;
  let streaming = false;
  try {
    const first = Buffer.alloc(Math.max(1, Math.min(size, FIRST_READ)));
    const { bytesRead } = await fh.read(first, 0, first.length, 0);
    res.writeHead(200, {
      "Content-Type": TYPES[extname(name)] ?? "application/octet-stream",
      "Content-Length": size,
      "Cache-Control": "no-cache",
      ...ISOLATION_HEADERS,
    });
    if (req.method === "HEAD") return void res.end();
    const head = first.subarray(0, Math.min(bytesRead, size));
    if (head.length >= size) return void res.end(head);
    res.write(head);
    // pipeline, not pipe: a client that goes away mid-download destroys the stream and its handle.
    streaming = true;
    pipeline(fh.createReadStream({ start: head.length, end: size - 1 }), res, () => {});
  } finally {
    if (!streaming) await fh.close();
  }
}

/** Serves `dir` on 127.0.0.1:`port` (0 picks a free port). GET and HEAD only; nothing outside `dir`. */
export function serveSite(dir: string, port = 8080): Promise<RunningServer> {
  const root = resolve(dir);
  const server: Server = createServer((req, res) => {
    answer(root, req, res).catch(() => {
      // A read that fails (EIO, a file that vanished): a 500 while we still can, else cut the reply.
      if (!res.headersSent) send(res, 500, "cannot read the file");
      else res.destroy();
    });
  });
  return new Promise((ok, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(
        new KdError(
          e.code === "EADDRINUSE"
            ? `cannot serve on 127.0.0.1:${port}: the port is in use (choose another with --port; --port 0 picks a free one)`
            : `cannot serve on 127.0.0.1:${port}: ${fsReason(e)}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = server.address() as AddressInfo;
      ok({
        url: `http://127.0.0.1:${p}/`,
        port: p,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
