/** A small RGB PNG image folder whose classes are trivially learnable: a square of the class's colour on a noisy background. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import { Rng } from "../../src/util/rng.js";

/** The classes' colours: the square's red, green and blue. */
export const RGB_CLASSES: Readonly<Record<string, readonly [number, number, number]>> = {
  blue: [30, 60, 230],
  green: [40, 200, 50],
  red: [220, 40, 40],
};

/**
 * Writes `dir/<class>/<i>.png`, `perClass` images of size × size for each class of RGB_CLASSES:
 * dim noise everywhere and a square of 6 to 10 pixels at a random place, in the class's colour
 * (each channel ±20). Seeded, so a second folder from another seed is a fresh test set.
 */
export function writeRgbFolder(dir: string, perClass: number, size: number, seed: number): void {
  const rng = new Rng(seed);
  for (const [cls, colour] of Object.entries(RGB_CLASSES)) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const img = new PNG({ width: size, height: size });
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < 3; c++) img.data[4 * p + c] = rng.int(60);
        img.data[4 * p + 3] = 255;
      }
      const side = 6 + rng.int(5);
      const top = rng.int(size - side + 1);
      const left = rng.int(size - side + 1);
      for (let r = top; r < top + side; r++)
        for (let col = left; col < left + side; col++)
          for (let c = 0; c < 3; c++)
            img.data[4 * (r * size + col) + c] = Math.max(0, Math.min(255, colour[c]! + rng.int(41) - 20));
      writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(img, { colorType: 2 }));
    }
  }
}
