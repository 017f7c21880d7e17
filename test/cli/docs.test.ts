/** What a new user reads agrees with what they get: the installed command's name, a quiet npm, and the profiles' times. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { kd } from "../helpers/cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (file: string) => readFileSync(join(root, file), "utf8");
/** The text with line breaks and runs of spaces as one space (help and README wrap lines). */
const flat = (text: string) => text.replace(/\s+/g, " ");

/** The first capture of `re` in `text`, failing the test (with `what`) when there is none. */
function grab(text: string, re: RegExp, what: string): string[] {
  const m = re.exec(text);
  expect(m, `${what}: no match for ${re}`).not.toBeNull();
  return m!.slice(1);
}

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

  it("reads the same profile times in `kd reproduce --help` as in the README", () => {
    const r = kd(["reproduce", "--help"]);
    expect(r.code).toBe(0);
    const help = flat(r.stdout);
    const readme = flat(read("README.md"));
    const idle = /about ([\d.]+) min on 2 idle cores/;
    const busy = /about (\d+) min on a busy machine/;
    const full = /about (\d+) h (\d+) min on 2 cores shared/;
    const quickHelp = grab(help, /--quick (.*?)--full/, "help")[0]!;
    const fullHelp = grab(help, /--full (.*?)--smoke/, "help")[0]!;
    expect(grab(quickHelp, idle, "--quick")).toEqual(grab(readme, idle, "README"));
    expect(grab(quickHelp, busy, "--quick")).toEqual(grab(readme, busy, "README"));
    expect(grab(fullHelp, full, "--full")).toEqual(grab(readme, full, "README"));
    // And the full profile's time is the last full run's, within 5 minutes.
    const [h, m] = grab(fullHelp, full, "--full").map(Number);
    const [rh, rm] = grab(readme, /Training time: (\d+) h (\d+) min/, "README Results").map(Number);
    expect(Math.abs(60 * h! + m! - (60 * rh! + rm!))).toBeLessThanOrEqual(5);
  });
});
