/**
 * The page on onnxruntime-web's WebGPU execution provider, in Chromium with its software adapter
 * (SwiftShader): the teacher's pass and the training steps give wasm's numbers (to 1e-4).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KdDemoApi, OwnDistilled } from "../../src/web/api.js";
import { chromiumPath, giveOwn, type OpenSite, openSite } from "./browser.js";
import { ownSite } from "./folders.js";

declare const window: { kdDemo: KdDemoApi };
declare const navigator: { gpu?: { requestAdapter(): Promise<unknown> } };

const maxAbsDiff = (a: readonly number[], b: readonly number[]) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe.skipIf(!chromiumPath)("the page on WebGPU (Chromium's software adapter)", () => {
  let dir: string;
  let open: OpenSite;
  let page: Page;
  let adapter = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-webgpu-"));
    // 6 images a class: one training step an epoch on the software adapter, which is slow.
    const site = await ownSite(dir, 6);
    open = await openSite(site.out, { webgpu: true });
    page = open.page;
    adapter = await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter()));
    if (!adapter) console.warn("test/web/webgpu.test.ts: skipped, this Chromium offers no WebGPU adapter");
    await giveOwn(page, dir, { teacher: "teacher.onnx", zip: "digits.zip" });
  });

  afterAll(async () => {
    await open?.close();
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
    console.log(
      `WebGPU vs wasm, max |diff|: teacher ${diffs.teacher.toExponential(2)}, ` +
        `mlp student after 1 epoch ${diffs.mlp.toExponential(2)}, cnn ${diffs.cnn.toExponential(2)}; ` +
        `steps/s wasm ${wasm.mlp.r.stepsPerSecond.toFixed(0)} (mlp) ${wasm.cnn.r.stepsPerSecond.toFixed(1)} (cnn), ` +
        `WebGPU ${gpu.mlp.r.stepsPerSecond.toFixed(0)} (mlp) ${gpu.cnn.r.stepsPerSecond.toFixed(1)} (cnn)`,
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
