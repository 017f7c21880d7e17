/**
 * The page's own-data path in Node (the same modules the page bundles): a zip of an image folder
 * reads as `kd train --train DIR` reads the folder, bad input is one line, and a distilled student
 * is exported with its preprocessing and scores as the page says it does.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnist } from "../../src/data/dataset.js";
import { loadImageFolder } from "../../src/data/images.js";
import { loadNpzDataset } from "../../src/data/npy.js";
import { setMetadata } from "../../src/onnx/edit.js";
import { readPreprocessing } from "../../src/onnx/metadata.js";
import { decodeModel, encodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { setTotalMemory } from "../../src/util/memory.js";
import { isNpz, loadImageSet, loadNpzSet, zipFiles } from "../../src/web/folder.js";
import { checkFits, distilOwn, forTeacher, loadTeacher, type Teacher } from "../../src/web/own.js";
import { npyBytes } from "../data/npy-bytes.js";
import { grayPng, mnistFolder, zipOf } from "./folders.js";
import { trainMlp } from "./models.js";

describe("distilling a user's teacher on a user's image folder (Node)", () => {
  let dir: string;
  let teacherBytes: Uint8Array;
  let teacher: Teacher;
  let zip: Uint8Array;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kd-own-"));
    await trainMlp(join(dir, "teacher.onnx"), { hidden: 64, images: 5000, epochs: 1, seed: 1 });
    teacherBytes = readFileSync(join(dir, "teacher.onnx"));
    teacher = await loadTeacher(teacherBytes, "teacher.onnx");
    zip = zipOf(mnistFolder(20, "digits", dir));
  });
  afterAll(async () => {
    await teacher?.classifier.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads a zipped folder as kd's loader reads the folder: classes, labels and pixels", async () => {
    const set = await loadImageSet(zipFiles(zip, "digits.zip"), "digits");
    const ds = loadImageFolder(join(dir, "digits"));
    expect(set.classes).toEqual(ds.classNames);
    expect(set.counts).toEqual(new Array(10).fill(20));
    expect(set.shape).toEqual([1, 28, 28]);
    expect(Array.from(set.y)).toEqual(Array.from(ds.y!));
    expect(Buffer.from(set.x.buffer).equals(Buffer.from(ds.x.buffer))).toBe(true);
  });

  it("distils a student whose file records kd train's preprocessing and scores as reported", async () => {
    const set = await loadImageSet(zipFiles(zip, "digits.zip"), "digits");
    const r = await distilOwn(teacher, set, {
      arch: "mlp:32",
      objective: "kd",
      temperature: 4,
      weight: 0.7,
      epochs: 3,
      lr: 0.05,
      valShare: 0.25,
    });
    expect([r.trainCount, r.valCount, r.epochs, r.stopped]).toEqual([150, 50, 3, false]);
    expect(r.params).toBe(784 * 32 + 32 + 32 * 10 + 10);
    const model = decodeModel(r.onnx);
    expect(readPreprocessing(model)).toEqual({ scale: 1 / 255 });
    const meta = Object.fromEntries(model.metadataProps.map((e) => [e.key, e.value]));
    expect(JSON.parse(meta["kd.data"]!)).toEqual({ name: "digits", shape: [1, 28, 28] });
    expect(JSON.parse(meta["kd.classes"]!)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // The file in onnxruntime-node on kd's own loading of the folder: all 200 images, better than chance.
    writeFileSync(join(dir, "student.onnx"), r.onnx);
    const clf = await OnnxClassifier.load(join(dir, "student.onnx"));
    const ds = loadImageFolder(join(dir, "digits"));
    const z = await clf.logitsOf(ds);
    let right = 0;
    for (let i = 0; i < ds.n; i++) {
      const row = Array.from(z.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === ds.y![i]) right++;
    }
    await clf.release();
    expect(right / ds.n).toBeGreaterThan(0.3);
    expect(r.teacherAccuracy).toBeGreaterThan(0.5);
  });

  it("reads an .npz of features and labels as kd's loader reads it, and distils from it", async () => {
    const test = loadMnist("test");
    const n = 120;
    const px = Uint8Array.from(test.x.subarray(0, n * 784), (v) => Math.round(v * 255));
    const npz = zipOf({
      "x.npy": npyBytes("uint8", [n, 28, 28], px),
      "y.npy": npyBytes("int64", [n], test.y!.subarray(0, n)),
    });
    writeFileSync(join(dir, "digits.npz"), npz);
    const files = zipFiles(npz, "digits.npz");
    expect(isNpz(files)).toBe(true);
    const set = await loadNpzSet(files, "digits");
    const ds = loadNpzDataset(join(dir, "digits.npz"));
    expect(set.shape).toEqual(ds.exampleShape);
    expect(set.rawScale).toBe(ds.rawScale);
    expect(Array.from(set.y)).toEqual(Array.from(ds.y!));
    expect(Buffer.from(set.x.buffer).equals(Buffer.from(ds.x.buffer))).toBe(true);
    const r = await distilOwn(teacher, set, {
      arch: "cnn:4",
      objective: "kd",
      temperature: 4,
      weight: 0.7,
      epochs: 1,
      lr: 0.05,
    });
    expect(readPreprocessing(decodeModel(r.onnx))).toEqual({ scale: 1 / 255 });
    const noLabels = zipOf({ "x.npy": npyBytes("uint8", [2, 2], [1, 2, 3, 4]) });
    await expect(loadNpzSet(zipFiles(noLabels, "a.npz"), "a")).rejects.toThrow(
      "a: no labels array (y, labels, targets or label) among x",
    );
  });

  it("numbers the folder's classes as the teacher names them (kd.classes), and refuses a class it does not know", async () => {
    const model = decodeModel(teacherBytes);
    const reversed = ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"];
    setMetadata(model, "kd.classes", JSON.stringify(reversed));
    const named = await loadTeacher(encodeModel(model), "named.onnx");
    try {
      const set = await loadImageSet(zipFiles(zip, "digits.zip"), "digits");
      const aligned = forTeacher(named, set);
      expect(aligned.classes).toEqual(reversed);
      expect(Array.from(aligned.y)).toEqual(Array.from(set.y, (c) => 9 - c));
      const odd = await loadImageSet(
        zipFiles(
          zipOf({
            "o/1/a.png": grayPng(new Array(784).fill(0), 28, 28),
            "o/cat/a.png": grayPng(new Array(784).fill(0), 28, 28),
          }),
          "o.zip",
        ),
        "o",
      );
      expect(() => forTeacher(named, odd)).toThrow(
        'o: class "cat" is not one of named.onnx\'s classes (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)',
      );
    } finally {
      await named.classifier.release();
    }
  });

  it("refuses a zip without class sub-folders, images of mixed sizes, and a zip it cannot read, in one line", async () => {
    const flat = zipOf({ "a.png": grayPng([0, 1, 0, 1], 2, 2), "b.png": grayPng([1, 0, 1, 0], 2, 2) });
    await expect(loadImageSet(zipFiles(flat, "flat.zip"), "flat")).rejects.toThrow(
      /^flat: no class sub-folders with PNG or JPEG images \(expected <class>\/<image>\.png/,
    );
    const mixed = zipOf({
      "a/1.png": grayPng([0, 1, 0, 1], 2, 2),
      "b/1.png": grayPng(new Array(9).fill(0), 3, 3),
    });
    await expect(loadImageSet(zipFiles(mixed, "mixed.zip"), "mixed")).rejects.toThrow(
      "mixed/b/1.png: 3x3 pixels, but mixed/a/1.png is 2x2; resize them to one size first",
    );
    expect(() => zipFiles(Uint8Array.from([1, 2, 3, 4]), "junk.zip")).toThrow(
      /^junk\.zip: not a readable zip file/,
    );
  });

  it("refuses a folder larger than memory allows, in one line", () => {
    setTotalMemory(10_000);
    try {
      expect(() => zipFiles(zip, "digits.zip")).toThrow(
        /^digits\.zip: unpacking .* would need .* of memory, more than the 10.0 kB available/,
      );
    } finally {
      setTotalMemory(Number.POSITIVE_INFINITY);
    }
  });

  it("refuses a model that is not a classifier, and a teacher that does not take the images", async () => {
    await expect(loadTeacher(Uint8Array.from([1, 2, 3]), "junk.onnx")).rejects.toThrow(
      /^junk\.onnx: not an ONNX/,
    );
    const model = decodeModel(teacherBytes);
    const out = model.graph!.output[0]!;
    const t = out.type!.value.value as { shape: { dim: unknown[] } };
    t.shape.dim.push(t.shape.dim[1]);
    await expect(loadTeacher(encodeModel(model), "bad.onnx")).rejects.toThrow(
      /^bad\.onnx: output "logits" should be \[batch, classes\], is \[.*, 10, 10\]$/,
    );
    const rgb = {
      name: "rgb",
      x: new Float32Array(3 * 64),
      y: Int32Array.from([0]),
      n: 1,
      shape: [3, 8, 8],
      classes: ["a"],
      counts: [1],
    };
    expect(() => checkFits(teacher, rgb)).toThrow(
      "teacher.onnx takes [784] (784 values) per example; rgb's images are [3, 8, 8] (192 values)",
    );
  });
});
