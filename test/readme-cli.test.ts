/**
 * The README's short CLI blocks (each marked `<!-- readme-cli: ... -->`) run as written, command by
 * command through a shell where `npx kd` is this checkout's kd, on small files made here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { blobs } from "./helpers/blobs.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "src", "cli", "bin.ts");
const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const readme = readFileSync(join(root, "README.md"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "kd-readme-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The commands of every sh block after a readme-cli marker, continuation lines joined. */
function markedBlocks(): string[][] {
  return [...readme.matchAll(/<!-- readme-cli:[^>]*-->\n```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
}

/** A CSV of the test blobs: features scaled by `scale`, labels as given. */
function writeCsv(path: string, n: number, seed: number, scale: number, label: (k: number) => string): void {
  const { x, y } = blobs(n, seed, scale);
  const head = [...x[0]!.map((_, j) => `f${j}`), "label"].join(",");
  writeFileSync(path, `${[head, ...x.map((r, i) => [...r, label(y[i]!)].join(","))].join("\n")}\n`);
}

/** Runs one README line in bash from `dir`, with `npx kd` standing for this checkout's CLI. */
function sh(line: string) {
  const shim = `npx() { if [ "$1" = kd ]; then shift; node --import "${tsx}" "${bin}" "$@"; else command npx "$@"; fi; }`;
  return spawnSync("bash", ["-c", `${shim}\n${line}`], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, KD_DEBUG: "" },
  });
}

describe("the README's short CLI blocks run as written", () => {
  const blocks = markedBlocks();
  const names = ["cat", "dog", "emu"];
  // Features in the thousands, for the block that standardises them.
  writeCsv(join(dir, "train.csv"), 300, 1, 1000, String);
  writeCsv(join(dir, "test.csv"), 90, 2, 1000, String);
  writeCsv(join(dir, "pets.csv"), 300, 3, 1, (k) => names[k]!);
  writeCsv(join(dir, "pets-test.csv"), 30, 4, 1, (k) => names[k]!);

  it("finds the marked blocks", () => expect(blocks.length).toBeGreaterThanOrEqual(2));

  it("the standardised tabular model trains, and takes raw values", () => {
    const block = blocks.find((b) => b.some((l) => l.includes("train.csv")))!;
    for (const line of block) {
      const r = sh(line);
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
    }
    expect(existsSync(join(dir, "tab.onnx"))).toBe(true);
    const e = sh(`npx kd eval tab.onnx --test test.csv --json`);
    expect(e.status, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBeGreaterThan(0.9);
  });

  it("labels given as names are the model's classes, and predict prints them", () => {
    const block = blocks.find((b) => b.some((l) => l.includes("pets.csv")))!;
    const out = block.map((line) => {
      const r = sh(line);
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
      return r.stdout;
    });
    expect(existsSync(join(dir, "runs", "train-mlp-16.onnx"))).toBe(true);
    const rows = out.at(-1)!.trim().split("\n").slice(0, -1);
    expect(rows).toHaveLength(30);
    for (const row of rows) expect(row).toMatch(/\t(cat|dog|emu)\b/);
    expect(out.at(-1)).not.toMatch(/\t[012] /);
    // Three well-separated classes: the named student gets nearly all of the test rows right.
    const acc = /accuracy ([\d.]+)%/.exec(out.at(-1)!);
    expect(Number(acc?.[1])).toBeGreaterThan(90);
  });
});
