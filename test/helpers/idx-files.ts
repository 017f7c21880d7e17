/** Datasets written as the IDX files a user would bring: uint8 images [n, 28, 28] and uint8 labels. */
import { writeFileSync } from "node:fs";
import type { Dataset } from "../../src/data/dataset.js";

/** Writes `ds` (28×28 images in [0, 1], labels) as an IDX image file and an IDX label file. */
export function writeIdx(ds: Dataset, images: string, labels: string): void {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x00000803, 0);
  head.writeUInt32BE(ds.n, 4);
  head.writeUInt32BE(28, 8);
  head.writeUInt32BE(28, 12);
  writeFileSync(images, Buffer.concat([head, Buffer.from(Array.from(ds.x, (v) => Math.round(v * 255)))]));
  const lh = Buffer.alloc(8);
  lh.writeUInt32BE(0x00000801, 0);
  lh.writeUInt32BE(ds.n, 4);
  writeFileSync(labels, Buffer.concat([lh, Buffer.from(Array.from(ds.y!))]));
}
