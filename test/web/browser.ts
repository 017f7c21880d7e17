/** Finding and launching Debian's Chromium for the browser tests (puppeteer-core: no bundled browser), and opening the demo site in it. */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { type RunningServer, serveSite } from "../../src/demo/serve.js";
import type { KdDemoApi } from "../../src/web/api.js";

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

/** The demo site served on a free port and open in Chromium, ready (window.kdDemo.ready awaited). */
export interface OpenSite {
  readonly server: RunningServer;
  readonly browser: Browser;
  readonly page: Page;
  /** Uncaught errors in the page. */
  readonly errors: string[];
  close(): Promise<void>;
}

export async function openSite(
  siteDir: string,
  o: { webgpu?: boolean; height?: number; query?: string } = {},
): Promise<OpenSite> {
  const server = await serveSite(siteDir, 0);
  const browser = await launchChromium(o.webgpu ? { webgpu: true } : {});
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setViewport({ width: 1280, height: o.height ?? 600 });
  await page.goto(server.url + (o.query ?? ""));
  await page.evaluate(() => (globalThis as unknown as { kdDemo: KdDemoApi }).kdDemo.ready);
  return {
    server,
    browser,
    page,
    errors,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Gives files of `dir` to the page's own-panel inputs (CDP DOM.setFileInputFiles) and waits until it has read them. */
export async function giveOwn(
  page: Page,
  dir: string,
  files: { teacher?: string; zip?: string },
): Promise<void> {
  for (const [id, f] of [
    ["own-teacher", files.teacher],
    ["own-zip", files.zip],
  ] as const)
    if (f) await (await page.$(`#${id}`))!.uploadFile(join(dir, f));
  await page.evaluate(() => (globalThis as unknown as { kdDemo: KdDemoApi }).kdDemo.own.settled());
}
