/**
 * Image folders: one subfolder per class (sorted names give class indices 0, 1, ...), PNG and JPEG
 * files decoded by pngjs and jpeg-js (pure JS), grayscale or RGB, optionally resized (bilinear).
 * Examples are [C, H, W] with values scaled to [0, 1], as IDX images are.
 */
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { PNG } from "pngjs";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import type { Dataset } from "./dataset.js";
import {
  type DecodedImage,
  decodeImage as decodeWith,
  isImageFile,
  type PngReader,
  toPlanar,
} from "./decode.js";

export type { DecodedImage } from "./decode.js";
export { isImageFile, MAX_IMAGE_PIXELS, resizeBilinear } from "./decode.js";

export interface ImageOptions extends ArrayDatasetOptions {
  /** Resize every image to [height, width] (bilinear). Without it all images must share one size. */
  readonly resize?: readonly [number, number];
  /** 1 (grayscale) or 3 (RGB). Default: 3 when any image is in colour, else 1. Alpha is dropped. */
  readonly channels?: 1 | 3;
}

/** pngjs's RGBA pixels (the page reads PNGs with web/png.ts, which gives the same). */
export const pngjsReader: PngReader = (bytes) => {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  return { width: png.width, height: png.height, rgba, colorType: png.colorType as number };
};

/** Decodes PNG (pngjs) or JPEG (jpeg-js) bytes. `what` names the file in errors. */
export function decodeImage(bytes: Uint8Array, what: string): DecodedImage {
  return decodeWith(bytes, what, pngjsReader);
}

function readImage(path: string): DecodedImage {
  return decodeImage(readInputFile(path, "image"), path);
}

/**
 * Decodes image files into one [N, C, H, W] dataset (labels optional). Channels and size follow
 * `opts`, or the files themselves when they all agree.
 */
export function loadImageFiles(
  paths: readonly string[],
  labels: ArrayLike<number> | undefined,
  name: string,
  opts: ImageOptions = {},
): Dataset {
  ensure(paths.length > 0, () => `${name}: no images`);
  const images = paths.map(readImage);
  const { resize } = opts;
  const hintSize = `${images[0]!.width}x${images[0]!.height}`;
  const {
    bytes,
    channels: c,
    height: h,
    width: w,
  } = toPlanar(images, paths, {
    name,
    resize,
    channels: opts.channels,
    hint: `resize them to one size (e.g. --resize ${hintSize})`,
  });
  return datasetFromArrays(
    { dtype: "uint8", dims: [images.length, c, h, w], data: bytes },
    labels,
    name,
    opts,
  );
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KdError(code === "ENOENT" ? `${dir}: no such folder` : `${dir}: cannot list (${code ?? e})`);
  }
}

/** Image files directly inside `dir` (hidden files and other kinds skipped), sorted by name. */
export function imageFilesIn(dir: string): string[] {
  return listDir(dir)
    .filter((f) => !f.startsWith(".") && isImageFile(f))
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}

/** The files of an image folder: class subfolders in sorted order, each one's images by name. */
export function listImageFolder(dir: string): { classes: string[]; paths: string[]; labels: number[] } {
  const classes = listDir(dir).filter((f) => !f.startsWith(".") && statSync(join(dir, f)).isDirectory());
  // Folders named by numbers sort as numbers (2 before 10).
  if (classes.every((c) => /^\d+$/.test(c))) classes.sort((a, b) => Number(a) - Number(b));
  ensure(classes.length > 0, () => `${dir}: no class subfolders (expected ${dir}/<class>/<image>.png)`);
  const paths: string[] = [];
  const labels: number[] = [];
  classes.forEach((cls, k) => {
    const files = imageFilesIn(join(dir, cls));
    ensure(files.length > 0, () => `${join(dir, cls)}: class folder holds no PNG or JPEG images`);
    for (const f of files) {
      paths.push(f);
      labels.push(k);
    }
  });
  return { classes, paths, labels };
}

/**
 * An image folder: each subfolder is a class, numbered in sorted name order (numeric order when
 * every name is a number); `classNames` on the result lists them. Examples come class by class, files in name order.
 */
export function loadImageFolder(dir: string, opts: ImageOptions = {}): Dataset {
  const { classes, paths, labels } = listImageFolder(dir);
  ensure(
    opts.numClasses === undefined || classes.length <= opts.numClasses,
    () => `${dir}: ${classes.length} class folders, but only ${opts.numClasses} classes`,
  );
  const ds = loadImageFiles(paths, labels, basename(dir), {
    ...opts,
    numClasses: Math.max(opts.numClasses ?? 0, classes.length),
  });
  return { ...ds, classNames: classes };
}
