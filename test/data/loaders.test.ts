/**
 * Tests for the dataset loaders: every format, built here as tiny fixtures, loads to the same
 * tensors as the equivalent IDX files; every kind of bad input gets one KdError naming it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { checkCompatible } from "../../src/data/checks.js";
import { decodeImage, resizeBilinear } from "../../src/data/images.js";
import { detectFormat, loadDataset } from "../../src/data/load.js";
import { parseNpy } from "../../src/data/npy.js";
import { Rng } from "../../src/util/rng.js";
import { kdMessage } from "../helpers/errors.js";
import { grayJpeg8x8 } from "./gray-jpeg.js";
import { idxBytes } from "./idx-bytes.js";
import { npyBytes } from "./npy-bytes.js";

const dir = mkdtempSync(join(tmpdir(), "kd-loaders-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `bytes` to a fresh file (and its folders) under the test folder; returns its path. */
function put(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, bytes);
  return p;
}

// Four 5×4 grayscale images of classes 0, 0, 1, 2 (grouped by class, as an image folder orders them).
const N = 4;
const H = 5;
const W = 4;
const rng = new Rng(7);
const pixels = Uint8Array.from({ length: N * H * W }, () => rng.int(256));
const labels = [0, 0, 1, 2];
const CLASS_NAMES = ["cat", "dog", "emu"];

const idx = loadDataset(
  put("ref-images.idx", idxBytes("uint8", [N, H, W], pixels)),
  put("ref-labels.idx", idxBytes("uint8", [N], labels)),
);

function pngBytes(data: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  const png = new PNG({
    width,
    height,
    colorType: channels === 1 ? 0 : 2,
    inputColorType: 6,
    inputHasAlpha: true,
  });
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) png.data[4 * p + k] = data[p * channels + (channels === 1 ? 0 : k)]!;
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2, inputColorType: 6 });
}

function jpegBytes(data: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  const rgba = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) rgba[4 * p + k] = data[p * channels + (channels === 1 ? 0 : k)]!;
    rgba[4 * p + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width, height }, 100).data;
}

/** One image of the fixture, interleaved [H, W]. */
const image = (i: number) => pixels.subarray(i * H * W, (i + 1) * H * W);

function expectSameAsIdx(ds: ReturnType<typeof loadDataset>, shape: number[]): void {
  expect(ds.n).toBe(N);
  expect(ds.exampleShape).toEqual(shape);
  expect(ds.features).toBe(H * W);
  expect(Array.from(ds.x)).toEqual(Array.from(idx.x));
  expect(Array.from(ds.y!)).toEqual(labels);
  expect(ds.numClasses).toBe(3);
}

describe("loadDataset: every format gives the IDX tensors", () => {
  it("IDX (the reference) scales uint8 to [0, 1]", () => {
    expect(idx.exampleShape).toEqual([H, W]);
    expect(idx.x[0]).toBeCloseTo(pixels[0]! / 255, 7);
  });

  it("NPY: uint8 features, int64 labels; float32, float64 and big-endian features", () => {
    const y = put("y.npy", npyBytes("int64", [N], labels));
    expectSameAsIdx(loadDataset(put("x.npy", npyBytes("uint8", [N, H, W], pixels)), y), [H, W]);
    const scaled = Array.from(pixels, (v) => v / 255);
    for (const [dtype, bigEndian] of [
      ["float32", false],
      ["float64", false],
      ["float64", true],
    ] as const) {
      const ds = loadDataset(
        put(`x-${dtype}-${bigEndian}.npy`, npyBytes(dtype, [N, H, W], scaled, { bigEndian })),
        y,
      );
      expect(ds.exampleShape).toEqual([H, W]);
      for (let i = 0; i < ds.x.length; i++) expect(ds.x[i]).toBeCloseTo(idx.x[i]!, 6);
    }
    // Labels as a column vector [N, 1] are accepted too.
    expectSameAsIdx(loadDataset(join(dir, "x.npy"), put("ycol.npy", npyBytes("int32", [N, 1], labels))), [
      H,
      W,
    ]);
  });

  it("NPZ: x/y by default, other names by option, stored or deflated", () => {
    const x = npyBytes("uint8", [N, H, W], pixels);
    const y = npyBytes("int64", [N], labels);
    expectSameAsIdx(loadDataset(put("d.npz", zipSync({ "x.npy": x, "y.npy": y }, { level: 0 }))), [H, W]);
    expectSameAsIdx(loadDataset(put("dz.npz", zipSync({ "x.npy": x, "y.npy": y }, { level: 6 }))), [H, W]);
    const named = put("named.npz", zipSync({ "pix.npy": x, "cls.npy": y }));
    expectSameAsIdx(loadDataset(named, undefined, { xKey: "pix", yKey: "cls" }), [H, W]);
    expect(kdMessage(() => loadDataset(named))).toMatch(
      /which array holds the features\? \(arrays: pix, cls/,
    );
    expect(kdMessage(() => loadDataset(named, undefined, { xKey: "pix", yKey: "lab" }))).toMatch(
      /no array named "lab" for the labels/,
    );
  });

  it("NPZ as NumPy writes it: zip64 local headers, stored (np.savez) or deflated (np.savez_compressed)", () => {
    // np.savez(f, x=np.arange(12, dtype=np.uint8).reshape(3, 4), y=np.array([0, 1, 2])), NumPy 2.4.
    const stored =
      "UEsDBC0AAAAAAAAAIQA4dVta//////////8FABQAeC5ucHkBABAAjAAAAAAAAACMAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJ3x1MScsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgzLCA0KSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAECAwQFBgcICQoLUEsDBC0AAAAAAAAAIQD3QBLq//////////8FABQAeS5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxpOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgzLCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAAAAABAAAAAAAAAAIAAAAAAAAAUEsBAi0DLQAAAAAAAAAhADh1W1qMAAAAjAAAAAUAAAAAAAAAAAAAAIABAAAAAHgubnB5UEsBAi0DLQAAAAAAAAAhAPdAEuqYAAAAmAAAAAUAAAAAAAAAAAAAAIABwwAAAHkubnB5UEsFBgAAAAACAAIAZgAAAJIBAAAAAA==";
    const deflated =
      "UEsDBC0AAAAIAAAAIQA4dVta//////////8FABQAeC5ucHkBABAAjAAAAAAAAABSAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loF5Taqiuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GsY6CiaaOgq1CmQDLgZGJmYWVjZ2Dk4ubgBQSwMELQAAAAgAAAAhAPdAEur//////////wUAFAB5Lm5weQEAEACYAAAAAAAAAEwAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNpoa6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaxjqaOgq1ChQALgYoYITSTFAaAFBLAQItAy0AAAAIAAAAIQA4dVtaUgAAAIwAAAAFAAAAAAAAAAAAAACAAQAAAAB4Lm5weVBLAQItAy0AAAAIAAAAIQD3QBLqTAAAAJgAAAAFAAAAAAAAAAAAAACAAYkAAAB5Lm5weVBLBQYAAAAAAgACAGYAAAAMAQAAAAA=";
    for (const [name, b64] of [
      ["np-stored.npz", stored],
      ["np-deflated.npz", deflated],
    ] as const) {
      const ds = loadDataset(put(name, Buffer.from(b64, "base64")));
      expect(ds.exampleShape).toEqual([4]);
      expect(Array.from(ds.x, (v) => Math.round(v * 255))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(Array.from(ds.y!)).toEqual([0, 1, 2]);
    }
  });

  it("CSV: a header, features and the label column by default name, other name or index", () => {
    const header = [...Array.from({ length: H * W }, (_, j) => `p${j}`)];
    const rows = (labelAt: number, labelName: string) => {
      const head = [...header];
      head.splice(labelAt, 0, labelName);
      const lines = [head.join(",")];
      for (let i = 0; i < N; i++) {
        const cells = Array.from(image(i), (v) => String(v / 255));
        cells.splice(labelAt, 0, String(labels[i]));
        lines.push(cells.join(","));
      }
      return `${lines.join("\n")}\n`;
    };
    expectSameAsIdx(loadDataset(put("a.csv", rows(3, "label"))), [H * W]);
    expectSameAsIdx(loadDataset(put("last.csv", rows(H * W, "digit"))), [H * W]);
    expectSameAsIdx(loadDataset(put("named.csv", rows(0, "digit")), undefined, { labelColumn: "digit" }), [
      H * W,
    ]);
    expectSameAsIdx(loadDataset(join(dir, "named.csv"), undefined, { labelColumn: 0 }), [H * W]);
    expectSameAsIdx(loadDataset(put("t.tsv", rows(3, "label").replaceAll(",", "\t"))), [H * W]);
    const images = loadDataset(join(dir, "a.csv"), undefined, { exampleShape: [1, H, W] });
    expect(images.exampleShape).toEqual([1, H, W]);
  });

  it("image folders: grayscale PNG, one subfolder per class in sorted order", () => {
    // Written out of order to check the sort: "emu" first.
    for (let i = N - 1; i >= 0; i--)
      put(`png/${CLASS_NAMES[labels[i]!]}/img${i}.png`, pngBytes(image(i), W, H, 1));
    put("png/.hidden/ignored.png", "not an image"); // hidden folders and files are skipped
    put("png/cat/notes.txt", "not an image");
    const ds = loadDataset(join(dir, "png"));
    expect(detectFormat(join(dir, "png"))).toBe("images");
    expectSameAsIdx(ds, [1, H, W]);
    expect(ds.classNames).toEqual(CLASS_NAMES);
  });

  it("image folders: RGB PNG as planar [3, H, W]; grayscale forced to 1 channel by option", () => {
    const rgb = (i: number) =>
      Uint8Array.from({ length: H * W * 3 }, (_, j) => image(i)[Math.floor(j / 3)]! ^ ((j % 3) * 40));
    for (let i = 0; i < N; i++) put(`rgb/${CLASS_NAMES[labels[i]!]}/${i}.png`, pngBytes(rgb(i), W, H, 3));
    const ds = loadDataset(join(dir, "rgb"));
    expect(ds.exampleShape).toEqual([3, H, W]);
    // The same pixels as an IDX file of [N, 3, H, W] (interleaved to planar by hand).
    const planar = new Uint8Array(N * 3 * H * W);
    for (let i = 0; i < N; i++)
      for (let p = 0; p < H * W; p++)
        for (let k = 0; k < 3; k++) planar[(i * 3 + k) * H * W + p] = rgb(i)[p * 3 + k]!;
    const ref = loadDataset(put("rgb.idx", idxBytes("uint8", [N, 3, H, W], planar)));
    expect(Array.from(ds.x)).toEqual(Array.from(ref.x));
    expect(loadDataset(join(dir, "rgb"), undefined, { channels: 1 }).exampleShape).toEqual([1, H, W]);
    // Gray images asked for as RGB repeat the plane three times.
    const g3 = loadDataset(join(dir, "png"), undefined, { channels: 3 });
    expect(Array.from(g3.x.subarray(2 * H * W, 3 * H * W))).toEqual(Array.from(idx.x.subarray(0, H * W)));
  });

  it("image folders: JPEG (lossy: within a few levels of the IDX values)", () => {
    // A smooth image per class, so quality-100 JPEG is nearly exact.
    const smooth = Uint8Array.from(
      { length: N * H * W },
      (_, j) => 40 + 10 * ((j % (H * W)) % W) + 5 * Math.floor(j / (H * W)),
    );
    for (let i = 0; i < N; i++)
      put(
        `jpg/${CLASS_NAMES[labels[i]!]}/${i}.jpg`,
        jpegBytes(smooth.subarray(i * H * W, (i + 1) * H * W), W, H, 1),
      );
    const ds = loadDataset(join(dir, "jpg"), undefined, { channels: 1 });
    const ref = loadDataset(put("smooth.idx", idxBytes("uint8", [N, H, W], smooth)));
    expect(ds.exampleShape).toEqual([1, H, W]);
    for (let i = 0; i < ds.x.length; i++) expect(Math.abs(ds.x[i]! - ref.x[i]!)).toBeLessThanOrEqual(6 / 255);
    expect(Array.from(ds.y!)).toEqual(labels);
  });

  it("image folders: a grayscale (one-component) JPEG is one channel, as a gray PNG is", () => {
    expect(decodeImage(grayJpeg8x8(144), "g.jpg")).toMatchObject({ channels: 1, width: 8, height: 8 });
    put("gray/a/p.png", pngBytes(new Uint8Array(64).fill(144), 8, 8, 1));
    put("gray/b/j.jpg", grayJpeg8x8(144));
    const ds = loadDataset(join(dir, "gray"));
    expect(ds.exampleShape).toEqual([1, 8, 8]);
    expect(new Set(ds.x)).toEqual(new Set([Math.fround(144 / 255)]));
    // A folder of gray PNGs and one of gray JPEGs are the same shape, so they train and test together.
    put("gray-test/a/j.jpg", grayJpeg8x8(144));
    expect(() => checkCompatible(ds, loadDataset(join(dir, "gray-test")))).not.toThrow();
  });

  it("resizes images of different sizes to the size asked for", () => {
    put("sizes/a/small.png", pngBytes(new Uint8Array(4 * 4).fill(200), 4, 4, 1));
    put("sizes/b/big.png", pngBytes(new Uint8Array(8 * 6).fill(100), 6, 8, 1));
    const ds = loadDataset(join(dir, "sizes"), undefined, { resize: [3, 5] });
    expect(ds.exampleShape).toEqual([1, 3, 5]);
    // A constant image stays constant under bilinear resampling.
    expect(new Set(ds.x.subarray(0, 15))).toEqual(new Set([200 / 255].map(Math.fround)));
    expect(new Set(ds.x.subarray(15))).toEqual(new Set([100 / 255].map(Math.fround)));
  });

  it("resizeBilinear: identity at the same size, averages at half size", () => {
    const img = { width: 2, height: 2, channels: 1 as const, data: Uint8Array.of(0, 100, 200, 50) };
    expect(resizeBilinear(img, 2, 2)).toBe(img);
    expect(Array.from(resizeBilinear(img, 1, 1).data)).toEqual([88]); // (0 + 100 + 200 + 50) / 4 = 87.5
  });
});

describe("loadDataset: bad input gets one line naming the problem", () => {
  const csv = (text: string) => put(`bad-${Math.random().toString(36).slice(2)}.csv`, text);

  it("images of different sizes without resize", () => {
    expect(kdMessage(() => loadDataset(join(dir, "sizes")))).toMatch(
      /big\.png: 6x8 pixels, but .*small\.png is 4x4; resize/,
    );
  });

  it("a corrupt PNG or JPEG", () => {
    const png = pngBytes(image(0), W, H, 1);
    put("corrupt-png/a/ok.png", png);
    put("corrupt-png/b/bad.png", png.subarray(0, png.length - 20));
    expect(kdMessage(() => loadDataset(join(dir, "corrupt-png")))).toMatch(/bad\.png: corrupt PNG/);
    const jpg = jpegBytes(image(0), W, H, 1);
    put("corrupt-jpg/a/bad.jpg", jpg.subarray(0, 30));
    expect(kdMessage(() => loadDataset(join(dir, "corrupt-jpg")))).toMatch(/bad\.jpg: corrupt JPEG/);
    put("corrupt-ext/a/fake.png", "hello");
    expect(kdMessage(() => loadDataset(join(dir, "corrupt-ext")))).toMatch(
      /fake\.png: not a PNG or JPEG file/,
    );
  });

  it("an empty class folder, a folder with no class folders", () => {
    put("empty/a/x.png", pngBytes(image(0), W, H, 1));
    mkdirSync(join(dir, "empty/b"));
    expect(kdMessage(() => loadDataset(join(dir, "empty")))).toMatch(
      /empty\/b: class folder holds no PNG or JPEG images/,
    );
    mkdirSync(join(dir, "flat"));
    put("flat/x.png", pngBytes(image(0), W, H, 1));
    expect(kdMessage(() => loadDataset(join(dir, "flat")))).toMatch(/flat: no class subfolders/);
  });

  it("CSV: non-numeric cells, ragged rows, a missing label column, no data rows", () => {
    expect(kdMessage(() => loadDataset(csv("a,b,label\n1,2,0\n3,x,1\n")))).toMatch(
      /line 3, column 2: not a number/,
    );
    expect(kdMessage(() => loadDataset(csv("a,b,label\n1,,0\n")))).toMatch(/line 2, column 2: not a number/);
    expect(kdMessage(() => loadDataset(csv("a,b,label\n1,2\n")))).toMatch(
      /not valid CSV|line 2 has 2 fields/,
    );
    expect(kdMessage(() => loadDataset(csv("a,b,c\n1,2,0\n"), undefined, { labelColumn: "label" }))).toMatch(
      /no column named "label" for the labels in the header \(line 1\)/,
    );
    expect(kdMessage(() => loadDataset(csv("a,b\n1,0\n"), undefined, { labelColumn: 5 }))).toMatch(
      /label column 5 is outside the 2 columns/,
    );
    expect(kdMessage(() => loadDataset(csv("a,b,label\n")))).toMatch(
      /needs a header row and at least one data row/,
    );
  });

  it("CSV messages name the file, line and column, never the file's text (it may be /etc/shadow)", () => {
    const secret = "root:$6$s3cr3t-hash:19000:0:99999:7:::";
    for (const [text, msg, opts] of [
      [
        `${secret}\ndaemon:*:19000:0:99999:7:::\n`,
        /no feature columns besides the label column \(column 1\)/,
        {},
      ],
      [`a,b\n1,"${secret}"x\n`, /not valid CSV at line 2 \(invalid closing quote\)/, {}],
      [`a,label\n${secret},0\n`, /line 2, column 1: not a number/, {}],
      [
        `${secret},b\n1,2\n`,
        /no column named "label" for the labels in the header \(line 1\)/,
        { labelColumn: "label" },
      ],
    ] as const) {
      const m = kdMessage(() => loadDataset(csv(text), undefined, opts));
      expect(m).toMatch(msg);
      expect(m).not.toContain("s3cr3t");
    }
  });

  it("NaN or infinity in features (CSV and NPY)", () => {
    expect(kdMessage(() => loadDataset(csv("a,b,label\n1,2,0\n3,NaN,1\n")))).toMatch(
      /example 1 has a non-finite value \(NaN\) at feature 1/,
    );
    expect(kdMessage(() => loadDataset(csv("a,b,label\n1,-Infinity,0\n")))).toMatch(
      /example 0 has a non-finite value \(-Infinity\) at feature 1/,
    );
    const x = put("inf.npy", npyBytes("float32", [2, 2], [0, 1, Number.POSITIVE_INFINITY, 2]));
    expect(kdMessage(() => loadDataset(x))).toMatch(
      /inf\.npy: example 1 has a non-finite value \(Infinity\) at feature 0/,
    );
  });

  it("labels out of range or not whole numbers", () => {
    const x = put("x2.npy", npyBytes("float32", [2, 2], [0, 1, 2, 3]));
    expect(kdMessage(() => loadDataset(x, put("yf.npy", npyBytes("float64", [2], [0, 1.5]))))).toMatch(
      /label 1 is 1\.5, not a whole number/,
    );
    expect(kdMessage(() => loadDataset(x, put("yneg.npy", npyBytes("int32", [2], [0, -1]))))).toMatch(
      /label 1 is negative \(-1\)/,
    );
    expect(
      kdMessage(() => loadDataset(x, put("y10.npy", npyBytes("int32", [2], [0, 10])), { numClasses: 10 })),
    ).toMatch(/label 1 is 10, outside the 10 classes \[0, 9\]/);
    expect(kdMessage(() => loadDataset(x, put("y3.npy", npyBytes("int32", [3], [0, 1, 2]))))).toMatch(
      /2 examples but 3 labels/,
    );
    expect(kdMessage(() => loadDataset(x, put("y2d.npy", npyBytes("int32", [1, 2], [0, 1]))))).toMatch(
      /labels must be 1-D/,
    );
    expect(kdMessage(() => loadDataset(csv("a,label\n1,2.5\n")))).toMatch(
      /label 0 is 2\.5, not a whole number/,
    );
    expect(kdMessage(() => loadDataset(csv("a,label\n1,3\n"), undefined, { numClasses: 3 }))).toMatch(
      /outside the 3 classes/,
    );
  });

  it("NPY: unsupported dtypes, a truncated body or header, Fortran order", () => {
    for (const descr of ["<c8", "<f2", "|b1", "<U5", "|O"])
      expect(kdMessage(() => parseNpy(npyBytes("uint8", [2], [1, 2], { descr }), "a.npy"))).toMatch(
        new RegExp(`a\\.npy: unsupported NPY dtype '${descr.replace("|", "\\|")}' \\(expected uint8,`),
      );
    const full = npyBytes("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(kdMessage(() => parseNpy(full.subarray(0, full.length - 4), "t.npy"))).toBe(
      "t.npy: truncated NPY data: shape [2, 3] of float32 needs 24 bytes, file has 20",
    );
    expect(kdMessage(() => parseNpy(full.subarray(0, 40), "h.npy"))).toMatch(/truncated NPY header/);
    const fortran = new TextDecoder("latin1")
      .decode(full)
      .replace("'fortran_order': False", "'fortran_order': True ");
    expect(
      kdMessage(() =>
        parseNpy(
          Uint8Array.from(fortran, (c) => c.charCodeAt(0)),
          "f.npy",
        ),
      ),
    ).toMatch(/Fortran-order/);
  });

  it("IDX: labels stored as floats", () => {
    const x = put("fl-images.idx", idxBytes("uint8", [N, H, W], pixels));
    for (const dtype of ["float32", "float64"] as const)
      expect(kdMessage(() => loadDataset(x, put(`fl-${dtype}.idx`, idxBytes(dtype, [N], labels))))).toBe(
        `${join(dir, `fl-${dtype}.idx`)}: labels must be integers, got ${dtype}`,
      );
  });

  it("NPY: a shape with a float, exponent or hex dimension", () => {
    const full = new TextDecoder("latin1").decode(npyBytes("float32", [2, 3], [1, 2, 3, 4, 5, 6]));
    // Same-length replacements keep the header's length field and the data offset right.
    for (const shape of ["(2,3.0),}", "(2,3e0),}", "(2,0x3),}"]) {
      const text = full.replace("(2, 3), }", shape);
      expect(text).not.toBe(full);
      expect(
        kdMessage(() =>
          parseNpy(
            Uint8Array.from(text, (c) => c.charCodeAt(0)),
            "s.npy",
          ),
        ),
      ).toMatch(/^s\.npy: malformed shape \(2,(3.0|3e0|0x3)\) in the NPY header$/);
    }
  });

  it("NPY header text and NPZ entry names with line breaks: the message stays one line", () => {
    const full = new TextDecoder("latin1").decode(npyBytes("float32", [2, 3], [1, 2, 3, 4, 5, 6]));
    const text = full.replace("(2, 3), }", "(2,\n3x),}");
    expect(
      kdMessage(() =>
        parseNpy(
          Uint8Array.from(text, (c) => c.charCodeAt(0)),
          "n.npy",
        ),
      ),
    ).toBe("n.npy: malformed shape (2, 3x) in the NPY header");
    const path = put("nl.npz", zipSync({ "x\n.npy": npyBytes("uint8", [1, 1], [0]) }));
    expect(kdMessage(() => loadDataset(path))).toBe(`${path}: entry 0's name holds control characters`);
  });

  it("unknown formats, missing files, a labels file where labels come from elsewhere", () => {
    expect(kdMessage(() => loadDataset(put("junk.bin", "hello world")))).toMatch(
      /junk\.bin: unknown data format/,
    );
    expect(kdMessage(() => loadDataset(join(dir, "nope.npy")))).toMatch(/nope\.npy: no such file or folder/);
    expect(kdMessage(() => loadDataset(join(dir, "png"), join(dir, "y.npy")))).toMatch(
      /labels are its subfolders/,
    );
    expect(kdMessage(() => loadDataset(put("z.npz", zipSync({ "readme.txt": new Uint8Array(3) }))))).toMatch(
      /holds no \.npy arrays/,
    );
  });
});
