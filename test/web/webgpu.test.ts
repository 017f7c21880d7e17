/**
 * The page on onnxruntime-web's WebGPU execution provider, in Chromium with its software adapter
 * (SwiftShader): the teacher's pass and the training steps give wasm's numbers (to 1e-4).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, serveSite } from "../../src/demo/serve.js";
import type { KdDemoApi, OwnDistilled } from "../../src/web/api.js";
import { chromiumPath, launchChromium } from "./browser.js";
import { ownSite } from "./folders.js";

declare const window: { kdDemo: KdDemoApi };
declare const navigator: { gpu?: { requestAdapter(): Promise<unknown> } };

const maxAbsDiff = (a: readonly number[], b: readonly number[]) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe.skipIf(!chromiumPath)("the page on WebGPU (Chromium's software adapter)", () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let adapter = false;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-webgpu-"));
    const site = await ownSite(dir);
    server = await serveSite(site.out, 0);
    browser = await launchChromium({ webgpu: true });
    page = await browser.newPage();
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(server.url);
    await page.evaluate(() => window.kdDemo.ready);
    adapter = await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter()));
    if (!adapter) console.warn("test/web/webgpu.test.ts: skipped, this Chromium offers no WebGPU adapter");
    for (const [id, f] of [
      ["own-teacher", "teacher.onnx"],
      ["own-zip", "digits.zip"],
    ] as const)
      await (await page.$(`#${id}`))!.uploadFile(join(dir, f));
    await page.evaluate(() => window.kdDemo.own.settled());
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function distil(arch: string): Promise<{ r: OwnDistilled; logits: number[] }> {
    await page.$eval(
      "#own-arch",
      (e, v) => {
        (e as unknown as { value: string }).value = v;
      },
      arch,
    );
    await page.$eval("#own-epochs", (e) => {
      (e as unknown as { value: string }).value = "1";
    });
    const r = await page.evaluate(() => window.kdDemo.own.distil());
    return { r, logits: await page.evaluate(() => window.kdDemo.own.studentLogits()) };
  }

  it("runs the teacher and the training steps on WebGPU as on wasm (to 1e-4)", async (ctx) => {
    if (!adapter) ctx.skip();
    expect(await page.evaluate(() => window.kdDemo.own.backend())).toMatch(/\(wasm, /);
    const wasm = {
      teacher: await page.evaluate(() => window.kdDemo.own.teacherLogits()),
      mlp: await distil("mlp:32"),
      cnn: await distil("cnn:4"),
    };
    const name = await page.evaluate(() => window.kdDemo.own.useBackend("webgpu"));
    expect(name).toMatch(/\(WebGPU, /);
    expect(await page.$eval("#own-ep-info", (e) => e.textContent)).toBe(name);
    const gpu = {
      teacher: await page.evaluate(() => window.kdDemo.own.teacherLogits()),
      mlp: await distil("mlp:32"),
      cnn: await distil("cnn:4"),
    };
    const diffs = {
      teacher: maxAbsDiff(gpu.teacher, wasm.teacher),
      mlp: maxAbsDiff(gpu.mlp.logits, wasm.mlp.logits),
      cnn: maxAbsDiff(gpu.cnn.logits, wasm.cnn.logits),
    };
    const fallbacks = consoleLines.filter((l) => /not assigned|fall ?back|CPU/i.test(l));
    console.log(
      `WebGPU vs wasm, max |diff|: teacher ${diffs.teacher.toExponential(2)}, ` +
        `mlp student after 1 epoch ${diffs.mlp.toExponential(2)}, cnn ${diffs.cnn.toExponential(2)}; ` +
        `steps/s wasm ${wasm.mlp.r.stepsPerSecond.toFixed(0)} (mlp) ${wasm.cnn.r.stepsPerSecond.toFixed(1)} (cnn), ` +
        `WebGPU ${gpu.mlp.r.stepsPerSecond.toFixed(0)} (mlp) ${gpu.cnn.r.stepsPerSecond.toFixed(1)} (cnn)\n` +
        fallbacks.slice(0, 10).join("\n"),
    );
    expect(gpu.teacher).toHaveLength(wasm.teacher.length);
    expect(diffs.teacher).toBeLessThan(1e-4);
    expect(diffs.mlp).toBeLessThan(1e-4);
    expect(diffs.cnn).toBeLessThan(1e-4);
    // And back: wasm again gives wasm's numbers.
    await page.evaluate(() => window.kdDemo.own.useBackend("wasm"));
    expect(maxAbsDiff(await page.evaluate(() => window.kdDemo.own.teacherLogits()), wasm.teacher)).toBe(0);
  });
});
