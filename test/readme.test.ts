import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateSpec } from "../src/spec/load.js";

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

  it("the spec shown in the README is valid", () => {
    const yaml = blocks("yaml");
    expect(yaml.length).toBeGreaterThanOrEqual(1);
    for (const y of yaml)
      expect(() => validateSpec(parse(y, { merge: true }), "README", { profile: "smoke" })).not.toThrow();
  });
});
