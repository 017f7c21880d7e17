/**
 * A static file server for the demo site on 127.0.0.1, with the cross-origin isolation headers
 * (COOP/COEP) that SharedArrayBuffer, and so onnxruntime-web's wasm threads, need.
 */
import { createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";

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

/** Serves `dir` on 127.0.0.1:`port` (0 picks a free port). GET and HEAD only; nothing outside `dir`. */
export function serveSite(dir: string, port = 8080): Promise<RunningServer> {
  const root = resolve(dir);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    const send = (code: number, text: string) => {
      res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", ...ISOLATION_HEADERS });
      res.end(text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed");
    if (file !== root && !file.startsWith(root + sep)) return send(403, "forbidden");
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return send(404, "not found");
      size = st.size;
    } catch {
      return send(404, "not found");
    }
    res.writeHead(200, {
      "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      "Content-Length": size,
      "Cache-Control": "no-cache",
      ...ISOLATION_HEADERS,
    });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
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
