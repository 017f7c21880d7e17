/**
 * The layering of src/: each folder imports only folders on lower layers, so there is no import
 * cycle between folders and a lower layer never depends on a higher one (the runtime on deploy/, say).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layers, lowest first. A folder may import its own folder and those on lower layers; folders on
 * one layer are peers and import neither each other. Why this order:
 * - util: helpers with no kd concepts; data: loaders and checks on plain arrays (the runtime and
 *   models take a Dataset); ir, then autodiff and onnx (graphs, their gradients and their lowering,
 *   including the model file's `kd.*` metadata and its preprocessing); runtime: sessions and files.
 * - nn (model kinds), then losses and optim, then objectives (built from losses), then train (the
 *   step and epoch loop), distill (teachers, transfer sets, caches) and analyses (reading results).
 * - experiment (specs: experiments as data, validated against the registries below it), report (rendering
 *   results per spec), runner (planning and running specs, locally or on the queue).
 * - deploy (predict, bake, quantize, summary: user features nothing below uses), web (the browser
 *   page), demo (serves the page), cli, and the package's entry point (src/index.ts, ".").
 */
const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  ["data"],
  ["ir"],
  ["autodiff", "onnx"],
  ["runtime"],
  ["nn"],
  ["losses", "optim"],
  ["objectives"],
  ["train"],
  ["distill"],
  ["analyses"],
  ["experiment"],
  ["report"],
  ["runner"],
  ["deploy"],
  ["web"],
  ["demo"],
  ["cli"],
  ["."],
];

/** Entry points and the only modules that may import them (a command importing cli/main.ts is a cycle). */
const ENTRY_POINTS: Readonly<Record<string, readonly string[]>> = {
  "src/index.ts": [],
  "src/cli/bin.ts": [],
  "src/cli/main.ts": ["src/cli/bin.ts"],
};

const SRC = resolve(__dirname, "../src");
const root = resolve(SRC, "..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "gen" ? [] : sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** The relative modules a file imports or re-exports (static and dynamic), as paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm),
    ...text.matchAll(/^\s*import\s*"([^"]+)"/gm),
    ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s).replace(/\.js$/, ".ts"));
}

/** The top-level folder of src/ a file is in ("." for files directly in src/). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts.length > 1 ? parts[0]! : ".";
}

const files = sources(SRC);
const edges = files.flatMap((from) => importsOf(from).map((to) => ({ from, to })));
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));
const show = (f: string) => relative(root, f);

describe("architecture", () => {
  it("names every folder of src/ in a layer", () => {
    const folders = [...new Set(files.map(folderOf))].sort();
    expect(folders.filter((f) => !layerOf.has(f))).toEqual([]);
  });

  it("has no folder importing a folder on its own layer or a higher one", () => {
    const bad = edges
      .filter(({ from, to }) => folderOf(from) !== folderOf(to))
      .filter(({ from, to }) => layerOf.get(folderOf(to))! >= layerOf.get(folderOf(from))!)
      .map(({ from, to }) => `${show(from)} imports ${show(to)}`);
    expect(bad).toEqual([]);
  });

  it("has no import cycle between folders", () => {
    const next = new Map<string, Set<string>>();
    for (const { from, to } of edges) {
      const [a, b] = [folderOf(from), folderOf(to)];
      if (a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
    }
    // Depth-first search; a folder met again on the current path closes a cycle.
    const cycles: string[] = [];
    const done = new Set<string>();
    const visit = (f: string, path: string[]): void => {
      if (path.includes(f)) {
        cycles.push([...path.slice(path.indexOf(f)), f].join(" → "));
        return;
      }
      if (done.has(f)) return;
      for (const g of next.get(f) ?? []) visit(g, [...path, f]);
      done.add(f);
    };
    for (const f of next.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("has no module importing an entry point", () => {
    const bad = edges
      .filter(({ from, to }) => ENTRY_POINTS[show(to)]?.includes(show(from)) === false)
      .map(({ from, to }) => `${show(from)} imports ${show(to)}`);
    expect(bad).toEqual([]);
  });

  it("resolves every relative import to a source file", () => {
    const known = new Set(files);
    const missing = edges
      .filter(({ to }) => !known.has(to) && !to.includes(`${join("onnx", "gen")}`))
      .map(({ from, to }) => `${show(from)} imports ${show(to)}`);
    expect(missing).toEqual([]);
  });
});
