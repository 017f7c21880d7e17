/** The demo server when a folder on a checked path is swapped for a link before the file is opened. */
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { serveSite } from "../../src/demo/serve.js";

const dir = mkdtempSync(join(tmpdir(), "kd-serve-race-"));
const site = join(dir, "site");
const outside = join(dir, "outside");
let swap = false;

// The race made deterministic: the path is checked as usual, then its folder is swapped for a link
// to a folder outside the site, before the server opens the file.
vi.mock("../../src/util/paths.js", async (importOriginal) => {
  const paths = await importOriginal<typeof import("../../src/util/paths.js")>();
  return {
    ...paths,
    resolveInside: (base: string, location: string, what: string) => {
      const real = paths.resolveInside(base, location, what);
      if (swap) {
        renameSync(join(site, "sub"), join(dir, "sub-away"));
        symlinkSync(outside, join(site, "sub"));
        swap = false;
      }
      return real;
    },
  };
});

mkdirSync(join(site, "sub"), { recursive: true });
mkdirSync(outside);
writeFileSync(join(site, "sub", "a.txt"), "inside");
writeFileSync(join(outside, "a.txt"), "the secret");
const server = await serveSite(site, 0);
afterAll(() => server.close());

describe("kd demo's server, a folder swapped for a link after the check", () => {
  it("serves the file when nothing is swapped, and refuses the one the link leads to", async () => {
    const url = `http://127.0.0.1:${server.port}/sub/a.txt`;
    const before = await fetch(url);
    expect(before.status).toBe(200);
    expect(await before.text()).toBe("inside");
    swap = true;
    const after = await fetch(url);
    expect(swap).toBe(false);
    expect(after.status).toBe(404);
    expect(await after.text()).not.toContain("secret");
  });
});
