/**
 * `kd demo`: a static site that runs a teacher and a student in the browser and distils a new
 * student in the tab: the page bundle, onnxruntime-web's wasm files (from the npm package, no
 * CDN), the two models and a slice of MNIST as raw bytes, described by manifest.json.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Dataset, loadMnist } from "../data/dataset.js";
import { OnnxClassifier, parseModelFile } from "../runtime/classifier.js";
import { copyFileAtomic, writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import type { ManifestImages, ManifestModel, SiteManifest } from "../web/api.js";
import { bundlePage, PAGE_FILES } from "./bundle.js";

export interface SiteOptions {
  readonly teacher: string;
  readonly student: string;
  readonly out: string;
  /** Training images shipped as the in-page transfer set (default 5000). */
  readonly trainImages?: number;
  /** Test images shipped for evaluation and picking (default 1000). */
  readonly testImages?: number;
  /** A built page folder (default dist/page from `npm run build`; bundled now when absent). */
  readonly page?: string;
}

/**
 * onnxruntime-web's WebAssembly build (threads and SIMD) and the glue that loads it; then the
 * build its WebGPU execution provider needs (asyncify), fetched only when the page uses WebGPU.
 */
export const ORT_FILES = [
  "ort-wasm-simd-threaded.mjs",
  "ort-wasm-simd-threaded.wasm",
  "ort-wasm-simd-threaded.asyncify.mjs",
  "ort-wasm-simd-threaded.asyncify.wasm",
] as const;
const ORT_DIR = "ort/";

export interface Site {
  readonly out: string;
  readonly manifest: SiteManifest;
  readonly bytes: number;
}

/** Checks that `path` is a 784-in, 10-out classifier and describes it for the manifest. */
async function describeModel(path: string, file: string): Promise<ManifestModel> {
  const clf = await OnnxClassifier.load(path);
  await clf.release();
  if (clf.features !== 784 || clf.numClasses !== 10)
    throw new KdError(
      `${path}: the demo needs an MNIST classifier (784 inputs, 10 classes); this one takes ${clf.features} and outputs ${clf.numClasses}`,
    );
  const { model, bytes } = parseModelFile(path);
  const params = model.graph!.initializer.reduce((a, t) => a + t.dims.reduce((x, d) => x * Number(d), 1), 0);
  return {
    file,
    name: basename(path),
    bytes: bytes.length,
    params,
    input: clf.inputName,
    inputShape: clf.exampleShape,
    output: clf.outputName,
  };
}

/** Writes the first `n` examples of `ds` as uint8 pixels (x·255, exact for MNIST) and uint8 labels. */
function writeImages(ds: Dataset, n: number, out: string, name: string): ManifestImages {
  if (!(Number.isInteger(n) && n >= 1 && n <= ds.n))
    throw new KdError(`${name}: asked for ${n} images, MNIST has ${ds.n}`);
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = Math.round(ds.x[i]! * 255);
  const labels = Uint8Array.from(ds.y!.subarray(0, n));
  const images = `data/${name}-images.u8`;
  const labelFile = `data/${name}-labels.u8`;
  writeFileAtomic(join(out, images), px);
  writeFileAtomic(join(out, labelFile), labels);
  return { images, labels: labelFile, n };
}

function ortFile(name: string): string {
  try {
    return createRequire(import.meta.url).resolve(`onnxruntime-web/${name}`);
  } catch {
    throw new KdError(`cannot find onnxruntime-web's ${name} (run npm install)`);
  }
}

export async function writeSite(o: SiteOptions): Promise<Site> {
  for (const p of [o.teacher, o.student]) if (!existsSync(p)) throw new KdError(`${p}: no such file`);
  const teacher = await describeModel(o.teacher, "models/teacher.onnx");
  const student = await describeModel(o.student, "models/student.onnx");
  for (const d of ["models", "data", ORT_DIR]) mkdirSync(join(o.out, d), { recursive: true });

  const prebuilt = o.page ?? fileURLToPath(new URL("../page/", import.meta.url));
  if (PAGE_FILES.every((f) => existsSync(join(prebuilt, f))))
    for (const f of PAGE_FILES) copyFileAtomic(join(prebuilt, f), join(o.out, f));
  else await bundlePage(o.out);
  for (const f of ORT_FILES) copyFileAtomic(ortFile(f), join(o.out, ORT_DIR, f));
  copyFileAtomic(o.teacher, join(o.out, teacher.file));
  copyFileAtomic(o.student, join(o.out, student.file));

  const manifest: SiteManifest = {
    version: 1,
    teacher,
    student,
    train: writeImages(loadMnist("train"), o.trainImages ?? 5000, o.out, "train"),
    test: writeImages(loadMnist("test"), o.testImages ?? 1000, o.out, "test"),
    ort: ORT_DIR,
  };
  writeFileAtomic(join(o.out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const files = [
    ...PAGE_FILES,
    ...ORT_FILES.map((f) => ORT_DIR + f),
    teacher.file,
    student.file,
    manifest.train.images,
    manifest.train.labels,
    manifest.test.images,
    manifest.test.labels,
  ];
  const bytes = files.reduce((a, f) => a + readFileSync(join(o.out, f)).length, 0);
  return { out: o.out, manifest, bytes };
}
