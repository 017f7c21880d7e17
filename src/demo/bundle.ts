/**
 * Builds the demo page (src/web) into a folder with esbuild: kd-demo.js (the page and the graph
 * code it shares with the CLI, onnxruntime-web's wasm build included), kd-webgpu.js (its WebGPU
 * build, loaded when chosen), kd-csv.js (csv-parse, loaded when a CSV file is given), index.html
 * and style.css.
 * `npm run build` runs this file to write dist/page/; `kd demo` copies that folder.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Metafile } from "esbuild";
import { copyFileAtomic } from "../util/atomic.js";

const WEB = fileURLToPath(new URL("../../src/web/", import.meta.url));
export const PAGE_FILES = ["kd-demo.js", "kd-webgpu.js", "kd-csv.js", "index.html", "style.css"] as const;

/** Bundles the page into `outDir`; the metafile lists every module the bundle holds. */
export async function bundlePage(outDir: string, opts: { minify?: boolean } = {}): Promise<Metafile> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new Error("building the demo page needs esbuild (a devDependency): run npm ci, or npm run build");
  }
  mkdirSync(outDir, { recursive: true });
  const res = await esbuild.build({
    // The WebGPU backend is a bundle of its own, which the page imports only when WebGPU is chosen.
    // So is csv-parse (its browser build, ~100 KiB), loaded when a CSV file is given.
    entryPoints: {
      "kd-demo": join(WEB, "main.ts"),
      "kd-webgpu": join(WEB, "webgpu.ts"),
      "kd-csv": join(WEB, "csv-parse.ts"),
    },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    // onnxruntime-web's build that loads its wasm glue from env.wasm.wasmPaths (the site's ort/
    // folder), instead of inlining it: its worker threads then load a small file, not the page.
    conditions: ["onnxruntime-web-use-extern-wasm"],
    minify: opts.minify ?? true,
    legalComments: "eof",
    metafile: true,
    logLevel: "warning",
  });
  for (const f of ["index.html", "style.css"]) copyFileAtomic(join(WEB, f), join(outDir, f));
  return res.metafile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = fileURLToPath(new URL("../page/", import.meta.url));
  const meta = await bundlePage(out);
  const bytes = Object.values(meta.outputs).reduce((a, o) => a + o.bytes, 0);
  console.log(`demo page: ${out} (${(bytes / 1024).toFixed(0)} KiB)`);
}
