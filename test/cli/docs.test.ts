/** What a new user reads agrees with what they get: the installed command's name and a quiet npm. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (file: string) => readFileSync(join(root, file), "utf8");

describe("a new user's first commands", () => {
  it("installs the CLI as kd and as kd-toolkit (the package's name, which npx finds)", () => {
    const bin = JSON.parse(read("package.json")).bin as Record<string, string>;
    expect(bin["kd-toolkit"]).toBeDefined();
    expect(bin["kd-toolkit"]).toBe(bin.kd);
    expect(read("README.md")).toContain("npx kd-toolkit");
  });

  it("gets no npm warning about the project's .npmrc", () => {
    if (existsSync(join(root, ".npmrc"))) expect(read(".npmrc")).not.toMatch(/onnxruntime-node-install/);
    const r = spawnSync("npm", ["config", "get", "registry"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Unknown project config/);
  });
});
