/** Image folders for the page's tests: MNIST digits as PNGs in class sub-folders, on disk and as a zip. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Zippable, zipSync } from "fflate";
import { PNG } from "pngjs";
import { loadMnist } from "../../src/data/dataset.js";
import { bundlePage } from "../../src/demo/bundle.js";
import { type Site, writeSite } from "../../src/demo/site.js";
import { trainMlp } from "./models.js";

/** A gray PNG of `w` × `h` pixels from values in [0, 1]. */
export function grayPng(px: ArrayLike<number>, w: number, h: number): Uint8Array {
  const img = new PNG({ width: w, height: h, colorType: 0 });
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(px[i]! * 255);
    img.data.set([v, v, v, 255], 4 * i);
  }
  return PNG.sync.write(img, { colorType: 0 });
}

/**
 * The first `perClass` test images of each digit as `<top>/<digit>/<k>.png` (files as a path → bytes
 * record); written under `dir` too when given, for kd's own loader.
 */
export function mnistFolder(perClass: number, top = "digits", dir?: string): Record<string, Uint8Array> {
  const test = loadMnist("test");
  const files: Record<string, Uint8Array> = {};
  const seen = new Array<number>(10).fill(0);
  for (let i = 0; i < test.n && seen.some((c) => c < perClass); i++) {
    const d = test.y![i]!;
    if (seen[d]! >= perClass) continue;
    files[`${top}/${d}/${String(seen[d]).padStart(3, "0")}.png`] = grayPng(
      test.x.subarray(i * 784, (i + 1) * 784),
      28,
      28,
    );
    seen[d]!++;
  }
  if (dir)
    for (const [path, bytes] of Object.entries(files)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    }
  return files;
}

/** A zip of path → bytes (folders implied by the paths, as zip tools write them). */
export function zipOf(files: Record<string, Uint8Array>): Uint8Array {
  return zipSync(files as Zippable);
}

/**
 * A `kd demo` site in `dir`/site whose teacher is a small MNIST MLP (`dir`/teacher.onnx), and
 * `dir`/digits.zip, a zip of `perClass` MNIST test images a class (also on disk as `dir`/digits).
 */
export async function ownSite(dir: string, perClass = 20): Promise<Site> {
  await trainMlp(join(dir, "teacher.onnx"), { hidden: 64, images: 5000, epochs: 1, seed: 1 });
  await bundlePage(join(dir, "page"));
  writeFileSync(join(dir, "digits.zip"), zipOf(mnistFolder(perClass, "digits", dir)));
  return writeSite({
    teacher: join(dir, "teacher.onnx"),
    student: join(dir, "teacher.onnx"),
    out: join(dir, "site"),
    page: join(dir, "page"),
    trainImages: 100,
    testImages: 100,
  });
}
