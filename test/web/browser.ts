/** Finding and launching Debian's Chromium for the browser tests (puppeteer-core: no bundled browser). */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

/** The first Chromium binary found: $CHROMIUM_PATH, then the usual Debian and Chrome locations. */
export const chromiumPath: string | undefined = [
  process.env.CHROMIUM_PATH,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
].find((p): p is string => !!p && existsSync(p));

/**
 * Chromium headless; with `webgpu`, its software WebGPU adapter (SwiftShader) is enabled instead of
 * the GPU being disabled.
 */
export function launchChromium(o: { webgpu?: boolean } = {}): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath!,
    // Root in a container: no sandbox; no network side traffic; a fresh profile every run.
    args: [
      "--headless",
      "--no-sandbox",
      ...(o.webgpu ? ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"] : ["--disable-gpu"]),
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${mkdtempSync(join(tmpdir(), "kd-chromium-"))}`,
    ],
  });
}
