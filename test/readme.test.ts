import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Dataset } from "../src/data/dataset.js";
import { DataCatalog } from "../src/data/sources.js";
import { validateSpec } from "../src/experiment/load.js";
import { executeSpec } from "../src/runner/execute.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = (lang: string) =>
  [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1]!);

describe("the README's examples run as written", () => {
  const ts = blocks("ts");

  it("has library examples", () => expect(ts.length).toBeGreaterThanOrEqual(3));

  // Written inside the package (so `import ... from "kd-toolkit"` resolves to it through its
  // `exports`) and run with tsx from an empty folder, as a user's script would be.
  ts.forEach((code, i) => {
    it(`example ${i + 1} runs and prints`, () => {
      expect(existsSync(join(root, "dist", "index.js")), "npm run build first").toBe(true);
      const dir = join(root, "test-output", "readme");
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i + 1}.ts`);
      writeFileSync(file, code);
      const cwd = mkdtempSync(join(tmpdir(), "kd-readme-"));
      // The spec example names experiments/ relative to the repository.
      // tsx by absolute URL: `--import tsx` would resolve from the working folder.
      const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
      const r = spawnSync(process.execPath, ["--import", tsx, file], {
        cwd: code.includes("experiments/") ? root : cwd,
        encoding: "utf8",
        timeout: 240_000,
        env: { ...process.env, KD_DEBUG: "1" },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
    }, 300_000);
  });

  it("the short spec runs as written (smoke profile), validating on images it never trains on", async () => {
    const yaml = blocks("yaml").find((b) => b.includes("name: my-experiment"));
    expect(yaml, "the README's short spec").toBeDefined();
    const { spec, profile } = validateSpec(parse(yaml!, { merge: true }), "README", { profile: "smoke" });
    const out = mkdtempSync(join(tmpdir(), "kd-readme-spec-"));
    const r = await executeSpec({ spec, profile, baseDir: root, paper: {}, file: "README" }, { outDir: out });
    expect(r.failed).toEqual({});
    expect(Object.keys(r.runs)).toHaveLength(10);
    for (const rec of Object.values(r.runs)) {
      expect(rec.trainExamples, rec.id).toBe(2000);
      expect(rec.val?.n, rec.id).toBe(1000);
    }
    // The data itself: no validation image is among the training images.
    const data = new DataCatalog(spec.data, root);
    const rows = (d: Dataset) =>
      Array.from({ length: d.n }, (_, i) =>
        Buffer.from(d.x.subarray(i * d.features, (i + 1) * d.features).slice().buffer).toString("base64"),
      );
    const train = new Set(rows(data.get("train")));
    expect(rows(data.get("val")).filter((v) => train.has(v))).toEqual([]);
  }, 120_000);

  it("the spec shown in the README is valid", () => {
    const yaml = blocks("yaml");
    expect(yaml.length).toBeGreaterThanOrEqual(1);
    for (const y of yaml)
      for (const profile of [undefined, "smoke"])
        expect(() => validateSpec(parse(y, { merge: true }), "README", { profile })).not.toThrow();
  });
});
