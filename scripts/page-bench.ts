/**
 * Steps per second of the page's training step against Node's same step, on this machine: the demo's
 * MNIST distillation (784-100-10 student, batch 100, the same graphs and data) in Chromium on
 * onnxruntime-web (wasm; WebGPU on Chromium's software adapter with --webgpu) and in this process on
 * onnxruntime-node, alternating, for several steps-per-graph-run settings. A measurement, not a test.
 *
 *   npx tsx scripts/page-bench.ts [--epochs 3] [--k 1,10,40] [--webgpu]
 */
import "../src/runtime/node.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bundlePage } from "../src/demo/bundle.js";
import { writeSite } from "../src/demo/site.js";
import type { DistilOptions, KdDemoApi } from "../src/web/api.js";
import { Classifier, distil, fromBytes } from "../src/web/core.js";
import { giveOwn, openSite } from "../test/web/browser.js";
import { mnistFolder, zipOf } from "../test/web/folders.js";
import { trainMlp } from "../test/web/models.js";

declare const window: { kdDemo: KdDemoApi };

const { values } = parseArgs({
  options: {
    epochs: { type: "string", default: "3" },
    k: { type: "string", default: "1,10,40" },
    webgpu: { type: "boolean", default: false },
  },
});
const epochs = Number(values.epochs);
const ks = values.k.split(",").map(Number);

const dir = mkdtempSync(join(tmpdir(), "kd-page-bench-"));
try {
  await trainMlp(join(dir, "teacher.onnx"), { hidden: 300, images: 10000, epochs: 1, seed: 1 });
  await bundlePage(join(dir, "page"));
  const site = await writeSite({
    teacher: join(dir, "teacher.onnx"),
    student: join(dir, "teacher.onnx"),
    out: join(dir, "site"),
    page: join(dir, "page"),
    trainImages: 5000,
    testImages: 500,
  });
  const open = await openSite(site.out, { webgpu: values.webgpu });
  const { page } = open;
  if (values.webgpu) console.log(await page.evaluate(() => window.kdDemo.own.useBackend("webgpu")));
  else console.log(await page.evaluate(() => window.kdDemo.backend()));

  const { manifest } = site;
  const rd = (f: string) => new Uint8Array(readFileSync(join(site.out, f)));
  const train = fromBytes(rd(manifest.train.images), rd(manifest.train.labels));
  const test = fromBytes(rd(manifest.test.images), rd(manifest.test.labels));
  const teacher = await Classifier.load(rd(manifest.teacher.file), manifest.teacher.input, manifest.teacher.output);
  const logits = await teacher.logits(train.x, train.n);
  await teacher.release();

  // Steps/s of the last epoch (the first pays for compiling the graphs).
  const lastEpoch = (r: { history: { steps: number; stepSeconds: number }[] }) => {
    const h = r.history.at(-1)!;
    return h.steps / h.stepSeconds;
  };
  console.log(`CPU: ${cpus()[0]?.model} x${cpus().length}; ${train.n} images, batch 100, ${epochs} epochs`);
  for (const k of ks) {
    const opts: DistilOptions = { epochs, stepsPerRun: k, seed: 3 };
    const rows: string[] = [];
    for (let round = 0; round < 2; round++) {
      const node = lastEpoch((await distil(logits, train, test, opts)).result);
      const inPage = lastEpoch(await page.evaluate((o) => window.kdDemo.distil(o), opts));
      rows.push(`node ${node.toFixed(0)}, page ${inPage.toFixed(0)} (${(node / inPage).toFixed(2)}x)`);
    }
    console.log(`steps per graph run ${k}: ${rows.join("; ")}`);
  }
  // The forward pass alone (the teacher, 784-300-10, on 5000 images in runs of 256): how far apart
  // the two builds' kernels are, with no training-loop code of ours in between.
  if (!values.webgpu) {
    writeFileSync(join(dir, "digits.zip"), zipOf(mnistFolder(500, "digits")));
    await giveOwn(page, dir, { teacher: "teacher.onnx", zip: "digits.zip" });
    const rows: string[] = [];
    const t = await Classifier.load(readFileSync(join(dir, "teacher.onnx")), "input", "logits");
    const x = train.x.subarray(0, 5000 * 784);
    for (let round = 0; round < 3; round++) {
      let t0 = performance.now();
      await t.logits(x, 5000, 256);
      const node = performance.now() - t0;
      t0 = performance.now();
      await page.evaluate(() => window.kdDemo.own.teacherLogits());
      const inPage = performance.now() - t0;
      rows.push(`node ${node.toFixed(0)} ms, page ${inPage.toFixed(0)} ms (${(inPage / node).toFixed(2)}x)`);
    }
    await t.release();
    console.log(`teacher forward pass on 5000 images: ${rows.join("; ")}`);
  }
  await open.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
