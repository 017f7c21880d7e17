/**
 * The page's PNG reader (src/web/png.ts, fflate) gives the pixels pngjs gives kd's loaders in Node,
 * on PNGs of every colour type, bit depth, filter and interlacing, tRNS and palettes included.
 */
import { deflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { decodeImage as decodeInPage } from "../../src/data/decode.js";
import { decodeImage, pngjsReader } from "../../src/data/images.js";
import { Rng } from "../../src/util/rng.js";
import { ADAM7, readPng, SAMPLES } from "../../src/web/png.js";

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const v of b) c = CRC[(c ^ v) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/** Filtered scanlines of a sub-image: each row gets filter (row + k) % 5, so every filter is used. */
function scanlines(
  px: (x: number, y: number) => number[],
  w: number,
  h: number,
  depth: number,
  k: number,
): number[] {
  const n = px(0, 0).length;
  const stride = Math.ceil((w * n * depth) / 8);
  const bpp = Math.max(1, (n * depth) >> 3);
  const out: number[] = [];
  let prev = new Uint8Array(stride);
  for (let y = 0; y < h; y++) {
    const row = new Uint8Array(stride);
    for (let x = 0; x < w; x++)
      px(x, y).forEach((v, s) => {
        const i = x * n + s;
        if (depth === 16) {
          row[2 * i] = v >> 8;
          row[2 * i + 1] = v & 0xff;
        } else if (depth === 8) row[i] = v;
        else row[(i * depth) >> 3]! |= v << (8 - depth - ((i * depth) & 7));
      });
    const f = (y + k) % 5;
    out.push(f);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      const p = a + b - c;
      const pae =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const pred = [0, a, b, (a + b) >> 1, pae][f]!;
      out.push((row[i]! - pred) & 0xff);
    }
    prev = row;
  }
  return out;
}

function encode(o: {
  w: number;
  h: number;
  depth: number;
  colorType: number;
  interlace: 0 | 1;
  px: (x: number, y: number) => number[];
  plte?: number[];
  trns?: number[];
}): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.w, 0);
  ihdr.writeUInt32BE(o.h, 4);
  ihdr.set([o.depth, o.colorType, 0, 0, o.interlace], 8);
  const raw: number[] = [];
  if (o.interlace === 0) raw.push(...scanlines(o.px, o.w, o.h, o.depth, 0));
  else
    ADAM7.forEach(([x0, y0, dx, dy], k) => {
      const w = Math.ceil((o.w - x0!) / dx!);
      const h = Math.ceil((o.h - y0!) / dy!);
      if (w > 0 && h > 0)
        raw.push(...scanlines((x, y) => o.px(x0! + x * dx!, y0! + y * dy!), w, h, o.depth, k));
    });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(o.plte ? [chunk("PLTE", Uint8Array.from(o.plte))] : []),
    ...(o.trns ? [chunk("tRNS", Uint8Array.from(o.trns))] : []),
    chunk("IDAT", deflateSync(Uint8Array.from(raw))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

describe("the page's PNG reader", () => {
  const rng = new Rng(7);
  const cases: { name: string; png: Uint8Array }[] = [];
  for (const colorType of [0, 2, 3, 4, 6])
    for (const depth of colorType === 0 ? [1, 2, 4, 8, 16] : colorType === 3 ? [1, 2, 4, 8] : [8, 16])
      for (const interlace of [0, 1] as const) {
        const n = SAMPLES[colorType]!;
        const max = colorType === 3 ? Math.min(2 ** depth, 6) - 1 : 2 ** depth - 1;
        const [w, h] = [5 + rng.int(9), 3 + rng.int(9)];
        const px = Array.from({ length: w * h }, () => Array.from({ length: n }, () => rng.int(max + 1)));
        // A tRNS colour that some pixels have (gray and RGB), or palette alphas.
        const trnsColour = colorType === 0 || colorType === 2 ? px[1]! : undefined;
        const trns = trnsColour
          ? trnsColour.flatMap((v) => [v >> 8, v & 0xff])
          : colorType === 3
            ? [0, 128, 255].slice(0, max + 1)
            : undefined;
        const plte = colorType === 3 ? Array.from({ length: 3 * (max + 1) }, () => rng.int(256)) : undefined;
        cases.push({
          name: `colour type ${colorType}, ${depth} bits, interlace ${interlace}`,
          png: encode({
            w,
            h,
            depth,
            colorType,
            interlace,
            px: (x, y) => px[y * w + x]!,
            ...(plte ? { plte } : {}),
            ...(trns ? { trns } : {}),
          }),
        });
      }
  const grayPalette = [0, 0, 0, 90, 90, 90, 255, 255, 255];
  cases.push({
    name: "a gray palette",
    png: encode({
      w: 4,
      h: 3,
      depth: 8,
      colorType: 3,
      interlace: 0,
      px: (x, y) => [(x + y) % 3],
      plte: grayPalette,
    }),
  });

  it.each(cases)("$name: the same RGBA and colour type as pngjs", ({ png }) => {
    const want = pngjsReader(png);
    const got = readPng(png);
    expect([got.width, got.height, got.colorType]).toEqual([want.width, want.height, want.colorType]);
    expect(Buffer.from(got.rgba).equals(Buffer.from(want.rgba))).toBe(true);
    // And the decoded image kd trains on is the same (gray kept gray, palette by its pixels).
    expect(decodeInPage(png, "x.png", readPng)).toEqual(decodeImage(png, "x.png"));
  });

  it("reads pngjs's own files (its adaptive filters) alike", () => {
    for (const colorType of [0, 2, 4, 6] as const) {
      const img = new PNG({ width: 13, height: 7, colorType, inputHasAlpha: true });
      for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
      const png = PNG.sync.write(img, { colorType });
      expect(Buffer.from(readPng(png).rgba).equals(Buffer.from(pngjsReader(png).rgba))).toBe(true);
    }
  });

  it("refuses a corrupt PNG with one line naming the file", () => {
    const png = encode({ w: 4, h: 4, depth: 8, colorType: 0, interlace: 0, px: () => [9] });
    const cut = png.subarray(0, png.length - 20);
    expect(() => decodeInPage(cut, "dir/a.png", readPng)).toThrow(/^dir\/a\.png: corrupt PNG \(/);
  });
});
