/**
 * Image decoding without a file system, shared by kd's loaders (data/images.ts) and the page:
 * JPEG by jpeg-js, PNG by the reader given (pngjs in Node, web/png.ts in the page, which must give
 * the same pixels), bilinear resizing, and decoded images laid out as one [N, C, H, W] array.
 */
import jpeg from "jpeg-js";
import { ensure, KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";

/** One decoded image: 8-bit samples, interleaved [H, W, C]. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** Whether a file name looks like an image kd can decode. */
export function isImageFile(path: string): boolean {
  const dot = path.lastIndexOf(".");
  return dot > path.lastIndexOf("/") && IMAGE_EXTENSIONS.has(path.slice(dot).toLowerCase());
}

/** RGBA pixels to gray or RGB, keeping gray when every pixel has R = G = B. */
export function fromRgba(rgba: Uint8Array, width: number, height: number, gray: boolean): DecodedImage {
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

export function allGray(rgba: Uint8Array): boolean {
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
export function checkImageSize(width: number, height: number, what: string): void {
  ensure(
    width * height <= MAX_IMAGE_PIXELS,
    () =>
      `${what}: ${width}x${height} pixels, more than the ${MAX_IMAGE_PIXELS.toLocaleString("en-US")} (4096x4096) kd decodes from one image`,
  );
  checkAllocation(4 * width * height, `${what}: decoding ${width}x${height} pixels`);
}

/** Width and height from a PNG's IHDR chunk, which must come first. */
export function pngSize(bytes: Uint8Array, what: string): { width: number; height: number } {
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

/** A PNG decoder: RGBA pixels (8 bits a sample, as pngjs gives them) and the file's colour type. */
export type PngReader = (bytes: Uint8Array) => {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
  readonly colorType: number;
};

function decodePng(bytes: Uint8Array, what: string, read: PngReader): DecodedImage {
  const { width, height } = pngSize(bytes, what);
  checkImageSize(width, height, what);
  const png = read(bytes);
  // Color types 0 and 4 are gray; a palette (3) may be gray too, so look at its pixels.
  const type = png.colorType;
  const gray = type === 0 || type === 4 || (type === 3 && allGray(png.rgba));
  return fromRgba(png.rgba, png.width, png.height, gray);
}

/**
 * Decodes PNG or JPEG bytes (told apart by their signatures) with `png` for PNGs (pngjs in Node,
 * web/png.ts in the page) and jpeg-js for JPEGs. `what` names the file in errors.
 */
export function decodeImage(bytes: Uint8Array, what: string, png: PngReader): DecodedImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  ensure(isPng || isJpeg, () => `${what}: not a PNG or JPEG file`);
  try {
    return isPng ? decodePng(bytes, what, png) : decodeJpeg(bytes, what);
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

/** Decoded images as one planar uint8 array [N, C, H, W]. */
export interface PlanarImages {
  readonly bytes: Uint8Array;
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
}

/**
 * Lays decoded images (of set `name`) out as [N, C, H, W]: resized to `resize` [H, W] when given, else all must
 * share the first one's size (`hint` ends the message naming the odd one out); C is `channels`, or 3
 * when any image is in colour. Gray to RGB repeats; RGB to gray takes the luma (BT.601).
 */
export function toPlanar(
  images: readonly DecodedImage[],
  names: readonly string[],
  opts: {
    name: string;
    resize?: readonly [number, number] | undefined;
    channels?: 1 | 3 | undefined;
    hint: string;
  },
): PlanarImages {
  const first = images[0]!;
  const [h, w] = opts.resize ?? [first.height, first.width];
  ensure(
    Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1,
    () => `${opts.name}: resize to ${h}x${w} is not a size in whole pixels`,
  );
  const c = opts.channels ?? (images.some((im) => im.channels === 3) ? 3 : 1);
  const plane = h * w;
  checkAllocation(images.length * c * plane, `${images.length} images of ${c}x${h}x${w} pixels`);
  const bytes = new Uint8Array(images.length * c * plane);
  images.forEach((im, i) => {
    ensure(
      opts.resize !== undefined || (im.height === h && im.width === w),
      () => `${names[i]}: ${im.width}x${im.height} pixels, but ${names[0]} is ${w}x${h}; ${opts.hint}`,
    );
    const r = resizeBilinear(im, h, w);
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
  return { bytes, channels: c, height: h, width: w };
}
