/**
 * The page as a distillation tool, in Chromium: a teacher file and a zipped image folder given
 * through the page's file inputs, a student distilled and downloaded whose predictions equal
 * onnxruntime-node's on kd's own loading of the folder, and every bad input one line in the page,
 * which still distils afterwards.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCsvDataset } from "../../src/data/csv.js";
import { loadMnist } from "../../src/data/dataset.js";
import { loadImageFolder } from "../../src/data/images.js";
import { loadNpyDataset } from "../../src/data/npy.js";
import { decodeModel, encodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import type { KdDemoApi, OwnDistilled } from "../../src/web/api.js";
import { npyBytes } from "../data/npy-bytes.js";
import { chromiumPath, type OpenSite, openSite } from "./browser.js";
import { grayPng, ownSite, zipOf } from "./folders.js";

declare const window: { kdDemo: KdDemoApi };

/** Where screenshots go (ignored by git). */
const OUTPUT = fileURLToPath(new URL("../../test-output/web/", import.meta.url));

describe.skipIf(!chromiumPath)("the page distils a user's teacher on a user's images (Chromium)", () => {
  let dir: string;
  let open: OpenSite;
  let page: Page;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-own-page-"));
    const site = await ownSite(dir);
    // Bad inputs: a model whose output is not [batch, classes], a folder of loose images, two
    // sizes, and colour images a 784-input teacher cannot take.
    const bad = decodeModel(readFileSync(file("teacher.onnx")));
    const dims = (bad.graph!.output[0]!.type!.value.value as { shape: { dim: unknown[] } }).shape.dim;
    dims.push(dims[1]);
    writeFileSync(file("not-a-classifier.onnx"), encodeModel(bad));
    const px = (n: number) => Array.from({ length: n }, (_, i) => (i % 7) / 7);
    writeFileSync(file("loose.zip"), zipOf({ "a.png": grayPng(px(4), 2, 2), "b.png": grayPng(px(4), 2, 2) }));
    writeFileSync(
      file("mixed.zip"),
      zipOf({ "m/a/1.png": grayPng(px(4), 2, 2), "m/b/1.png": grayPng(px(9), 3, 3) }),
    );
    writeFileSync(
      file("small.zip"),
      zipOf({ "s/a/1.png": grayPng(px(64), 8, 8), "s/b/1.png": grayPng(px(64), 8, 8) }),
    );
    open = await openSite(site.out, { height: 1000 });
    page = open.page;
  });

  afterAll(async () => {
    await open?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Gives `paths` to file input `id` (CDP DOM.setFileInputFiles) and waits until the page has read them. */
  async function give(id: string, ...paths: string[]): Promise<string> {
    const input = (await page.$(`#${id}`))!;
    await input.uploadFile(...paths);
    await page.evaluate(() => window.kdDemo.own.settled());
    return page.evaluate(() => window.kdDemo.own.status());
  }

  async function setField(id: string, value: string): Promise<void> {
    await page.$eval(
      `#${id}`,
      (e, v) => {
        (e as unknown as { value: string }).value = v;
      },
      value,
    );
  }

  async function distil(arch: string, epochs: number): Promise<OwnDistilled> {
    await setField("own-arch", arch);
    await setField("own-epochs", String(epochs));
    return page.evaluate(() => window.kdDemo.own.distil());
  }

  it("reads the teacher and the zipped folder, and distils a student whose download predicts as onnxruntime-node does", async () => {
    expect(await give("own-teacher", file("teacher.onnx"))).toBe("teacher teacher.onnx loaded");
    expect(await give("own-zip", file("digits.zip"))).toBe("200 images in 10 classes");
    const data = (await page.evaluate(() => window.kdDemo.own.data()))!;
    expect(data).toMatchObject({ name: "digits", n: 200, shape: [1, 28, 28] });
    expect(data.counts).toEqual(new Array(10).fill(20));
    await setField("own-lr", "0.05");
    const r = await distil("mlp:32", 3);
    expect([r.trainCount, r.valCount, r.epochs, r.stopped]).toEqual([160, 40, 3, false]);
    expect(r.teacher.valAccuracy).toBeGreaterThan(0.5);
    expect(r.student.valAccuracy).toBeGreaterThan(0.3);
    expect(r.student.params).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(await page.evaluate(() => window.kdDemo.own.status())).toMatch(/^done: student \d+\.\d%, teacher/);

    // The download in onnxruntime-node, on the folder as kd's loader reads it (pngjs): same logits.
    const b64 = (await page.evaluate(() => window.kdDemo.own.downloadBase64()))!;
    writeFileSync(file("student.onnx"), Buffer.from(b64, "base64"));
    expect(Buffer.from(b64, "base64").length).toBe(r.student.bytes);
    const clf = await OnnxClassifier.load(file("student.onnx"));
    expect(clf.preprocessing).toEqual({ scale: 1 / 255 });
    const ds = loadImageFolder(join(dir, "digits"));
    const want = await clf.logitsOf(ds);
    await clf.release();
    const got = await page.evaluate(() => window.kdDemo.own.studentLogits());
    expect(got).toHaveLength(want.length);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
    console.log(`own-data student: page vs onnxruntime-node logits, max |diff| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it("reads a folder given to the folder picker (webkitdirectory) as the zip of it", async () => {
    const before = (await page.evaluate(() => window.kdDemo.own.data()))!;
    // Puppeteer's uploadFile gives files only; CDP's DOM.setFileInputFiles takes the folder itself.
    await page.$eval("#own-status", (e) => {
      e.textContent = "";
    });
    const cdp = await page.createCDPSession();
    const { root } = await cdp.send("DOM.getDocument");
    const { nodeId } = await cdp.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#own-folder" });
    await cdp.send("DOM.setFileInputFiles", { nodeId, files: [join(dir, "digits")] });
    await cdp.detach();
    await page.waitForFunction(
      () => window.kdDemo.own.status() !== "" && !/^decoding|^reading/.test(window.kdDemo.own.status()),
    );
    await page.evaluate(() => window.kdDemo.own.settled());
    expect(await page.evaluate(() => window.kdDemo.own.status())).toBe("200 images in 10 classes");
    const after = (await page.evaluate(() => window.kdDemo.own.data()))!;
    expect(after).toEqual(before);
  });

  it("reads an .npz of features and labels given to the same input", async () => {
    const test = loadMnist("test");
    const px = Uint8Array.from(test.x.subarray(0, 50 * 784), (v) => Math.round(v * 255));
    const y = test.y!.subarray(0, 50);
    writeFileSync(
      file("fifty.npz"),
      zipOf({ "x.npy": npyBytes("uint8", [50, 28, 28], px), "y.npy": npyBytes("int64", [50], y) }),
    );
    expect(await give("own-zip", file("fifty.npz"))).toBe("50 images in 10 classes");
    expect(await page.evaluate(() => window.kdDemo.own.data()?.shape)).toEqual([28, 28]);
    const r = await distil("mlp:16", 1);
    expect([r.trainCount, r.valCount]).toEqual([40, 10]);
    expect(await give("own-zip", file("digits.zip"))).toBe("200 images in 10 classes");
  });

  /** The downloaded student's logits in onnxruntime-node on `ds` against the page's on its own reading: max |diff|. */
  async function downloadAgainstNode(ds: { x: Float32Array; n: number; rawScale?: number }): Promise<number> {
    const b64 = (await page.evaluate(() => window.kdDemo.own.downloadBase64()))!;
    writeFileSync(file("student.onnx"), Buffer.from(b64, "base64"));
    const clf = await OnnxClassifier.load(file("student.onnx"));
    const want = await clf.logitsOf(ds);
    await clf.release();
    const got = await page.evaluate(() => window.kdDemo.own.studentLogits());
    expect(got).toHaveLength(want.length);
    return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
  }

  it("reads a CSV file and an .npy pair given to the same input, and their students' downloads predict as onnxruntime-node does", async () => {
    const test = loadMnist("test");
    const n = 100;
    const header = [...Array.from({ length: 784 }, (_, j) => `p${j}`), "label"].join(",");
    const rows = Array.from({ length: n }, (_, i) =>
      [...Array.from(test.x.subarray(i * 784, (i + 1) * 784), (v) => v.toFixed(4)), test.y![i]].join(","),
    );
    writeFileSync(file("digits.csv"), `${header}\n${rows.join("\n")}\n`);
    expect(await give("own-zip", file("digits.csv"))).toBe(`${n} examples in 10 classes`);
    const counts = new Array<number>(10).fill(0);
    for (const k of test.y!.subarray(0, n)) counts[k]!++;
    expect(await page.evaluate(() => window.kdDemo.own.data())).toMatchObject({ shape: [784], counts });
    expect(await page.$eval("#own-data-info", (e) => e.textContent)).toBe(
      `digits.csv: 100 examples of 784, 10 classes: ${counts.map((c, k) => `${k} (${c})`).join(", ")}`,
    );
    let r = await distil("mlp:16", 2);
    expect([r.trainCount, r.valCount, r.epochs]).toEqual([80, 20, 2]);
    const csvDiff = await downloadAgainstNode(loadCsvDataset(file("digits.csv")));
    console.log(`CSV student: page vs onnxruntime-node logits, max |diff| ${csvDiff.toExponential(2)}`);
    expect(csvDiff).toBeLessThan(1e-4);

    const px = Uint8Array.from(test.x.subarray(0, n * 784), (v) => Math.round(v * 255));
    writeFileSync(file("x.npy"), npyBytes("uint8", [n, 28, 28], px));
    writeFileSync(file("y.npy"), npyBytes("int64", [n], test.y!.subarray(0, n)));
    expect(await give("own-zip", file("y.npy"), file("x.npy"))).toBe(`${n} images in 10 classes`);
    expect(await page.evaluate(() => window.kdDemo.own.data()?.shape)).toEqual([28, 28]);
    r = await distil("mlp:16", 2);
    expect([r.trainCount, r.valCount, r.epochs]).toEqual([80, 20, 2]);
    const npyDiff = await downloadAgainstNode(loadNpyDataset(file("x.npy"), file("y.npy")));
    console.log(`NPY student: page vs onnxruntime-node logits, max |diff| ${npyDiff.toExponential(2)}`);
    expect(npyDiff).toBeLessThan(1e-4);
  });

  it("names a bad CSV cell's line and column, a bad NPY header and a shape the teacher cannot take, and distils afterwards", async () => {
    writeFileSync(file("bad.csv"), "a,b,c,label\n0.1,0.2,0.3,0\n0.4,0.5,private,1\n");
    expect(await give("own-zip", file("bad.csv"))).toBe("bad.csv: line 3, column 3: not a number");
    const header = npyBytes("uint8", [2, 784], new Uint8Array(2 * 784), { descr: "<c8" });
    writeFileSync(file("bad-x.npy"), header);
    writeFileSync(file("bad-y.npy"), npyBytes("int64", [2], [0, 1]));
    const npyLine = await give("own-zip", file("bad-x.npy"), file("bad-y.npy"));
    expect(npyLine).toMatch(/^bad-x\.npy: /);
    expect(npyLine).not.toContain("\n");
    expect(await give("own-zip", file("x.npy"))).toBe(
      "x.npy: give two .npy files together, the features and their labels (a single .npy has no labels to validate on)",
    );
    writeFileSync(file("narrow.csv"), "a,b,label\n0.1,0.2,0\n0.3,0.4,1\n");
    expect(await give("own-zip", file("narrow.csv"))).toBe(
      "teacher.onnx takes [784] (784 values) per example; narrow.csv's examples are [2] (2 values)",
    );
    expect(await page.$eval("#own-status", (e) => e.className)).toBe("note error");
    expect(await give("own-zip", file("digits.csv"))).toBe("100 examples in 10 classes");
    const r = await distil("mlp:16", 1);
    expect([r.epochs, r.stopped]).toEqual([1, false]);
    expect(await page.evaluate(() => window.kdDemo.own.status())).toMatch(/^done: /);
    expect(await give("own-zip", file("digits.zip"))).toBe("200 images in 10 classes");
    expect(open.errors).toEqual([]);
  });

  it("distils the convnet students (cnn, resnet, mobilenet) in the page's runtime", async () => {
    for (const arch of ["cnn:8", "resnet:8,4", "mobilenet:0.25"]) {
      const r = await distil(arch, 1);
      expect(r.epochs, arch).toBe(1);
      expect(r.student.valAccuracy, arch).toBeGreaterThanOrEqual(0);
      expect(await page.evaluate(() => window.kdDemo.own.status()), arch).toMatch(/^done: /);
    }
  });

  it("says what is wrong with each bad input in one line, and still distils afterwards", async () => {
    const lines: Record<string, string> = {};
    lines.classifier = await give("own-teacher", file("not-a-classifier.onnx"));
    expect(lines.classifier).toMatch(
      /^not-a-classifier\.onnx: output "logits" should be \[batch, classes\], is \[.*, 10, 10\]$/,
    );
    lines.loose = await give("own-zip", file("loose.zip"));
    expect(lines.loose).toMatch(
      /^loose: no class sub-folders with PNG or JPEG images \(expected <class>\/<image>\.png/,
    );
    lines.mixed = await give("own-zip", file("mixed.zip"));
    expect(lines.mixed).toBe(
      "mixed/m/b/1.png: 3x3 pixels, but mixed/m/a/1.png is 2x2; resize them to one size first (the page does not resize)",
    );
    lines.mismatch = await give("own-zip", file("small.zip"));
    expect(lines.mismatch).toBe(
      "teacher.onnx takes [784] (784 values) per example; small's images are [1, 8, 8] (64 values)",
    );
    await page.evaluate(() => window.kdDemo.own.setMemoryLimit(20_000));
    lines.memory = await give("own-zip", file("digits.zip"));
    expect(lines.memory).toMatch(
      /^digits\.zip: unpacking .* would need .* of memory, more than the 20\.0 kB available$/,
    );
    await page.evaluate(() => window.kdDemo.own.setMemoryLimit(Number.POSITIVE_INFINITY));
    expect(await page.$eval("#own-status", (e) => e.className)).toBe("note error");
    for (const line of Object.values(lines)) expect(line).not.toContain("\n");

    // A run can be stopped: it keeps the last finished epoch's student.
    expect(await give("own-zip", file("digits.zip"))).toBe("200 images in 10 classes");
    await setField("own-arch", "mlp:32");
    await setField("own-epochs", "500");
    await page.evaluate(() => {
      void window.kdDemo.own.distil();
    });
    await page.waitForFunction(() => /^epoch [2-9]\d*\/500/.test(window.kdDemo.own.status()), {
      timeout: 60_000,
    });
    await page.click("#own-stop");
    await page.waitForFunction(() => /^stopped: /.test(window.kdDemo.own.status()), { timeout: 60_000 });
    const stopped = (await page.evaluate(() => window.kdDemo.own.last()))!;
    expect(stopped.stopped).toBe(true);
    expect(stopped.epochs).toBeGreaterThanOrEqual(1);
    expect(stopped.epochs).toBeLessThan(500);

    // And it still distils.
    const r = await distil("mlp:32", 2);
    expect([r.epochs, r.stopped]).toEqual([2, false]);
    expect(open.errors).toEqual([]);
  });

  it("renders the panel after a distillation (screenshot under test-output/web/; KD_PAGE_SCREENSHOT copies it)", async () => {
    await setField("own-lr", "0.05");
    await distil("cnn:8,16", 4);
    mkdirSync(OUTPUT, { recursive: true });
    const shot = join(OUTPUT, "page.png");
    await (await page.$("#own"))!.screenshot({ path: shot });
    if (process.env.KD_PAGE_SCREENSHOT) copyFileSync(shot, process.env.KD_PAGE_SCREENSHOT);
    expect(await page.$$eval("#own-result tr", (rows) => rows.length)).toBe(2);
    expect(open.errors).toEqual([]);
  });
});
