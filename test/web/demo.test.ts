/**
 * The demo page in a real browser (Chromium through puppeteer-core): its numbers must equal
 * onnxruntime-node's, its temperature slider must show softmax(z/T), and distillation in the tab
 * must learn with the CLI's own training-step graphs.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePage } from "../../src/demo/bundle.js";
import { type Site, writeSite } from "../../src/demo/site.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import type { DistilResult, KdDemoApi, Prediction } from "../../src/web/api.js";
import { Classifier, distil, fromBytes, softmaxT } from "../../src/web/core.js";
import { chromiumPath, type OpenSite, openSite } from "./browser.js";
import { trainMlp } from "./models.js";

/** Where screenshots go (ignored by git); KD_DEMO_SCREENSHOT copies one elsewhere (docs/demo.png). */
const OUTPUT = fileURLToPath(new URL("../../test-output/web/", import.meta.url));

declare const window: { kdDemo: KdDemoApi };

const maxAbsDiff = (a: readonly number[], b: ArrayLike<number>) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

if (!chromiumPath)
  console.warn(
    "test/web/demo.test.ts: skipped, no chromium binary (apt-get install chromium, or set CHROMIUM_PATH)",
  );

describe.skipIf(!chromiumPath)("kd demo page in Chromium", () => {
  let dir: string;
  let meta: Metafile;
  let site: Site;
  let open: OpenSite;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-demo-"));
    await trainMlp(join(dir, "teacher.onnx"), { hidden: 300, images: 30000, epochs: 2, seed: 1 });
    await trainMlp(join(dir, "student.onnx"), { hidden: 30, images: 5000, epochs: 1, seed: 2 });
    meta = await bundlePage(join(dir, "page"));
    site = await writeSite({
      teacher: join(dir, "teacher.onnx"),
      student: join(dir, "student.onnx"),
      out: join(dir, "site"),
      page: join(dir, "page"),
    });
    open = await openSite(site.out);
    page = open.page;
  });

  afterAll(async () => {
    await open?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("bundles no Node-only module, and the same graph code as the CLI", () => {
    const inputs = Object.keys(meta.inputs);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const imports = Object.values(meta.inputs).flatMap((i) => i.imports.map((m) => m.path));
    expect(imports.filter((p) => builtins.has(p) || p.startsWith("node:"))).toEqual([]);
    const nodeOnly =
      /onnxruntime-node|src\/(cli|repro|report|distill)\/|src\/data\/(?!(decode|checks|types|npy-format|csv-format|arrays)\.ts)|src\/util\/atomic|runtime\/(node|classifier)\.ts/;
    expect(inputs.filter((p) => nodeOnly.test(p))).toEqual([]);
    for (const shared of [
      "src/data/decode.ts",
      "src/runtime/signature.ts",
      "src/train/step.ts",
      "src/objectives/index.ts",
      "src/losses/losses.ts",
      "src/autodiff/grad.ts",
      "src/onnx/model.ts",
    ])
      expect(inputs).toContain(shared);
    expect(inputs.some((p) => p.includes("node_modules/onnxruntime-web/"))).toBe(true);
    // The objectives' schemas use zod/mini: zod's classic API (~440 KiB) stays out of the page.
    expect(inputs.filter((p) => p.includes("node_modules/zod/v4/classic/"))).toEqual([]);
    // Three bundles: the page (with onnxruntime-web's wasm build), the WebGPU build, loaded when
    // chosen, and csv-parse's browser build, loaded when a CSV file is given.
    const out = (name: string) => Object.entries(meta.outputs).find(([p]) => p.endsWith(name))![1];
    const [main, gpu, csv] = [out("kd-demo.js"), out("kd-webgpu.js"), out("kd-csv.js")];
    console.log(
      `page bundles: kd-demo.js ${(main.bytes / 1024).toFixed(0)} KiB, kd-webgpu.js ${(gpu.bytes / 1024).toFixed(0)} KiB`,
    );
    expect(main.bytes).toBeLessThan(300 * 1024);
    expect(Object.keys(main.inputs).filter((p) => p.includes("ort.webgpu"))).toEqual([]);
    expect(Object.keys(gpu.inputs).filter((p) => p.includes("src/train/"))).toEqual([]);
    expect(gpu.bytes).toBeLessThan(100 * 1024);
    expect(Object.keys(main.inputs).filter((p) => p.includes("node_modules/csv-parse/"))).toEqual([]);
    // Only csv-parse: none of kd's modules (and their state, such as the memory limit) twice.
    expect(
      Object.keys(csv.inputs).filter((p) => p.includes("src/") && !p.endsWith("web/csv-parse.ts")),
    ).toEqual([]);
  });

  it("is served cross-origin isolated, so onnxruntime-web may use wasm threads", async () => {
    const res = await fetch(open.server.url);
    expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    const info = await page.evaluate(() => ({ ...window.kdDemo.info(), backend: window.kdDemo.backend() }));
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.backend).toMatch(/^onnxruntime-web 1\.\d+\.\d+ \(wasm/);
    expect(info.teacher).toMatchObject({ name: "teacher.onnx", params: 784 * 300 + 300 + 300 * 10 + 10 });
    expect(info.student.params).toBe(784 * 30 + 30 + 30 * 10 + 10);
    expect(info.teacher.latencyMs).toBeGreaterThan(0);
  });

  it("predicts 20 test images as onnxruntime-node does (to 1e-4)", async () => {
    const node = {
      teacher: await OnnxClassifier.load(join(dir, "teacher.onnx")),
      student: await OnnxClassifier.load(join(dir, "student.onnx")),
    };
    let worst = 0;
    for (let i = 0; i < 20; i++) {
      const { pixels } = await page.evaluate((k) => window.kdDemo.testImage(k), i);
      const shown = await page.evaluate((k) => window.kdDemo.show(k), i);
      expect(shown.source).toBe(`test:${i}`);
      const px = Float32Array.from(pixels);
      for (const m of ["teacher", "student"] as const) {
        const want = await node[m].logits(px, 1);
        worst = Math.max(worst, maxAbsDiff(shown[m].logits, want));
      }
    }
    await node.teacher.release();
    await node.student.release();
    console.log(
      `20 test images: largest |page − onnxruntime-node| logit difference ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-4);
  });

  it("shows softmax(z / T) for both models as the slider moves (T = 1, 4, 20)", async () => {
    await page.evaluate(() => window.kdDemo.show(7));
    for (const T of [1, 4, 20]) {
      const p: Prediction = await page.evaluate((t) => window.kdDemo.distributions(t), T);
      expect(p.temperature).toBe(T);
      for (const m of [p.teacher, p.student]) {
        expect(maxAbsDiff(m.probs, softmaxT(m.logits, T))).toBeLessThan(1e-9);
        expect(m.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }
      // What the bars say is what the API returns.
      const bars = await page.$$eval("#col-teacher .value", (els) => els.map((e) => Number(e.textContent)));
      expect(maxAbsDiff(p.teacher.probs, bars)).toBeLessThanOrEqual(5e-4);
      expect(await page.$eval("#tempValue", (e) => e.textContent)).toBe(T.toFixed(1));
    }
    // Higher T flattens the teacher: its top probability falls.
    const top = async (T: number) =>
      Math.max(...(await page.evaluate((t) => window.kdDemo.distributions(t), T)).teacher.probs);
    expect(await top(20)).toBeLessThan(await top(1));
    await page.evaluate(() => window.kdDemo.distributions(1));
  });

  it("predicts a digit drawn on the canvas with the mouse", async () => {
    await page.click("#clear");
    const box = (await (await page.$("#pad"))!.boundingBox())!;
    const at = (x: number, y: number) =>
      [box.x + (x * box.width) / 28, box.y + (y * box.height) / 28] as const;
    // A "7": the top bar, then the diagonal down to the left.
    const stroke = [
      [7, 6],
      [12, 6],
      [17, 6],
      [21, 6],
      [19, 11],
      [17, 15],
      [15, 19],
      [13, 23],
    ];
    await page.mouse.move(...at(stroke[0]![0]!, stroke[0]![1]!));
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(...at(x!, y!), { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => window.kdDemo.current()?.source === "canvas");
    const p = (await page.evaluate(() => window.kdDemo.current()))!;
    for (const m of [p.teacher, p.student]) {
      expect(m.logits.every(Number.isFinite)).toBe(true);
      expect(m.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    const teacherSays = p.teacher.probs.indexOf(Math.max(...p.teacher.probs));
    console.log(`drawn 7: teacher says ${teacherSays} (p = ${Math.max(...p.teacher.probs).toFixed(3)})`);
    expect(teacherSays).toBe(7);
  });

  it("distils a student in the tab to ≥ 90% test accuracy, as Node does with the same graphs", async () => {
    const opts = { epochs: 3, seed: 3 };
    const inPage: DistilResult = await page.evaluate((o) => window.kdDemo.distil(o), opts);
    expect(inPage.history).toHaveLength(3);
    expect(inPage.testAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(inPage.history[2]!.loss).toBeLessThan(inPage.history[0]!.loss);

    // The same distillation in Node (onnxruntime-node): same data, seed and graphs.
    const { manifest } = site;
    const { readFileSync } = await import("node:fs");
    const rd = (f: string) => new Uint8Array(readFileSync(join(site.out, f)));
    const train = fromBytes(rd(manifest.train.images), rd(manifest.train.labels));
    const test = fromBytes(rd(manifest.test.images), rd(manifest.test.labels));
    const teacher = await Classifier.load(
      rd(manifest.teacher.file),
      manifest.teacher.input,
      manifest.teacher.output,
    );
    const inNode = (await distil(await teacher.logits(train.x, train.n), train, test, opts)).result;
    await teacher.release();
    expect(Math.abs(inPage.history[0]!.loss - inNode.history[0]!.loss)).toBeLessThan(1e-3);
    expect(Math.abs(inPage.testAccuracy - inNode.testAccuracy)).toBeLessThanOrEqual(0.01);
    console.log(
      `distillation ${inPage.arch}, ${inPage.steps} steps of batch 100: page ${inPage.stepsPerSecond.toFixed(0)} steps/s ` +
        `(last epoch ${(inPage.history[2]!.steps / inPage.history[2]!.stepSeconds).toFixed(0)}), ` +
        `Node ${inNode.stepsPerSecond.toFixed(0)} steps/s (last epoch ${(inNode.history[2]!.steps / inNode.history[2]!.stepSeconds).toFixed(0)}); ` +
        `test accuracy page ${inPage.testAccuracy}, Node ${inNode.testAccuracy}`,
    );

    // The page now shows the distilled student beside the others, and offers it for download.
    const p = (await page.evaluate(() => window.kdDemo.show(0)))!;
    expect(p.distilled?.probs).toHaveLength(10);
    expect(await page.$eval("#download", (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(false);
    expect(await page.$$eval("#info tr", (rows) => rows.length)).toBe(3);
  });

  it("renders without page errors (screenshot saved under test-output/web/)", async () => {
    mkdirSync(OUTPUT, { recursive: true });
    await page.evaluate(() => window.kdDemo.distributions(4));
    const shot = join(OUTPUT, "demo.png");
    await page.screenshot({ path: shot });
    if (process.env.KD_DEMO_SCREENSHOT) copyFileSync(shot, process.env.KD_DEMO_SCREENSHOT);
    expect(open.errors).toEqual([]);
  });
});
