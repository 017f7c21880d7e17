/**
 * A PNG reader for the page (fflate inflates; pngjs needs Node's zlib and streams): RGBA pixels
 * exactly as pngjs gives kd's loaders in Node (palette and tRNS applied, bit depths scaled to 8 by
 * round(v · 255 / max)), so a student trained in the tab sees the pixels `kd train` would.
 */
import { unzlibSync } from "fflate";
import type { PngReader } from "../data/decode.js";
import { KdError } from "../util/errors.js";

interface Header {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
  readonly interlace: number;
}

/** Samples per pixel of each colour type (0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA). */
export const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7's passes: x start, y start, x step, y step. */
export const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the scanline filters of a w × h image starting at `at`; returns its raw rows and where the next pass starts. */
function unfilter(data: Uint8Array, at: number, w: number, h: number, bitsPerPixel: number) {
  const stride = Math.ceil((w * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const out = new Uint8Array(stride * h);
  if (w === 0 || h === 0) return { rows: out, stride, next: at };
  if (at + (stride + 1) * h > data.length) throw new Error("image data too short");
  for (let y = 0; y < h; y++) {
    const type = data[at]!;
    const src = at + 1;
    const row = y * stride;
    const up = row - stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[row + i - bpp]! : 0;
      const b = y > 0 ? out[up + i]! : 0;
      const c = y > 0 && i >= bpp ? out[up + i - bpp]! : 0;
      const v = data[src + i]!;
      const pred =
        type === 0
          ? 0
          : type === 1
            ? a
            : type === 2
              ? b
              : type === 3
                ? (a + b) >> 1
                : type === 4
                  ? paeth(a, b, c)
                  : -1;
      if (pred < 0) throw new Error(`unknown filter type ${type}`);
      out[row + i] = (v + pred) & 0xff;
    }
    at += stride + 1;
  }
  return { rows: out, stride, next: at };
}

/** Sample `k` of pixel `x` in a raw row (any bit depth). */
function sample(rows: Uint8Array, row: number, x: number, k: number, n: number, depth: number): number {
  if (depth === 8) return rows[row + x * n + k]!;
  if (depth === 16) {
    const i = row + 2 * (x * n + k);
    return (rows[i]! << 8) | rows[i + 1]!;
  }
  const bit = (x * n + k) * depth;
  return (rows[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function parse(bytes: Uint8Array) {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) throw new Error("not a PNG file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + len);
    if (body.length < len) throw new Error(`truncated ${type} chunk`);
    if (type === "IHDR")
      header = {
        width: view.getUint32(at + 8),
        height: view.getUint32(at + 12),
        depth: body[8]!,
        colorType: body[9]!,
        interlace: body[12]!,
      };
    else if (type === "PLTE") palette = body;
    else if (type === "tRNS") trns = body;
    else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    at += 12 + len;
  }
  if (!header) throw new Error("no IHDR chunk");
  if (!(header.colorType in SAMPLES)) throw new Error(`unknown colour type ${header.colorType}`);
  if (header.colorType === 3 && !palette) throw new Error("no palette");
  const joined = new Uint8Array(idat.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of idat) {
    joined.set(c, o);
    o += c.length;
  }
  return { header, palette, trns, data: unzlibSync(joined) };
}

/** Decodes a PNG into RGBA as pngjs does; errors are plain Errors (decodeImage turns them into one line). */
export const readPng: PngReader = (bytes) => {
  const { header: hd, palette, trns, data } = parse(bytes);
  const { width, height, depth, colorType } = hd;
  const n = SAMPLES[colorType]!;
  const max = 2 ** depth - 1;
  const rgba = new Uint8Array(width * height * 4);
  // A gray or RGB tRNS names one transparent colour: pngjs zeroes such pixels, colour included.
  const trans =
    trns && (colorType === 0 || colorType === 2)
      ? Array.from({ length: n }, (_, k) => (trns[2 * k]! << 8) | trns[2 * k + 1]!)
      : undefined;
  const scale = (v: number) => (depth === 8 ? v : Math.floor((v * 255) / max + 0.5));
  const put = (rows: Uint8Array, row: number, x: number, p: number) => {
    const s = (k: number) => sample(rows, row, x, k, n, depth);
    const at = 4 * p;
    if (colorType === 3) {
      const i = s(0);
      if (3 * i + 2 >= palette!.length) throw new Error(`index ${i} not in palette`);
      rgba[at] = palette![3 * i]!;
      rgba[at + 1] = palette![3 * i + 1]!;
      rgba[at + 2] = palette![3 * i + 2]!;
      rgba[at + 3] = trns && i < trns.length ? trns[i]! : 255;
      return;
    }
    const gray = colorType === 0 || colorType === 4;
    const raw = gray
      ? [s(0), s(0), s(0), colorType === 4 ? s(1) : max]
      : [s(0), s(1), s(2), colorType === 6 ? s(3) : max];
    if (trans?.every((t, k) => t === s(k))) raw.fill(0);
    for (let k = 0; k < 4; k++) rgba[at + k] = scale(raw[k]!);
  };
  const bits = n * depth;
  if (hd.interlace === 0) {
    const { rows, stride } = unfilter(data, 0, width, height, bits);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) put(rows, y * stride, x, y * width + x);
  } else if (hd.interlace === 1) {
    let at = 0;
    for (const [x0, y0, dx, dy] of ADAM7) {
      const w = Math.ceil((width - x0) / dx);
      const h = Math.ceil((height - y0) / dy);
      if (w <= 0 || h <= 0) continue;
      const { rows, stride, next } = unfilter(data, at, w, h, bits);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) put(rows, y * stride, x, (y0 + y * dy) * width + x0 + x * dx);
      at = next;
    }
  } else throw new KdError(`unknown interlace method ${hd.interlace}`);
  return { width, height, rgba, colorType };
};
