/** Small tabular fixtures: three Gaussian classes in 8 features, as CSV or NPY files. */
import { writeFileSync } from "node:fs";
import { Rng } from "../../src/util/rng.js";
import { npyBytes } from "../data/npy-bytes.js";

/** n examples (class i % 3), features around fixed centres in −2..2 with noise 0.7, times `scale`. */
export function blobs(n: number, seed: number, scale = 1): { x: number[][]; y: number[] } {
  const rng = new Rng(seed);
  const centres = [0, 1, 2].map((k) => Array.from({ length: 8 }, (_, j) => ((k * 3 + j) % 5) - 2));
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    x.push(centres[k]!.map((c) => scale * Number((c + 0.7 * rng.normal()).toFixed(4))));
    y.push(k);
  }
  return { x, y };
}

/** The blobs as a CSV with a header and a label column in the middle. */
export function writeBlobs(path: string, n: number, seed: number): void {
  const { x, y } = blobs(n, seed);
  const rows = ["f0,f1,f2,f3,label,f4,f5,f6,f7"];
  x.forEach((r, i) => {
    const cells = r.map((v) => v.toFixed(4));
    rows.push([...cells.slice(0, 4), String(y[i]), ...cells.slice(4)].join(","));
  });
  writeFileSync(path, `${rows.join("\n")}\n`);
}

/** The blobs as `<base>.x.npy` (float32 [n, 8]) and `<base>.y.npy` (int32 [n]); returns both paths. */
export function writeBlobsNpy(base: string, n: number, seed: number, scale = 1): [string, string] {
  const { x, y } = blobs(n, seed, scale);
  writeFileSync(`${base}.x.npy`, npyBytes("float32", [n, 8], x.flat()));
  writeFileSync(`${base}.y.npy`, npyBytes("int32", [n], y));
  return [`${base}.x.npy`, `${base}.y.npy`];
}
