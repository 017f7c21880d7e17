/**
 * Image folders: one subfolder per class (sorted names give class indices 0, 1, ...), PNG and JPEG
 * files decoded by pngjs and jpeg-js (pure JS), grayscale or RGB, optionally resized (bilinear).
 * Examples are [C, H, W] with values scaled to [0, 1], as IDX images are.
 */
import { readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { checkAllocation } from "../util/memory.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import type { Dataset } from "./dataset.js";

/** One decoded image: 8-bit samples, interleaved [H, W, C]. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

export interface ImageOptions extends ArrayDatasetOptions {
  /** Resize every image to [height, width] (bilinear). Without it all images must share one size. */
  readonly resize?: readonly [number, number];
  /** 1 (grayscale) or 3 (RGB). Default: 3 when any image is in colour, else 1. Alpha is dropped. */
  readonly channels?: 1 | 3;
}

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** Whether a file name looks like an image kd can decode. */
export function isImageFile(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

/** RGBA pixels to gray or RGB, keeping gray when every pixel has R = G = B. */
function fromRgba(rgba: Uint8Array, width: number, height: number, gray: boolean): DecodedImage {
  const n = width * height;
  if (gray) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = rgba[4 * i]!;
    return { width, height, channels: 1, data };
  }
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i]!;
    data[3 * i + 1] = rgba[4 * i + 1]!;
    data[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return { width, height, channels: 3, data };
}

function allGray(rgba: Uint8Array): boolean {
  for (let i = 0; i < rgba.length; i += 4)
    if (rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2]) return false;
  return true;
}

/**
 * The most pixels kd decodes from one image: 2^24 (4096 × 4096, 64 MB as the decoder's RGBA).
 * Decoders size their output by the header alone, and a header can claim far more than the file
 * holds: a 1 MB PNG of 32767 × 32768 pixels, or 30000 × 30000 over four rows of data.
 */
export const MAX_IMAGE_PIXELS = 2 ** 24;

/** Refuses an image whose header claims more than MAX_IMAGE_PIXELS, or more than memory holds. */
function checkImageSize(width: number, height: number, what: string): void {
  ensure(
    width * height <= MAX_IMAGE_PIXELS,
    () =>
      `${what}: ${width}x${height} pixels, more than the ${MAX_IMAGE_PIXELS.toLocaleString("en-US")} (4096x4096) kd decodes from one image`,
  );
  checkAllocation(4 * width * height, `${what}: decoding ${width}x${height} pixels`);
}

/** Width and height from a PNG's IHDR chunk, which must come first. */
function pngSize(bytes: Uint8Array, what: string): { width: number; height: number } {
  const ihdr = bytes.length >= 24 && new TextDecoder("latin1").decode(bytes.subarray(12, 16)) === "IHDR";
  ensure(ihdr, () => `${what}: corrupt PNG (no IHDR header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
}

/**
 * Width, height and colour components from a JPEG's frame header (SOF0..SOF15, not DHT, JPG or
 * DAC), found by walking the marker segments before the first scan.
 */
function jpegFrame(bytes: Uint8Array, what: string): { width: number; height: number; components: number } {
  const u16 = (i: number) => (bytes[i]! << 8) | bytes[i + 1]!;
  let i = 2;
  while (i + 4 <= bytes.length) {
    ensure(bytes[i] === 0xff, () => `${what}: corrupt JPEG (bad marker at byte ${i})`);
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      ensure(i + 10 <= bytes.length, () => `${what}: corrupt JPEG (truncated frame header)`);
      return { height: u16(i + 5), width: u16(i + 7), components: bytes[i + 9]! };
    }
    ensure(marker !== 0xda && marker !== 0xd9, () => `${what}: corrupt JPEG (no frame header)`);
    // Standalone markers (TEM, RSTn) have no length.
    i += marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7) ? 2 : 2 + u16(i + 2);
  }
  throw new KdError(`${what}: corrupt JPEG (no frame header)`);
}

function decodePng(bytes: Uint8Array, what: string): DecodedImage {
  const { width, height } = pngSize(bytes, what);
  checkImageSize(width, height, what);
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  // Color types 0 and 4 are gray; a palette (3) may be gray too, so look at its pixels.
  const type: number = png.colorType;
  const gray = type === 0 || type === 4 || (type === 3 && allGray(rgba));
  return fromRgba(rgba, png.width, png.height, gray);
}

function decodeJpeg(bytes: Uint8Array, what: string): DecodedImage {
  const { width, height, components } = jpegFrame(bytes, what);
  checkImageSize(width, height, what);
  ensure(
    components === 1 || components === 3 || components === 4,
    () => `${what}: JPEG with ${components} colour components (expected 1, 3 or 4)`,
  );
  // jpeg-js gives RGB for every JPEG; a one-component (grayscale) JPEG stays one channel, as a gray PNG does.
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  const n = img.width * img.height;
  if (components !== 1) return { width: img.width, height: img.height, channels: 3, data: img.data };
  const data = new Uint8Array(n);
  for (let p = 0; p < n; p++) data[p] = img.data[3 * p]!;
  return { width: img.width, height: img.height, channels: 1, data };
}

/** Decodes PNG or JPEG bytes (told apart by their signatures). `what` names the file in errors. */
export function decodeImage(bytes: Uint8Array, what: string): DecodedImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  ensure(isPng || isJpeg, () => `${what}: not a PNG or JPEG file`);
  try {
    return isPng ? decodePng(bytes, what) : decodeJpeg(bytes, what);
  } catch (e) {
    if (e instanceof KdError) throw e;
    throw new KdError(
      `${what}: corrupt ${isPng ? "PNG" : "JPEG"} (${String((e as Error).message ?? e).split("\n")[0]})`,
    );
  }
}

/**
 * Bilinear resampling with pixel centres aligned (as OpenCV's INTER_LINEAR and PIL without
 * antialiasing): source coordinate = (dst + 0.5) · in/out − 0.5, clamped to the edges.
 */
export function resizeBilinear(img: DecodedImage, height: number, width: number): DecodedImage {
  if (img.height === height && img.width === width) return img;
  const { channels: c, data } = img;
  const out = new Uint8Array(height * width * c);
  const sy = img.height / height;
  const sx = img.width / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number) => data[(yy * img.width + xx) * c + k]!;
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        out[(y * width + x) * c + k] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { width, height, channels: c, data: out };
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
  const first = images[0]!;
  const [h, w] = opts.resize ?? [first.height, first.width];
  ensure(
    Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1,
    () => `${name}: resize to ${h}x${w} is not a size in whole pixels`,
  );
  const c = opts.channels ?? (images.some((im) => im.channels === 3) ? 3 : 1);
  const plane = h * w;
  const bytes = new Uint8Array(images.length * c * plane);
  images.forEach((im, i) => {
    ensure(
      opts.resize !== undefined || (im.height === h && im.width === w),
      () =>
        `${paths[i]}: ${im.width}x${im.height} pixels, but ${paths[0]} is ${w}x${h}; resize them to one size (e.g. --resize ${w}x${h})`,
    );
    const r = resizeBilinear(im, h, w);
    // Interleaved [H, W, C] to planar [C, H, W]; gray to RGB repeats, RGB to gray takes the luma (BT.601).
    const base = i * c * plane;
    for (let p = 0; p < plane; p++) {
      if (r.channels === c) for (let k = 0; k < c; k++) bytes[base + k * plane + p] = r.data[p * c + k]!;
      else if (c === 3) for (let k = 0; k < 3; k++) bytes[base + k * plane + p] = r.data[p]!;
      else
        bytes[base + p] = Math.round(
          0.299 * r.data[3 * p]! + 0.587 * r.data[3 * p + 1]! + 0.114 * r.data[3 * p + 2]!,
        );
    }
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
